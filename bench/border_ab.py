#!/usr/bin/env python
"""The padding-mode input gradient's two NCHW forms, in one process, against zeros.

    python bench/border_ab.py THREADS SECONDS [MODE] [SHAPE ...]
    e.g. python bench/border_ab.py 1 0.6 reflect lenet2 res3x3_256

For each bench/shapes.txt layer (stride 1; default: every one), the median time
of conv2d_input with padding_mode MODE (default reflect) over the same call
with zeros padding, for both forms:

- border: the zeros-padding input gradient plus the border's restricted-tap
  gradient (_conv.conv2d_dgrad_border; what conv2d_input runs where
  C / groups >= _api._BORDER_MIN_CG);
- fused: the padded input's whole gradient made and folded per band
  (_conv.conv2d_dgrad_fold; forced by raising _api._BORDER_MIN_CG).

Each form keeps its own conv2d_input memo (_api._FAST_DGRAD swapped per call:
the memo's key does not tell the forms apart, and a shared one would time the
first form twice).

The three calls are timed in rounds (zeros, border, fused, zeros, ...; each
round SECONDS / 3 of back-to-back calls per form, median per form over all
rounds), so that the host's drift reaches all three alike. Session 10's
before/after figures for the border path came from this script.
"""

import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import import_convx, load_shapes  # noqa: E402


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        sys.exit(__doc__)
    threads, secs = int(argv[0]), float(argv[1])
    mode = argv[2] if len(argv) > 2 else "reflect"
    convx = import_convx()
    from convx import _api
    shapes = {s.name: s for s in load_shapes(os.path.join(HERE, "shapes.txt"))}
    names = argv[3:] or [n for n, s in shapes.items() if s.stride == 1 and s.pad > 0]
    rng = np.random.default_rng(0)
    default_min, default_memo = _api._BORDER_MIN_CG, _api._FAST_DGRAD
    print(f"| shape | zeros ms | border / zeros | fused / zeros |  ({mode}, {threads} thread(s))")
    print("|---|---|---|---|")
    for name in names:
        if name not in shapes:
            sys.exit(f"border_ab.py: unknown shape {name!r}; one of {sorted(shapes)}")
        s = shapes[name]
        isize = (s.n, s.c, s.h, s.w)
        w = rng.standard_normal((s.k, s.c // s.groups, s.r, s.s)).astype(np.float32)
        gy = rng.standard_normal((s.n, s.k, s.p, s.q)).astype(np.float32)

        def call(padding_mode, min_cg):
            memo = {}       # each form its own conv2d_input memo (the key has no form)

            def f():
                _api._BORDER_MIN_CG = min_cg
                _api._FAST_DGRAD = memo
                return convx.conv2d_input(isize, w, gy, s.stride, s.pad, 1, s.groups,
                                          padding_mode=padding_mode, threads=threads)
            return f
        forms = {"zeros": call("zeros", default_min), "border": call(mode, default_min),
                 "fused": call(mode, 1 << 62)}
        try:
            np.testing.assert_allclose(forms["border"](), forms["fused"](), rtol=1e-3,
                                       atol=1e-3 * float(np.abs(forms["fused"]()).max()))
            times = {k: [] for k in forms}
            for _ in range(3):
                for k, f in forms.items():
                    f()
                    t0 = time.perf_counter()
                    while time.perf_counter() - t0 < secs / 9 or len(times[k]) < 3:
                        a = time.perf_counter()
                        f()
                        times[k].append(time.perf_counter() - a)
        finally:
            _api._BORDER_MIN_CG = default_min
            _api._FAST_DGRAD = default_memo
        med = {k: float(np.median(v)) for k, v in times.items()}
        border = "-" if s.c // s.groups < default_min else f"{med['border'] / med['zeros']:.3f}"
        print(f"| {name} | {med['zeros'] * 1e3:.3f} | {border} | "
              f"{med['fused'] / med['zeros']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
