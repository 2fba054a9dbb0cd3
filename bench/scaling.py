#!/usr/bin/env python
"""OpenMP scaling: every bench layer, every op, convx auto against PyTorch at 1..N threads.

For each thread count (default 1, 2, 4, 8, 16, capped at the CPUs this process may
use), in one process:

1. the machine's FMA peak on 1 and on T threads (bench/run.py's probe) and its copy
   bandwidth on T threads (bench/speed2.py's numpy copies);
2. every bench/shapes.txt layer plus conv3d_32 (2, 32, 16, 56, 56; 3x3x3, 32 out,
   padding 1) and conv1d_audio (8, 64, 16000; kernel 9, 64 out, padding 4), float32,
   every op: convx algorithm="auto" and PyTorch in --rounds alternating rounds
   (bench/loop.py's alternating_rounds: each side's median over --secs seconds of
   back-to-back calls, the order swapped every round); GFLOP/s from the median of
   each side's round medians, the ratio the median of the rounds' ratios;
3. with --explicit, also each explicit algorithm (direct, im2col), so that auto's
   pick can be judged at every thread count;
4. every result checked once per thread count against PyTorch's.

Prints one Markdown table per thread count and a summary (GFLOP/s against the
thread count, and the speedup over 1 thread); --json writes everything.

    python bench/scaling.py [--threads 1,2,4,8,16] [--explicit] [--json out.json]

Written for the 16-core device machine; on this 2-core host use --threads 1,2.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import import_convx, load_shapes, measure_fma_peak  # noqa: E402
from loop import alternating_rounds, steady_median  # noqa: E402
from speed2 import copy_bandwidth  # noqa: E402
from speed8 import layer_calls  # noqa: E402

OPS = ("fwd", "wgrad", "dgrad")
EXTRA = [("conv3d_32", (2, 32, 16, 56, 56), (32, 32, 3, 3, 3), 1),
         ("conv1d_audio", (8, 64, 16000), (64, 64, 9), 4)]


def layers(rng):
    """[(name, nd, x, w, dy, kw, flops)] for the shapes file and the 1-D / 3-D layers."""
    out = []
    for sh in load_shapes(os.path.join(HERE, "shapes.txt")):
        x = rng.standard_normal((sh.n, sh.c, sh.h, sh.w), dtype=np.float32)
        w = rng.standard_normal((sh.k, sh.c // sh.groups, sh.r, sh.s), dtype=np.float32)
        dy = rng.standard_normal((sh.n, sh.k, sh.p, sh.q), dtype=np.float32)
        out.append((sh.name, 2, x, w, dy,
                    dict(stride=sh.stride, padding=sh.pad, groups=sh.groups), sh.flops))
    for name, xs, ws, pad in EXTRA:
        nd = len(xs) - 2
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32)
        ys = (xs[0], ws[0]) + tuple(n + 2 * pad - k + 1 for n, k in zip(xs[2:], ws[2:]))
        dy = rng.standard_normal(ys, dtype=np.float32)
        fl = 2 * int(np.prod(ys)) * int(np.prod(ws[1:]))
        out.append((name, nd, x, w, dy, dict(padding=pad), fl))
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2,4,8,16",
                    help="thread counts, run in the order given")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=0.1)
    ap.add_argument("--explicit", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated layer names")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    try:
        ncpu = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        ncpu = os.cpu_count() or 1
    counts = [int(t) for t in args.threads.split(",") if int(t) <= ncpu]
    convx = import_convx()
    import torch
    doc = dict(cpu=cpu_model(), cpus=ncpu, torch=torch.__version__, numpy=np.__version__,
               convx=convx.__version__, isa=convx.config().get("simd"), runs=[])
    print(f"{doc['cpu']}, {ncpu} CPUs; convx {doc['convx']} ({doc['isa']}), "
          f"torch {doc['torch']}, numpy {doc['numpy']}; float32\n", flush=True)
    only = set(filter(None, args.only.split(",")))
    all_layers = [l for l in layers(np.random.default_rng(0)) if not only or l[0] in only]
    algs = ("direct", "im2col") if args.explicit else ()
    for T in counts:
        torch.set_num_threads(T)
        isa, peak1, peak = measure_fma_peak(convx, T, np.float32)
        bw = copy_bandwidth(T)
        run = dict(threads=T, fma_peak_1=peak1, fma_peak=peak, copy_gbs=bw / 1e9, rows=[])
        doc["runs"].append(run)
        print(f"## {T} thread(s): FMA peak {peak:.0f} GFLOP/s ({peak1:.0f} on 1), "
              f"copy {bw / 1e9:.1f} GB/s\n")
        print("| layer | op | torch GFLOP/s | convx auto | auto / torch | % peak |"
              + "".join(f" {a} |" for a in algs))
        print("|---|---|---|---|---|---|" + "---|" * len(algs), flush=True)
        for name, nd, x, w, dy, kw, fl in all_layers:
            for op, (cx, tcall) in layer_calls(nd, x, w, dy, kw, convx, torch, T).items():
                with torch.no_grad():
                    ref = tcall().numpy()
                    got = cx("auto")()
                    err = float(np.abs(got - ref).max() / max(1e-30, np.abs(ref).max()))
                    if err > 1e-4:
                        print(f"MISMATCH {name} {op} {T}T: {err:.1e}", flush=True)
                    r = alternating_rounds(tcall, cx("auto"), args.rounds, args.secs)
                t_t = statistics.median(a for a, _ in r)
                t_c = statistics.median(b for _, b in r)
                ratio = statistics.median(a / b for a, b in r)
                row = dict(layer=name, op=op, gflop=fl / 1e9, torch_ms=t_t * 1e3,
                           auto_ms=t_c * 1e3, torch_over_auto=ratio, max_rel_diff=err)
                ex = ""
                for alg in algs:
                    t_a = steady_median(cx(alg), args.secs)[0]
                    row[f"{alg}_ms"] = t_a * 1e3
                    ex += f" {fl / t_a / 1e9:.1f} |"
                run["rows"].append(row)
                print(f"| {name} | {op} | {fl / t_t / 1e9:.1f} | {fl / t_c / 1e9:.1f} | "
                      f"{ratio:.2f} | {100 * fl / t_c / 1e9 / peak:.0f} |{ex}", flush=True)
        print()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)

    runs = sorted(doc["runs"], key=lambda r: r["threads"])
    if len(runs) > 1:
        print("## Scaling: GFLOP/s at " + ", ".join(str(r["threads"]) for r in runs)
              + " threads (convx auto | torch); speedup of the most threads over the fewest\n")
        print("| layer | op | convx | torch | convx speedup | torch speedup |")
        print("|---|---|---|---|---|---|")
        for i, row in enumerate(runs[0]["rows"]):
            c = [r["rows"][i]["gflop"] / r["rows"][i]["auto_ms"] * 1e3 for r in runs]
            t = [r["rows"][i]["gflop"] / r["rows"][i]["torch_ms"] * 1e3 for r in runs]
            print(f"| {row['layer']} | {row['op']} | {' / '.join(f'{v:.0f}' for v in c)} | "
                  f"{' / '.join(f'{v:.0f}' for v in t)} | {c[-1] / c[0]:.1f} | "
                  f"{t[-1] / t[0]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
