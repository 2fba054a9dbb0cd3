"""Scale-out figure: a batch-chunked conv2d on a 2-worker LocalCluster versus one process.

The same forward convolution (float32, "same" padding) over a dataset of several chunks
of images, timed as:

  one process, all cores    convx.conv2d(x) on the whole numpy array, convx's default
                            thread count (one OpenMP pool over every core)
  one process, 1 thread     the same with threads=1 (the serial time)
  cluster 1x1, threads=T    a 1-worker LocalCluster, one Dask thread, convx threads=T
                            (the cost of Dask itself: same parallelism as the first row)
  cluster 2x1, threads=1    2 worker processes x 1 Dask thread, convx threads=1 per task
                            (the recommended layout on 2 cores: one core per worker)
  ... + gather              the 2-worker run with .compute(): the result comes back to
                            the client instead of staying on the workers

The images are made on the workers, chunk by chunk from a seed, and persisted there
before timing (the single-process rows get the same values), so the cluster rows time
the convolution where the data lives, as on a real cluster where each worker reads its
own chunks; the result stays on the workers (``persist``) except in the gather row.
Every row is the median of --repeats runs after one warm-up run, and the cluster result
is checked against the single-process one (bitwise).

    python bench/dask_scaling.py                      # 512 images 16x64x64 in 16 chunks
    python bench/dask_scaling.py --images 256 --chunk 64 --json dask.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import convx
import convx.dask as cxd


def median_time(fn, repeats, cleanup=None):
    """Median wall time of fn() over `repeats` runs after one warm-up; cleanup(result) runs
    untimed after each (so that a cluster forgets a result and really computes it again)."""
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        if cleanup is not None:
            cleanup(result)
        del result
        if i:
            times.append(elapsed)
    return statistics.median(times), times


def _flat(keys):
    if isinstance(keys, list):
        for k in keys:
            yield from _flat(k)
    else:
        yield keys


def _has_any(keys, dask_scheduler=None):
    return any(k in dask_scheduler.tasks for k in keys)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=512, help="images N (512)")
    p.add_argument("--chunk", type=int, default=32, help="images per chunk (32)")
    p.add_argument("--channels", type=int, default=16, help="input channels C (16)")
    p.add_argument("--filters", type=int, default=32, help="output channels K (32)")
    p.add_argument("--size", type=int, default=64, help="image height and width (64)")
    p.add_argument("--kernel", type=int, default=3, help="kernel size R = S (3)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per row (3)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    if args.images < 4 * args.chunk:
        p.error(f"--images {args.images} must be at least 4 x --chunk {args.chunk}")

    import dask.array as da
    from distributed import Client, LocalCluster, wait

    shape = (args.images, args.channels, args.size, args.size)
    chunks = (args.chunk,) + shape[1:]

    def images():
        """The dataset, made chunk by chunk from a seed: the same values wherever it runs."""
        return da.random.default_rng(0).standard_normal(shape, chunks=chunks, dtype=np.float32)

    x = images().compute(scheduler="sync")
    w = np.random.default_rng(1).standard_normal(
        (args.filters, args.channels, args.kernel, args.kernel), np.float32)
    kw = dict(padding="same")
    cores = os.cpu_count()
    default_threads = convx.config()["default_threads"]
    flop = 2 * x.shape[0] * args.filters * args.channels * args.kernel ** 2 * args.size ** 2
    rows = []

    def row(name, layout, seconds, times):
        rows.append(dict(name=name, layout=layout, median_s=seconds, times_s=times,
                         gflops=flop / seconds / 1e9))

    ref = convx.conv2d(x, w, **kw)
    row("one process, all cores", f"1 proc x convx {default_threads} threads",
        *median_time(lambda: convx.conv2d(x, w, **kw), args.repeats))
    row("one process, 1 thread", "1 proc x convx 1 thread",
        *median_time(lambda: convx.conv2d(x, w, threads=1, **kw), args.repeats))

    def cluster_rows(n_workers, threads, label, gather=False):
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            dx = client.persist(images())   # each worker makes its own chunks
            wait(dx)
            # tasks run where their chunk lives: this split bounds the balance of the work
            held = sorted((len(v) for v in client.has_what().values()), reverse=True)

            def run():
                y = client.persist(cxd.conv2d(dx, w, threads=threads, **kw))
                wait(y)
                return [y]

            def forget(holder):
                # Drop the result and wait until the scheduler has forgotten its keys, so
                # that the next run computes it again instead of finding it in memory.
                keys = [k for k in holder.pop().__dask_keys__() for k in _flat(k)]
                while client.run_on_scheduler(_has_any, keys):
                    time.sleep(0.01)

            layout = f"{n_workers} proc x 1 Dask thread x convx {threads} thread(s)"
            row(label, layout, *median_time(run, args.repeats, forget))
            rows[-1]["chunks_per_worker"] = held
            if gather:
                out = cxd.conv2d(dx, w, threads=threads, **kw).compute()
                if not np.array_equal(out, ref):
                    sys.exit("cluster result differs from the single-process result")
                row(label + " + gather", layout,
                    *median_time(lambda: cxd.conv2d(dx, w, threads=threads, **kw).compute(),
                                 args.repeats))

    cluster_rows(1, default_threads, f"cluster 1x1, threads={default_threads}")
    cluster_rows(args.workers, 1, f"cluster {args.workers}x1, threads=1", gather=True)

    base = rows[0]["median_s"]
    serial = rows[1]["median_s"]
    n_chunks = -(-args.images // args.chunk)
    print(f"conv2d float32 x {x.shape} ({x.nbytes / 2**20:.0f} MiB) * w {w.shape}, "
          f"padding 'same': {flop / 1e9:.2f} GFLOP, {n_chunks} chunks of {args.chunk} images")
    print(f"machine: {cores} CPUs, {platform.processor() or platform.machine()}; convx default "
          f"threads {default_threads}; median of {args.repeats} runs after a warm-up")
    print()
    print(f"{'configuration':<34} {'layout':<44} {'median s':>9} {'GFLOP/s':>8} "
          f"{'vs 1 thread':>11} {'vs 1 proc':>9}")
    for r in rows:
        print(f"{r['name']:<34} {r['layout']:<44} {r['median_s']:9.3f} {r['gflops']:8.1f} "
              f"{serial / r['median_s']:10.2f}x {base / r['median_s']:8.2f}x")
    for r in rows:
        if len(r.get("chunks_per_worker", ())) > 1:
            print(f"input chunks per worker in '{r['name']}': "
                  f"{'/'.join(map(str, r['chunks_per_worker']))}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(shape=dict(x=x.shape, w=w.shape, chunk=args.chunk, padding="same",
                                      dtype="float32"),
                           gflop=flop / 1e9, cpus=cores, repeats=args.repeats,
                           convx=convx.config(), rows=rows), f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
