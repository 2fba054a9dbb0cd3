"""Helpers shared by the hostile-input, fuzzing, concurrency and limits tests.

* ``names(arg, value)``: a regex that an error message names the argument
  (as a whole word) and, for a scalar, shows its value.
* ``poisoned()``: every buffer convx allocates (the result, and the
  workspace, prepacked weight and partial sums the Cython glue allocates with
  ``np.empty``) starts filled with NaN instead of whatever ``np.empty`` left
  there, so an element a kernel forgets to write, or a workspace element it
  reads before writing, shows up as a NaN in the result.
* ``isa_paths()``: the SIMD paths this CPU has; ``on_path(name)`` selects one
  in-process and restores the previous one.
* ``SUBRUN``: true inside test_isa.py's whole-suite re-runs on lower paths;
  tests that already loop over every path in-process skip there.

Arrays in these tests are created fresh, with exactly the size the call
needs, so that under AddressSanitizer (tools/sanitize.sh) any read or write
past an operand hits the edge of its allocation.
"""

import contextlib
import os
import re

import numpy as np

import convx
from convx import _api, _conv

SUBRUN = os.environ.get("CONVX_ISA_SUBRUN") == "1"
SANITIZED = os.environ.get("CONVX_SANITIZED") == "1"

PATHS = _conv.isa_names()
BEST = _conv.cpu_best_isa()
SUPPORTED = PATHS[: PATHS.index(BEST) + 1]


def names(arg, value=None):
    """Regex: ``arg`` as a whole word (one of several if a tuple), and the
    value's repr when the value is a scalar or a string."""
    args = arg if isinstance(arg, tuple) else (arg,)
    pattern = "(?:" + "|".join(rf"(?<![\w.]){re.escape(a)}(?!\w)" for a in args) + ")"
    if value is not None and isinstance(value, (int, str)) and not isinstance(value, bool):
        pattern = rf"(?s)(?=.*{pattern})(?=.*{re.escape(repr(value))})"
    return pattern


class _PoisonedNumpy:
    """numpy, except that empty() returns NaN-filled arrays."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(shape, dtype=float, **kw):
        return np.full(shape, np.nan, dtype, **kw)


@contextlib.contextmanager
def poisoned():
    """Within the block, every convx allocation starts as NaN (see module doc)."""
    old_alloc, old_np = _api._alloc, _conv.np

    def alloc(name, shape, dtype, zero=False):
        _api._check_size(name, shape, dtype)
        return np.zeros(shape, dtype) if zero else np.full(shape, np.nan, dtype)

    _api._alloc = alloc
    _conv.np = _PoisonedNumpy()
    try:
        yield
    finally:
        _api._alloc = old_alloc
        _conv.np = old_np


@contextlib.contextmanager
def on_path(name):
    """Run the block on SIMD path ``name`` (must be in SUPPORTED)."""
    before = _conv.active_isa()
    assert _conv.select_isa(name) == name
    try:
        yield
    finally:
        _conv.select_isa(before)


def run_op(op, x, w, b, gy, algorithm="auto", threads=None, **geometry):
    """One of the three operations on (x, w, bias, grad_output)."""
    if op == "conv2d":
        return convx.conv2d(x, w, b, **geometry, algorithm=algorithm, threads=threads)
    if op == "conv2d_weight":
        return convx.conv2d_weight(x, w.shape, gy, **geometry, algorithm=algorithm,
                                   threads=threads)
    return convx.conv2d_input(x.shape, w, gy, **geometry, algorithm=algorithm, threads=threads)


def reference(op, x, w, b, gy, **geometry):
    """The float64 reference of ``run_op``."""
    from reference import ref_conv2d, ref_conv2d_input, ref_conv2d_weight
    if op == "conv2d":
        return ref_conv2d(x, w, b, **geometry)
    if op == "conv2d_weight":
        return ref_conv2d_weight(x, w.shape, gy, **geometry)
    return ref_conv2d_input(x.shape, w, gy, **geometry)


OPS = ("conv2d", "conv2d_weight", "conv2d_input")
