"""How the kernels split the work: bounded workspace, enough parallel items.

The split is a function of the geometry only (never of the thread count),
which is what makes results thread-count invariant; these tests pin the
properties the rest of convx relies on.
"""

import numpy as np
import pytest

from convx import _conv

# (N, C, H, W, K, R, S, P, Q, sh, sw, dh, dw, pad_top, pad_left, groups)
GEOMETRIES = {
    "res3x3_64_batch8": (8, 64, 56, 56, 64, 3, 3, 56, 56, 1, 1, 1, 1, 1, 1, 1),
    "res3x3_64_batch512": (512, 64, 56, 56, 64, 3, 3, 56, 56, 1, 1, 1, 1, 1, 1, 1),
    "vgg3x3_512": (4, 512, 28, 28, 512, 3, 3, 28, 28, 1, 1, 1, 1, 1, 1, 1),
    "stem7x7s2": (8, 3, 224, 224, 64, 7, 7, 112, 112, 2, 2, 1, 1, 3, 3, 1),
    "latency1": (1, 64, 56, 56, 64, 3, 3, 56, 56, 1, 1, 1, 1, 1, 1, 1),
    "depthwise": (8, 128, 56, 56, 128, 3, 3, 56, 56, 1, 1, 1, 1, 1, 1, 128),
    "lenet1": (64, 1, 28, 28, 8, 5, 5, 28, 28, 1, 1, 1, 1, 2, 2, 1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", ["fwd", "wgrad", "dgrad"])
@pytest.mark.parametrize("name", GEOMETRIES)
def test_im2col_workspace_is_bounded_whatever_the_batch(name, op, dtype):
    """Per-thread workspace stays under 4 MiB (batch 8 or 512 alike): the column
    matrix of a batch is never built, only one tile of it per thread."""
    info = _conv.plan_info(GEOMETRIES[name], op, "im2col", dtype)
    assert info["workspace_bytes"] <= 4 * 2**20, info


@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
@pytest.mark.parametrize("op", ["fwd", "wgrad", "dgrad"])
@pytest.mark.parametrize("name", ["latency1", "lenet1", "vgg3x3_512", "depthwise"])
def test_enough_items_to_keep_two_cores_busy(name, op, algorithm):
    """Batch 1 and thin weights still give several items (so 2+ threads have work)."""
    info = _conv.plan_info(GEOMETRIES[name], op, algorithm, np.float32)
    assert info["nitems"] >= 4, info


def test_weight_gradient_batch_split_for_thin_weights():
    """lenet1's weight (8x1x5x5) alone is one GEMM item: the batch is split instead."""
    info = _conv.plan_info(GEOMETRIES["lenet1"], "wgrad", "im2col", np.float32)
    assert info["nsplit"] > 1 and info["nsplit"] * info["nper"] >= 64
