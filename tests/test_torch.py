"""Cross-check against PyTorch (skipped when torch is not installed).

convx's functions mirror torch.nn.functional.conv2d and
torch.nn.grad.conv2d_weight / conv2d_input in argument order and meaning;
in float64 they must agree to rounding error on every algorithm.  PyTorch
takes only symmetric integer padding here, so asymmetric padding is covered
by the reference tests instead.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import convx  # noqa: E402
from reference import ALGORITHMS  # noqa: E402

# (N, C, H, W), (K, C/groups, R, S), stride, padding, dilation, groups
CASES = [
    pytest.param((2, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1, 1, id="3x3_pad1"),
    pytest.param((1, 4, 11, 10), (6, 2, 3, 2), (2, 1), (1, 0), 1, 2, id="groups2_stride2x1_nonsq"),
    pytest.param((2, 3, 12, 13), (5, 3, 3, 3), 2, 2, 2, 1, id="dilation2_stride2"),
    pytest.param((1, 4, 8, 9), (8, 1, 3, 3), 1, 1, (1, 2), 4, id="depthwise_mult2_dilation1x2"),
    pytest.param((3, 5, 6, 7), (7, 5, 1, 1), 1, 0, 1, 1, id="pointwise"),
    pytest.param((2, 2, 10, 9), (3, 2, 2, 2), 3, 0, 1, 1, id="stride3_gt_kernel"),
]


def _data(x_shape, w_shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    return x, w, b


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_against_torch(x_shape, w_shape, stride, padding, dilation, groups, algorithm):
    """conv2d, conv2d_weight and conv2d_input equal PyTorch's in float64."""
    x, w, b = _data(x_shape, w_shape, seed=sum(x_shape) + sum(w_shape))
    geo = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))

    y = convx.conv2d(x, w, b, **geo, algorithm=algorithm)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **geo).numpy()
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=1e-10, atol=1e-10)

    gy = np.random.default_rng(1).standard_normal(y.shape)
    tgy = torch.from_numpy(gy)
    gw = convx.conv2d_weight(x, w.shape, gy, **geo, algorithm=algorithm)
    tgw = torch.nn.grad.conv2d_weight(tx, w.shape, tgy, **geo).numpy()
    np.testing.assert_allclose(gw, tgw, rtol=1e-10, atol=1e-10)

    gx = convx.conv2d_input(x.shape, w, gy, **geo, algorithm=algorithm)
    tgx = torch.nn.grad.conv2d_input(x.shape, tw, tgy, **geo).numpy()
    np.testing.assert_allclose(gx, tgx, rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_against_torch_same_padding_stride1(algorithm):
    """padding='same' at stride 1 (PyTorch supports it there), even kernel:
    the odd padding pixel goes to the bottom/right in both libraries."""
    x, w, b = _data((2, 3, 7, 8), (4, 3, 4, 2), seed=5)
    y = convx.conv2d(x, w, b, padding="same", algorithm=algorithm)
    ty = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                    torch.from_numpy(b), padding="same").numpy()
    np.testing.assert_allclose(y, ty, rtol=1e-10, atol=1e-10)


def test_against_torch_autograd_float32():
    """float32: convx's gradients match torch autograd of conv2d to float32 precision."""
    x, w, b = _data((2, 4, 10, 9), (6, 2, 3, 3), seed=6)
    x, w = x.astype(np.float32), w.astype(np.float32)
    geo = dict(stride=2, padding=1, dilation=1, groups=2)
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    ty = torch.nn.functional.conv2d(tx, tw, None, **geo)
    gy = np.random.default_rng(2).standard_normal(tuple(ty.shape)).astype(np.float32)
    (ty * torch.from_numpy(gy)).sum().backward()
    np.testing.assert_allclose(convx.conv2d(x, w, **geo), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(convx.conv2d_weight(x, w.shape, gy, **geo), tw.grad.numpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(convx.conv2d_input(x.shape, w, gy, **geo), tx.grad.numpy(),
                               rtol=1e-4, atol=1e-4)
