"""Build and run-time configuration: convx.config() and convx.show_config()."""

from __future__ import annotations

import platform

import numpy as np

from . import _conv
from ._version import __version__


def config():
    """Return convx's build and run-time configuration as a dict.

    Keys: ``version``; ``openmp`` (built with OpenMP); ``openmp_version``
    (the ``_OPENMP`` date, 0 without); ``default_threads`` (what ``threads=None``
    uses now: OpenMP's default, which honours ``OMP_NUM_THREADS``); ``compiler``;
    ``simd`` (the SIMD code path in use); ``simd_baseline`` (the instruction set
    the portable build targets); ``cpu_features`` (what this CPU reports);
    ``gemm_kernels``; ``numpy`` and ``python`` versions.

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
        "default_threads": _conv.max_threads(),
        "compiler": info["compiler"],
        "simd": f"generic (portable C vectorised by the compiler for {baseline})",
        "simd_baseline": baseline,
        "cpu_features": info["cpu_features"],
        "gemm_kernels": {"float32": info["gemm_kernel_float32"],
                         "float64": info["gemm_kernel_float64"]},
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
