#!/usr/bin/env python
"""Issue 8's ratios inside one process: a layout or padding mode against NCHW zeros.

    python bench/variant_ab.py SHAPE OP THREADS VARIANT [ROUNDS [SECONDS]]
    e.g. python bench/variant_ab.py depthwise fwd 1 NHWC 6 0.3
         python bench/variant_ab.py lenet2 fwd 2 reflect 6 0.3

VARIANT is NHWC (channels-last, zero padding) or a padding mode (reflect,
replicate, circular; NCHW). A is the same layer in NCHW with zero padding.
Both calls see the same random data (bench/loop.py's make_call, fixed seed;
the NHWC arrays are its transposes, made outside the timing). Each round times
A and B for SECONDS each (median of back-to-back calls after a warm-up call),
alternating which goes first; the output is every round's B / A ratio and
their median. Separate processes moved these ratios by 10-30% on the shared
2-core VM (page placement, neighbours), one process with alternating rounds
does not.
"""

import os
import sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import make_call, alternating_rounds  # noqa: E402
from run import import_convx  # noqa: E402


def main(argv):
    if len(argv) not in (4, 5, 6):
        sys.exit(__doc__)
    name, op, threads, variant = argv[0], argv[1], int(argv[2]), argv[3]
    rounds = int(argv[4]) if len(argv) > 4 else 6
    secs = float(argv[5]) if len(argv) > 5 else 0.3
    convx = import_convx()
    fa, _ = make_call(convx, name, op, "NCHW", threads)
    if variant == "NHWC":
        fb, _ = make_call(convx, name, op, "NHWC", threads)
    elif variant in ("reflect", "replicate", "circular"):
        fb, _ = make_call(convx, name, op, "NCHW", threads, variant)
    else:
        sys.exit(f"VARIANT must be NHWC, reflect, replicate or circular, got {variant!r}")
    t = alternating_rounds(fa, fb, rounds, secs)
    ratios = [b / a for a, b in t]
    print(f"{name} {op} T{threads} {variant} / NCHW zeros: A median "
          f"{np.median([a for a, _ in t]) * 1e3:.3f} ms, B median "
          f"{np.median([b for _, b in t]) * 1e3:.3f} ms; B/A per round "
          f"{' '.join(f'{x:.3f}' for x in ratios)}; median {np.median(ratios):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
