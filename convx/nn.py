"""Neural-network layers and losses whose convolutions run on convx's own kernels.

The names and arguments follow ``torch.nn``; what differs is that there is no autograd.
Every module computes its gradient by hand in ``backward``, and a model's backward pass
is its modules' backward passes in reverse order. One training step reads::

    out = model(x)                          # forward; each module keeps what backward needs
    loss = criterion(out, y)                # a float
    optimizer.zero_grad()
    model.backward(criterion.backward())    # dL/d(out) in, parameter .grad filled in
    optimizer.step()

:class:`Conv2d` is :func:`convx.conv2d` forward, :func:`convx.conv2d_weight` for the
weight gradient and :func:`convx.conv2d_input` for the input gradient. The other layers
(:class:`ReLU`, :class:`MaxPool2d`, :class:`Flatten`, :class:`Linear`) and the losses
(:class:`MSELoss`, :class:`CrossEntropyLoss`) are a few lines of numpy each.

The backward protocol, for writing a module of your own: ``backward(grad_output,
input_grad=True)`` receives dL/d(output of the last forward call), adds the gradient of
every parameter to its ``.grad`` (``None`` counts as zero) and returns dL/d(input), or
None when ``input_grad`` is False (the caller does not need it, e.g. for the first layer
of a model, whose input is data). Losses take ``grad_output`` as a scalar, default 1.

Parameters are initialised as PyTorch does (Kaiming uniform: weight and bias uniform in
``+-1/sqrt(fan_in)``) from a seeded generator: ``seed=None`` draws from this module's
generator, which :func:`manual_seed` resets (it starts seeded, so runs are reproducible),
an int or a ``numpy.random.Generator`` draws from that instead. Parameters are float32
unless ``dtype`` says otherwise; :meth:`Module.double` converts a model to float64.
"""

import copy
import math
import numbers
from collections import OrderedDict

import numpy as np

import convx  # the package; functions are looked up at call time, after it has loaded

__all__ = ["Parameter", "Module", "Sequential", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
           "Linear", "MSELoss", "CrossEntropyLoss", "manual_seed", "softmax"]

_DEFAULT_SEED = 0
_generator = np.random.default_rng(_DEFAULT_SEED)


def manual_seed(seed):
    """Reset the generator that initialises layers created with ``seed=None``.

    Like ``torch.manual_seed``: after ``manual_seed(s)``, building the same model again
    gives the same initial parameters.

    Examples
    --------
    >>> from convx import nn
    >>> nn.manual_seed(3); a = nn.Linear(4, 2).weight.data.copy()
    >>> nn.manual_seed(3); b = nn.Linear(4, 2).weight.data
    >>> bool((a == b).all())
    True
    """
    global _generator
    if not _is_int(seed):
        raise TypeError("seed must be an int, got %r" % (seed,))
    _generator = np.random.default_rng(int(seed))


def _rng(seed):
    if seed is None:
        return _generator
    if isinstance(seed, np.random.Generator):
        return seed
    if _is_int(seed):
        return np.random.default_rng(int(seed))
    raise TypeError("seed must be None, an int or a numpy.random.Generator, got %r" % (seed,))


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _positive_int(name, v, minimum=1):
    if not _is_int(v):
        raise TypeError("%s must be an int, got %r" % (name, v))
    if v < minimum:
        raise ValueError("%s must be >= %d, got %d" % (name, minimum, v))
    return int(v)


def _pair(name, v, minimum):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError("%s must be an int or a pair of ints, got %r" % (name, v))
        return (_positive_int(name, v[0], minimum), _positive_int(name, v[1], minimum))
    return (_positive_int(name, v, minimum),) * 2


def _float_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("dtype must be float32 or float64, got %r" % (dtype,)) from None
    if dt not in (np.float32, np.float64):
        raise TypeError("dtype must be float32 or float64, got %s" % dt)
    return dt


def _float_input(x, name="input"):
    """x as an array; integers and bools become float64 (convx's policy), float16 float32."""
    a = np.asarray(x)
    if a.dtype.kind in "biu":
        return a.astype(np.float64)
    if a.dtype.kind != "f" or a.dtype.itemsize > 8:
        raise TypeError("%s must hold real numbers, got dtype %s" % (name, a.dtype))
    if a.dtype == np.float16:
        return a.astype(np.float32)
    return a


def _kaiming_uniform(rng, shape, fan_in, dtype):
    """PyTorch's default init: kaiming_uniform_(a=sqrt(5)) = uniform(+-1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return rng.uniform(-bound, bound, shape).astype(dtype)


def _accumulate(param, grad):
    """param.grad += grad, where None is zero (as autograd accumulates into .grad)."""
    if param.grad is None:
        param.grad = np.array(grad, dtype=param.data.dtype, copy=True)
    else:
        param.grad += grad


# --------------------------------------------------------------------------------------
# Parameter and Module
# --------------------------------------------------------------------------------------

class Parameter:
    """A learnable array: ``data`` (the value, updated in place by optimisers) and ``grad``.

    ``grad`` is None until a backward pass adds to it and after ``zero_grad()``.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data):
        self.data = np.array(data, copy=True)
        if self.data.dtype.kind != "f":
            raise TypeError("Parameter data must be a float array, got dtype %s"
                            % self.data.dtype)
        self.grad = None

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    ndim = property(lambda self: self.data.ndim)

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __repr__(self):
        return "Parameter(shape=%s, dtype=%s%s)" % (
            self.shape, self.dtype, "" if self.grad is None else ", grad")


class Module:
    """Base class of layers, containers and losses (as ``torch.nn.Module``).

    Assigning a :class:`Parameter` or a Module to an attribute registers it, so
    :meth:`parameters`, :meth:`zero_grad`, :meth:`double`, :meth:`state_dict` and the
    printed form see it. Subclasses define ``forward`` and ``backward`` (see the module
    docstring for the protocol).
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() in %s.__init__ before assigning "
                                 "attributes" % type(self).__name__)
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: registered parameters and children.
        d = self.__dict__
        if "_parameters" in d and name in d["_parameters"]:
            return d["_parameters"][name]
        if "_modules" in d and name in d["_modules"]:
            return d["_modules"][name]
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args):
        raise NotImplementedError("%s does not define forward()" % type(self).__name__)

    def backward(self, grad_output, input_grad=True):
        raise NotImplementedError("%s does not define backward()" % type(self).__name__)

    # ------------------------------------------------------------------ traversal

    def named_parameters(self, prefix=""):
        """Yield ``(name, Parameter)`` for this module and its children, depth first."""
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self):
        """Yield every Parameter (each once), in the order of :meth:`named_parameters`."""
        seen = set()
        for _, p in self.named_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                yield p

    def children(self):
        return iter(self._modules.values())

    def modules(self):
        """Yield this module and all its descendants, depth first."""
        yield self
        for m in self._modules.values():
            yield from m.modules()

    # ------------------------------------------------------------------ state

    def zero_grad(self, set_to_none=True):
        """Clear the gradient of every parameter (to None, or to zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def train(self, mode=True):
        """Set training mode on this module and its children; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def to(self, dtype):
        """Convert every parameter (and gradient) to ``dtype`` (float32 or float64), in place."""
        dt = _float_dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dt)
            if p.grad is not None:
                p.grad = p.grad.astype(dt)
        return self

    def double(self):
        """Convert the parameters to float64, in place; returns self."""
        return self.to(np.float64)

    def float(self):
        """Convert the parameters to float32, in place; returns self."""
        return self.to(np.float32)

    def state_dict(self):
        """An ordered dict of parameter name -> a copy of its value."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state):
        """Copy values from ``state`` (as made by :meth:`state_dict`) into the parameters."""
        own = OrderedDict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise KeyError("state_dict does not match the model: missing %s, unexpected %s"
                           % (missing, unexpected))
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError("state_dict[%r] has shape %s but the parameter has shape %s"
                                 % (name, value.shape, p.shape))
            p.data[...] = value

    def copy(self):
        """A deep copy (parameters, gradients and all)."""
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ printing

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append("  (%s): %s" % (name, sub))
        head = "%s(%s" % (type(self).__name__, self.extra_repr())
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


def _require_forward(module, attr):
    if getattr(module, attr, None) is None:
        raise RuntimeError("%s.backward() called before forward()" % type(module).__name__)


# --------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------

class Sequential(Module):
    """Modules applied in order; backward runs them in reverse.

    ``Sequential(m0, m1, ...)`` names the children "0", "1", ...; an OrderedDict gives
    them names. Index with an int (a module) or a slice (a Sequential).

    Examples
    --------
    >>> import numpy as np
    >>> from convx import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    ...                       nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    >>> model(np.zeros((2, 1, 8, 8), np.float32)).shape
    (2, 10)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError("Sequential takes Modules, got %r for %r" % (m, name))
            setattr(self, name, m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        mods = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(mods[index]))
        return mods[index][1]

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError("Sequential takes Modules, got %r" % (module,))
        setattr(self, str(len(self)), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_output, input_grad=True):
        mods = list(self._modules.values())
        g = grad_output
        for i in range(len(mods) - 1, -1, -1):
            g = mods[i].backward(g, input_grad=input_grad or i > 0)
        return g if input_grad else None


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------

class Conv2d(Module):
    """2-D convolution layer on convx's kernels (``torch.nn.Conv2d``).

    Forward is :func:`convx.conv2d`; backward is :func:`convx.conv2d_weight` for the weight,
    a sum over (N, P, Q) for the bias and :func:`convx.conv2d_input` for the input.

    Parameters
    ----------
    in_channels, out_channels : int
        C and K; both divisible by ``groups``.
    kernel_size : int or (int, int)
    stride, padding, dilation, groups
        As in :func:`convx.conv2d` (padding may be an int, a pair, a pair of pairs,
        "valid" or "same").
    bias : bool, default True
    padding_mode : {"zeros", "reflect", "replicate", "circular"}, default "zeros"
        As in ``torch.nn.Conv2d`` (see :func:`convx.conv2d`).
    dtype : float32 (default) or float64
        dtype of the parameters.
    seed : None, int or numpy.random.Generator
        Initialisation (see the module docstring).
    algorithm, threads
        Passed to every convx call.

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels / groups, R, S)
    bias : Parameter, shape (out_channels,), or None

    Examples
    --------
    >>> import numpy as np
    >>> from convx import nn
    >>> conv = nn.Conv2d(3, 8, 3, padding="same", seed=0)
    >>> y = conv(np.ones((2, 3, 16, 16), np.float32))
    >>> y.shape
    (2, 8, 16, 16)
    >>> gx = conv.backward(np.ones_like(y))       # dL/dx for L = sum(y)
    >>> gx.shape, conv.weight.grad.shape
    ((2, 3, 16, 16), (8, 3, 3, 3))
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", *, dtype=np.float32,
                 seed=None, algorithm="auto", threads=None):
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        self.kernel_size = _pair("kernel_size", kernel_size, 1)
        self.stride = _pair("stride", stride, 1)
        self.dilation = _pair("dilation", dilation, 1)
        self.groups = _positive_int("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError("groups=%d must divide in_channels=%d and out_channels=%d"
                             % (groups, in_channels, out_channels))
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError("padding must be an int, a pair, a pair of pairs, 'valid' or "
                                 "'same', got %r" % (padding,))
        else:
            convx._api._padding(padding, (1, 1), self.kernel_size, self.stride, self.dilation)
        self.padding = padding
        self.padding_mode = convx._padmode.check_mode(padding_mode)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError("bias must be True or False, got %r" % (bias,))
        dt = _float_dtype(dtype)
        convx._api._algorithm(algorithm)
        self.algorithm = algorithm
        if threads is not None:
            _positive_int("threads", threads)
        self.threads = threads
        rng = _rng(seed)
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(_kaiming_uniform(rng, shape, fan_in, dt))
        self.bias = Parameter(_kaiming_uniform(rng, out_channels, fan_in, dt)) if bias else None
        self._input = None

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, padding_mode=self.padding_mode,
                    algorithm=self.algorithm, threads=self.threads)

    def forward(self, x):
        x = _float_input(x)
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError("%s expects input of shape (N, %d, H, W) or (%d, H, W), got shape %s"
                             % (self._name(), self.in_channels, self.in_channels, x.shape))
        b = None if self.bias is None else self.bias.data
        self._input = x
        return convx.conv2d(x, self.weight.data, b, **self._kw())

    def backward(self, grad_output, input_grad=True):
        _require_forward(self, "_input")
        x, w = self._input, self.weight.data
        g = np.asarray(grad_output)
        _accumulate(self.weight, convx.conv2d_weight(x, w.shape, g, **self._kw()))
        if self.bias is not None:
            _accumulate(self.bias, g.sum(axis=(0, 2, 3) if g.ndim == 4 else (1, 2)))
        if not input_grad:
            return None
        return convx.conv2d_input(x.shape, w, g, **self._kw())

    def _name(self):
        return "Conv2d(%d, %d, kernel_size=%s)" % (self.in_channels, self.out_channels,
                                                    self.kernel_size)

    def extra_repr(self):
        s = "%d, %d, kernel_size=%s, stride=%s" % (self.in_channels, self.out_channels,
                                                   self.kernel_size, self.stride)
        if self.padding not in (0, (0, 0)):
            s += ", padding=%r" % (self.padding,)
        if self.dilation != (1, 1):
            s += ", dilation=%s" % (self.dilation,)
        if self.groups != 1:
            s += ", groups=%d" % self.groups
        if self.padding_mode != "zeros":
            s += ", padding_mode=%r" % self.padding_mode
        if self.bias is None:
            s += ", bias=False"
        return s


class ReLU(Module):
    """``max(x, 0)``; the gradient passes where x > 0 (0 at x == 0, as in PyTorch)."""

    def __init__(self):
        super().__init__()
        self._mask = None

    def forward(self, x):
        x = _float_input(x)
        self._mask = x > 0
        return np.where(self._mask, x, x.dtype.type(0))

    def backward(self, grad_output, input_grad=True):
        _require_forward(self, "_mask")
        if not input_grad:
            return None
        g = np.asarray(grad_output)
        return np.where(self._mask, g, g.dtype.type(0))


class MaxPool2d(Module):
    """Maximum over ``kernel_size`` windows (``torch.nn.MaxPool2d``, without dilation).

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) pads
    with -inf. Rows and columns that do not fill a window are dropped (floor mode). The
    gradient of each window goes to its first maximum in row-major order (as PyTorch).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair("kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pair("stride", stride, 1)
        self.padding = _pair("padding", padding, 0)
        for k, p in zip(self.kernel_size, self.padding):
            if 2 * p > k:
                raise ValueError("padding %s must be at most half of kernel_size %s"
                                 % (self.padding, self.kernel_size))
        self._cache = None

    def _taps(self, p, q):
        """For each window offset (a, b), row-major: the slices it reads in the padded input."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        for a in range(kh):
            for b in range(kw):
                yield (slice(None), slice(None), slice(a, a + (p - 1) * sh + 1, sh),
                       slice(b, b + (q - 1) * sw + 1, sw))

    def forward(self, x):
        x = _float_input(x)
        if x.ndim != 4:
            raise ValueError("MaxPool2d expects input of shape (N, C, H, W), got shape %s"
                             % (x.shape,))
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = x.shape[2:]
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ValueError("MaxPool2d: kernel_size %s is larger than the padded input %dx%d"
                             % (self.kernel_size, h + 2 * ph, w + 2 * pw))
        p, q = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        # A running maximum over the kh*kw strided views, one per window offset: a few
        # whole-array numpy operations, much faster than a reduction over window axes.
        y = None
        for tap in self._taps(p, q):
            y = x[tap].copy() if y is None else np.maximum(y, x[tap], out=y)
        self._cache = (x, y, (h, w))
        return y

    def backward(self, grad_output, input_grad=True):
        _require_forward(self, "_cache")
        if not input_grad:
            return None
        x, y, (h, w) = self._cache
        (ph, pw) = self.padding
        g = np.asarray(grad_output)
        gx = np.zeros(x.shape, dtype=g.dtype)
        taken = np.zeros(y.shape, dtype=bool)          # windows whose maximum was found
        overlap = any(s < k for s, k in zip(self.stride, self.kernel_size))
        for tap in self._taps(*y.shape[2:]):
            first = x[tap] == y
            first &= ~taken
            taken |= first
            if overlap:         # a pixel can be the maximum of several windows: add
                gx[tap] += np.where(first, g, g.dtype.type(0))
            else:
                np.copyto(gx[tap], g, where=first)
        return gx[:, :, ph:ph + h, pw:pw + w] if (ph or pw) else gx

    def extra_repr(self):
        return "kernel_size=%s, stride=%s, padding=%s" % (self.kernel_size, self.stride,
                                                         self.padding)


class Flatten(Module):
    """Flatten dimensions ``start_dim`` to ``end_dim`` (default: all but the batch)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        if not (_is_int(start_dim) and _is_int(end_dim)):
            raise TypeError("start_dim and end_dim must be ints, got %r, %r"
                            % (start_dim, end_dim))
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)
        self._shape = None

    def forward(self, x):
        x = np.asarray(x)
        nd = x.ndim
        s = self.start_dim % nd if nd else 0
        e = self.end_dim % nd if nd else 0
        if s > e:
            raise ValueError("Flatten(start_dim=%d, end_dim=%d) is empty for input of shape %s"
                             % (self.start_dim, self.end_dim, x.shape))
        self._shape = x.shape
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])

    def backward(self, grad_output, input_grad=True):
        _require_forward(self, "_shape")
        return np.asarray(grad_output).reshape(self._shape) if input_grad else None

    def extra_repr(self):
        return "start_dim=%d, end_dim=%d" % (self.start_dim, self.end_dim)


class Linear(Module):
    """``y = x @ weight.T + bias`` over the last axis (``torch.nn.Linear``), by numpy.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    dtype, seed
        As for :class:`Conv2d`.
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32, seed=None):
        super().__init__()
        self.in_features = _positive_int("in_features", in_features)
        self.out_features = _positive_int("out_features", out_features)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError("bias must be True or False, got %r" % (bias,))
        dt = _float_dtype(dtype)
        rng = _rng(seed)
        self.weight = Parameter(_kaiming_uniform(rng, (out_features, in_features),
                                                 in_features, dt))
        self.bias = Parameter(_kaiming_uniform(rng, out_features, in_features, dt)) \
            if bias else None
        self._input = None

    def forward(self, x):
        x = _float_input(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError("Linear(%d, %d) expects input of shape (..., %d), got shape %s"
                             % (self.in_features, self.out_features, self.in_features,
                                x.shape))
        self._input = x
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_output, input_grad=True):
        _require_forward(self, "_input")
        x = self._input.reshape(-1, self.in_features)
        g = np.asarray(grad_output).reshape(-1, self.out_features)
        _accumulate(self.weight, g.T @ x)
        if self.bias is not None:
            _accumulate(self.bias, g.sum(axis=0))
        if not input_grad:
            return None
        return (g @ self.weight.data).reshape(self._input.shape)

    def extra_repr(self):
        return "in_features=%d, out_features=%d, bias=%s" % (
            self.in_features, self.out_features, self.bias is not None)


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError("reduction must be one of %s, got %r" % (_REDUCTIONS, reduction))
        self.reduction = reduction
        self._grad = None

    def backward(self, grad_output=1.0, input_grad=True):
        """dL/d(input) of the last forward call, times the scalar ``grad_output``."""
        _require_forward(self, "_grad")
        if not input_grad:
            return None
        if np.ndim(grad_output) != 0:
            raise ValueError("a loss is a scalar: grad_output must be a scalar, got shape %s"
                             % (np.shape(grad_output),))
        g = self._grad
        return g * g.dtype.type(grad_output) if grad_output != 1 else g.copy()

    def extra_repr(self):
        return "" if self.reduction == "mean" else "reduction=%r" % self.reduction


class MSELoss(_Loss):
    """Mean (or sum) of squared differences, ``mean((input - target) ** 2)``.

    Calling it returns the loss as a float; :meth:`backward` returns dL/d(input).

    Examples
    --------
    >>> import numpy as np
    >>> from convx import nn
    >>> mse = nn.MSELoss()
    >>> mse(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    2.5
    >>> mse.backward()
    array([1., 2.])
    """

    def forward(self, input, target):
        x = _float_input(input)
        t = np.asarray(target)
        if t.shape != x.shape:
            raise ValueError("MSELoss: target shape %s differs from input shape %s"
                             % (t.shape, x.shape))
        d = x - t.astype(x.dtype, copy=False)
        loss = float(np.sum(np.square(d, dtype=np.float64)))
        scale = 2.0
        if self.reduction == "mean" and d.size:
            loss /= d.size
            scale /= d.size
        d *= d.dtype.type(scale)
        self._grad = d
        return loss


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits ``(N, C)`` against class indices ``(N,)``.

    As ``torch.nn.CrossEntropyLoss``: ``-log softmax(input)[n, target[n]]``, averaged over
    the batch (or summed). ``target`` may also hold class probabilities, shape (N, C).

    Examples
    --------
    >>> import numpy as np
    >>> from convx import nn
    >>> ce = nn.CrossEntropyLoss()
    >>> round(ce(np.zeros((2, 4)), np.array([0, 3])), 6)     # log(4)
    1.386294
    """

    def forward(self, input, target):
        z = _float_input(input)
        if z.ndim != 2:
            raise ValueError("CrossEntropyLoss expects logits of shape (N, C), got shape %s"
                             % (z.shape,))
        n, c = z.shape
        t = np.asarray(target)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        logp = z - np.log(s)
        p = e / s
        if t.dtype.kind in "iu":
            if t.shape != (n,):
                raise ValueError("CrossEntropyLoss: class-index target must have shape (%d,), "
                                 "got %s" % (n, t.shape))
            if n and (t.min() < 0 or t.max() >= c):
                raise ValueError("CrossEntropyLoss: target classes must be in [0, %d), got "
                                 "values from %d to %d" % (c, t.min(), t.max()))
            rows = np.arange(n)
            loss = -float(np.sum(logp[rows, t], dtype=np.float64))
            p[rows, t] -= 1
        elif t.dtype.kind == "f":
            if t.shape != (n, c):
                raise ValueError("CrossEntropyLoss: probability target must have shape %s, "
                                 "got %s" % ((n, c), t.shape))
            t = t.astype(p.dtype, copy=False)
            loss = -float(np.sum(t * logp, dtype=np.float64))
            p = p * t.sum(axis=1, keepdims=True) - t
        else:
            raise TypeError("CrossEntropyLoss: target must be integer class indices or float "
                            "probabilities, got dtype %s" % t.dtype)
        if self.reduction == "mean" and n:
            loss /= n
            p /= n
        self._grad = p
        return loss


def softmax(x, axis=-1):
    """Softmax along ``axis``, computed stably."""
    x = _float_input(x)
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)
