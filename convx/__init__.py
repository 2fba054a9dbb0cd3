"""convx: fast CPU 2-D convolutions and their gradients for numpy arrays.

The API mirrors PyTorch: :func:`conv2d` (``torch.nn.functional.conv2d``),
:func:`conv2d_weight` and :func:`conv2d_input` (``torch.nn.grad``). Each runs
on convx's own Cython/C kernels with OpenMP, by a direct algorithm or by
im2col + GEMM. :mod:`convx.nn` (layers and losses), :mod:`convx.optim` and
:mod:`convx.train` learn convolution kernels with them; :func:`gradcheck` checks
a layer's gradients against finite differences.
"""

from ._version import __version__

try:
    from . import _conv  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without a build
    import os as _os

    raise ImportError(
        "convx's compiled extension convx._conv is missing or broken in "
        f"{_os.path.dirname(__file__)}: {exc}. Install convx with `pip install .` and run from "
        "outside the source tree, or build it in place with "
        "`python setup.py build_ext --inplace`."
    ) from exc

from ._api import Explanation, conv2d, conv2d_input, conv2d_weight, explain
from ._config import config, show_config
from . import train  # noqa: E402
from . import nn, optim  # noqa: E402
from ._gradcheck import gradcheck  # noqa: E402

__all__ = ["conv2d", "conv2d_weight", "conv2d_input", "explain", "Explanation", "config", "show_config", "train",
           "nn", "optim", "gradcheck", "__version__"]
