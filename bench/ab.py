#!/usr/bin/env python
"""A/B of a developer switch inside one process: one bench/shapes.txt layer, one op.

    python bench/ab.py SHAPE OP LAYOUT THREADS FLAGS [ROUNDS [SECONDS [PADDING_MODE]]]
    e.g. python bench/ab.py depthwise wgrad NCHW 1 1 9 0.3
         python bench/ab.py depthwise dgrad NCHW 1 1024 9 0.3 reflect

SHAPE may also be conv3d_32 or conv1d_audio (bench/api_ab.py's layers, their
public convx.conv3d / conv1d calls with algorithm "auto"; LAYOUT is then
ignored).

FLAGS are the bits of convx._conv._set_dev_flags (cx_conv.h, CX_DEV_*: each
turns a newer path off, so that its predecessor runs). Each round times the
call with flags 0 (A: the normal code) and with FLAGS (B) for SECONDS each
(median of back-to-back calls after a warm-up call), alternating which goes
first; the output is every round's B / A time ratio and their median. On this
shared, noisy VM a .so swapped between runs moved memory-bound layers 15-20%
(code placement, neighbours' memory traffic); alternating inside one process
cancels the slow drift that such runs cannot.
"""

import os
import sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import make_call, steady_median  # noqa: E402
from run import import_convx  # noqa: E402


def main(argv):
    if len(argv) not in (5, 6, 7, 8):
        sys.exit(__doc__)
    name, op, layout, threads, flags = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    rounds = int(argv[5]) if len(argv) > 5 else 7
    secs = float(argv[6]) if len(argv) > 6 else 0.3
    mode = argv[7] if len(argv) > 7 else "zeros"
    convx = import_convx()
    from convx import _conv
    from convx import _api as api
    from api_ab import ND_LAYERS, layer_call
    if name in ND_LAYERS:       # conv3d_32, conv1d_audio: their public calls
        f, _ = layer_call(convx, name, op, "auto", threads)
    else:
        f, _ = make_call(convx, name, op, layout, threads, mode)
    ratios, ta, tb = [], [], []
    old = _conv._set_dev_flags(0)
    try:
        for r in range(rounds):
            order = (0, flags) if r % 2 == 0 else (flags, 0)
            t = {}
            for fl in order:
                _conv._set_dev_flags(fl)
                # (the calls' remembered routes too: a flag that turns a route
                # down would otherwise leave its fallback remembered for A)
                for memo in (api._FAST_FWD, api._FAST_WGRAD, api._FAST_DGRAD):
                    memo.clear()
                t[fl] = steady_median(f, secs)[0]
            ta.append(t[0])
            tb.append(t[flags])
            ratios.append(t[flags] / t[0])
    finally:
        _conv._set_dev_flags(old)
    print(f"{name} {op} {layout} {mode} T{threads} flags {flags}: A (flags 0) median "
          f"{np.median(ta) * 1e3:.3f} ms, B median {np.median(tb) * 1e3:.3f} ms; "
          f"B/A per round {' '.join(f'{x:.3f}' for x in ratios)}; median {np.median(ratios):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
