"""convx.gradcheck: passes correct backward passes, catches wrong ones and says where.

Modelled on torch.autograd.gradcheck: float64 central differences against the analytic
Jacobian (or, in fast mode, one random projection of it), elementwise
|analytic - numerical| <= atol + rtol * |numerical|.
"""

import numpy as np
import pytest

import convx
from convx import nn
from convx._gradcheck import GradcheckError


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


class ScaledReLU(nn.ReLU):
    """ReLU whose backward is off by a factor: a wrong input gradient."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def backward(self, grad_output, input_grad=True):
        return self.factor * super().backward(grad_output, input_grad)


class WrongBiasLinear(nn.Linear):
    """Linear whose bias gradient is doubled: a wrong parameter gradient."""

    def backward(self, grad_output, input_grad=True):
        gx = super().backward(grad_output, input_grad)
        self.bias.grad *= 2
        return gx


class Square(nn.Module):
    """y = x**2 elementwise, with a configurable backward."""

    def __init__(self, backward):
        super().__init__()
        self._backward = backward
        self.x = None

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad_output, input_grad=True):
        return self._backward(self.x, grad_output)


def test_correct_modules_pass():
    assert convx.gradcheck(nn.Conv2d(2, 2, 3, padding=1, seed=0), randn(1, 2, 4, 4)) is True
    assert convx.gradcheck(Square(lambda x, g: 2 * x * g), randn(3, 2)) is True


def test_accepts_a_bare_array_or_a_tuple():
    layer = nn.Linear(3, 2, seed=0)
    x = randn(2, 3)
    assert convx.gradcheck(layer, x) and convx.gradcheck(layer, (x,))


def test_wrong_input_gradient_is_reported_with_values():
    with pytest.raises(GradcheckError) as info:
        convx.gradcheck(ScaledReLU(1.01), randn(2, 3))
    text = str(info.value)
    assert "ScaledReLU" in text and "input 0" in text
    assert "numerical" in text and "analytical" in text and "1.01" in text


def test_small_errors_within_tolerance_pass():
    assert convx.gradcheck(ScaledReLU(1 + 1e-4), randn(2, 3))          # rtol = 1e-3
    with pytest.raises(GradcheckError):
        convx.gradcheck(ScaledReLU(1 + 1e-4), randn(2, 3), rtol=1e-5)


def test_wrong_parameter_gradient_names_the_parameter():
    with pytest.raises(GradcheckError, match="parameter 'bias'"):
        convx.gradcheck(WrongBiasLinear(3, 2, seed=0), randn(4, 3))
    # and passes when parameters are not checked
    assert convx.gradcheck(WrongBiasLinear(3, 2, seed=0), randn(4, 3), check_params=False)


def test_nested_parameter_names():
    model = nn.Sequential(nn.ReLU(), WrongBiasLinear(3, 2, seed=0))
    with pytest.raises(GradcheckError, match="parameter '1.bias'"):
        convx.gradcheck(model, randn(4, 3) + 3)


def test_raise_exception_false_returns_false():
    assert convx.gradcheck(ScaledReLU(2.0), randn(2, 3), raise_exception=False) is False


def test_fast_mode_passes_and_catches():
    assert convx.gradcheck(nn.Conv2d(2, 3, 3, seed=0), randn(2, 2, 6, 6), fast_mode=True)
    with pytest.raises(GradcheckError, match="fast mode"):
        convx.gradcheck(ScaledReLU(1.05), randn(2, 3), fast_mode=True)
    with pytest.raises(GradcheckError, match="fast mode.*'bias'"):
        convx.gradcheck(WrongBiasLinear(3, 2, seed=0), randn(4, 3), fast_mode=True)


def test_wrong_gradient_shape_is_reported():
    with pytest.raises(GradcheckError, match="shape"):
        convx.gradcheck(Square(lambda x, g: (2 * x * g).ravel()), randn(3, 2))
    with pytest.raises(GradcheckError, match="returned None"):
        convx.gradcheck(Square(lambda x, g: None), randn(3, 2))


def test_nondeterministic_backward_is_reported():
    rng = np.random.default_rng(0)
    noisy = Square(lambda x, g: 2 * x * g + 1e-9 * rng.standard_normal(x.shape))
    with pytest.raises(GradcheckError, match="not deterministic"):
        convx.gradcheck(noisy, randn(3, 2))
    assert convx.gradcheck(noisy, randn(3, 2), nondet_tol=1e-6)


def test_works_in_float64_without_touching_the_callers_objects():
    layer = nn.Conv2d(1, 2, 3, seed=0)               # float32 parameters
    w = layer.weight.data.copy()
    x = randn(1, 1, 5, 5).astype(np.float32)
    x0 = x.copy()
    # float32 finite differences with eps=1e-6 would be far off; float64 ones are not
    assert convx.gradcheck(layer, x, atol=1e-7, rtol=1e-6)
    assert layer.weight.dtype == np.float32 and layer.weight.grad is None
    np.testing.assert_array_equal(layer.weight.data, w)
    np.testing.assert_array_equal(x, x0)


def test_loss_targets_are_data():
    # integer class indices and float targets pass through untouched
    assert convx.gradcheck(nn.CrossEntropyLoss(), (randn(3, 4), np.array([1, 0, 3])))
    assert convx.gradcheck(nn.MSELoss(), (randn(3, 4), randn(3, 4, seed=1)))


@pytest.mark.parametrize("kwargs, word", [
    (dict(eps=0), "eps"),
    (dict(eps=-1e-6), "eps"),
    (dict(atol=-1), "atol"),
    (dict(rtol="big"), "rtol"),
])
def test_bad_tolerances(kwargs, word):
    with pytest.raises(ValueError, match=word):
        convx.gradcheck(nn.ReLU(), randn(2), **kwargs)


def test_func_must_be_a_module():
    with pytest.raises(TypeError, match="Module"):
        convx.gradcheck(lambda x: x * x, randn(2))
    with pytest.raises(TypeError, match="real"):
        convx.gradcheck(nn.ReLU(), np.array(["a"]))
