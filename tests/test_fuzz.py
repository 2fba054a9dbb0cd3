"""Differential fuzzing with hypothesis against the float64 reference.

Random argument sets for conv2d, conv2d_weight and conv2d_input, on every
SIMD path of this CPU (selected in-process) with every algorithm:

* valid ones (any batch, channels, groups, kernel, stride, dilation, every
  padding form, unbatched inputs, empty dimensions, Fortran-ordered or
  strided or integer operands, a few NaN/inf values) give the reference's
  result: small-integer data, so finite values are compared bit for bit and
  NaN/inf positions exactly; every buffer starts as NaN (hostile.poisoned),
  so an element left unwritten fails too;
* invalid ones (one argument of a valid set replaced by a bad value or a
  shape that disagrees) raise TypeError or ValueError naming that argument.

Profiles: ``CONVX_FUZZ=ci`` (the default; bounded, derandomized, a few
seconds per test) and ``CONVX_FUZZ=long``::

    CONVX_FUZZ=long python -m pytest tests/test_fuzz.py -p no:cacheprovider -s

which prints how many cases ran (``-s`` shows it).
"""

import os
import re
from collections import Counter

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import convx  # noqa: E402
from hostile import SUBRUN, SUPPORTED, names, on_path, poisoned, reference  # noqa: E402
from reference import output_hw, resolve_padding  # noqa: E402

pytestmark = pytest.mark.skipif(SUBRUN, reason="runs every SIMD path in-process")

PROFILE = os.environ.get("CONVX_FUZZ", "ci")
_common = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.data_too_large])
settings.register_profile("convx-ci", max_examples=200, derandomize=True, **_common)
settings.register_profile("convx-long", max_examples=10000, **_common)
FUZZ = settings.get_profile("convx-long" if PROFILE == "long" else "convx-ci")

OPS = ("conv2d", "conv2d_weight", "conv2d_input")
COUNTS = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    total = sum(COUNTS.values())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(COUNTS.items()))
    print(f"\nconvx fuzz ({PROFILE} profile): {total} cases ({detail})")


# --------------------------------------------------------------------------- strategies

def _pair_or_int(draw, lo, hi):
    a = draw(st.integers(lo, hi))
    if draw(st.booleans()):
        return a
    return (a, draw(st.integers(lo, hi)))


@st.composite
def problems(draw):
    """A convolution problem: shapes, geometry, dtype; may not fit (then invalid)."""
    groups = draw(st.integers(1, 3))
    cg = draw(st.sampled_from([0, 1, 1, 2, 3, 5]))
    kg = draw(st.sampled_from([0, 1, 2, 3, 4, 9]))
    N = draw(st.sampled_from([0, 1, 1, 2, 3]))
    H, W = draw(st.integers(0, 9)), draw(st.integers(0, 9))
    R, S = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if draw(st.integers(0, 3)):          # mostly kernels that fit the image itself
        R, S = max(1, min(R, H)), max(1, min(S, W))
    stride = _pair_or_int(draw, 1, 3)
    dilation = draw(st.sampled_from([1, 1, 1, 2, 3, (1, 2), (2, 1), (3, 2)]))
    form = draw(st.sampled_from(["int", "pair", "pairs", "valid", "same", "big"]))
    if form == "int":
        padding = draw(st.integers(0, 3))
    elif form == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    elif form == "pairs":
        padding = tuple((draw(st.integers(0, 4)), draw(st.integers(0, 4))) for _ in range(2))
    elif form == "big":              # padding wider than the kernel: all-padding pixels
        padding = draw(st.integers(4, 7))
    else:
        padding = form
    return dict(N=N, C=groups * cg, H=H, W=W, K=groups * kg, R=R, S=S, groups=groups,
                geometry=dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
                unbatched=draw(st.integers(0, 5)) == 0 and N == 1,
                bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                layout=draw(st.sampled_from(["c", "c", "c", "fortran", "strided", "int"])),
                specials=draw(st.sampled_from([None, None, None, None, "nan", "inf", "mixed"])),
                algorithm=draw(st.sampled_from(["direct", "im2col", "auto"])),
                threads=draw(st.sampled_from([None, 1, 2, 3])),
                seed=draw(st.integers(0, 2**32 - 1)))


def _fits(p):
    """Independent validity check: the dilated kernel fits the padded input."""
    g = p["geometry"]
    if p["H"] == 0 and g["padding"] == "same" or p["W"] == 0 and g["padding"] == "same":
        return True
    (t, b), (lft, rgt) = resolve_padding(g["padding"], (p["H"], p["W"]), (p["R"], p["S"]),
                                         g["stride"], g["dilation"])
    dh, dw = (g["dilation"],) * 2 if isinstance(g["dilation"], int) else g["dilation"]
    return ((p["R"] - 1) * dh + 1 <= p["H"] + t + b) and ((p["S"] - 1) * dw + 1 <= p["W"] + lft + rgt)


def _layout(a, how, rng):
    """The same values in another memory layout (or as integers)."""
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "strided" and a.ndim:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    if how == "int" and np.isfinite(a).all():
        return a.astype(np.int16)
    return a


def _arrays(p):
    rng = np.random.default_rng(p["seed"])
    g = p["geometry"]
    P, Q = output_hw((p["H"], p["W"]), (p["R"], p["S"]), g["stride"], g["padding"], g["dilation"])
    P, Q = max(P, 0), max(Q, 0)
    dt = p["dtype"]
    x = rng.integers(-3, 4, (p["N"], p["C"], p["H"], p["W"])).astype(dt)
    w = rng.integers(-3, 4, (p["K"], p["C"] // p["groups"], p["R"], p["S"])).astype(dt)
    b = rng.integers(-3, 4, p["K"]).astype(dt) if p["bias"] else None
    gy = rng.integers(-3, 4, (p["N"], p["K"], P, Q)).astype(dt)
    if p["specials"]:
        values = {"nan": [np.nan], "inf": [np.inf, -np.inf], "mixed": [np.nan, np.inf, -np.inf]}
        target = [x, w, gy][rng.integers(0, 3)]
        flat = target.reshape(-1)
        if flat.size:
            idx = rng.choice(flat.size, size=min(2, flat.size), replace=False)
            flat[idx] = rng.choice(values[p["specials"]], size=idx.size)
    if p["unbatched"]:
        x, gy = x[0], gy[0]
    return x, w, b, gy


def _call(op, p, x, w, b, gy, **over):
    kw = dict(p["geometry"], algorithm=p["algorithm"], threads=p["threads"])
    kw.update(over)
    if op == "conv2d":
        return convx.conv2d(x, w, b, **kw)
    if op == "conv2d_weight":
        return convx.conv2d_weight(x, over.pop("weight_size", w.shape), gy, **kw)
    return convx.conv2d_input(over.pop("input_size", x.shape), w, gy, **kw)


def _expected(op, x, w, b, gy, geometry):
    """The reference; an empty output image (P or Q = 0, which the reference's
    slicing cannot express) has nothing to sum: all bias, or all zero."""
    if gy.shape[-1] * gy.shape[-2] == 0:
        if op == "conv2d":
            return np.zeros(gy.shape)
        return np.zeros(w.shape if op == "conv2d_weight" else x.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        return reference(op, x, w, b, gy, **geometry)


def _check_equal(got, ref, dtype):
    with np.errstate(invalid="ignore", over="ignore"):
        ref = ref.astype(dtype)
    assert got.dtype == dtype and got.shape == ref.shape, (got.dtype, got.shape, ref.shape)
    for test in (np.isnan, np.isposinf, np.isneginf):
        assert np.array_equal(test(got), test(ref)), f"{test.__name__} pattern differs"
    fin = np.isfinite(ref)
    assert np.array_equal(got[fin], ref[fin]), "finite values differ from the reference"


# --------------------------------------------------------------------------- valid sets

@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("path", SUPPORTED)
def test_fuzz_valid_arguments_match_the_reference(path, op):
    @FUZZ
    @given(p=problems())
    def check(p):
        x, w, b, gy = _arrays(p)
        if not _fits(p):
            COUNTS["invalid (kernel does not fit)"] += 1
            with pytest.raises(ValueError, match=names(("weight", "weight_size"))):
                _call(op, p, x, w, b, gy)
            return
        rng = np.random.default_rng(p["seed"] + 1)
        lx, lw, lb, lg = (_layout(a, p["layout"], rng) if a is not None else None
                          for a in (x, w, b, gy))
        with on_path(path), poisoned():
            got = _call(op, p, lx, lw, lb, lg)
        COUNTS["valid"] += 1
        # the documented dtype policy: numpy's promotion, integers computed in float64
        operands = {"conv2d": (lx, lw) + (() if lb is None else (lb,)),
                    "conv2d_weight": (lx, lg), "conv2d_input": (lw, lg)}[op]
        dtype = convx._api._compute_dtype(*(a.dtype for a in operands))
        _check_equal(got, _expected(op, x, w, b, gy, p["geometry"]), dtype)
    check()


# --------------------------------------------------------------------------- invalid sets

def _mutations(op):
    """(argument named in the error, how to break a valid call)."""
    ints = [0, -1, 2**62, 2**64, 1.5, True, "2", None]
    muts = []
    for arg in ("stride", "dilation"):
        muts += [(arg, {arg: v}) for v in ints + [(1,), (1, 0), (1, 2, 3), (2, 1.0)]]
    muts += [("padding", {"padding": v}) for v in
             [-1, 2**62, 2**64, 1.5, True, None, "SAME", (1, -1), ((1, 2, 3), (0, 0))]]
    muts += [("groups", {"groups": v}) for v in [0, -1, 2**62, 2**64, 1.5, True, "2", None]]
    muts += [("threads", {"threads": v}) for v in [0, -3, 2**64, 2.0, True, "2"]]
    muts += [("algorithm", {"algorithm": v}) for v in ["winograd", "", 3, None]]
    if op == "conv2d":
        muts += [("weight", "weight_channels"), ("bias", "bias_length"), ("input", "input_rank"),
                 ("weight", "weight_rank")]
    elif op == "conv2d_weight":
        muts += [("grad_output", "grad_output_dim"), ("weight_size", "weight_size_entry"),
                 ("weight_size", "weight_size_length"), ("input", "input_rank")]
    else:
        muts += [("grad_output", "grad_output_dim"), ("input_size", "input_size_entry"),
                 ("input_size", "input_size_length"), ("weight", "weight_rank")]
    return muts


def _broken_shape(how, x, w, b, gy, rng):
    """(x, w, b, gy, extra keyword arguments) with one shape broken."""
    over = {}
    if how == "weight_channels":
        w = np.ones(w.shape[:1] + (w.shape[1] + 1,) + w.shape[2:], w.dtype)
    elif how == "bias_length":
        b = np.ones(w.shape[0] + rng.choice([-1, 1, 2]) if w.shape[0] else 1, w.dtype)
    elif how == "input_rank":
        x = x[None, None] if x.ndim == 3 else x[None]
    elif how == "weight_rank":
        w = w[None] if rng.integers(2) else np.ones(w.shape[:3], w.dtype)
    elif how == "grad_output_dim":
        shape = list(gy.shape)
        axis = rng.integers(len(shape))
        shape[axis] += 1 if shape[axis] == 0 or rng.integers(2) else -1
        gy = np.ones(shape, gy.dtype)
    elif how == "weight_size_entry":
        ws = list(w.shape)
        ws[rng.integers(4)] = [-1, 2**63, 2.0, True, None][rng.integers(5)]
        over["weight_size"] = tuple(ws)
    elif how == "weight_size_length":
        over["weight_size"] = tuple(w.shape)[: rng.integers(4)] + ((1, 1) if rng.integers(2) else ())
    elif how == "input_size_entry":
        xs = list(x.shape)
        xs[rng.integers(len(xs))] = [-1, 2**63, 2.0, True, None][rng.integers(5)]
        over["input_size"] = tuple(xs)
    elif how == "input_size_length":
        over["input_size"] = (1,) * [0, 1, 2, 5, 6][rng.integers(5)]
    return x, w, b, gy, over


@pytest.mark.parametrize("op", OPS)
def test_fuzz_invalid_arguments_raise(op):
    muts = _mutations(op)

    @FUZZ
    @given(p=problems(), which=st.integers(0, len(muts) - 1))
    def check(p, which):
        x, w, b, gy = _arrays(p)
        named, how = muts[which]
        rng = np.random.default_rng(p["seed"])
        over = how if isinstance(how, dict) else {}
        if isinstance(how, str):
            x, w, b, gy, over = _broken_shape(how, x, w, b, gy, rng)
            if how == "bias_length" and b is None:
                b = np.ones(w.shape[0] + 1, w.dtype)
        with pytest.raises((TypeError, ValueError)) as info:
            with poisoned():
                _call(op, p, x, w, b, gy, **over)
        COUNTS["invalid"] += 1
        # the named argument, or (for a set that was already invalid) the kernel
        alt = {"grad_output": ("grad_output", "input", "input_size", "weight_size"),
               "weight": ("weight", "input", "groups"), "input": ("input", "weight", "groups"),
               "weight_size": ("weight_size", "groups", "grad_output"),
               "input_size": ("input_size", "grad_output", "groups"),
               "bias": ("bias", "weight")}.get(named, (named,))
        msg = str(info.value)
        assert re.search(names(alt + ("weight", "weight_size", "padding", "groups",
                                      "dilation", "stride")), msg), msg
        if named not in ("grad_output", "weight", "input", "weight_size", "input_size", "bias"):
            # a bad scalar is found before the shapes are compared: it is the one named
            if _fits(p) or named in ("stride", "dilation", "padding", "groups"):
                assert re.search(names(named), msg), msg
    check()
