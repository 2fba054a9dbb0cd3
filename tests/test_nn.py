"""convx.nn and convx.optim: layers, losses and optimisers, specified by their gradients.

* every layer and loss passes convx.gradcheck (float64 finite differences against the
  hand-written backward), over named geometries;
* a two-layer network's parameter gradients against central differences of its loss,
  computed here without gradcheck;
* Conv2d runs on convx's kernels: forward, weight gradient and input gradient;
* values, gradients and optimiser trajectories equal PyTorch's (when torch is installed);
* the Module API (registration, state, dtype, printing) and argument errors.
"""

import numpy as np
import pytest

import convx
from convx import nn, optim


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------------------
# gradcheck of every layer and loss
# --------------------------------------------------------------------------------------

CONV_CASES = [
    # (in, out, kernel, kwargs, input shape)
    pytest.param(2, 3, 3, dict(padding=1), (2, 2, 5, 5), id="3x3_pad1"),
    pytest.param(2, 3, 3, dict(bias=False), (1, 2, 5, 4), id="no_bias"),
    pytest.param(2, 4, (2, 3), dict(stride=(2, 1), dilation=(1, 2)), (2, 2, 6, 7),
                 id="nonsquare_stride_dilation"),
    pytest.param(4, 4, 3, dict(groups=2, padding="same", stride=2), (1, 4, 5, 6),
                 id="groups2_same_stride2"),
    pytest.param(3, 6, 3, dict(groups=3, padding=((1, 0), (0, 2))), (1, 3, 4, 4),
                 id="depthwise_asym_pad"),
    pytest.param(4, 3, 1, dict(), (2, 4, 3, 3), id="pointwise_1x1"),
    pytest.param(2, 2, 2, dict(stride=3), (1, 2, 7, 5), id="stride3_gt_kernel"),
    pytest.param(2, 3, 3, dict(padding=1), (2, 4, 4), id="unbatched"),
    pytest.param(2, 3, 3, dict(padding=2, padding_mode="reflect"), (1, 2, 5, 4),
                 id="reflect"),
    pytest.param(2, 2, 3, dict(padding="same", padding_mode="circular", groups=2),
                 (2, 2, 4, 5), id="circular_same"),
    pytest.param(2, 3, (3, 2), dict(padding=(2, 1), padding_mode="replicate", stride=2),
                 (1, 2, 5, 5), id="replicate_stride2"),
]


@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
@pytest.mark.parametrize("cin, cout, k, kw, shape", CONV_CASES)
def test_conv2d_gradcheck(cin, cout, k, kw, shape, algorithm):
    layer = nn.Conv2d(cin, cout, k, seed=1, algorithm=algorithm, **kw)
    assert convx.gradcheck(layer, randn(*shape))


@pytest.mark.parametrize("kernel, stride, padding, shape", [
    pytest.param(2, None, 0, (2, 3, 6, 6), id="2x2"),
    pytest.param(2, None, 0, (1, 2, 7, 5), id="2x2_odd_size_drops_edge"),
    pytest.param(3, 1, 1, (1, 2, 5, 5), id="3x3_overlapping_pad1"),
    pytest.param(3, 2, 1, (2, 1, 7, 6), id="3x3_stride2_pad1"),
    pytest.param((2, 3), (1, 2), (1, 0), (1, 2, 5, 7), id="nonsquare"),
    pytest.param(2, 3, 0, (1, 1, 8, 8), id="stride_gt_kernel"),
])
def test_maxpool_gradcheck(kernel, stride, padding, shape):
    assert convx.gradcheck(nn.MaxPool2d(kernel, stride, padding), randn(*shape))


def test_maxpool_gradient_goes_to_the_first_maximum():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, :, 2:] = [[1.0, 3.0], [3.0, 2.0]]          # right window: tie at 3
    pool = nn.MaxPool2d(2)
    y = pool(x)
    np.testing.assert_array_equal(y, [[[[0.0, 3.0]]]])
    gx = pool.backward(np.ones_like(y))
    np.testing.assert_array_equal(gx[0, 0], [[1, 0, 0, 1], [0, 0, 0, 0]])


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (5, 6)])
def test_relu_gradcheck(shape):
    assert convx.gradcheck(nn.ReLU(), randn(*shape))


@pytest.mark.parametrize("start, end, shape", [(1, -1, (2, 3, 2, 2)), (0, 1, (2, 3, 4)),
                                               (2, 3, (2, 2, 3, 2))])
def test_flatten_gradcheck(start, end, shape):
    layer = nn.Flatten(start, end)
    assert convx.gradcheck(layer, randn(*shape))


@pytest.mark.parametrize("shape, bias", [((4, 5), True), ((2, 3, 5), True), ((3, 5), False)])
def test_linear_gradcheck(shape, bias):
    assert convx.gradcheck(nn.Linear(5, 3, bias=bias, seed=0), randn(*shape))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_gradcheck(reduction):
    assert convx.gradcheck(nn.MSELoss(reduction), (randn(3, 4), randn(3, 4, seed=1)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradcheck_class_indices(reduction):
    logits = 3 * randn(5, 4)
    assert convx.gradcheck(nn.CrossEntropyLoss(reduction), (logits, np.array([0, 3, 1, 1, 2])))


def test_cross_entropy_gradcheck_probabilities():
    target = nn.softmax(randn(4, 3, seed=1))
    assert convx.gradcheck(nn.CrossEntropyLoss(), (randn(4, 3), target))


def test_sequential_model_gradcheck():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(3, 4, 3, padding=1, stride=2, seed=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 2 * 2, 3, seed=2))
    assert convx.gradcheck(model, randn(2, 1, 8, 8))


# --------------------------------------------------------------------------------------
# A two-layer network against finite differences, without gradcheck
# --------------------------------------------------------------------------------------

def test_two_layer_network_gradients_match_finite_differences():
    """conv -> ReLU -> conv, cross-entropy over the pixels' mean: every parameter's gradient.

    The loss is differentiated by central differences with h = 1e-6 in float64; ReLU
    kinks are not crossed: no pre-activation is within 1e-4 of 0, and a step moves
    them by less than 1e-5.
    """
    rng = np.random.default_rng(7)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, seed=rng, dtype=np.float64),
                        nn.ReLU(),
                        nn.Conv2d(3, 2, 3, stride=2, seed=rng, dtype=np.float64),
                        nn.Flatten(), nn.Linear(2 * 2 * 2, 3, seed=rng, dtype=np.float64))
    x = rng.standard_normal((4, 2, 6, 6))
    y = np.array([0, 2, 1, 2])
    criterion = nn.CrossEntropyLoss()
    assert np.min(np.abs(net[0](x))) > 1e-4

    def loss():
        return criterion(net(x), y)

    loss()
    net.zero_grad()
    gx = net.backward(criterion.backward())
    for name, p in net.named_parameters():
        numeric = np.empty_like(p.data)
        for i in np.ndindex(p.shape):
            keep = p.data[i]
            p.data[i] = keep + 1e-6
            up = loss()
            p.data[i] = keep - 1e-6
            down = loss()
            p.data[i] = keep
            numeric[i] = (up - down) / 2e-6
        np.testing.assert_allclose(p.grad, numeric, rtol=1e-6, atol=1e-8, err_msg=name)
    # and the input gradient, along a random direction
    u = rng.standard_normal(x.shape)
    x0 = x.copy()
    x = x0 + 1e-6 * u
    up = loss()
    x = x0 - 1e-6 * u
    down = loss()
    assert np.isclose(np.sum(gx * u), (up - down) / 2e-6, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------------------
# Conv2d is convx: forward, weight gradient, input gradient
# --------------------------------------------------------------------------------------

def spy(monkeypatch):
    calls = []
    for name in ("conv2d", "conv2d_weight", "conv2d_input"):
        real = getattr(convx, name)

        def wrapper(*args, _real=real, _name=name, **kwargs):
            calls.append((_name, kwargs.get("algorithm"), kwargs.get("threads")))
            return _real(*args, **kwargs)
        monkeypatch.setattr(convx, name, wrapper)
    return calls


def test_conv2d_layer_runs_on_convx_kernels(monkeypatch):
    calls = spy(monkeypatch)
    layer = nn.Conv2d(2, 3, 3, padding="same", algorithm="im2col", threads=1, seed=0)
    x = randn(2, 2, 5, 5).astype(np.float32)
    y = layer(x)
    gx = layer.backward(np.ones_like(y))
    assert [c[0] for c in calls] == ["conv2d", "conv2d_weight", "conv2d_input"]
    assert all(c[1:] == ("im2col", 1) for c in calls)
    kw = dict(padding="same", algorithm="im2col")
    np.testing.assert_array_equal(y, convx.conv2d(x, layer.weight.data, layer.bias.data, **kw))
    np.testing.assert_array_equal(
        gx, convx.conv2d_input(x.shape, layer.weight.data, np.ones_like(y), **kw))
    np.testing.assert_array_equal(
        layer.weight.grad, convx.conv2d_weight(x, layer.weight.shape, np.ones_like(y), **kw))
    np.testing.assert_array_equal(layer.bias.grad, np.full(3, 2 * 25, np.float32))


def test_first_layer_skips_the_input_gradient(monkeypatch):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, seed=0), nn.ReLU(), nn.Conv2d(2, 2, 3, seed=1))
    y = model(randn(1, 1, 7, 7))
    calls = spy(monkeypatch)
    assert model.backward(np.ones_like(y), input_grad=False) is None
    assert [c[0] for c in calls] == ["conv2d_weight", "conv2d_input", "conv2d_weight"]


def test_backward_accumulates_until_zero_grad():
    layer = nn.Linear(3, 2, seed=0)
    x = randn(4, 3)
    g = np.ones((4, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    layer.backward(g)
    layer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(layer.weight.grad, 0)


@pytest.mark.parametrize("module", [nn.Conv2d(1, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Flatten(), nn.Linear(2, 2), nn.MSELoss(),
                                    nn.CrossEntropyLoss()])
def test_backward_before_forward_is_an_error(module):
    with pytest.raises(RuntimeError, match="before forward"):
        module.backward(np.ones(1))


# --------------------------------------------------------------------------------------
# Initialisation: Kaiming uniform, seeded
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, fan_in", [
    (lambda seed: nn.Conv2d(8, 16, 3, seed=seed), 8 * 9),
    (lambda seed: nn.Conv2d(8, 16, (3, 5), groups=4, seed=seed), 2 * 15),
    (lambda seed: nn.Linear(50, 40, seed=seed), 50),
])
def test_init_is_kaiming_uniform_like_pytorch(make, fan_in):
    layer = make(0)
    bound = 1 / np.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32
        assert np.all(np.abs(p.data) <= bound)
    w = layer.weight.data
    assert np.max(np.abs(w)) > 0.9 * bound
    assert abs(np.std(w) - bound / np.sqrt(3)) < 0.1 * bound
    np.testing.assert_array_equal(make(0).weight.data, w)        # seeded
    assert not np.array_equal(make(1).weight.data, w)


def test_manual_seed_makes_default_init_reproducible():
    nn.manual_seed(5)
    a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 2)).state_dict()
    nn.manual_seed(5)
    b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 2)).state_dict()
    c = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 2)).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.weight"], c["0.weight"])


# --------------------------------------------------------------------------------------
# Module API
# --------------------------------------------------------------------------------------

def test_parameters_are_registered_named_and_ordered():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 1, bias=False),
                          nn.Flatten(), nn.Linear(8, 3))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "4.weight", "4.bias"]
    assert len(list(model.parameters())) == 5
    assert model[2].bias is None
    assert isinstance(model[1:3], nn.Sequential) and len(model[1:3]) == 2
    assert len(list(model.modules())) == 6


def test_state_dict_round_trip_and_errors():
    a, b = nn.Linear(3, 2, seed=0), nn.Linear(3, 2, seed=1)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    state = a.state_dict()
    state["weight"][...] = 7                 # a copy: the model does not change
    assert not np.any(a.weight.data == 7)
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({"weight": state["weight"]})
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(2)})


def test_double_float_and_dtype_of_outputs():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, seed=0), nn.Flatten(), nn.Linear(2, 2, seed=0))
    x = randn(1, 1, 3, 3)
    assert model(x.astype(np.float32)).dtype == np.float32
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model(x).dtype == np.float64
    model.float()
    assert model[0].weight.dtype == np.float32


def test_train_eval_flags_and_repr():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1), nn.ReLU())
    assert model.eval() is model and not model[0].training
    model.train()
    assert model[1].training
    text = repr(model)
    assert "Sequential(" in text and "(0): Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), " \
        "padding=1)" in text and "(1): ReLU()" in text


def test_losses_values():
    mse = nn.MSELoss()
    assert mse(np.array([1.0, 2.0]), np.array([0.0, 0.0])) == 2.5
    assert nn.MSELoss("sum")(np.array([1.0, 2.0]), np.zeros(2)) == 5.0
    ce = nn.CrossEntropyLoss()
    assert np.isclose(ce(np.zeros((2, 4)), np.array([0, 3])), np.log(4))
    # large logits stay finite (log-sum-exp)
    assert np.isfinite(ce(np.array([[1000.0, 0.0]]), np.array([1])))
    np.testing.assert_allclose(ce.backward(), [[1.0, -1.0]])
    np.testing.assert_allclose(ce.backward(0.5), [[0.5, -0.5]])


@pytest.mark.parametrize("make, exc, word", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "groups"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "in_channels"),
    (lambda: nn.Conv2d(2, 4, 3, padding="full"), ValueError, "padding"),
    (lambda: nn.Conv2d(2, 4, 3, padding=-1), ValueError, "padding"),
    (lambda: nn.Conv2d(2, 4, 3, algorithm="winograd"), ValueError, "algorithm"),
    (lambda: nn.Conv2d(2, 4, 3, dtype=np.int32), TypeError, "dtype"),
    (lambda: nn.Conv2d(2, 4, 3, bias=1), TypeError, "bias"),
    (lambda: nn.Conv2d(2, 4, 3, seed="x"), TypeError, "seed"),
    (lambda: nn.Linear(2.5, 3), TypeError, "in_features"),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError, "half"),
    (lambda: nn.MSELoss("none"), ValueError, "reduction"),
    (lambda: nn.Sequential(nn.ReLU(), np.zeros(2)), TypeError, "Modules"),
])
def test_constructor_errors_name_the_argument(make, exc, word):
    with pytest.raises(exc, match=word):
        make()


@pytest.mark.parametrize("module, x, word", [
    (nn.Conv2d(3, 4, 3), np.zeros((1, 2, 5, 5)), "expects input of shape \\(N, 3, H, W\\)"),
    (nn.Linear(4, 2), np.zeros((3, 5)), "\\(\\.\\.\\., 4\\)"),
    (nn.MaxPool2d(2), np.zeros((2, 2, 2)), "\\(N, C, H, W\\)"),
    (nn.MaxPool2d(3), np.zeros((1, 1, 2, 2)), "larger than"),
])
def test_forward_shape_errors(module, x, word):
    with pytest.raises(ValueError, match=word):
        module(x)


@pytest.mark.parametrize("logits, target, exc, word", [
    (np.zeros((2, 3)), np.array([0, 3]), ValueError, "\\[0, 3\\)"),
    (np.zeros((2, 3)), np.array([0]), ValueError, "shape \\(2,\\)"),
    (np.zeros(3), np.array([0]), ValueError, "\\(N, C\\)"),
    (np.zeros((2, 3)), np.array(["a", "b"]), TypeError, "dtype"),
])
def test_cross_entropy_errors(logits, target, exc, word):
    with pytest.raises(exc, match=word):
        nn.CrossEntropyLoss()(logits, target)


def test_mse_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="target shape"):
        nn.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))


# --------------------------------------------------------------------------------------
# Optimisers
# --------------------------------------------------------------------------------------

def test_sgd_momentum_by_hand():
    p = nn.Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    for expected in (0.5, -0.45, -1.805):           # buf: 1, 1.9, 2.71
        p.grad = np.array([1.0])
        opt.step()
        np.testing.assert_allclose(p.data, [expected])


def test_sgd_weight_decay_and_skips_params_without_grad():
    p, q = nn.Parameter(np.array([2.0])), nn.Parameter(np.array([3.0]))
    opt = optim.SGD([p, q], lr=0.1, weight_decay=0.5)
    p.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(p.data, [2.0 - 0.1 * (1.0 + 0.5 * 2.0)])
    np.testing.assert_array_equal(q.data, [3.0])
    opt.zero_grad()
    assert p.grad is None


def test_adam_first_step_moves_each_weight_by_lr():
    p = nn.Parameter(np.array([1.0, -2.0, 3.0]))
    opt = optim.Adam([p], lr=0.01)
    p.grad = np.array([0.3, -5.0, 1e-3])
    opt.step()                        # bias-corrected m / sqrt(v) = sign(g) on step 1
    np.testing.assert_allclose(p.data, [0.99, -1.99, 2.99], rtol=1e-6)


def test_param_groups_have_their_own_settings():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = b.grad = np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.0)


@pytest.mark.parametrize("make, exc, word", [
    (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda p: optim.SGD(p, lr=-1), ValueError, "lr"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda p: optim.SGD(p, lr="fast"), TypeError, "lr"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError, "betas"),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, "eps"),
    (lambda p: optim.Adam([np.zeros(2)]), TypeError, "Parameter"),
    (lambda p: optim.Adam(p[0]), TypeError, "iterable"),
    (lambda p: optim.SGD([{"params": p, "lrr": 1}]), TypeError, "lrr"),
    (lambda p: optim.SGD([{"params": p}, {"params": p}]), ValueError, "more than one"),
])
def test_optimizer_errors(make, exc, word):
    params = list(nn.Linear(2, 2).parameters())
    with pytest.raises(exc, match=word):
        make(params)


# --------------------------------------------------------------------------------------
# Against PyTorch (skipped without torch)
# --------------------------------------------------------------------------------------

def _torch_model(torch, model):
    """The same network in torch, with the same parameters (float64)."""
    tnn = torch.nn
    layers = []
    for m in model:
        if isinstance(m, nn.Conv2d):
            t = tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                           m.dilation, m.groups, bias=m.bias is not None, dtype=torch.float64)
        elif isinstance(m, nn.Linear):
            t = tnn.Linear(m.in_features, m.out_features, dtype=torch.float64)
        elif isinstance(m, nn.MaxPool2d):
            t = tnn.MaxPool2d(m.kernel_size, m.stride, m.padding)
        else:
            t = {nn.ReLU: tnn.ReLU, nn.Flatten: tnn.Flatten}[type(m)]()
        for name, p in m.named_parameters():
            getattr(t, name).data = torch.tensor(p.data)
        layers.append(t)
    return tnn.Sequential(*layers)


def _digits_like_model(seed):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=seed, dtype=np.float64), nn.ReLU(),
                         nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1, stride=1, groups=2, seed=seed,
                                   dtype=np.float64),
                         nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1), nn.Flatten(),
                         nn.Linear(6 * 2 * 2, 5, seed=seed, dtype=np.float64))


def test_model_loss_and_gradients_equal_pytorch():
    torch = pytest.importorskip("torch")
    model = _digits_like_model(0)
    tmodel = _torch_model(torch, model)
    x = randn(6, 1, 8, 8)
    y = np.array([0, 1, 4, 2, 3, 1])
    criterion = nn.CrossEntropyLoss()
    loss = criterion(model(x), y)
    model.backward(criterion.backward())
    xt = torch.tensor(x, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(tmodel(xt), torch.tensor(y))
    tloss.backward()
    assert np.isclose(loss, tloss.item(), rtol=1e-12)
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
])
def test_optimizer_trajectory_equals_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    start = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(6)]
    p = nn.Parameter(start)
    ours = getattr(optim, name)([p], **kwargs)
    tp = torch.nn.Parameter(torch.tensor(start))
    theirs = getattr(torch.optim, name)([tp], **kwargs)
    for g in grads:
        ours.zero_grad()
        p.grad = g * (1 + np.abs(p.data))          # depends on the parameter, like a loss
        ours.step()
        theirs.zero_grad()
        tp.grad = torch.tensor(g) * (1 + tp.detach().abs())
        theirs.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
