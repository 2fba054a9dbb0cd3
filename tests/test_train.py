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
    (dict(algorithm="winograd"), ValueError, "algorithm"),
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


# --------------------------------------------------------------------------------------
# Trainer: convx.nn models on arrays
# --------------------------------------------------------------------------------------

import io  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

from convx import nn, optim  # noqa: E402
from convx.train import ConvergenceWarning, History, Trainer, fit  # noqa: E402


def conv_problem(n=32, seed=0):
    """Random images and the targets of a hidden 3x3 conv layer (float32)."""
    x = np.random.default_rng(seed).standard_normal((n, 1, 10, 10)).astype(np.float32)
    hidden = nn.Conv2d(1, 2, 3, seed=seed + 100)
    return x, hidden(x), hidden


def blobs(n=120, seed=0):
    """Three well separated classes of 1x4x4 images: the class sets the mean of a quadrant."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = 0.3 * rng.standard_normal((n, 1, 4, 4))
    for c in range(3):
        x[y == c, 0, (c // 2) * 2:(c // 2) * 2 + 2, (c % 2) * 2:(c % 2) * 2 + 2] += 2.0
    return x.astype(np.float32), y


def classifier(seed=0):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16, 3, seed=seed))


def sgd_trainer(model, **kw):
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    kw = dict(dict(batch_size=8, max_epochs=100, tol=1e-10, n_iter_no_change=5), **kw)
    return Trainer(model, "mse", opt, **kw)


def test_trainer_recovers_a_hidden_conv_layer():
    x, y, hidden = conv_problem()
    model = nn.Conv2d(1, 2, 3, seed=1)
    history = sgd_trainer(model).fit(x, y)
    assert isinstance(history, History) and history.converged
    assert "converged" in history.message
    assert list(history.keys()) == ["loss", "time"]
    assert history["loss"][-1] < 1e-10 < history["loss"][0]
    assert history.n_epochs == len(history["loss"]) < 100
    np.testing.assert_allclose(model.weight.data, hidden.weight.data, atol=1e-5)
    np.testing.assert_allclose(model.bias.data, hidden.bias.data, atol=1e-5)


def test_classification_records_accuracy_and_validation():
    x, y = blobs()
    model = classifier()
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.02),
                      batch_size=16, max_epochs=60, validation_split=0.25, tol=1e-3,
                      n_iter_no_change=5)
    history = trainer.fit(x, y)
    assert list(history.keys()) == ["loss", "val_loss", "accuracy", "val_accuracy", "time"]
    assert history.monitor == "val_loss"
    assert history["val_accuracy"][-1] == 1.0 and history["accuracy"][-1] > 0.95
    assert trainer.evaluate(x, y)["accuracy"] == 1.0
    assert trainer.predict(x).shape == (120, 3)
    assert np.all(np.diff(history["time"]) > 0)


def test_validation_split_is_stratified_seeded_and_disjoint():
    _, y = blobs(n=60)
    trainer = Trainer(classifier(), "cross_entropy", validation_split=0.2, seed=3)
    train, val = trainer._split(y)
    assert len(val) == 12 and len(train) == 48
    assert not set(train) & set(val)
    assert np.array_equal(np.bincount(y[val]), [4, 4, 4])
    again = Trainer(classifier(), "cross_entropy", validation_split=0.2, seed=3)._split(y)
    assert np.array_equal(again[1], val)


def test_validation_data_replaces_the_split():
    x, y = blobs()
    model = classifier()
    history = Trainer(model, "cross_entropy", max_epochs=2, tol=None,
                      validation_split=0.5).fit(x[:90], y[:90], validation_data=(x[90:],
                                                                                 y[90:]))
    assert "val_loss" in history and history.n_epochs == 2


def test_max_epochs_gives_a_convergence_warning():
    x, y, _ = conv_problem()
    trainer = sgd_trainer(nn.Conv2d(1, 2, 3, seed=1), max_epochs=3)
    with pytest.warns(ConvergenceWarning, match="max_epochs=3"):
        history = trainer.fit(x, y)
    assert not history.converged and history.n_epochs == 3
    assert "not converged" in history.message


def test_tol_none_trains_max_epochs_without_warning():
    x, y, _ = conv_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = sgd_trainer(nn.Conv2d(1, 2, 3, seed=1), max_epochs=4, tol=None).fit(x, y)
    assert history.n_epochs == 4 and not history.converged
    assert "tol=None" in history.message


def test_divergence_stops_with_a_warning():
    x, y, _ = conv_problem()
    model = nn.Conv2d(1, 2, 3, seed=1)
    trainer = Trainer(model, "mse", optim.SGD(model.parameters(), lr=1e3), max_epochs=50)
    with pytest.warns(ConvergenceWarning, match="diverged"), \
            np.errstate(over="ignore", invalid="ignore"):
        history = trainer.fit(x, y)
    assert history.n_epochs < 50 and not history.converged


def test_sklearn_convergence_rule_counts_epochs_without_improvement():
    x, y, _ = conv_problem()
    scripted = iter([5.0, 4.0, 3.9995, 3.9991, 3.0, 2.9999, 2.9998, 2.9997, 1.0])

    class ScriptedLoss(nn.MSELoss):
        """MSE gradients, but the loss each epoch (one full batch) comes from the script."""

        def forward(self, input, target):
            super().forward(input, target)
            return next(scripted)

    trainer = Trainer(nn.Conv2d(1, 2, 3, seed=1), ScriptedLoss(), batch_size=None, tol=1e-3,
                      n_iter_no_change=3, max_epochs=20)
    history = trainer.fit(x, y)
    # An epoch improves when its loss is below the best so far minus tol=1e-3: 4.0 and
    # 3.0 do; 3.9995 and 3.9991 do not (two in a row, then 3.0 resets the count);
    # 2.9999, 2.9998, 2.9997 do not: the third in a row stops training.
    assert history.converged
    assert history["loss"].tolist() == [5.0, 4.0, 3.9995, 3.9991, 3.0, 2.9999, 2.9998,
                                        2.9997]
    assert history.best_epoch == 8                   # lowest, though not by tol


def test_restore_best_puts_back_the_best_validation_epoch():
    x, y = blobs()
    model = classifier()
    seen = {}

    def snapshot(history):
        seen[history.n_epochs] = model.state_dict()

    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.05),
                      batch_size=8, max_epochs=25, tol=None, validation_split=0.25,
                      callback=snapshot)
    history = trainer.fit(x, y)
    best = history.best_epoch
    assert history["val_loss"][best - 1] == history["val_loss"].min()
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, seen[best][name])
    if best != history.n_epochs:
        assert "restored the parameters of epoch %d" % best in history.message


def test_callback_can_stop():
    x, y, _ = conv_problem()
    history = sgd_trainer(nn.Conv2d(1, 2, 3, seed=1),
                          callback=lambda h: h.n_epochs == 2).fit(x, y)
    assert history.n_epochs == 2 and "callback" in history.message


def test_same_seed_same_run_and_shuffling_matters():
    x, y, _ = conv_problem()

    def run(seed, shuffle=True):
        model = nn.Conv2d(1, 2, 3, seed=1)
        sgd_trainer(model, max_epochs=3, tol=None, seed=seed, shuffle=shuffle).fit(x, y)
        return model.weight.data

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))
    np.testing.assert_array_equal(run(0, shuffle=False), run(1, shuffle=False))


def test_augment_sees_every_training_batch():
    x, y, _ = conv_problem(n=20)
    sizes = []

    def augment(xb, rng):
        assert isinstance(rng, np.random.Generator)
        sizes.append(len(xb))
        return xb

    sgd_trainer(nn.Conv2d(1, 2, 3, seed=1), max_epochs=2, tol=None,
                augment=augment).fit(x, y)
    assert sizes == [8, 8, 4] * 2


def test_fit_function_and_default_optimizer():
    x, y = blobs()
    model = classifier()
    history = fit(model, x, y, loss="cross_entropy", max_epochs=3, tol=None, batch_size=None)
    assert history.n_epochs == 3 and "accuracy" in history


def test_verbose_prints_epoch_lines_and_the_outcome():
    x, y, _ = conv_problem()
    out = io.StringIO()
    sgd_trainer(nn.Conv2d(1, 2, 3, seed=1), max_epochs=4, tol=None, verbose=2,
                file=out).fit(x, y)
    lines = out.getvalue().splitlines()
    assert [ln.split()[1] for ln in lines[:2]] == ["2/4", "4/4"]
    assert "loss" in lines[0] and lines[-1].startswith("Trainer: trained for")


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("progress, tty, drawn", [
    (True, False, True),          # asked for: drawn even when not a terminal
    ("auto", True, True),         # a terminal: drawn
    ("auto", False, False),       # not a terminal: quiet
    (False, True, False),         # asked to be quiet
])
def test_progress_bar(monkeypatch, progress, tty, drawn):
    stream = FakeTTY() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(convx.train, "_PROGRESS_DELAY", 0.0)
    x, y, _ = conv_problem()
    sgd_trainer(nn.Conv2d(1, 2, 3, seed=1), max_epochs=2, tol=None,
                progress=progress).fit(x, y)
    text = stream.getvalue()
    assert ("epoch 1/2 [" in text and "loss" in text and "\r" in text) == drawn
    if drawn:
        assert text.endswith("\r")                 # the line is cleared at the end


def test_progress_auto_stays_quiet_on_short_runs(monkeypatch):
    stream = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stream)
    x, y, _ = conv_problem()
    sgd_trainer(nn.Conv2d(1, 2, 3, seed=1), max_epochs=2, tol=None).fit(x, y)
    assert stream.getvalue() == ""


def test_float64_model_trains_in_float64():
    x, y, _ = conv_problem()
    model = nn.Conv2d(1, 2, 3, seed=1).double()
    sgd_trainer(model, max_epochs=2, tol=None).fit(x, y)
    assert model.weight.dtype == np.float64 and model.weight.grad.dtype == np.float64


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(loss="hinge"), ValueError, "loss"),
    (dict(loss=3), TypeError, "loss"),
    (dict(optimizer="adam"), TypeError, "optimizer"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(max_epochs=0), ValueError, "max_epochs"),
    (dict(tol=-1), ValueError, "tol"),
    (dict(n_iter_no_change=0), ValueError, "n_iter_no_change"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(progress="yes"), ValueError, "progress"),
    (dict(verbose=-1), TypeError, "verbose"),
    (dict(callback=3), TypeError, "callback"),
    (dict(augment=3), TypeError, "augment"),
    (dict(seed="x"), TypeError, "seed"),
])
def test_trainer_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        Trainer(classifier(), **kwargs)


def test_trainer_bad_data():
    trainer = Trainer(classifier(), "cross_entropy")
    with pytest.raises(ValueError, match="same number of samples"):
        trainer.fit(np.zeros((4, 1, 4, 4)), np.zeros(3, int))
    with pytest.raises(ValueError, match="empty"):
        trainer.fit(np.zeros((0, 1, 4, 4)), np.zeros(0, int))
    with pytest.raises(TypeError, match="model"):
        Trainer("model")
    with pytest.raises(TypeError, match="validation_data"):
        trainer.fit(np.zeros((4, 1, 4, 4)), np.zeros(4, int), validation_data=3)
