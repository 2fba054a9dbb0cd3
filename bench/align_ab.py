#!/usr/bin/env python
"""The inputs' alignment inside one process: operands 16 bytes off a 64-byte line against on one.

    python bench/align_ab.py SHAPE OP LAYOUT THREADS [ROUNDS [SECONDS]]
    e.g. python bench/align_ab.py depthwise wgrad NHWC 1 5 0.3

numpy aligns new arrays to 16 bytes only, so a user's x and dY start
anywhere on a line: in channels-last every pixel then starts at the same
offset, and with 512-byte pixels (the depthwise layer) every channel vector
load touches two lines. A is the call on x, w and dY copied to 64-byte
line starts; B the same values 16 bytes past them (the outputs are convx's
own, line-aligned by convx._memory either way). Each round times A and B
for SECONDS each (median of back-to-back calls after a warm-up call),
alternating which goes first; the output is every round's B / A.
"""

import os
import sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import alternating_rounds, layer_arrays  # noqa: E402
from run import import_convx  # noqa: E402


def placed(a, off):
    """A copy of a whose data start `off` bytes past a 64-byte line."""
    buf = np.empty(a.nbytes + 128, np.uint8)
    o = (-buf.ctypes.data % 64) + off
    v = buf[o:o + a.nbytes].view(a.dtype).reshape(a.shape)
    v[...] = a
    return v


def main(argv):
    if len(argv) not in (4, 5, 6):
        sys.exit(__doc__)
    name, op, layout, threads = argv[0], argv[1], argv[2], int(argv[3])
    rounds = int(argv[4]) if len(argv) > 4 else 5
    secs = float(argv[5]) if len(argv) > 5 else 0.3
    if op not in ("fwd", "wgrad", "dgrad") or layout not in ("NCHW", "NHWC"):
        sys.exit(__doc__)
    convx = import_convx()
    x, w, dy, kw, _ = layer_arrays(name, layout, threads)    # (bench/loop.py's data)

    def call(off):
        xo, wo, dyo = placed(x, off), placed(w, off), placed(dy, off)
        return {"fwd": lambda: convx.conv2d(xo, wo, **kw),
                "wgrad": lambda: convx.conv2d_weight(xo, wo.shape, dyo, **kw),
                "dgrad": lambda: convx.conv2d_input(xo.shape, wo, dyo, **kw)}[op]

    t = alternating_rounds(call(0), call(16), rounds, secs)
    print(f"{name} {op} {layout} T{threads}: aligned median "
          f"{np.median([a for a, _ in t]) * 1e3:.3f} ms; 16 bytes off / aligned per round "
          f"{' '.join(f'{b / a:.3f}' for a, b in t)}; median "
          f"{np.median([b / a for a, b in t]):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
