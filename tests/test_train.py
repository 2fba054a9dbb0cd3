"""convx.train: gradient descent with convx's kernels recovers hidden convolution kernels.

The problems are small and seeded: each fit takes well under a second.
"""

import numpy as np
import pytest

import convx
from convx.train import (KERNELS, FeatureProblem, StepInfo, TrainResult, fit_kernel,
                         make_feature_problem)


def rel_err(learned, true):
    return np.linalg.norm(np.ravel(learned) - np.ravel(true)) / np.linalg.norm(np.ravel(true))


def random_weight(shape, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


# --------------------------------------------------------------------------------------
# Recovering hidden kernels (float64, relative error < 1e-4)
# --------------------------------------------------------------------------------------

def test_recovers_sobel_x():
    x, y, w_true, _ = make_feature_problem("sobel_x", n_images=8, image_size=16)
    result = fit_kernel(x, y, kernel_size=3)
    assert isinstance(result, TrainResult)
    assert result.converged
    assert result.weight.shape == (1, 1, 3, 3)
    assert result.weight.dtype == np.float64
    assert result.bias is None
    assert rel_err(result.weight, w_true) < 1e-4
    assert result.loss_history[-1] < 1e-12
    assert result.n_iter == len(result.loss_history) - 1
    assert result.lr > 0


def test_recovers_bias():
    x, y, w_true, b_true = make_feature_problem("laplacian", n_images=8, image_size=16,
                                                bias=[0.75])
    result = fit_kernel(x, y, kernel_size=(3, 3), bias=True)
    assert result.converged
    assert result.bias.shape == (1,)
    assert rel_err(result.weight, w_true) < 1e-4
    assert abs(result.bias[0] - 0.75) < 1e-4


def test_recovers_with_stride_2_and_padding():
    x, y, w_true, _ = make_feature_problem("sobel_y", n_images=8, image_size=17, stride=2,
                                           padding=1)
    assert y.shape == (8, 1, 9, 9)
    result = fit_kernel(x, y, kernel_size=3, stride=2, padding=1)
    assert result.converged
    assert rel_err(result.weight, w_true) < 1e-4


def test_recovers_two_in_two_out_channels():
    w_hidden = random_weight((2, 2, 3, 3))
    x, y, w_true, _ = make_feature_problem(w_hidden, n_images=8, image_size=16)
    assert x.shape == (8, 2, 16, 16) and y.shape == (8, 2, 14, 14)
    result = fit_kernel(x, y, kernel_size=(2, 2, 3, 3))
    assert result.converged
    assert result.weight.shape == (2, 2, 3, 3)
    assert rel_err(result.weight, w_true) < 1e-4


def test_recovers_non_square_kernel_dilated():
    w_hidden = random_weight((3, 1, 2, 3), seed=2)
    x, y, w_true, _ = make_feature_problem(w_hidden, n_images=6, image_size=(15, 13),
                                           dilation=2)
    result = fit_kernel(x, y, kernel_size=(2, 3), dilation=2)
    assert result.converged
    assert rel_err(result.weight, w_true) < 1e-4


def test_recovers_grouped_kernel():
    w_hidden = random_weight((4, 1, 3, 3), seed=3)          # depthwise x2: C=2, K=4
    x, y, w_true, _ = make_feature_problem(w_hidden, n_images=6, image_size=12, groups=2)
    assert x.shape[1] == 2
    result = fit_kernel(x, y, kernel_size=3, groups=2)
    assert result.converged
    assert rel_err(result.weight, w_true) < 1e-4


@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
def test_each_algorithm_trains(algorithm):
    x, y, w_true, _ = make_feature_problem(["sobel_x", "sobel_y"], n_images=4, image_size=12)
    result = fit_kernel(x, y, 3, algorithm=algorithm, threads=1)
    assert result.converged
    assert rel_err(result.weight, w_true) < 1e-4


def test_unbatched_input():
    x, y, w_true, _ = make_feature_problem("box_blur", n_images=1, image_size=24)
    result = fit_kernel(x[0], y[0], 3)
    assert result.converged
    assert rel_err(result.weight, w_true) < 1e-4


def test_float32_converges_to_its_own_tolerance():
    x, y, w_true, _ = make_feature_problem("sobel_x", n_images=8, image_size=16,
                                           dtype=np.float32)
    result = fit_kernel(x, y, 3)
    assert result.weight.dtype == np.float32
    assert result.converged                              # default tol 1e-8 in float32
    assert rel_err(result.weight, w_true) < 1e-3


def test_integer_data_trains_in_float64():
    x, y, _, _ = make_feature_problem("laplacian", n_images=4, image_size=10)
    xi = np.rint(4 * x).astype(np.int32)
    yi = convx.conv2d(xi, KERNELS["laplacian"][None, None]).astype(np.int64)
    result = fit_kernel(xi, yi, 3)
    assert result.weight.dtype == np.float64
    assert result.converged
    assert rel_err(result.weight, KERNELS["laplacian"]) < 1e-4


# --------------------------------------------------------------------------------------
# The optimiser
# --------------------------------------------------------------------------------------

def test_loss_history_decreases():
    x, y, _, _ = make_feature_problem("sobel_x", n_images=8, image_size=16)
    # Plain gradient descent with lr <= 1/L on a quadratic: never increases.
    gd = fit_kernel(x, y, 3, momentum=0.0)
    assert gd.converged
    assert np.all(np.diff(gd.loss_history) <= 0)
    # Heavy ball oscillates a little, but falls by many orders of magnitude overall and
    # every stretch of 50 iterations ends lower than it started.
    hb = fit_kernel(x, y, 3, momentum=0.9)
    h = hb.loss_history
    assert h[-1] < 1e-12 * h[0]
    assert np.all(np.diff(h[::50]) < 0)


def test_explicit_lr_and_momentum_semantics():
    # One step from a known start, by hand: v = g; w -= lr * v (first step, v0 = 0).
    x, y, _, _ = make_feature_problem("sobel_x", n_images=2, image_size=8)
    seen = []
    fit_kernel(x, y, 3, lr=0.05, momentum=0.5, max_iter=2,
               callback=lambda info: seen.append(info.weight.copy()))
    w0, w1, w2 = seen
    numel = y.size

    def grad(w):
        r = convx.conv2d(x, w) - y
        return convx.conv2d_weight(x, w.shape, 2 * r / numel)

    g0 = grad(w0)
    np.testing.assert_allclose(w1, w0 - 0.05 * g0, rtol=1e-12, atol=1e-14)
    v1 = 0.5 * g0 + grad(w1)
    np.testing.assert_allclose(w2, w1 - 0.05 * v1, rtol=1e-12, atol=1e-14)


def test_auto_lr_is_inverse_largest_curvature():
    # The Hessian of mean((X w - y)^2) is (2/numel) X^T X with X the im2col matrix.
    x, y, _, _ = make_feature_problem("sobel_x", n_images=3, image_size=9)
    cols = np.lib.stride_tricks.sliding_window_view(x[:, 0], (3, 3), axis=(1, 2))
    X = cols.reshape(-1, 9)
    lam_max = np.linalg.eigvalsh(2 / y.size * X.T @ X)[-1]
    result = fit_kernel(x, y, 3, max_iter=0)
    # Power iteration approaches the top eigenvalue from below.
    assert 0.95 * lam_max <= 1 / result.lr <= lam_max * (1 + 1e-9)


def test_max_iter_reached_reports_not_converged():
    x, y, _, _ = make_feature_problem("sobel_x", n_images=4, image_size=12)
    result = fit_kernel(x, y, 3, max_iter=3)
    assert result.converged is False
    assert result.n_iter == 3
    assert len(result.loss_history) == 4
    assert "max_iter" in result.message


def test_max_iter_zero_only_evaluates():
    x, y, _, _ = make_feature_problem("sobel_x", n_images=2, image_size=8)
    result = fit_kernel(x, y, 3, max_iter=0)
    assert result.n_iter == 0 and len(result.loss_history) == 1 and not result.converged


def test_noisy_targets_give_least_squares_fit():
    x, y, w_true, _ = make_feature_problem("sobel_x", n_images=16, image_size=16, noise=0.1)
    result = fit_kernel(x, y, 3, max_iter=500)
    assert not result.converged                  # the loss floor is about noise**2
    assert result.loss == pytest.approx(0.01, rel=0.2)
    assert rel_err(result.weight, w_true) < 0.02


def test_huge_lr_diverges_and_stops():
    x, y, _, _ = make_feature_problem("sobel_x", n_images=2, image_size=8)
    result = fit_kernel(x, y, 3, lr=100.0, momentum=0.0)
    assert not result.converged
    assert "diverged" in result.message
    assert result.n_iter < 100


def test_callback_sees_every_step_and_can_stop():
    x, y, _, _ = make_feature_problem("sobel_x", n_images=2, image_size=8)
    infos = []

    def callback(info):
        infos.append(info)
        return info.iteration == 5

    result = fit_kernel(x, y, 3, callback=callback)
    assert [i.iteration for i in infos] == list(range(6))
    assert all(isinstance(i, StepInfo) for i in infos)
    assert [i.loss for i in infos] == list(result.loss_history)
    assert not infos[0].weight.flags.writeable
    assert result.n_iter == 5 and not result.converged
    assert "callback" in result.message


def test_seed_makes_runs_reproducible():
    x, y, _, _ = make_feature_problem("sobel_x", n_images=2, image_size=8)
    a = fit_kernel(x, y, 3, seed=7, max_iter=10)
    b = fit_kernel(x, y, 3, seed=7, max_iter=10)
    c = fit_kernel(x, y, 3, seed=8, max_iter=10)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    assert not np.array_equal(a.weight, c.weight)


def test_verbose_prints_progress(capsys):
    x, y, _, _ = make_feature_problem("sobel_x", n_images=2, image_size=8)
    fit_kernel(x, y, 3, verbose=10, max_iter=20)
    out = capsys.readouterr().out
    assert "iter      0" in out and "iter     20" in out and "max_iter" in out


# --------------------------------------------------------------------------------------
# make_feature_problem and KERNELS
# --------------------------------------------------------------------------------------

def test_make_feature_problem_targets_are_the_convolution():
    p = make_feature_problem(["sobel_x", "laplacian"], n_images=3, image_size=(10, 12),
                             bias=[1.0, -2.0], padding=1, seed=5)
    assert isinstance(p, FeatureProblem)
    assert p.x.shape == (3, 1, 10, 12) and p.y.shape == (3, 2, 10, 12)
    assert p.weight.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(p.weight[1, 0], KERNELS["laplacian"])
    np.testing.assert_allclose(p.y, convx.conv2d(p.x, p.weight, p.bias, padding=1))
    again = make_feature_problem(["sobel_x", "laplacian"], n_images=3, image_size=(10, 12),
                                 bias=[1.0, -2.0], padding=1, seed=5)
    np.testing.assert_array_equal(p.x, again.x)


def test_make_feature_problem_noise_and_dtype():
    clean = make_feature_problem("sobel_x", n_images=4, image_size=8, dtype=np.float32)
    noisy = make_feature_problem("sobel_x", n_images=4, image_size=8, noise=0.5,
                                 dtype=np.float32)
    assert clean.y.dtype == noisy.y.dtype == np.float32
    assert 0.3 < np.std(noisy.y - clean.y) < 0.7


def test_kernels_are_read_only_3x3():
    assert {"sobel_x", "sobel_y", "laplacian", "box_blur"} <= set(KERNELS)
    for name, k in KERNELS.items():
        assert k.shape == (3, 3), name
        assert not k.flags.writeable, name
    np.testing.assert_array_equal(KERNELS["sobel_y"], KERNELS["sobel_x"].T)
    assert KERNELS["box_blur"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(kernel="nope"), ValueError, "kernel"),
    (dict(kernel=np.ones(3)), ValueError, "kernel"),
    (dict(kernel="sobel_x", n_images=0), ValueError, "n_images"),
    (dict(kernel="sobel_x", n_images=2.0), TypeError, "n_images"),
    (dict(kernel="sobel_x", image_size=(4, 4, 4)), TypeError, "image_size"),
    (dict(kernel="sobel_x", image_size=0), ValueError, "image_size"),
    (dict(kernel="sobel_x", noise=-1.0), ValueError, "noise"),
    (dict(kernel=["sobel_x", np.ones((2, 2))]), ValueError, "kernel"),
])
def test_make_feature_problem_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        make_feature_problem(**kwargs)


# --------------------------------------------------------------------------------------
# Argument checking: every error names the argument
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def problem():
    return make_feature_problem("sobel_x", n_images=2, image_size=8)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(kernel_size=0), ValueError, "kernel_size"),
    (dict(kernel_size=3.0), TypeError, "kernel_size"),
    (dict(kernel_size=(3, 3, 3)), TypeError, "kernel_size"),
    (dict(kernel_size=(True, 3)), TypeError, "kernel_size"),
    (dict(kernel_size=(2, 1, 3, 3)), ValueError, "kernel_size"),   # K=2 but y has 1 channel
    (dict(kernel_size=(1, 2, 3, 3)), ValueError, "kernel_size"),   # x has 1 channel
    (dict(kernel_size=5), ValueError, r"\by\b"),                   # 5x5 gives 4x4, y is 6x6
    (dict(bias=1), TypeError, "bias"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr="fast"), TypeError, "lr"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(momentum="high"), TypeError, "momentum"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(tol="small"), TypeError, "tol"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(max_iter=10.0), TypeError, "max_iter"),
    (dict(max_iter=True), TypeError, "max_iter"),
    (dict(groups=0), ValueError, "groups"),
    (dict(groups=2), ValueError, "groups"),
    (dict(groups=1.0), TypeError, "groups"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(dtype=np.complex128), TypeError, "dtype"),
    (dict(seed="abc"), TypeError, "seed"),
    (dict(callback=3), TypeError, "callback"),
    (dict(verbose=-1), TypeError, "verbose"),
    # passed through to convx, which names them
    (dict(stride=0), ValueError, "stride"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(dilation=0), ValueError, "dilation"),
    (dict(algorithm="fft"), ValueError, "algorithm"),
    (dict(threads=0), ValueError, "threads"),
])
def test_fit_kernel_bad_arguments(problem, kwargs, exc, word):
    kwargs = dict(kwargs)
    kernel_size = kwargs.pop("kernel_size", 3)
    with pytest.raises(exc, match=word):
        fit_kernel(problem.x, problem.y, kernel_size, **kwargs)


@pytest.mark.parametrize("x_shape, y_shape, exc, word", [
    ((2, 8, 8), (2, 1, 6, 6), ValueError, r"\by\b"),        # ranks differ
    ((8, 8), (6, 6), ValueError, r"\bx\b"),                 # 2-D
    ((2, 1, 8, 8), (3, 1, 6, 6), ValueError, r"\by\b"),     # image counts differ
    ((0, 1, 8, 8), (0, 1, 6, 6), ValueError, r"\by\b"),     # nothing to fit
])
def test_fit_kernel_bad_shapes(x_shape, y_shape, exc, word):
    with pytest.raises(exc, match=word):
        fit_kernel(np.zeros(x_shape), np.zeros(y_shape), 3)


def test_fit_kernel_rejects_complex_and_nan(problem):
    with pytest.raises(TypeError, match=r"^x\b"):
        fit_kernel(problem.x.astype(complex), problem.y, 3)
    with pytest.raises(TypeError, match=r"^y\b"):
        fit_kernel(problem.x, problem.y.astype(complex), 3)
    y = problem.y.copy()
    y[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^y\b"):
        fit_kernel(problem.x, y, 3)
