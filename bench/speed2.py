#!/usr/bin/env python
"""The Speed II measurements: thin layers, depthwise and single-channel filtering.

In one run, on the same arrays and thread count (median of at least --repeats calls
and 0.1 s of calls, after 0.05 s of warm-up calls, each implementation after a short
pause so that the previous one's thread pools are idle):

1. lenet1, lenet2 and depthwise of bench/shapes.txt, every op: convx with
   algorithm="auto" (and both explicit algorithms) against PyTorch.
2. The machine's copy bandwidth (numpy copies of a 256 MiB buffer, split over the
   threads) and, for the depthwise layer, the memory-bandwidth bound of each op:
   the bytes that must move (every operand read once, the result written once)
   divided by that bandwidth; "x bound" = convx's time over that bound, and
   "x bound paired" the same ratio from --rounds alternating rounds (one copy
   bandwidth measurement, then convx auto timed back to back for 0.15 s, the
   order swapped every round; the median of the rounds' ratios), since both
   figures move with this shared host's memory traffic.
3. A single-channel 2048 x 2048 image with a 7 x 7 and a 31 x 31 kernel (forward,
   'same' padding): convx against scipy.signal.correlate2d, scipy.signal.fftconvolve
   and PyTorch. (scipy runs on one thread whatever --threads says.)
4. "paired": the same auto / torch ratio measured again in --rounds alternating
   rounds (each implementation timed back to back for 0.15 s, the order swapped
   every round; the median of the rounds' ratios), so that a slow spell of this
   shared host lands on both sides of a ratio rather than on one (session 12:
   PyTorch's lenet2 input gradient read 25 and 61 GFLOP/s in two runs).

    python bench/speed2.py --threads 2 [--json out.json]

Prints Markdown tables (as committed to bench/RESULTS.md).
"""

import argparse
import json
import os
import statistics
import sys
import threading

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import import_convx, load_shapes, op_calls, time_call  # noqa: E402
from loop import alternating_rounds, steady_median  # noqa: E402

OPS = ("fwd", "wgrad", "dgrad")


def timed(fn, repeats, warmup=1, warm_s=None, min_s=None):
    """(median seconds, last result) of fn, timed as bench/run.py times every
    implementation (run.time_call: settling pause, warm-up window, minimum
    timing window)."""
    times_ms, out = time_call(fn, warmup, repeats, warm_s, min_s)
    return statistics.median(times_ms) / 1e3, out


def paired_ratio(f_base, f_new, rounds, secs=0.15):
    """Median over rounds of time(f_base) / time(f_new), each the median of
    back-to-back calls for secs seconds, the order swapped every round."""
    return statistics.median(tb / tn for tb, tn in alternating_rounds(f_base, f_new, rounds,
                                                                        secs))


def paired_bound_ratio(f, nbytes, threads, rounds, secs=0.15):
    """Median over rounds of f's time / (nbytes / that round's copy bandwidth),
    the copy measured first in even rounds and second in odd ones."""
    ratios = []
    for i in range(rounds):
        if i % 2:
            t = steady_median(f, secs)[0]
            bw = copy_bandwidth(threads, repeats=3)
        else:
            bw = copy_bandwidth(threads, repeats=3)
            t = steady_median(f, secs)[0]
        ratios.append(t * bw / nbytes)
    return statistics.median(ratios)


def copy_bandwidth(threads, nbytes=256 << 20, repeats=7):
    """Bytes moved per second (read + written) by numpy copies of nbytes split in
    `threads` parts copied concurrently (numpy releases the GIL while copying)."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    parts = np.array_split(np.arange(src.size), threads)
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts if p.size]

    def run():
        ths = [threading.Thread(target=np.copyto, args=(dst[a:b], src[a:b]))
               for a, b in bounds]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
    t, _ = timed(run, repeats)
    return 2 * nbytes / t


def must_move_bytes(sh, op, itemsize):
    x = sh.n * sh.c * sh.h * sh.w
    y = sh.n * sh.k * sh.p * sh.q
    w = sh.k * (sh.c // sh.groups) * sh.r * sh.s
    return itemsize * {"fwd": x + w + y, "wgrad": x + y + w, "dgrad": y + w + x}[op]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=6,
                    help="alternating rounds of the paired auto / torch ratio (0: none)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    convx = import_convx()
    import torch
    import scipy
    import scipy.signal
    torch.set_num_threads(args.threads)
    T = args.threads
    doc = dict(threads=T, torch=torch.__version__, scipy=scipy.__version__,
               isa=convx.config().get("simd"), layers=[], filters=[])

    bw = copy_bandwidth(T)
    doc["copy_bandwidth_gbs"] = bw / 1e9
    print(f"convx {convx.__version__}, torch {torch.__version__}, scipy {scipy.__version__}, "
          f"{T} thread(s); copy bandwidth {bw / 1e9:.1f} GB/s (read + write)\n")

    shapes = {s.name: s for s in load_shapes(os.path.join(HERE, "shapes.txt"))}
    print("| shape | op | torch | convx auto (picks) | direct | im2col | auto / torch |"
          " paired | x bound | x bound paired |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name in ("lenet1", "lenet2", "depthwise"):
        sh = shapes[name]
        x = rng.standard_normal((sh.n, sh.c, sh.h, sh.w)).astype(np.float32)
        w = rng.standard_normal((sh.k, sh.c // sh.groups, sh.r, sh.s)).astype(np.float32)
        dy = rng.standard_normal((sh.n, sh.k, sh.p, sh.q)).astype(np.float32)
        for op in OPS:
            calls = op_calls(sh, op, x, w, dy, convx, torch, T)
            with torch.no_grad():
                t_torch, _ = timed(calls["torch"], args.repeats)
            t = {a: timed(calls["convx"](a), args.repeats)[0]
                 for a in ("auto", "direct", "im2col")}
            picked = convx.explain(op, x.shape, w.shape, stride=sh.stride, padding=sh.pad,
                                   groups=sh.groups).algorithm
            paired = None
            if args.rounds > 0:
                with torch.no_grad():
                    paired = paired_ratio(calls["torch"], calls["convx"]("auto"), args.rounds)
            gf = {k: sh.flops / v / 1e9 for k, v in t.items()}
            bound = must_move_bytes(sh, op, 4) / bw
            xb = t["auto"] / bound if name == "depthwise" else None
            xbp = None
            if name == "depthwise" and args.rounds > 0:
                xbp = paired_bound_ratio(calls["convx"]("auto"), must_move_bytes(sh, op, 4), T,
                                         args.rounds)
            print(f"| {name} | {op} | {sh.flops / t_torch / 1e9:.1f} | {gf['auto']:.1f} "
                  f"({picked}) | {gf['direct']:.1f} | {gf['im2col']:.1f} | "
                  f"{t_torch / t['auto']:.2f} | {'-' if paired is None else f'{paired:.2f}'} | "
                  f"{'-' if xb is None else f'{xb:.2f}'} | "
                  f"{'-' if xbp is None else f'{xbp:.2f}'} |",
                  flush=True)
            doc["layers"].append(dict(shape=name, op=op, torch_ms=t_torch * 1e3,
                                      picked=picked, bound_ms=bound * 1e3,
                                      paired_auto_over_bound=xbp,
                                      paired_torch_over_auto=paired,
                                      **{f"{k}_ms": v * 1e3 for k, v in t.items()}))

    print("\nSingle-channel 2048 x 2048 image, 'same' padding, forward (ms; ratio = "
          "their time / convx auto's):\n")
    print("| kernel | convx auto | correlate2d | fftconvolve | torch | x correlate2d |"
          " x fftconvolve | x torch |")
    print("|---|---|---|---|---|---|---|---|")
    img = rng.standard_normal((2048, 2048)).astype(np.float32)
    for k in (7, 31):
        ker = rng.standard_normal((k, k)).astype(np.float32)
        x4, w4 = img[None, None], ker[None, None]
        t_cx, y = timed(lambda: convx.conv2d(x4, w4, padding=k // 2, threads=T), args.repeats)
        reps = 3 if k == 7 else 1
        t_cor, yc = timed(lambda: scipy.signal.correlate2d(img, ker, mode="same"), reps,
                          warmup=0, warm_s=0, min_s=0)
        t_fft, yf = timed(lambda: scipy.signal.fftconvolve(img, ker[::-1, ::-1], mode="same"),
                          args.repeats)
        tx, tw = torch.from_numpy(x4), torch.from_numpy(w4)
        with torch.no_grad():
            t_t, _ = timed(lambda: torch.nn.functional.conv2d(tx, tw, padding=k // 2),
                           args.repeats)
        scale = np.abs(yc).max()
        err = max(np.abs(y[0, 0] - yc).max(), np.abs(y[0, 0] - yf).max()) / scale
        assert err < 1e-4, f"convx disagrees with scipy by {err:.1e}"
        print(f"| {k}x{k} | {t_cx * 1e3:.2f} | {t_cor * 1e3:.1f} | {t_fft * 1e3:.2f} | "
              f"{t_t * 1e3:.2f} | {t_cor / t_cx:.1f} | {t_fft / t_cx:.2f} | "
              f"{t_t / t_cx:.2f} |", flush=True)
        doc["filters"].append(dict(kernel=k, convx_ms=t_cx * 1e3, correlate2d_ms=t_cor * 1e3,
                                   fftconvolve_ms=t_fft * 1e3, torch_ms=t_t * 1e3,
                                   max_rel_diff=float(err)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
