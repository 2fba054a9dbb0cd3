#!/usr/bin/env python
"""The Breadth (issue 8) measurements: 1-D and 3-D layers, long kernels, padding modes.

In one run, on the same arrays and thread count (bench/run.py's time_call:
settling pause, 0.05 s of warm-up calls, median of at least --repeats calls and
0.1 s of calls), float32:

1. conv3d on (2, 32, 16, 56, 56), 3x3x3 kernels, 32 output channels, padding 1,
   and conv1d on (8, 64, 16000), kernel 9, 64 output channels, padding 4: every
   op, convx (auto, and each explicit algorithm) against PyTorch; "paired" is
   auto / PyTorch again in --rounds alternating rounds (bench/speed2.py's
   paired_ratio: each side timed back to back, the order swapped every round,
   the median of the rounds' ratios), the figure to quote on a noisy host.
2. Long kernels, forward: a 1-channel length-65536 signal with a length-2048
   kernel ("valid") against PyTorch's conv1d and scipy.signal.fftconvolve, and a
   1-channel 2048 x 2048 image with a 31 x 31 kernel ('same') against
   scipy.signal.fftconvolve (scipy gets ``workers=threads`` where it takes it:
   fftconvolve itself does not, so it runs on one thread).
3. Padding modes: every bench/shapes.txt layer with padding, every op, convx auto
   with padding_mode="reflect" (and "circular") over the same call with zeros;
   "paired" the same ratios in --rounds alternating rounds.
4. Channels-last: every bench/shapes.txt layer, every op, convx auto with
   layout="NHWC" on the same data transposed (outside the timing) over NCHW;
   "paired" the same ratio in --rounds alternating rounds.

    python bench/speed8.py --threads 2 [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import import_convx, load_shapes, time_call  # noqa: E402
from speed2 import paired_ratio  # noqa: E402

OPS = ("fwd", "wgrad", "dgrad")


def timed(fn, repeats, warmup=1):
    times_ms, out = time_call(fn, warmup, repeats)
    return statistics.median(times_ms) / 1e3, out


def layer_calls(nd, x, w, dy, kw, convx, torch, threads):
    """{op: (convx callable by algorithm, PyTorch callable)} for one 1-, 2- or 3-D layer."""
    F = torch.nn.functional
    g = torch.nn.grad
    cf = {1: (convx.conv1d, convx.conv1d_weight, convx.conv1d_input),
          2: (convx.conv2d, convx.conv2d_weight, convx.conv2d_input),
          3: (convx.conv3d, convx.conv3d_weight, convx.conv3d_input)}[nd]
    tf = {1: (F.conv1d, g.conv1d_weight, g.conv1d_input),
          2: (F.conv2d, g.conv2d_weight, g.conv2d_input),
          3: (F.conv3d, g.conv3d_weight, g.conv3d_input)}[nd]
    tx, tw, tdy = (torch.from_numpy(a) for a in (x, w, dy))
    out = {}
    for op, fc, ft in zip(OPS, cf, tf):
        if op == "fwd":
            out[op] = (lambda alg, fc=fc: lambda: fc(x, w, None, algorithm=alg,
                                                     threads=threads, **kw),
                       lambda ft=ft: ft(tx, tw, None, **kw))
        elif op == "wgrad":
            out[op] = (lambda alg, fc=fc: lambda: fc(x, w.shape, dy, algorithm=alg,
                                                     threads=threads, **kw),
                       lambda ft=ft: ft(tx, tw.shape, tdy, **kw))
        else:
            out[op] = (lambda alg, fc=fc: lambda: fc(x.shape, w, dy, algorithm=alg,
                                                     threads=threads, **kw),
                       lambda ft=ft: ft(tx.shape, tw, tdy, **kw))
    return out


def flops(xs, ws, ys, groups=1):
    return 2 * ys[0] * ys[1] * (ws[1]) * int(np.prod(ws[2:])) * int(np.prod(ys[2:]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=6,
                    help="alternating rounds of the paired auto / torch ratio (0: none)")
    ap.add_argument("--json")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: "
                    "layers,long,modes,layout")
    ap.add_argument("--processes", type=int, default=1,
                    help="repeat the run in this many fresh processes and report the "
                    "median paired ratios over them")
    args = ap.parse_args(argv)
    if args.processes > 1:
        return across_processes(args, sys.argv[1:] if argv is None else list(argv))
    skip = set(filter(None, args.skip.split(",")))
    convx = import_convx()
    import scipy
    import scipy.signal
    import torch
    torch.set_num_threads(args.threads)
    T = args.threads
    doc = dict(threads=T, torch=torch.__version__, scipy=scipy.__version__,
               isa=convx.config().get("simd"), layers=[], long=[], modes=[])
    print(f"convx {convx.__version__}, torch {torch.__version__}, scipy {scipy.__version__}, "
          f"{T} thread(s), float32\n")
    rng = np.random.default_rng(0)

    if "layers" not in skip:
        print("| layer | op | torch GFLOP/s | convx auto | direct | im2col |"
              " auto / torch | paired |")
        print("|---|---|---|---|---|---|---|---|")
        layers = [("conv3d_32", 3, (2, 32, 16, 56, 56), (32, 32, 3, 3, 3), dict(padding=1)),
                  ("conv1d_audio", 1, (8, 64, 16000), (64, 64, 9), dict(padding=4))]
        for name, nd, xs, ws, kw in layers:
            x = rng.standard_normal(xs).astype(np.float32)
            w = rng.standard_normal(ws).astype(np.float32)
            y = (convx.conv3d if nd == 3 else convx.conv1d)(x, w, **kw)
            dy = rng.standard_normal(y.shape).astype(np.float32)
            fl = flops(xs, ws, y.shape)
            for op, (cx, tcall) in layer_calls(nd, x, w, dy, kw, convx, torch, T).items():
                with torch.no_grad():
                    t_torch, ref = timed(tcall, args.repeats)
                t = {}
                for alg in ("auto", "direct", "im2col"):
                    t[alg], got = timed(cx(alg), args.repeats)
                    err = np.abs(got - ref.numpy()).max() / max(1e-30, np.abs(ref.numpy()).max())
                    assert err < 1e-4, f"{name} {op} {alg}: differs from torch by {err:.1e}"
                paired = None
                if args.rounds > 0:
                    with torch.no_grad():
                        paired = paired_ratio(tcall, cx("auto"), args.rounds, 0.3)
                gf = {k: fl / v / 1e9 for k, v in t.items()}
                print(f"| {name} | {op} | {fl / t_torch / 1e9:.1f} | {gf['auto']:.1f} | "
                      f"{gf['direct']:.1f} | {gf['im2col']:.1f} | {t_torch / t['auto']:.2f} | "
                      f"{'-' if paired is None else f'{paired:.2f}'} |", flush=True)
                doc["layers"].append(dict(layer=name, op=op, torch_ms=t_torch * 1e3,
                                          gflop=fl / 1e9, paired_torch_over_auto=paired,
                                          **{f"{k}_ms": v * 1e3 for k, v in t.items()}))

    if "long" not in skip:
        print("\nLong kernels, forward (ms; ratio = their time / convx auto's):\n")
        print("| case | convx auto (picks) | fftconvolve | torch | x fftconvolve | x torch |")
        print("|---|---|---|---|---|---|")
        sig = rng.standard_normal(65536).astype(np.float32)
        k1 = rng.standard_normal(2048).astype(np.float32)
        img = rng.standard_normal((2048, 2048)).astype(np.float32)
        k2 = rng.standard_normal((31, 31)).astype(np.float32)
        cases = [("1d_65536_k2048", sig[None, None], k1[None, None], 0,
                  lambda: scipy.signal.fftconvolve(sig, k1[::-1], mode="valid"),
                  torch.nn.functional.conv1d, convx.conv1d),
                 ("2d_2048_k31", img[None, None], k2[None, None], 15,
                  lambda: scipy.signal.fftconvolve(img, k2[::-1, ::-1], mode="same"),
                  torch.nn.functional.conv2d, convx.conv2d)]
        for name, xx, ww, pad, sp, tf, cf in cases:
            t_cx, y = timed(lambda: cf(xx, ww, padding=pad, threads=T), args.repeats)
            picked = convx.explain("conv2d", xx.shape if xx.ndim == 4 else
                                   xx.shape[:2] + (1,) + xx.shape[2:],
                                   ww.shape if ww.ndim == 4 else ww.shape[:2] + (1,) +
                                   ww.shape[2:], padding=pad if xx.ndim == 4 else (0, pad)
                                   ).algorithm
            t_sp, ys = timed(sp, args.repeats)
            tx, tw = torch.from_numpy(xx), torch.from_numpy(ww)
            with torch.no_grad():
                t_t, _ = timed(lambda: tf(tx, tw, padding=pad), max(3, args.repeats // 2))
            err = np.abs(y.reshape(ys.shape) - ys).max() / np.abs(ys).max()
            assert err < 1e-4, f"{name}: convx differs from scipy by {err:.1e}"
            print(f"| {name} | {t_cx * 1e3:.2f} ({picked}) | {t_sp * 1e3:.2f} | "
                  f"{t_t * 1e3:.2f} | {t_sp / t_cx:.2f} | {t_t / t_cx:.1f} |", flush=True)
            doc["long"].append(dict(case=name, picked=picked, convx_ms=t_cx * 1e3,
                                    fftconvolve_ms=t_sp * 1e3, torch_ms=t_t * 1e3,
                                    max_rel_diff=float(err)))

    if "modes" not in skip:
        print("\nPadding modes (convx auto; ratio = mode's time / zeros' time):\n")
        print("| shape | op | zeros ms | reflect / zeros | circular / zeros | paired reflect"
              " | paired circular |")
        print("|---|---|---|---|---|---|---|")
        for sh in load_shapes(os.path.join(HERE, "shapes.txt")):
            if sh.pad == 0:
                continue
            x = rng.standard_normal((sh.n, sh.c, sh.h, sh.w)).astype(np.float32)
            w = rng.standard_normal((sh.k, sh.c // sh.groups, sh.r, sh.s)).astype(np.float32)
            dy = rng.standard_normal((sh.n, sh.k, sh.p, sh.q)).astype(np.float32)
            kw = dict(stride=sh.stride, padding=sh.pad, groups=sh.groups, threads=T)
            calls = {"fwd": lambda m: convx.conv2d(x, w, padding_mode=m, **kw),
                     "wgrad": lambda m: convx.conv2d_weight(x, w.shape, dy, padding_mode=m,
                                                            **kw),
                     "dgrad": lambda m: convx.conv2d_input(x.shape, w, dy, padding_mode=m,
                                                           **kw)}
            for op, fn in calls.items():
                t = {m: timed(lambda m=m: fn(m), args.repeats)[0]
                     for m in ("zeros", "reflect", "circular")}
                pr = {m: (paired_ratio(lambda m=m: fn(m), lambda: fn("zeros"), args.rounds)
                          if args.rounds > 0 else None) for m in ("reflect", "circular")}
                cols = " | ".join("-" if v is None else f"{v:.2f}" for v in pr.values())
                print(f"| {sh.name} | {op} | {t['zeros'] * 1e3:.2f} | "
                      f"{t['reflect'] / t['zeros']:.2f} | {t['circular'] / t['zeros']:.2f} | "
                      f"{cols} |", flush=True)
                doc["modes"].append(dict(shape=sh.name, op=op,
                                         **{f"{m}_ms": v * 1e3 for m, v in t.items()},
                                         **{f"paired_{m}_over_zeros": v
                                            for m, v in pr.items()}))
    if "layout" not in skip:
        print("\nChannels-last (convx auto; ratio = NHWC time / NCHW time, same data):\n")
        print("| shape | op | NCHW ms | NHWC / NCHW | paired |")
        print("|---|---|---|---|---|")
        doc["layout"] = []
        for sh in load_shapes(os.path.join(HERE, "shapes.txt")):
            x = rng.standard_normal((sh.n, sh.c, sh.h, sh.w)).astype(np.float32)
            w = rng.standard_normal((sh.k, sh.c // sh.groups, sh.r, sh.s)).astype(np.float32)
            dy = rng.standard_normal((sh.n, sh.k, sh.p, sh.q)).astype(np.float32)
            xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            dyh = np.ascontiguousarray(dy.transpose(0, 2, 3, 1))
            kw = dict(stride=sh.stride, padding=sh.pad, groups=sh.groups, threads=T)
            calls = {"fwd": (lambda: convx.conv2d(x, w, **kw),
                             lambda: convx.conv2d(xh, w, layout="NHWC", **kw)),
                     "wgrad": (lambda: convx.conv2d_weight(x, w.shape, dy, **kw),
                               lambda: convx.conv2d_weight(xh, w.shape, dyh, layout="NHWC",
                                                           **kw)),
                     "dgrad": (lambda: convx.conv2d_input(x.shape, w, dy, **kw),
                               lambda: convx.conv2d_input(xh.shape, w, dyh, layout="NHWC",
                                                          **kw))}
            for op, (fc, fh) in calls.items():
                t_c, rc = timed(fc, args.repeats)
                t_h, rh = timed(fh, args.repeats)
                ref = rc if op == "wgrad" else rc.transpose(0, 2, 3, 1)
                err = np.abs(rh - ref).max() / max(1e-30, np.abs(ref).max())
                assert err < 1e-4, f"{sh.name} {op}: NHWC differs from NCHW by {err:.1e}"
                paired = paired_ratio(fh, fc, args.rounds) if args.rounds > 0 else None
                print(f"| {sh.name} | {op} | {t_c * 1e3:.2f} | {t_h / t_c:.2f} | "
                      f"{'-' if paired is None else f'{paired:.2f}'} |", flush=True)
                doc["layout"].append(dict(shape=sh.name, op=op, nchw_ms=t_c * 1e3,
                                          nhwc_ms=t_h * 1e3, paired_nhwc_over_nchw=paired))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)


# Per section: the fields naming a row, and the paired ratios to summarise.
SUMMARY = {"layers": (("layer", "op"), ("paired_torch_over_auto",)),
           "modes": (("shape", "op"), ("paired_reflect_over_zeros",
                                       "paired_circular_over_zeros")),
           "layout": (("shape", "op"), ("paired_nhwc_over_nchw",))}


def strip_option(argv, name):
    """argv without `name VALUE` / `name=VALUE`."""
    out, skip_next = [], False
    for a in argv:
        if skip_next:
            skip_next = False
        elif a == name:
            skip_next = True
        elif not a.startswith(name + "="):
            out.append(a)
    return out


def across_processes(args, argv):
    """Run this script args.processes times, one fresh process after another, and
    print each paired ratio's median over the processes and its range."""
    base = strip_option(strip_option(argv, "--processes"), "--json")
    docs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.processes):
            path = os.path.join(tmp, f"run{i}.json")
            print(f"process {i + 1} of {args.processes} ...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, os.path.abspath(__file__), *base,
                            "--processes", "1", "--json", path],
                           stdout=sys.stderr, check=True)
            with open(path) as f:
                docs.append(json.load(f))
    summary = {}
    print(f"Paired ratios over {args.processes} processes ({args.threads} thread(s)): "
          "median [min, max]\n")
    for section, (keys, fields) in SUMMARY.items():
        rows = [d.get(section) or [] for d in docs]
        if not rows[0]:
            continue
        print(f"| {' | '.join(keys)} | " + " | ".join(fields) + " |")
        print("|" + "---|" * (len(keys) + len(fields)))
        summary[section] = []
        for j, row in enumerate(rows[0]):
            entry = {k: row[k] for k in keys}
            cells = []
            for fld in fields:
                vals = [r[j][fld] for r in rows]
                assert all(r[j][k] == row[k] for r in rows for k in keys)
                if any(v is None for v in vals):
                    cells.append("-")
                    continue
                med = statistics.median(vals)
                entry[fld] = dict(median=med, min=min(vals), max=max(vals), values=vals)
                cells.append(f"{med:.2f} [{min(vals):.2f}, {max(vals):.2f}]")
            summary[section].append(entry)
            print(f"| {' | '.join(str(row[k]) for k in keys)} | " + " | ".join(cells) + " |",
                  flush=True)
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(processes=docs, summary=summary), f, indent=1)


if __name__ == "__main__":
    main()
