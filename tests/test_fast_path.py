"""conv2d's memo of decisions (convx._api._FAST_FWD): a call repeated with the
same argument types, shapes, dtypes and parameters skips the checks and
decisions; these tests show the second call computes what the first did, on
new data of every kind the first call's checks looked at."""

import numpy as np
import pytest

import convx
from convx import _api

from reference import ref_conv2d


def _key_count():
    return len(_api._FAST_FWD)


@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col"])
def test_repeated_call_uses_the_memo_and_new_data(algorithm):
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (2, 3, 9, 11)).astype(np.float32)
    w = rng.integers(-3, 4, (16, 3, 3, 3)).astype(np.float32)
    b = rng.integers(-3, 4, 16).astype(np.float32)
    _api._FAST_FWD.clear()
    kw = dict(padding=1, algorithm=algorithm, threads=1)
    y1 = convx.conv2d(x, w, b, **kw)
    assert _key_count() == 1
    np.testing.assert_array_equal(y1, ref_conv2d(x, w, b, padding=1))
    # new values, a non-contiguous input of the same shape, unbatched forms
    x2 = np.asfortranarray(rng.integers(-3, 4, x.shape).astype(np.float32))
    y2 = convx.conv2d(x2, w, b, **kw)
    np.testing.assert_array_equal(y2, ref_conv2d(x2, w, b, padding=1))
    np.testing.assert_array_equal(convx.conv2d(x2, w, b, **kw), y2)
    assert _key_count() == 1
    # a non-finite weight tap over the padding: NaN where the reference has it
    wi = w.copy()
    wi[2, 1, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        got = convx.conv2d(x, wi, b, **kw)
        want = ref_conv2d(x.astype(np.float64), wi.astype(np.float64), b, padding=1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    # other dtypes, thread counts, bias forms are other calls
    convx.conv2d(x, w, None, **kw)
    convx.conv2d(x.astype(np.float64), w, b, **kw)
    y3 = convx.conv2d(x, w, b, padding=1, algorithm=algorithm, threads=2)
    np.testing.assert_array_equal(y3, y1)
    assert _key_count() == 4


def test_memo_keeps_errors_and_out():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    y = convx.conv2d(x, w, padding=1)
    convx.conv2d(x, w, padding=1)
    # a wrong bias is checked on every call (its shape is in the key)
    with pytest.raises(ValueError, match="bias must have shape"):
        convx.conv2d(x, w, np.ones(3, np.float32), padding=1)
    # out= never uses the memo, and gets the same numbers
    out = np.empty_like(y)
    assert convx.conv2d(x, w, padding=1, out=out) is out
    np.testing.assert_array_equal(out, y)
    # lists (unhashable parameters) take the checked path
    np.testing.assert_array_equal(convx.conv2d(x, w, padding=[1, 1]), y)


def test_fft_fallback_is_not_remembered():
    """A forward that auto sends to the FFT falls back to an exact algorithm
    on non-finite data; that choice belongs to the call, not to the shape."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, 128, 128)).astype(np.float32)
    w = rng.standard_normal((1, 1, 63, 63)).astype(np.float32)
    if convx.explain("conv2d", x.shape, w.shape, padding=31).algorithm != "fft":
        pytest.skip("auto does not pick the FFT for this shape here")
    _api._FAST_FWD.clear()
    xi = x.copy()
    xi[0, 0, 3, 3] = np.inf
    with np.errstate(invalid="ignore"):
        convx.conv2d(xi, w, padding=31)
    assert _key_count() == 0
    convx.conv2d(x, w, padding=31)
    assert _key_count() == 0
