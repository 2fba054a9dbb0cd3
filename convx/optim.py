"""Optimisers for :mod:`convx.nn` models, with PyTorch's update rules and semantics.

``optimizer.zero_grad()`` clears the gradients, the backward pass fills them, and
``optimizer.step()`` updates every parameter that has a gradient, in place. Parameters
may be given as an iterable of :class:`convx.nn.Parameter` or as parameter groups
(dicts with a ``"params"`` entry and per-group settings), as in ``torch.optim``.
"""

import math
import numbers

import numpy as np

from .nn import Parameter

__all__ = ["Optimizer", "SGD", "Adam"]


def _number(name, value, low=0.0, high=math.inf, high_open=False):
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError("%s must be a number, got %r" % (name, value))
    ok = low <= value and (value < high if high_open else value <= high)
    if not (ok and math.isfinite(value)):
        rng = "[%g, %g%s" % (low, high, ")" if high_open else "]")
        raise ValueError("%s must be in %s, got %r" % (name, rng, value))
    return float(value)


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and ``step``."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}            # id(Parameter) -> dict of buffers
        self.param_groups = []
        if isinstance(params, Parameter):
            raise TypeError("params must be an iterable of Parameters (e.g. "
                            "model.parameters()), got a single Parameter")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group must be a dict with a 'params' entry, got %r"
                            % (group,))
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError("optimizers take convx.nn.Parameter objects, got %r" % (p,))
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError("unknown optimizer settings %s" % sorted(unknown))
        full = dict(self.defaults)
        full.update(group)
        full["params"] = params
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group):
        """Validate (and normalise) one group's settings."""

    def zero_grad(self, set_to_none=True):
        """Clear the gradient of every parameter (to None, or to zeros)."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def step(self):
        """Update every parameter that has a gradient."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self.state.setdefault(id(p), {}), g)

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append("Parameter Group %d" % i)
            for k in sorted(g):
                if k != "params":
                    lines.append("    %s: %r" % (k, g[k]))
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and weight decay (``torch.optim.SGD``).

    For each parameter, with ``g = grad + weight_decay * p``::

        buf = g                                       (first step)
        buf = momentum * buf + (1 - dampening) * g    (later steps)
        p  -= lr * (g + momentum * buf if nesterov else buf)

    and ``p -= lr * g`` when ``momentum`` is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from convx import nn, optim
    >>> p = nn.Parameter(np.array([1.0]))
    >>> opt = optim.SGD([p], lr=0.5, momentum=0.9)
    >>> p.grad = np.array([1.0]); opt.step(); p.data
    array([0.5])
    >>> p.grad = np.array([1.0]); opt.step(); p.data     # buf = 0.9 + 1
    array([-0.45])
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check(self, g):
        g["lr"] = _number("lr", g["lr"])
        g["momentum"] = _number("momentum", g["momentum"])
        g["dampening"] = _number("dampening", g["dampening"])
        g["weight_decay"] = _number("weight_decay", g["weight_decay"])
        g["nesterov"] = bool(g["nesterov"])
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening 0")

    def _update(self, p, grad, state, g):
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p.data
        m = g["momentum"]
        if m:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.data.dtype, copy=True)
            else:
                buf *= m
                buf += (1.0 - g["dampening"]) * grad
            grad = grad + m * buf if g["nesterov"] else buf
        p.data -= g["lr"] * grad


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), with L2 ``weight_decay`` added to the gradient.

    With ``g = grad + weight_decay * p`` and step count ``t``::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    ``amsgrad=True`` uses the running maximum of ``v`` instead.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _check(self, g):
        g["lr"] = _number("lr", g["lr"])
        betas = g["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError("betas must be a pair (beta1, beta2), got %r" % (betas,))
        g["betas"] = (_number("betas[0]", betas[0], 0.0, 1.0, high_open=True),
                      _number("betas[1]", betas[1], 0.0, 1.0, high_open=True))
        g["eps"] = _number("eps", g["eps"])
        g["weight_decay"] = _number("weight_decay", g["weight_decay"])
        g["amsgrad"] = bool(g["amsgrad"])

    def _update(self, p, grad, state, g):
        b1, b2 = g["betas"]
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if g["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1.0 - b1) * grad
        v *= b2
        v += (1.0 - b2) * np.square(grad)
        if g["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = g["lr"] / (1.0 - b1 ** t)
        denom = np.sqrt(v) / math.sqrt(1.0 - b2 ** t)
        denom += g["eps"]
        p.data -= step_size * (m / denom)
