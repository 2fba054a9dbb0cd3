"""convx: fast CPU convolutions and their gradients for numpy arrays.

The API mirrors PyTorch: :func:`conv1d`, :func:`conv2d`, :func:`conv3d` and
:func:`conv_transpose1d`/``2d``/``3d`` (``torch.nn.functional``), and the
gradients :func:`conv2d_weight`, :func:`conv2d_input` and their 1-D and 3-D
versions (``torch.nn.grad``). Each runs on convx's own Cython/C kernels with
OpenMP, by a direct algorithm, by im2col + GEMM, or by FFT. :mod:`convx.nn`
(layers and losses), :mod:`convx.optim` and :mod:`convx.train` learn
convolution kernels with them; :func:`gradcheck` checks a layer's gradients
against finite differences.
"""

import importlib.machinery as _machinery
import importlib.util as _util
import os as _os
import sys as _sys


def _installed_elsewhere():
    """The spec of an installed convx when this package is a source checkout
    without its compiled extension that shadows it (``pip install .`` then
    ``python -m convx`` or ``import convx`` run from the checkout, whose
    directory Python puts first on sys.path); else None."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    try:
        names = _os.listdir(here)
    except OSError:
        return None
    if any(n.startswith("_conv.") and n.endswith((".so", ".pyd")) for n in names):
        return None
    parent = _os.path.dirname(here)
    path = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != parent]
    spec = _machinery.PathFinder.find_spec(__name__, path)
    if spec is None or spec.origin is None:
        return None
    if _os.path.dirname(_os.path.abspath(spec.origin)) == here:
        return None
    return spec


_spec = _installed_elsewhere()
if _spec is not None:
    # Hand the import over to the installed package: it replaces this module in
    # sys.modules, so `import convx` and `python -m convx` get the built one.
    _module = _util.module_from_spec(_spec)
    _sys.modules[__name__] = _module
    _spec.loader.exec_module(_module)
else:
    from ._version import __version__

    try:
        from . import _conv  # noqa: F401
    except ImportError as exc:  # pragma: no cover - only without a build
        raise ImportError(
            "convx's compiled extension convx._conv is missing or broken in "
            f"{_os.path.dirname(__file__)}: {exc}. Install convx with `pip install .`, or "
            "build it in place with `python setup.py build_ext --inplace`."
        ) from exc

    from ._api import Explanation, conv2d, conv2d_input, conv2d_weight, explain
    from ._nd import (conv1d, conv1d_input, conv1d_weight, conv3d, conv3d_input,
                      conv3d_weight, conv_transpose1d, conv_transpose2d, conv_transpose3d)
    from ._config import config, show_config
    from . import train  # noqa: E402
    from . import nn, optim  # noqa: E402
    from ._gradcheck import gradcheck  # noqa: E402

    __all__ = ["conv1d", "conv1d_weight", "conv1d_input", "conv2d", "conv2d_weight",
               "conv2d_input", "conv3d", "conv3d_weight", "conv3d_input", "conv_transpose1d",
               "conv_transpose2d", "conv_transpose3d", "explain", "Explanation", "config",
               "show_config", "train", "nn", "optim", "gradcheck", "__version__"]
