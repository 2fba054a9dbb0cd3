#!/usr/bin/env python
"""Validate algorithm="auto": time "direct", "im2col" (and "fft"), and "auto" on every shape.

For each shape of the given shapes files (default: bench/shapes.txt and
bench/sweep_shapes.txt) and each op (fwd, wgrad, dgrad), convx is timed with each
algorithm on the same arrays and thread count (median of --repeats calls after a
warm-up; the three algorithms called in turn, round after round). Printed per row: GFLOP/s of both
explicit algorithms ("fft" too, on stride-1 rows with kernels of >= 16 taps, where
"auto" considers it; its GFLOP/s are printed only there), which one "auto" chose
(convx.explain, for the same thread count), the chosen algorithm's
time over the faster one's ("pick/best", the rule's quality) and auto's own timing
over the faster one's ("auto/best": the same computation timed again, so its spread
around pick/best is the machine's noise). Rows where the pick is more than 10%
slower are re-measured at once by --recheck alternating rounds (the pick and
the faster explicit algorithm each timed back to back for 0.2 s, the order
swapped every round; the median of the rounds' pick / best ratios, printed as
"recheck"), since one interleaved timing of this shared host moved rows by
10-50% (session 22: img31's input gradient read fft 1.56x slower than direct,
then 0.39x / 0.66x in paired rounds); rows still over 10% on the recheck are
marked "MISS" (--recheck 0: on the first timing alone); the exit status is 1
if any are.

    python bench/auto_sweep.py --threads 2 [--json out.json] [shapes files...]
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import load_shapes  # noqa: E402
from loop import alternating_rounds  # noqa: E402

OPS = ("fwd", "wgrad", "dgrad")


def _calls(convx, sh, x, w, dy, threads):
    kw = dict(stride=sh.stride, padding=sh.pad, groups=sh.groups)
    return {
        "fwd": lambda a: convx.conv2d(x, w, algorithm=a, threads=threads, **kw),
        "wgrad": lambda a: convx.conv2d_weight(x, w.shape, dy, algorithm=a, threads=threads,
                                               **kw),
        "dgrad": lambda a: convx.conv2d_input(x.shape, w, dy, algorithm=a, threads=threads,
                                              **kw),
    }


def _interleaved_ms(fns, repeats):
    """Median ms of each function, called in turn (one call of each per round,
    in a rotating order, after a warm-up round), so that drifts of a noisy
    machine hit all alike."""
    time.sleep(0.05)
    for fn in fns.values():
        fn()
    ts = {k: [] for k in fns}
    keys = list(fns)
    for i in range(repeats):
        # rotate the order each round, so that none always follows the same one
        for k in keys[i % len(keys):] + keys[:i % len(keys)]:
            t0 = time.perf_counter()
            fns[k]()
            ts[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in ts.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shapes", nargs="*", default=[os.path.join(HERE, "shapes.txt"),
                                                   os.path.join(HERE, "sweep_shapes.txt")])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--recheck", type=int, default=8,
                    help="alternating rounds re-measuring a row over 10%% (0: none)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(HERE))
    import convx

    rows, misses, noisy = [], 0, 0
    rng = np.random.default_rng(0)
    print("%-14s %-5s %9s %9s %9s %8s %9s %9s" % ("shape", "op", "direct", "im2col", "fft",
                                                  "auto", "pick/best", "auto/best"))
    for path in args.shapes:
        for sh in load_shapes(path):
            x = rng.standard_normal((sh.n, sh.c, sh.h, sh.w)).astype(args.dtype)
            w = rng.standard_normal((sh.k, sh.c // sh.groups, sh.r, sh.s)).astype(args.dtype)
            dy = rng.standard_normal((sh.n, sh.k, sh.p, sh.q)).astype(args.dtype)
            calls = _calls(convx, sh, x, w, dy, args.threads)
            algos = ["direct", "im2col"]
            if sh.stride == 1 and sh.r * sh.s >= 16:
                algos.append("fft")
            for op in OPS:
                t = _interleaved_ms({a: (lambda a=a: calls[op](a))
                                     for a in algos + ["auto"]}, args.repeats)
                picked = convx.explain(op, x.shape, w.shape, stride=sh.stride, padding=sh.pad,
                                       groups=sh.groups, dtype=args.dtype,
                                       threads=args.threads).algorithm
                t_auto = t.pop("auto")
                best = min(t.values())
                pick_ratio = t[picked] / best
                ratio = t_auto / best
                miss = pick_ratio > 1.10
                recheck = None
                if miss and args.recheck > 0:
                    other = min(t, key=t.get)
                    r = alternating_rounds(lambda: calls[op](picked), lambda: calls[op](other),
                                           args.recheck, 0.2)
                    recheck = statistics.median(a / b for a, b in r)
                    miss = recheck > 1.10
                misses += miss
                noisy += ratio > 1.10
                gf = sh.flops / 1e6
                fft = "%9.1f" % (gf / t["fft"]) if "fft" in t else "%9s" % "-"
                print("%-14s %-5s %9.1f %9.1f %s %8s %9.2f %9.2f%s%s" % (
                    sh.name, op, gf / t["direct"], gf / t["im2col"], fft, picked, pick_ratio,
                    ratio, "" if recheck is None else "  recheck %.2f" % recheck,
                    "  MISS" if miss else ""), flush=True)
                rows.append(dict(shape=sh.name, op=op, direct_ms=t["direct"],
                                 im2col_ms=t["im2col"], fft_ms=t.get("fft"), auto_ms=t_auto,
                                 picked=picked,
                                 pick_over_best=pick_ratio, auto_over_best=ratio,
                                 recheck_pick_over_best=recheck,
                                 gflop=sh.flops / 1e9))
    print("\n%d of %d rows: auto's pick more than 10%% slower than the faster explicit "
          "algorithm%s" % (misses, len(rows), " (on the recheck)" if args.recheck else ""))
    print("%d of %d rows: auto's own timing more than 10%% above the faster explicit "
          "one (the spread of repeated timings of one computation on this machine)"
          % (noisy, len(rows)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(threads=args.threads, dtype=args.dtype, rows=rows), f, indent=1)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
