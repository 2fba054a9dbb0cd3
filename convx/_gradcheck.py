"""convx.gradcheck: a module's hand-written backward against finite differences.

Modelled on ``torch.autograd.gradcheck``. convx has no autograd, so ``func`` is a module
(anything with ``forward`` via ``__call__``, ``backward`` and ``parameters``/
``named_parameters``: every layer, container and loss of :mod:`convx.nn`); the check
covers the gradient with respect to the first input and to every parameter.
"""

import copy

import numpy as np

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients disagree."""


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, *,
              check_params=True, fast_mode=False, nondet_tol=0.0, seed=0):
    """Check a module's ``backward`` against central finite differences, in float64.

    The module and the inputs are copied to float64 (the caller's objects are not
    touched). For every checked array ``a`` (the first input, then each parameter) the
    Jacobian of the output with respect to ``a`` is computed twice: numerically,
    column by column, as ``(f(a + eps e_i) - f(a - eps e_i)) / (2 eps)``, and analytically,
    row by row, from ``backward(e_j)`` (one backward pass per output element). They must
    agree elementwise: ``|analytic - numerical| <= atol + rtol * |numerical|``.

    Parameters
    ----------
    func : convx.nn.Module
        A layer, a model or a loss: ``func(*inputs)`` is the output (an array or, for a
        loss, a float) and ``func.backward(grad_output, input_grad=True)`` returns dL/d(input
        0) and adds to each parameter's ``.grad``. Further inputs (such as a loss's
        target) are data, not differentiated.
    inputs : array_like or tuple of array_like
        The arguments of ``func``. Use small arrays: the cost is two forward passes per
        checked element plus one backward pass per output element.
    eps : float, default 1e-6
        Finite-difference step.
    atol, rtol : float
        Absolute and relative tolerance.
    raise_exception : bool, default True
        Raise :class:`GradcheckError` on a mismatch; otherwise return False.
    check_params : bool, default True
        Also check the gradients of ``func``'s parameters.
    fast_mode : bool, default False
        Compare one random projection ``v^T J u`` per checked array instead of the full
        Jacobians: one backward and two forward passes each, for larger problems.
    nondet_tol : float, default 0
        Tolerance for two backward passes with the same ``grad_output`` to differ.
    seed : int, default 0
        Seed of the random projections of ``fast_mode``.

    Returns
    -------
    bool
        True if every gradient matches (False, when ``raise_exception`` is False).

    Raises
    ------
    GradcheckError
        Naming what was differentiated, the worst element, and both values.

    Examples
    --------
    >>> import numpy as np
    >>> import convx
    >>> from convx import nn
    >>> conv = nn.Conv2d(2, 3, 3, padding=1, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    >>> convx.gradcheck(conv, (x,))
    True
    >>> ce = nn.CrossEntropyLoss()
    >>> convx.gradcheck(ce, (np.zeros((3, 4)), np.array([0, 1, 3])))
    True
    """
    for name, v in (("eps", eps), ("atol", atol), ("rtol", rtol), ("nondet_tol", nondet_tol)):
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0):
            raise ValueError("%s must be a number >= 0, got %r" % (name, v))
    if not eps > 0:
        raise ValueError("eps must be > 0, got %r" % (eps,))
    if not (callable(func) and hasattr(func, "backward")):
        raise TypeError("func must be a convx.nn.Module (callable, with backward()), got %r"
                        % (func,))
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    if not inputs:
        raise ValueError("inputs must hold at least one array")
    inputs = [np.asarray(a) for a in inputs]
    if inputs[0].dtype.kind not in "biuf":
        raise TypeError("inputs[0] must be a real array, got dtype %s" % inputs[0].dtype)
    x = np.array(inputs[0], dtype=np.float64, copy=True)
    rest = [np.array(a, dtype=np.float64) if a.dtype.kind == "f" else a for a in inputs[1:]]

    module = copy.deepcopy(func)
    if hasattr(module, "double"):
        module.double()
    if hasattr(module, "train"):
        module.train()
    named = list(module.named_parameters()) if (check_params and hasattr(
        module, "named_parameters")) else []

    def forward():
        # A copy: the output may be a view of x (Flatten), which the differences change.
        return np.array(module(x, *rest), dtype=np.float64, copy=True)

    out0 = forward()
    targets = [("input 0", x, None)] + [("parameter %r" % n, p.data, p) for n, p in named]

    def analytic_vjp(v):
        """(dL/dx, [dL/dp ...]) for L = <v, output>, from one forward + backward."""
        if hasattr(module, "zero_grad"):
            module.zero_grad()
        forward()
        grad_output = v.reshape(out0.shape) if out0.ndim else float(v.reshape(()))
        gx = module.backward(grad_output, input_grad=True)
        if gx is None:
            raise GradcheckError("backward() returned None for the input gradient")
        gx = np.asarray(gx, dtype=np.float64)
        if gx.shape != x.shape:
            raise GradcheckError("backward() returned an input gradient of shape %s for an "
                                 "input of shape %s" % (gx.shape, x.shape))
        grads = [gx]
        for n, p in named:
            if p.grad is None:
                grads.append(np.zeros(p.shape))
            else:
                if p.grad.shape != p.shape:
                    raise GradcheckError("parameter %r has shape %s but its grad has shape %s"
                                         % (n, p.shape, p.grad.shape))
                grads.append(np.array(p.grad, dtype=np.float64))
        return grads

    def numerical_jvp(a, u):
        """(f(a + eps u) - f(a - eps u)) / (2 eps), restoring a."""
        saved = a.copy()
        a += eps * u
        plus = forward()
        a[...] = saved
        a -= eps * u
        minus = forward()
        a[...] = saved
        return (plus - minus) / (2 * eps)

    failures = []
    if fast_mode:
        rng = np.random.default_rng(seed)
        v = rng.standard_normal(out0.shape)
        vjps = analytic_vjp(v)
        again = analytic_vjp(v)
        _check_nondet(vjps, again, nondet_tol, targets, failures)
        for (what, a, _), g in zip(targets, vjps):
            u = rng.standard_normal(a.shape)
            num = float(np.sum(v * numerical_jvp(a, u)))
            ana = float(np.sum(g * u))
            if not abs(ana - num) <= atol + rtol * abs(num):
                failures.append("Gradient mismatch (fast mode) with respect to %s: "
                                "v^T J u numerical %.10g, analytical %.10g"
                                % (what, num, ana))
    else:
        m = out0.size
        rows = [np.empty((m, a.size)) for _, a, _ in targets]
        for j in range(m):
            e = np.zeros(m)
            e[j] = 1.0
            for r, g in zip(rows, analytic_vjp(e)):
                r[j] = g.ravel()
        if m:
            e = np.zeros(m)
            e[0] = 1.0
            _check_nondet([r[0].reshape(t[1].shape) for r, t in zip(rows, targets)],
                          analytic_vjp(e), nondet_tol, targets, failures)
        for (what, a, _), ana in zip(targets, rows):
            num = np.empty_like(ana)
            flat = a.reshape(-1)
            u = np.zeros(a.size)
            for i in range(a.size):
                u[i] = 1.0
                num[:, i] = numerical_jvp(flat, u).ravel()
                u[i] = 0.0
            bad = ~(np.abs(ana - num) <= atol + rtol * np.abs(num))
            if bad.any():
                err = np.where(bad, np.abs(ana - num), -1.0)
                j, i = np.unravel_index(np.argmax(err), err.shape)
                failures.append(
                    "Jacobian mismatch with respect to %s (shape %s): %d of %d entries differ; "
                    "worst at output %s, %s element %s: numerical %.10g, analytical %.10g "
                    "(atol=%g, rtol=%g)"
                    % (what, a.shape, int(bad.sum()), bad.size,
                       _index(j, out0.shape), what, _index(i, a.shape), num[j, i], ana[j, i],
                       atol, rtol))
    if failures:
        if raise_exception:
            raise GradcheckError("gradcheck failed for %s:\n%s"
                                 % (type(func).__name__, "\n".join(failures)))
        return False
    return True


def _index(flat, shape):
    return str(tuple(int(v) for v in np.unravel_index(flat, shape)))


def _check_nondet(first, second, tol, targets, failures):
    for (what, _, _), a, b in zip(targets, first, second):
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        if diff > tol:
            failures.append("backward is not deterministic with respect to %s: two passes "
                            "with the same grad_output differ by %.3g (nondet_tol=%g)"
                            % (what, diff, tol))
