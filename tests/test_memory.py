"""convx._memory.empty: results of 1 MiB and more start on a 64-byte line
(the channels-last depthwise forward streams whole lines from registers only
there); smaller ones are numpy's own arrays."""

import numpy as np
import pytest

import convx
from convx import _memory


@pytest.mark.parametrize("shape", [(8, 56, 56, 128), [8, 56, 56, 128], 3_000_001, (2, 1, 1 << 19)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_results_start_on_a_line(shape, dtype):
    for _ in range(4):          # (numpy's own placement varies from call to call)
        a = _memory.empty(shape, dtype)
        assert a.ctypes.data % _memory.LINE == 0
        assert a.shape == tuple(np.atleast_1d(shape)) and a.dtype == dtype
        assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
        a[...] = 1              # (every element writable, none shared)
        assert a.sum() == a.size


@pytest.mark.parametrize("shape", [(0, 5), 10, (3, 4, 5)])
def test_small_results_are_plain_arrays(shape):
    a = _memory.empty(shape, np.float32)
    assert a.base is None and a.shape == tuple(np.atleast_1d(shape))


def test_convolution_results_are_line_aligned():
    """conv2d's channels-last output, its NCHW output and the input gradient
    (each over 1 MiB) come from _memory.empty."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 40, 40, 128), dtype=np.float32)
    w = rng.standard_normal((128, 1, 3, 3), dtype=np.float32)
    for _ in range(3):
        y = convx.conv2d(x, w, padding=1, groups=128, layout="NHWC")
        assert y.ctypes.data % 64 == 0
        y2 = convx.conv2d(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), w, padding=1, groups=128)
        assert y2.ctypes.data % 64 == 0
        dx = convx.conv2d_input(x.shape, w, y, padding=1, groups=128, layout="NHWC")
        assert dx.ctypes.data % 64 == 0
