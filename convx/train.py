"""Learn convolution kernels by gradient descent, using convx's own kernels.

The first building block of convx's training tools: :func:`fit_kernel` recovers the
weights (and optionally the bias) of a convolution from examples ``(x, y)`` by minimising
the mean squared error with SGD + momentum. Every forward pass is :func:`convx.conv2d` and
every weight gradient is :func:`convx.conv2d_weight`, so training exercises exactly the
kernels the library ships.

The problem is linear least squares in the weights,

    loss(w, b) = mean((conv2d(x, w) + b - y) ** 2),

so its Hessian is constant and the largest curvature, which bounds the stable learning
rate, can be measured up front (``lr="auto"``).

Also here: :data:`KERNELS`, a few classic image filters to use as hidden kernels, and
:func:`make_feature_problem`, which builds random images and the targets a hidden kernel
makes from them.

For whole models built from :mod:`convx.nn` layers, :class:`Trainer` (or :func:`fit`)
trains on arrays with mini-batches, shuffling, a validation split and scikit-learn's
convergence criteria (``tol``, ``n_iter_no_change``, ``max_epochs``), records a
:class:`History` and warns with :class:`ConvergenceWarning` when it stops unconverged.
"""

import numbers
import sys
import time
import warnings
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

import convx  # the package; its functions are looked up at call time, after it has loaded

__all__ = ["KERNELS", "FeatureProblem", "StepInfo", "TrainResult", "fit_kernel",
           "make_feature_problem", "Trainer", "fit", "History", "ConvergenceWarning"]


def _readonly(a):
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


#: Classic 3 x 3 image filters, as cross-correlation kernels (the convention of
#: :func:`convx.conv2d`), read-only float64 arrays of shape (3, 3).
KERNELS = {
    # d/dx with smoothing across rows: responds to vertical edges, dark-to-bright left to right.
    "sobel_x": _readonly([[-1, 0, 1],
                          [-2, 0, 2],
                          [-1, 0, 1]]),
    # d/dy: responds to horizontal edges, dark-to-bright top to bottom.
    "sobel_y": _readonly([[-1, -2, -1],
                          [0, 0, 0],
                          [1, 2, 1]]),
    "laplacian": _readonly([[0, 1, 0],
                            [1, -4, 1],
                            [0, 1, 0]]),
    "box_blur": _readonly(np.full((3, 3), 1 / 9)),
    "gaussian_blur": _readonly(np.outer([1, 2, 1], [1, 2, 1]) / 16),
    "sharpen": _readonly([[0, -1, 0],
                          [-1, 5, -1],
                          [0, -1, 0]]),
}


class FeatureProblem(NamedTuple):
    """A training problem made by :func:`make_feature_problem`; unpacks as ``x, y, w, b``."""

    x: np.ndarray       #: inputs (N, C, H, W)
    y: np.ndarray       #: targets (N, K, P, Q) = conv2d(x, weight, bias) + noise
    weight: np.ndarray  #: the hidden kernel (K, C/groups, R, S)
    bias: Optional[np.ndarray]  #: the hidden bias (K,), or None


@dataclass(frozen=True)
class StepInfo:
    """What a ``callback`` of :func:`fit_kernel` sees after each loss evaluation.

    ``weight`` and ``bias`` are read-only views of the live parameters: copy them to keep
    them. Fields may be added in later versions; read them by name.
    """

    iteration: int      #: parameter updates done so far (0 before the first)
    loss: float         #: loss of the current parameters
    weight: np.ndarray
    bias: Optional[np.ndarray]
    lr: float


@dataclass(repr=False)
class TrainResult:
    """Outcome of :func:`fit_kernel`.

    Attributes
    ----------
    weight : ndarray, shape (K, C/groups, R, S)
        The learned kernel.
    bias : ndarray, shape (K,), or None
        The learned bias, or None when training without one.
    loss_history : ndarray, shape (n_iter + 1,)
        ``loss_history[i]`` is the loss after ``i`` updates; the last entry is the loss of
        the returned ``weight`` and ``bias``.
    converged : bool
        Whether the loss fell below ``tol``.
    n_iter : int
        Number of parameter updates made.
    lr : float
        The learning rate used (the automatic choice when ``lr="auto"``).
    message : str
        Why training stopped, in words.
    """

    weight: np.ndarray
    bias: Optional[np.ndarray]
    loss_history: np.ndarray
    converged: bool
    n_iter: int
    lr: float
    message: str = ""

    @property
    def loss(self):
        """Loss of the returned parameters (``loss_history[-1]``)."""
        return float(self.loss_history[-1])

    def __repr__(self):
        return ("TrainResult(weight.shape=%s, bias=%s, converged=%s, n_iter=%d, loss=%.3e, "
                "lr=%.4g, message=%r)"
                % (self.weight.shape, None if self.bias is None else "shape %s" % (
                    self.bias.shape,), self.converged, self.n_iter, self.loss, self.lr,
                   self.message))


# --------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------

def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _real_array(a, name):
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError("%s must be an array of real numbers, got dtype %s" % (name, arr.dtype))
    return arr


def _float_dtype(dtype, *arrays):
    """dtype=None: promote like convx (integer/bool -> float64, float16 -> float32)."""
    if dtype is None:
        kinds = [a.dtype for a in arrays]
        dt = np.result_type(*[d if d.kind == "f" else np.float64 for d in kinds])
        return np.dtype(np.float32) if dt == np.float16 else dt
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("dtype must be None, float32 or float64, got %r" % (dtype,)) from None
    if dt not in (np.float32, np.float64):
        raise TypeError("dtype must be None, float32 or float64, got %s" % dt)
    return dt


def _weight_shape(kernel_size, c, k, groups):
    """(R,), (R, S) or (K, C/groups, R, S) -> the full weight shape, checked against x and y."""
    if _is_int(kernel_size):
        kernel_size = (kernel_size,)
    try:
        ks = tuple(kernel_size)
    except TypeError:
        raise TypeError("kernel_size must be an int, (R, S) or (K, C/groups, R, S), got %r"
                        % (kernel_size,)) from None
    if len(ks) not in (1, 2, 4) or not all(_is_int(v) for v in ks):
        raise TypeError("kernel_size must be an int, (R, S) or (K, C/groups, R, S) of ints, "
                        "got %r" % (kernel_size,))
    ks = tuple(int(v) for v in ks)
    if min(ks) < 1:
        raise ValueError("kernel_size entries must be >= 1, got %r" % (ks,))
    if len(ks) == 1:
        ks = ks * 2
    if len(ks) == 2:
        return (k, c // groups) + ks
    if ks[0] != k:
        raise ValueError("kernel_size %r has K=%d output channels but y has %d channels"
                         % (ks, ks[0], k))
    if ks[1] * groups != c:
        raise ValueError("kernel_size %r has %d input channels per group but x has %d "
                         "channels and groups=%d" % (ks, ks[1], c, groups))
    return ks


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or _is_int(seed):
        return np.random.default_rng(seed)
    raise TypeError("seed must be None, an int or a numpy Generator, got %r" % (seed,))


# --------------------------------------------------------------------------------------
# The least-squares model: loss, gradient, Hessian-vector product
# --------------------------------------------------------------------------------------

class _Model:
    """conv2d(x, w) + b against targets y, MSE loss; all convolutions go through convx."""

    def __init__(self, x, y, conv_kw):
        self.x = x
        self.y = y
        self.kw = conv_kw
        self.scale = 2.0 / y.size     # d loss / d out = scale * (out - y)
        self._buf = np.empty_like(y)  # forward output, reused as the residual

    def forward(self, w, b, out=None):
        return convx.conv2d(self.x, w, b, out=out, **self.kw)

    def loss_and_grad(self, w, b):
        """Return (loss, dL/dw, dL/db or None); dL/dw = conv2d_weight(x, w.shape, 2 r / numel)."""
        r = self.forward(w, b, out=self._buf)
        r -= self.y
        # einsum, not np.dot: numpy's threaded BLAS right after convx's OpenMP region makes
        # the two thread pools fight over the cores (about 10 ms per switch on 2 cores).
        loss = float(np.einsum("i,i->", r.ravel(), r.ravel(), dtype=np.float64)) / self.y.size
        r *= self.scale
        gw = convx.conv2d_weight(self.x, w.shape, r, **self.kw)
        gb = None if b is None else r.sum(axis=(0, 2, 3))
        return loss, gw, gb

    def hvp(self, vw, vb):
        """Hessian-vector product, exact for least squares: H v = J^T (scale * J v)."""
        jv = self.forward(vw, vb)
        jv *= self.scale
        hw = convx.conv2d_weight(self.x, vw.shape, jv, **self.kw)
        hb = None if vb is None else jv.sum(axis=(0, 2, 3))
        return hw, hb

    def max_curvature(self, w_shape, with_bias, rng, n_power_iter=20):
        """Largest Hessian eigenvalue by power iteration: ||H v|| for the final unit v.

        Estimates from below; a factor-2 underestimate would still be stable for SGD with
        momentum (which tolerates lr * L < 2 (1 + momentum)).
        """
        dtype = self.y.dtype
        vw = rng.standard_normal(w_shape).astype(dtype)
        vb = rng.standard_normal(w_shape[0]).astype(dtype) if with_bias else None
        lam = 0.0
        for _ in range(n_power_iter):
            norm = _norm(vw, vb)
            if norm == 0.0:
                return 0.0
            vw /= norm
            if vb is not None:
                vb /= norm
            vw, vb = self.hvp(vw, vb)
            lam = _norm(vw, vb)
        return lam


def _norm(vw, vb):
    sq = float(np.einsum("i,i->", vw.ravel(), vw.ravel()))
    if vb is not None:
        sq += float(np.einsum("i,i->", vb, vb))
    return sq ** 0.5


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------

def fit_kernel(x, y, kernel_size, *, bias=False, stride=1, padding=0, dilation=1, groups=1,
               lr="auto", momentum=0.9, tol=None, max_iter=2000, seed=0, dtype=None,
               algorithm="auto", threads=None, callback=None, verbose=False):
    """Learn a convolution kernel that maps inputs ``x`` to targets ``y``.

    Minimises the mean squared error ``mean((conv2d(x, w, b) - y) ** 2)`` over the weight
    ``w`` (and the bias ``b`` when ``bias=True``) by gradient descent with heavy-ball momentum,
    PyTorch's ``SGD`` semantics::

        v = momentum * v + grad
        w = w - lr * v

    The forward pass is :func:`convx.conv2d` and the weight gradient
    :func:`convx.conv2d_weight`. Training stops as soon as the loss is below ``tol``
    (converged), after ``max_iter`` updates, if the loss diverges, or when ``callback``
    returns True.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input images.
    y : array_like, shape (N, K, P, Q) or (K, P, Q)
        Targets, with the shape the convolution of ``x`` produces.
    kernel_size : int, (R, S) or (K, C/groups, R, S)
        Size of the kernel to learn. With an int or a pair, ``K`` is taken from ``y`` and
        ``C/groups`` from ``x``; a full weight shape must agree with them.
    bias : bool, default False
        Also learn a bias, one per output channel.
    stride, padding, dilation, groups
        As in :func:`convx.conv2d`, used for every convolution.
    lr : float or "auto", default "auto"
        Learning rate. ``"auto"`` uses ``1 / L``, with ``L`` the largest curvature of the
        loss (the top Hessian eigenvalue, found by 20 power iterations of
        ``H v = (2 / y.size) * conv2d_weight(x, w.shape, conv2d(x, v))``).
    momentum : float, default 0.9
        Heavy-ball momentum in [0, 1); 0 is plain gradient descent.
    tol : float, optional
        Stop once the loss (absolute) is below ``tol``. Default 1e-12 for float64 and
        1e-8 for float32, whose rounding error alone leaves losses near 1e-12.
    max_iter : int, default 2000
        Largest number of parameter updates.
    seed : None, int or numpy.random.Generator, default 0
        Seeds the initial weights (uniform in +-1/sqrt(fan_in), as in PyTorch) and the
        power iteration, so equal seeds give equal results.
    dtype : None, float32 or float64
        Precision of the training. None promotes the dtypes of ``x`` and ``y`` as convx
        does (integers -> float64, float16 -> float32).
    algorithm, threads
        Passed to every convx call.
    callback : callable, optional
        Called as ``callback(info)`` with a :class:`StepInfo` after every loss evaluation,
        including the first (before any update). Returning True stops training.
    verbose : bool or int, default False
        Print the loss every ``verbose`` iterations (every 100 for True) and at the end.

    Returns
    -------
    TrainResult
        ``weight``, ``bias``, ``loss_history``, ``converged``, ``n_iter``, ``lr`` and
        ``message``.

    Raises
    ------
    TypeError, ValueError
        For arguments of the wrong type or value; the message names the argument. Invalid
        ``stride``, ``padding``, ``dilation``, ``algorithm`` or ``threads`` are reported by
        convx in the same way.

    Notes
    -----
    The loss is quadratic in the parameters, so with the automatic learning rate the
    iteration converges linearly at a rate set by ``momentum`` and the conditioning of the
    inputs; random, uncorrelated images condition it well. If ``y`` holds noise or is not
    a convolution of ``x``, the loss has a positive minimum: the result is then the least
    squares fit, reported as not converged unless ``tol`` is above that minimum.

    Examples
    --------
    Recover a Sobel filter from 8 random 16 x 16 images:

    >>> import numpy as np
    >>> import convx
    >>> from convx.train import KERNELS, fit_kernel, make_feature_problem
    >>> x, y, w_true, _ = make_feature_problem(KERNELS["sobel_x"], n_images=8, image_size=16)
    >>> result = fit_kernel(x, y, kernel_size=3)
    >>> result.converged
    True
    >>> bool(np.allclose(result.weight, w_true, atol=1e-5))
    True
    >>> result.loss < 1e-12       # the last entry of result.loss_history
    True
    """
    x = _real_array(x, "x")
    y = _real_array(y, "y")
    if x.ndim not in (3, 4):
        raise ValueError("x must have shape (N, C, H, W) or (C, H, W), got shape %s"
                         % (x.shape,))
    if y.ndim != x.ndim:
        raise ValueError("y must have %d dimensions like x (shape %s), got shape %s"
                         % (x.ndim, x.shape, y.shape))
    if x.ndim == 3:
        x, y = x[None], y[None]
    if y.shape[0] != x.shape[0]:
        raise ValueError("y has %d images but x has %d" % (y.shape[0], x.shape[0]))
    if y.size == 0:
        raise ValueError("y is empty (shape %s): there is nothing to fit" % (y.shape,))
    dt = _float_dtype(dtype, x, y)
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError("bias must be True or False, got %r" % (bias,))
    if not _is_int(groups):
        raise TypeError("groups must be an int, got %r" % (groups,))
    c, k = x.shape[1], y.shape[1]
    if groups < 1 or c % groups or k % groups:
        raise ValueError("groups=%d must be >= 1 and divide the %d channels of x and the %d "
                         "channels of y" % (groups, c, k))
    w_shape = _weight_shape(kernel_size, c, k, groups)
    if not (isinstance(lr, str) and lr == "auto"):
        if not _is_real(lr):
            raise TypeError("lr must be a positive number or 'auto', got %r" % (lr,))
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError("lr must be a positive number or 'auto', got %r" % (lr,))
    if not _is_real(momentum):
        raise TypeError("momentum must be a number in [0, 1), got %r" % (momentum,))
    if not 0 <= momentum < 1:
        raise ValueError("momentum must be in [0, 1), got %r" % (momentum,))
    if tol is None:
        tol = 1e-12 if dt == np.float64 else 1e-8
    elif not _is_real(tol):
        raise TypeError("tol must be a number >= 0 or None, got %r" % (tol,))
    elif not tol >= 0:
        raise ValueError("tol must be >= 0, got %r" % (tol,))
    if not _is_int(max_iter):
        raise TypeError("max_iter must be an int, got %r" % (max_iter,))
    if max_iter < 0:
        raise ValueError("max_iter must be >= 0, got %r" % (max_iter,))
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable or None, got %r" % (callback,))
    if isinstance(verbose, (bool, np.bool_)):
        every = 100 if verbose else 0
    elif _is_int(verbose) and verbose >= 0:
        every = int(verbose)
    else:
        raise TypeError("verbose must be a bool or an int >= 0, got %r" % (verbose,))
    rng = _rng(seed)

    x = np.ascontiguousarray(x, dtype=dt)
    y = np.ascontiguousarray(y, dtype=dt)
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinity")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity")

    conv_kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                   algorithm=algorithm, threads=threads)
    # One forward pass with a zero kernel validates stride/padding/... (convx names them)
    # and gives the output shape y must have.
    out_shape = convx.conv2d(x, np.zeros(w_shape, dt), **conv_kw).shape
    if out_shape != y.shape:
        raise ValueError("y has shape %s but convolving x %s with a %s kernel (stride=%r, "
                         "padding=%r, dilation=%r, groups=%r) gives %s"
                         % (y.shape, x.shape, w_shape, stride, padding, dilation, groups,
                            out_shape))

    model = _Model(x, y, conv_kw)
    bound = 1.0 / np.sqrt(w_shape[1] * w_shape[2] * w_shape[3])
    w = rng.uniform(-bound, bound, w_shape).astype(dt)
    b = rng.uniform(-bound, bound, k).astype(dt) if bias else None

    if isinstance(lr, str):
        curvature = model.max_curvature(w_shape, bias, rng)
        lr = 1.0 / curvature if curvature > 0 else 1.0   # zero curvature: nothing to learn
    lr = float(lr)

    vw = np.zeros_like(w)
    vb = None if b is None else np.zeros_like(b)
    history = []
    converged, message = False, ""
    it = 0
    if every:
        print("fit_kernel: weight %s%s, lr %.4g, momentum %g, tol %.1e"
              % (w_shape, " + bias" if bias else "", lr, momentum, tol))
    while True:
        loss, gw, gb = model.loss_and_grad(w, b)
        history.append(loss)
        if every and (it % every == 0):
            print("  iter %6d  loss %.6e" % (it, loss), flush=True)
        stop = callback is not None and bool(
            callback(StepInfo(it, loss, _view(w), None if b is None else _view(b), lr)))
        if loss < tol:
            converged = True
            message = "converged: loss %.3e < tol %.1e after %d iterations" % (loss, tol, it)
        elif not np.isfinite(loss) or loss > 1e6 * max(history[0], np.finfo(dt).tiny):
            message = ("diverged after %d iterations (loss %.3e, started at %.3e): "
                       "lower lr" % (it, loss, history[0]))
        elif stop:
            message = "stopped by callback after %d iterations (loss %.3e)" % (it, loss)
        elif it >= max_iter:
            message = ("not converged: loss %.3e >= tol %.1e after max_iter=%d iterations"
                       % (loss, tol, max_iter))
        if message:
            break
        vw *= momentum
        vw += gw
        w -= lr * vw
        if b is not None:
            vb *= momentum
            vb += gb
            b -= lr * vb
        it += 1
    if every:
        if it % every:
            print("  iter %6d  loss %.6e" % (it, history[-1]))
        print("fit_kernel: " + message, flush=True)
    return TrainResult(weight=w, bias=b, loss_history=np.array(history), converged=converged,
                       n_iter=it, lr=lr, message=message)


def _view(a):
    v = a.view()
    v.flags.writeable = False
    return v


def make_feature_problem(kernel, n_images=16, image_size=32, *, bias=None, stride=1,
                         padding=0, dilation=1, groups=1, noise=0.0, seed=0,
                         dtype=np.float64):
    """Random images and the targets a hidden kernel makes from them.

    The inputs are standard normal images; the targets are
    ``conv2d(x, weight, bias, stride, padding, dilation, groups)`` computed by convx, plus
    ``noise`` times standard normal noise.

    Parameters
    ----------
    kernel : str, sequence of str, or array_like of shape (R, S), (K, R, S) or (K, C/groups, R, S)
        The hidden kernel: a name from :data:`KERNELS`, a 2-D filter (one input and one
        output channel), a full weight, or a list of names / 2-D filters of the same size
        (or a (K, R, S) array), stacked as the output channels of one input channel.
    n_images : int, default 16
        Number of images N.
    image_size : int or (H, W), default 32
        Image height and width.
    bias : array_like of shape (K,), optional
        Hidden bias added to the targets.
    stride, padding, dilation, groups
        As in :func:`convx.conv2d`; the number of input channels is ``C/groups * groups``.
    noise : float, default 0
        Standard deviation of Gaussian noise added to the targets.
    seed : None, int or numpy.random.Generator, default 0
        Seed of the images and the noise.
    dtype : float32 or float64, default float64
        dtype of the returned arrays.

    Returns
    -------
    FeatureProblem
        A named tuple ``(x, y, weight, bias)``: inputs (N, C, H, W), targets (N, K, P, Q),
        the hidden weight (K, C/groups, R, S) and bias (or None).

    Examples
    --------
    >>> from convx.train import make_feature_problem
    >>> x, y, w, b = make_feature_problem(["sobel_x", "sobel_y"], n_images=4, image_size=10)
    >>> x.shape, y.shape, w.shape, b is None
    ((4, 1, 10, 10), (4, 2, 8, 8), (2, 1, 3, 3), True)
    """
    dt = _float_dtype(np.float64 if dtype is None else dtype)
    weight = _hidden_weight(kernel).astype(dt)
    if not _is_int(n_images):
        raise TypeError("n_images must be an int, got %r" % (n_images,))
    if n_images < 1:
        raise ValueError("n_images must be >= 1, got %r" % (n_images,))
    if _is_int(image_size):
        size = (image_size, image_size)
    else:
        try:
            size = tuple(image_size)
        except TypeError:
            size = ()
        if len(size) != 2 or not all(_is_int(v) for v in size):
            raise TypeError("image_size must be an int or a pair of ints (H, W), got %r"
                            % (image_size,))
    if min(size) < 1:
        raise ValueError("image_size must be >= 1, got %r" % (image_size,))
    h, w_ = (int(v) for v in size)
    if not _is_int(groups) or groups < 1:
        raise ValueError("groups must be an int >= 1, got %r" % (groups,))
    if weight.shape[0] % groups:
        raise ValueError("groups=%d does not divide the %d output channels of kernel"
                         % (groups, weight.shape[0]))
    if not _is_real(noise) or not noise >= 0:
        raise ValueError("noise must be a number >= 0, got %r" % (noise,))
    rng = _rng(seed)
    x = rng.standard_normal((n_images, weight.shape[1] * groups, h, w_)).astype(dt)
    b = None if bias is None else _real_array(bias, "bias").astype(dt)
    y = convx.conv2d(x, weight, b, stride=stride, padding=padding, dilation=dilation,
                     groups=groups)
    if noise:
        y = y + (noise * rng.standard_normal(y.shape)).astype(dt)
    return FeatureProblem(x, np.ascontiguousarray(y, dtype=dt), weight, b)


def _hidden_weight(kernel):
    """kernel argument of make_feature_problem -> a (K, C/groups, R, S) float64 weight."""
    if isinstance(kernel, str):
        kernel = [kernel]
    if isinstance(kernel, (list, tuple)) and kernel and all(
            isinstance(k, str) or np.ndim(k) == 2 for k in kernel):
        filters = []
        for k in kernel:
            if isinstance(k, str):
                if k not in KERNELS:
                    raise ValueError("kernel %r is not one of %s" % (k, ", ".join(KERNELS)))
                k = KERNELS[k]
            filters.append(_real_array(k, "kernel").astype(np.float64))
        if len({f.shape for f in filters}) != 1:
            raise ValueError("kernel filters must all have the same size, got %s"
                             % [f.shape for f in filters])
        return np.stack(filters)[:, None]
    w = _real_array(kernel, "kernel").astype(np.float64)
    if w.ndim == 2:
        return w[None, None]
    if w.ndim == 3:
        return w[:, None]
    if w.ndim != 4:
        raise ValueError("kernel must be a name, an (R, S) filter, a (K, R, S) stack of "
                         "filters or a (K, C/groups, R, S) weight, got shape %s" % (w.shape,))
    return w


# --------------------------------------------------------------------------------------
# Training convx.nn models: Trainer, fit, History, ConvergenceWarning
# --------------------------------------------------------------------------------------

class ConvergenceWarning(UserWarning):
    """Training stopped before its convergence criterion was met (as scikit-learn's).

    Issued by :meth:`Trainer.fit` when ``max_epochs`` is reached while the monitored loss
    was still improving by more than ``tol``, or when training diverged (the loss became
    NaN or infinite, or grew to a million times its first epoch's value).
    """


class History:
    """What :meth:`Trainer.fit` recorded, one entry per epoch.

    Index it by key for a float64 array: ``"loss"`` (the epoch's training loss, the mean
    of its batch losses weighted by batch size), ``"val_loss"`` (when validating),
    ``"accuracy"`` and ``"val_accuracy"`` (fraction correct, when the task is
    classification) and ``"time"`` (seconds from the start to the end of the epoch).

    Attributes
    ----------
    converged : bool
        Whether the convergence criterion stopped training.
    n_epochs : int
        Epochs run.
    best_epoch : int
        Epoch (1-based) with the lowest monitored loss; 0 before the first epoch.
    monitor : str
        ``"val_loss"`` with a validation set, else ``"loss"``.
    message : str
        Why training stopped, in words.
    elapsed : float
        Seconds the whole fit took.
    """

    def __init__(self, keys, monitor):
        self._data = {k: [] for k in keys}
        self.monitor = monitor
        self.converged = False
        self.best_epoch = 0
        self.message = ""
        self.elapsed = 0.0

    def _append(self, **values):
        for k, v in values.items():
            self._data[k].append(float(v))

    @property
    def n_epochs(self):
        return len(self._data["loss"])

    def __getitem__(self, key):
        if key not in self._data:
            raise KeyError("history has %s, not %r" % (", ".join(self._data), key))
        return np.array(self._data[key], dtype=np.float64)

    def __contains__(self, key):
        return key in self._data

    def __iter__(self):
        return iter(self._data)

    def keys(self):
        return self._data.keys()

    def __len__(self):
        return self.n_epochs

    def as_dict(self):
        """A plain dict of lists (for json)."""
        return {k: list(v) for k, v in self._data.items()}

    def __repr__(self):
        last = ", ".join("%s=%.4g" % (k, v[-1]) for k, v in self._data.items()
                         if v and k != "time")
        return "History(n_epochs=%d, converged=%s, %s)" % (self.n_epochs, self.converged, last)


#: progress="auto" draws the bar only once a run has lasted this many seconds.
_PROGRESS_DELAY = 0.5


class _ProgressBar:
    """One self-overwriting status line: epoch, a bar over the epoch's batches, the loss.

    Drawn on ``stream`` only when enabled; with ``delay`` it starts drawing only once the
    run has lasted that long, so short runs stay silent.
    """

    def __init__(self, enabled, stream, max_epochs, n_batches, delay):
        self.enabled = enabled
        self.stream = stream
        self.max_epochs = max_epochs
        self.n_batches = n_batches
        self.delay = delay
        self.t0 = time.perf_counter()
        self.last = -1.0
        self.width = 0

    def update(self, epoch, batch, loss, force=False):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.t0 < self.delay or (not force and now - self.last < 0.1):
            return
        self.last = now
        n = 20
        filled = n * batch // max(self.n_batches, 1)
        text = "epoch %d/%d [%s%s] %d/%d loss %.4g %.1fs" % (
            epoch, self.max_epochs, "#" * filled, "." * (n - filled), batch, self.n_batches,
            loss, now - self.t0)
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self):
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Trainer:
    """Fit a :mod:`convx.nn` model to arrays by mini-batch gradient descent.

    Every epoch shuffles the training set, runs forward, loss, backward and an optimiser
    step on each mini-batch, and records the losses (and accuracies, for
    classification) in a :class:`History`. Convergence is judged as in scikit-learn's
    ``MLPClassifier``: training stops when the monitored loss (``val_loss`` with a
    validation set, else the training loss) has not improved by at least ``tol`` for
    ``n_iter_no_change`` consecutive epochs; if ``max_epochs`` comes first, a
    :class:`ConvergenceWarning` says so. A loss that becomes NaN or infinite, or a
    million times the first epoch's, stops training at once with the same warning.

    Parameters
    ----------
    model : convx.nn.Module
        Trained in place.
    loss : "mse", "cross_entropy" or a loss module, default "mse"
        :class:`convx.nn.MSELoss`, :class:`convx.nn.CrossEntropyLoss` (logits against class
        indices) or any module with the loss protocol.
    optimizer : convx.optim.Optimizer, optional
        Default: ``convx.optim.Adam(model.parameters(), lr=1e-3)``.
    batch_size : int or None, default 32
        Mini-batch size; None trains on the whole training set at once.
    max_epochs : int, default 100
        Most passes over the training set.
    tol : float or None, default 1e-4
        Smallest improvement of the monitored loss that counts. None disables the
        criterion: training runs ``max_epochs`` epochs and no warning is given.
    n_iter_no_change : int, default 10
        Epochs without an improvement of ``tol`` after which training stops.
    validation_split : float in [0, 1), default 0
        Fraction of ``(x, y)`` held out (at random, stratified by class for
        classification) to compute ``val_loss``; ignored when ``fit`` gets
        ``validation_data``.
    shuffle : bool, default True
        Reshuffle the training set every epoch.
    restore_best : bool, default True
        With a validation set, end with the parameters of the epoch with the lowest
        ``val_loss``.
    accuracy : bool or None, default None
        Record accuracy (argmax of the output against the class); None: when the loss is
        cross-entropy.
    augment : callable, optional
        ``augment(x_batch, rng)`` returns a transformed copy of each training mini-batch
        (random shifts, flips, noise...) before the forward pass; ``rng`` is the
        trainer's generator, so augmented runs are reproducible. Validation data is not
        augmented.
    seed : None, int or numpy.random.Generator, default 0
        Seeds the validation split, the shuffling and ``augment``.
    progress : "auto", True or False, default "auto"
        A progress bar on ``sys.stderr``: "auto" draws it when stderr is a terminal and
        the run lasts more than half a second; True always; False never.
    verbose : bool or int, default False
        Print a line of the history every epoch (True) or every ``verbose`` epochs, and
        why training stopped.
    callback : callable, optional
        ``callback(history)`` after every epoch; returning True stops training.
    file : file-like, optional
        Where ``verbose`` prints (default ``sys.stdout``).

    Examples
    --------
    >>> import numpy as np
    >>> from convx import nn, optim
    >>> from convx.train import Trainer
    >>> x = np.random.default_rng(0).standard_normal((64, 1, 8, 8)).astype(np.float32)
    >>> y = nn.Conv2d(1, 1, 3, seed=1)(x)              # targets of a hidden conv layer
    >>> model = nn.Conv2d(1, 1, 3, seed=2)
    >>> trainer = Trainer(model, "mse", optim.SGD(model.parameters(), lr=0.2, momentum=0.5),
    ...                   batch_size=16, max_epochs=200, tol=1e-10, n_iter_no_change=5)
    >>> history = trainer.fit(x, y)
    >>> history.converged, bool(history["loss"][-1] < 1e-10)
    (True, True)
    >>> bool(np.allclose(model.weight.data, nn.Conv2d(1, 1, 3, seed=1).weight.data, atol=1e-5))
    True
    """

    def __init__(self, model, loss="mse", optimizer=None, *, batch_size=32, max_epochs=100,
                 tol=1e-4, n_iter_no_change=10, validation_split=0.0, shuffle=True,
                 restore_best=True, accuracy=None, augment=None, seed=0, progress="auto",
                 verbose=False, callback=None, file=None):
        from . import nn, optim

        if not isinstance(model, nn.Module):
            raise TypeError("model must be a convx.nn.Module, got %r" % (model,))
        self.model = model
        if isinstance(loss, str):
            losses = {"mse": nn.MSELoss, "cross_entropy": nn.CrossEntropyLoss}
            if loss not in losses:
                raise ValueError("loss must be 'mse', 'cross_entropy' or a loss module, got %r"
                                 % (loss,))
            loss = losses[loss]()
        elif not (callable(loss) and hasattr(loss, "backward")):
            raise TypeError("loss must be 'mse', 'cross_entropy' or a loss module, got %r"
                            % (loss,))
        self.loss = loss
        if optimizer is None:
            optimizer = optim.Adam(model.parameters(), lr=1e-3)
        elif not isinstance(optimizer, optim.Optimizer):
            raise TypeError("optimizer must be a convx.optim.Optimizer, got %r" % (optimizer,))
        self.optimizer = optimizer
        if batch_size is not None and (not _is_int(batch_size) or batch_size < 1):
            raise ValueError("batch_size must be an int >= 1 or None, got %r" % (batch_size,))
        self.batch_size = batch_size
        if not _is_int(max_epochs) or max_epochs < 1:
            raise ValueError("max_epochs must be an int >= 1, got %r" % (max_epochs,))
        self.max_epochs = int(max_epochs)
        if tol is not None and not (_is_real(tol) and tol >= 0):
            raise ValueError("tol must be a number >= 0 or None, got %r" % (tol,))
        self.tol = tol
        if not _is_int(n_iter_no_change) or n_iter_no_change < 1:
            raise ValueError("n_iter_no_change must be an int >= 1, got %r"
                             % (n_iter_no_change,))
        self.n_iter_no_change = int(n_iter_no_change)
        if not (_is_real(validation_split) and 0 <= validation_split < 1):
            raise ValueError("validation_split must be a number in [0, 1), got %r"
                             % (validation_split,))
        self.validation_split = float(validation_split)
        self.shuffle = bool(shuffle)
        self.restore_best = bool(restore_best)
        self.accuracy = isinstance(loss, nn.CrossEntropyLoss) if accuracy is None \
            else bool(accuracy)
        if augment is not None and not callable(augment):
            raise TypeError("augment must be callable or None, got %r" % (augment,))
        self.augment = augment
        self.rng = _rng(seed)
        if progress not in ("auto", True, False):
            raise ValueError("progress must be 'auto', True or False, got %r" % (progress,))
        self.progress = progress
        if isinstance(verbose, (bool, np.bool_)):
            self._every = 1 if verbose else 0
        elif _is_int(verbose) and verbose >= 0:
            self._every = int(verbose)
        else:
            raise TypeError("verbose must be a bool or an int >= 0, got %r" % (verbose,))
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable or None, got %r" % (callback,))
        self.callback = callback
        self.file = file
        self.history = None

    # ------------------------------------------------------------------ data

    def _dtype(self):
        for p in self.model.parameters():
            return p.dtype
        return np.dtype(np.float64)

    def _arrays(self, x, y, what="x"):
        x = _real_array(x, what)
        y = np.asarray(y)
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError("%s and its targets must have the same number of samples, got "
                             "shapes %s and %s" % (what, x.shape, y.shape))
        if len(x) == 0:
            raise ValueError("%s is empty (shape %s): there is nothing to fit" % (what, x.shape))
        dt = self._dtype()
        x = np.ascontiguousarray(x, dtype=dt)
        if y.dtype.kind not in "iu":
            y = np.ascontiguousarray(_real_array(y, "y"), dtype=dt)
        return x, y

    def _split(self, y):
        """Indices (train, validation) for validation_split, stratified by class."""
        n = len(y)
        n_val = int(np.ceil(self.validation_split * n))
        if n_val == 0:
            return np.arange(n), None
        if n_val >= n:
            raise ValueError("validation_split=%g leaves no training samples out of %d"
                             % (self.validation_split, n))
        if y.dtype.kind in "iu" and y.ndim == 1:
            # Stratified: the same fraction of every class, rounded; then top up or trim
            # at random to exactly n_val.
            val = []
            for c in np.unique(y):
                idx = self.rng.permutation(np.flatnonzero(y == c))
                val.append(idx[:int(round(self.validation_split * len(idx)))])
            val = np.concatenate(val)
            rest = np.setdiff1d(np.arange(n), val)
            if len(val) < n_val:
                val = np.concatenate([val, self.rng.choice(rest, n_val - len(val),
                                                           replace=False)])
            elif len(val) > n_val:
                val = self.rng.choice(val, n_val, replace=False)
            val = np.sort(val)
        else:
            val = np.sort(self.rng.permutation(n)[:n_val])
        train = np.setdiff1d(np.arange(n), val)
        return train, val

    def _correct(self, out, y):
        pred = np.asarray(out).reshape(len(out), -1).argmax(axis=1)
        truth = y if y.dtype.kind in "iu" else np.asarray(y).reshape(len(y), -1).argmax(axis=1)
        return int(np.count_nonzero(pred == truth))

    # ------------------------------------------------------------------ public

    def predict(self, x, batch_size=None):
        """The model's outputs for ``x`` (in evaluation mode, in batches)."""
        x = np.ascontiguousarray(_real_array(x, "x"), dtype=self._dtype())
        bs = batch_size or max(self.batch_size or len(x), 256)
        was_training = self.model.training
        self.model.eval()
        try:
            outs = [self.model(x[i:i + bs]) for i in range(0, len(x), bs)]
        finally:
            self.model.train(was_training)
        return np.concatenate(outs) if outs else np.empty((0,))

    def evaluate(self, x, y, batch_size=None):
        """``{"loss": ..., "accuracy": ...}`` of the model on ``(x, y)`` (accuracy if recorded)."""
        x, y = self._arrays(x, y)
        bs = batch_size or max(self.batch_size or len(x), 256)
        total, correct = 0.0, 0
        was_training = self.model.training
        self.model.eval()
        try:
            for i in range(0, len(x), bs):
                out = self.model(x[i:i + bs])
                total += self.loss(out, y[i:i + bs]) * len(out)
                if self.accuracy:
                    correct += self._correct(out, y[i:i + bs])
        finally:
            self.model.train(was_training)
        result = {"loss": total / len(x)}
        if self.accuracy:
            result["accuracy"] = correct / len(x)
        return result

    def fit(self, x, y, *, validation_data=None):
        """Train on ``(x, y)``; return (and keep as ``self.history``) the :class:`History`.

        ``x`` is (N, ...) as the model takes it; ``y`` the targets (class indices for
        cross-entropy). ``validation_data=(x_val, y_val)`` replaces ``validation_split``.
        """
        x, y = self._arrays(x, y)
        if validation_data is not None:
            try:
                xv, yv = validation_data
            except (TypeError, ValueError):
                raise TypeError("validation_data must be a pair (x_val, y_val)") from None
            xv, yv = self._arrays(xv, yv, "validation x")
        else:
            train_idx, val_idx = self._split(y)
            if val_idx is None:
                xv = yv = None
            else:
                xv, yv = x[val_idx], y[val_idx]
                x, y = x[train_idx], y[train_idx]
        validating = xv is not None
        keys = ["loss"] + (["val_loss"] if validating else [])
        if self.accuracy:
            keys += ["accuracy"] + (["val_accuracy"] if validating else [])
        history = History(keys + ["time"], "val_loss" if validating else "loss")
        self.history = history

        n = len(x)
        bs = n if self.batch_size is None else min(self.batch_size, n)
        n_batches = -(-n // bs)
        stream = sys.stderr
        bar = _ProgressBar(self.progress is True or (self.progress == "auto"
                                                     and _isatty(stream)),
                           stream, self.max_epochs, n_batches,
                           0.0 if self.progress is True else _PROGRESS_DELAY)
        out_file = sys.stdout if self.file is None else self.file
        model, loss_fn, opt = self.model, self.loss, self.optimizer
        best, best_state, no_improve = np.inf, None, 0
        t0 = time.perf_counter()
        model.train()
        try:
            for epoch in range(1, self.max_epochs + 1):
                order = self.rng.permutation(n) if self.shuffle else np.arange(n)
                total, correct = 0.0, 0
                for b in range(n_batches):
                    idx = order[b * bs:(b + 1) * bs]
                    if self.shuffle or n_batches > 1:
                        xb, yb = x[idx], y[idx]
                    else:
                        xb, yb = x, y
                    if self.augment is not None:
                        xb = self.augment(xb, self.rng)
                    out = model(xb)
                    batch_loss = loss_fn(out, yb)
                    opt.zero_grad()
                    model.backward(loss_fn.backward(), input_grad=False)
                    opt.step()
                    total += batch_loss * len(idx)
                    if self.accuracy:
                        correct += self._correct(out, yb)
                    bar.update(epoch, b + 1, total / min((b + 1) * bs, n))
                row = {"loss": total / n}
                if self.accuracy:
                    row["accuracy"] = correct / n
                if validating:
                    ev = self.evaluate(xv, yv)
                    row["val_loss"] = ev["loss"]
                    if self.accuracy:
                        row["val_accuracy"] = ev["accuracy"]
                row["time"] = time.perf_counter() - t0
                history._append(**row)

                value = row[history.monitor]
                first = history._data[history.monitor][0]
                stop = ""
                # Diverged: NaN/inf, or a million times the first epoch's loss (an exploding
                # loss never "improves", which the tol rule would call convergence).
                if not np.isfinite(value) or (first > 0 and value > 1e6 * first):
                    stop = "diverged"
                else:
                    if self.tol is not None:
                        no_improve = no_improve + 1 if value > best - self.tol else 0
                    if value < best:
                        best, history.best_epoch = value, epoch
                        if validating and self.restore_best:
                            best_state = model.state_dict()
                    if self.tol is not None and no_improve >= self.n_iter_no_change:
                        stop = "converged"
                if self._every and (epoch % self._every == 0 or stop):
                    bar.clear()
                    print(self._line(history, epoch), file=out_file, flush=True)
                if not stop and self.callback is not None and self.callback(history):
                    stop = "callback"
                if stop:
                    break
            else:
                stop = "max_epochs"
        finally:
            bar.clear()
        history.elapsed = time.perf_counter() - t0
        what = "validation loss" if validating else "training loss"
        if stop == "converged":
            history.converged = True
            history.message = ("converged: the %s did not improve by more than tol=%g for "
                               "%d consecutive epochs (epoch %d)"
                               % (what, self.tol, self.n_iter_no_change, epoch))
        elif stop == "diverged":
            history.message = ("diverged: the %s is %.4g at epoch %d (%.4g after the first); "
                               "lower the learning rate" % (what, value, epoch, first))
            warnings.warn(ConvergenceWarning(history.message), stacklevel=2)
        elif stop == "callback":
            history.message = "stopped by callback after epoch %d" % epoch
        elif self.tol is None:
            history.message = "trained for max_epochs=%d epochs (tol=None)" % self.max_epochs
        else:
            history.message = ("not converged: max_epochs=%d reached and the %s was still "
                                "improving by more than tol=%g"
                                % (self.max_epochs, what, self.tol))
            warnings.warn(ConvergenceWarning(history.message), stacklevel=2)
        if best_state is not None and history.best_epoch != history.n_epochs:
            model.load_state_dict(best_state)
            history.message += "; restored the parameters of epoch %d (val_loss %.4g)" % (
                history.best_epoch, best)
        if self._every:
            print("Trainer: " + history.message, file=out_file, flush=True)
        return history

    def _line(self, history, epoch):
        parts = ["epoch %*d/%d" % (len(str(self.max_epochs)), epoch, self.max_epochs)]
        for k in history.keys():
            v = history._data[k][-1]
            if k == "time":
                parts.append("%7.2fs" % v)
            elif "accuracy" in k:
                parts.append("%s %6.2f%%" % (k, 100 * v))
            else:
                parts.append("%s %.4e" % (k, v))
        return "  ".join(parts)


def fit(model, x, y, *, loss="mse", optimizer=None, validation_data=None, **kwargs):
    """Train ``model`` on ``(x, y)`` in place: ``Trainer(model, loss, optimizer, **kwargs).fit``.

    Returns the :class:`History`. See :class:`Trainer` for the arguments.
    """
    return Trainer(model, loss, optimizer, **kwargs).fit(x, y, validation_data=validation_data)
