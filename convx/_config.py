"""Build and run-time configuration: convx.config() and convx.show_config()."""

from __future__ import annotations

import os
import platform
import warnings

import numpy as np

from . import _conv
from ._version import __version__

#: Environment variable that forces a lower instruction-set path (for tests).
CPU_CAPABILITY_ENV = "CONVX_CPU_CAPABILITY"


def _select_isa():
    """Pick the SIMD path once, at import: the best the CPU supports, or the
    lower one named by CONVX_CPU_CAPABILITY (generic, avx2, avx512)."""
    best = _conv.cpu_best_isa()
    want = os.environ.get(CPU_CAPABILITY_ENV, "").strip().lower()
    if not want:
        return _conv.select_isa(best)
    if want not in _conv.isa_names():
        warnings.warn(f"{CPU_CAPABILITY_ENV}={want!r} is not one of {_conv.isa_names()}; "
                      f"using {best!r}", RuntimeWarning, stacklevel=3)
        return _conv.select_isa(best)
    chosen = _conv.select_isa(want)
    if chosen != want:
        warnings.warn(f"{CPU_CAPABILITY_ENV}={want!r} is not supported by this CPU; "
                      f"using {chosen!r}", RuntimeWarning, stacklevel=3)
    return chosen


_select_isa()


def _default_threads():
    """What threads=None uses in the calling thread (see convx._api._threads)."""
    import threading

    from . import _api

    if getattr(_api, "_forked", False) or threading.current_thread() is not threading.main_thread():
        return 1
    return max(1, min(_conv.max_threads(), _api.MAX_THREADS))


def config():
    """Return convx's build and run-time configuration as a dict.

    Keys: ``version``; ``openmp`` (built with OpenMP); ``openmp_version``
    (the ``_OPENMP`` date, 0 without); ``default_threads`` (what ``threads=None``
    uses in the calling thread now: OpenMP's default, which honours
    ``OMP_NUM_THREADS``, in the main thread; 1 in other threads and in a forked child); ``compiler``;
    ``simd`` (the SIMD path in use: ``generic``, ``avx2`` or ``avx512``, chosen at
    import, lowered by ``CONVX_CPU_CAPABILITY``); ``simd_best`` (the best path
    this CPU supports); ``simd_baseline`` (the instruction set the portable code
    is compiled for); ``cpu_features`` (what this CPU reports); ``gemm_kernels``
    (the micro-kernels in use); ``numpy`` and ``python`` versions.

    Examples
    --------
    >>> import convx
    >>> sorted(convx.config())[:3]
    ['compiler', 'cpu_features', 'default_threads']
    """
    info = _conv.build_info()
    baseline = info["simd_baseline"]
    return {
        "version": __version__,
        "openmp": info["openmp_version"] > 0,
        "openmp_version": info["openmp_version"],
        "default_threads": _default_threads(),
        "compiler": info["compiler"],
        "simd": _conv.active_isa(),
        "simd_best": _conv.cpu_best_isa(),
        "simd_baseline": baseline,
        "cpu_features": info["cpu_features"],
        "gemm_kernels": {dt: [k["name"], k["dot_name"]]
                         for dt, k in _conv.kernel_info().items()},
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def show_config():
    """Print :func:`config` as aligned ``key: value`` lines."""
    cfg = config()
    width = max(len(k) for k in cfg)
    for key, value in cfg.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        print(f"{key.ljust(width)} : {value}")
