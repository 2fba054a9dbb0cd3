#!/usr/bin/env python
"""A/B of the Zen 4 routing (cx_conv_dispatch.c): AVX-512 float32 forwards with 8
output channels on AVX2's 8-lane channel-vector tiles, against the AVX-512 plan.

    python bench/halves_sweep.py THREADS ROUNDS SECONDS [--nhwc] [C,R,Q[,N] ...]
    e.g. python bench/halves_sweep.py 1 3 0.2
         python bench/halves_sweep.py 2 3 0.2 --nhwc 8,3,7 16,5,14

Each case is a stride-1 "same" forward of N images of C channels, Q x Q pixels,
to 8 output channels with an R x R kernel (N such that a call is ~0.15 GFLOP
unless given). Every round times the call with developer flags 16384
(CX_DEV_HALVES: plan as on a CPU whose AVX-512 units are 256 bits wide, so
that the sweep runs on any AVX-512 CPU) and 8192 (CX_DEV_NO_HALVES: the
AVX-512 plan), SECONDS each, alternating which goes first; printed: the path
the first plan takes and the median over rounds of time(AVX-512 plan) /
time(routed): > 1 where the routing wins. Cases where the routed plan is the
AVX-512 one anyway (the rule declines) print "not routed" with the sweep's
timing still (1.00 expected). Default cases: C in 1..64, R in 3, 5, Q in 14,
28, 56 (the sweep behind the rule; bench/README.md session 24).
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import steady_median  # noqa: E402
from run import import_convx  # noqa: E402


def main(argv):
    args = [a for a in argv if a != "--nhwc"]
    nhwc = len(args) != len(argv)
    if len(args) < 3:
        sys.exit(__doc__)
    threads, rounds, secs = int(args[0]), int(args[1]), float(args[2])
    convx = import_convx()
    from convx import _conv
    if _conv.active_isa() != "avx512":
        sys.exit(f"needs the AVX-512 path, this process runs {_conv.active_isa()!r}")
    cases = [tuple(int(v) for v in a.split(",")) for a in args[3:]] or [
        (c, r, q) for c in (1, 4, 8, 16, 32, 64) for r in (3, 5) for q in (14, 28, 56)]
    rng = np.random.default_rng(0)
    old = _conv._set_dev_flags(0)
    try:
        for case in cases:
            c, r, q = case[:3]
            n = case[3] if len(case) > 3 else max(1, int(1.5e8 // (2 * 8 * c * r * r * q * q)))
            geo = (n, c, q, q, 8, r, r, q, q, 1, 1, 1, 1, r // 2, r // 2, 1)
            _conv._set_dev_flags(16384)
            info = (_conv.nhwc_plan_info(geo, "fwd", np.float32) if nhwc else
                    _conv.plan_info(geo, "fwd", "direct", np.float32))
            shape = (n, q, q, c) if nhwc else (n, c, q, q)
            x = rng.standard_normal(shape, dtype=np.float32)
            w = rng.standard_normal((8, c, r, r), dtype=np.float32)
            kw = dict(padding=r // 2, threads=threads, algorithm="direct")
            if nhwc:
                kw = dict(padding=r // 2, threads=threads, layout="NHWC")
            f = lambda: convx.conv2d(x, w, **kw)  # noqa: E731
            ratios = []
            for i in range(rounds):
                t = {}
                for fl in ((16384, 8192) if i % 2 == 0 else (8192, 16384)):
                    _conv._set_dev_flags(fl)
                    t[fl] = steady_median(f, secs)[0]
                ratios.append(t[8192] / t[16384])
            routed = "routed" if info["path"] == "avx2" else "not routed"
            print(f"C{c} R{r} Q{q} N{n} {'NHWC' if nhwc else 'NCHW'} T{threads} ({routed}): "
                  f"AVX-512 plan / routed {np.median(ratios):.3f} "
                  f"({' '.join(f'{v:.2f}' for v in ratios)})", flush=True)
    finally:
        _conv._set_dev_flags(old)


if __name__ == "__main__":
    main(sys.argv[1:])
