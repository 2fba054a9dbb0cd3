"""Shared pytest setup for the convx test suite.

Import path policy (runs before any test module imports convx): when the
suite is run from a source checkout whose ``convx/`` package has no compiled
extension next to it (``convx/_conv*.so`` / ``.pyd``), the checkout must not
shadow the *installed* convx.  ``python -m pytest`` puts the current directory
on ``sys.path`` (as ``''`` or as its absolute path), so the repository root is
removed from ``sys.path`` in that case.  An in-place build
(``python setup.py build_ext --inplace``) keeps the checkout importable.
"""

import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _has_compiled_extension(package_dir):
    return any(package_dir.glob("_conv*.so")) or any(package_dir.glob("_conv*.pyd"))


def _same_dir(entry, root):
    try:
        return Path(entry or os.getcwd()).resolve() == root
    except OSError:
        return False


def _drop_uncompiled_checkout_from_path():
    package_dir = REPO_ROOT / "convx"
    if not package_dir.is_dir() or _has_compiled_extension(package_dir):
        return
    sys.path[:] = [p for p in sys.path if not _same_dir(p, REPO_ROOT)]
    # A source-tree convx imported before this ran (e.g. by a plugin) would
    # still be cached; forget it so the installed one is imported instead.
    for name in [m for m in sys.modules if m == "convx" or m.startswith("convx.")]:
        mod_file = getattr(sys.modules[name], "__file__", None) or ""
        if not mod_file or Path(mod_file).resolve().is_relative_to(REPO_ROOT):
            del sys.modules[name]


_drop_uncompiled_checkout_from_path()


def seed_for(*parts):
    """A reproducible seed derived from readable parts (e.g. a case id)."""
    return zlib.crc32(repr(parts).encode())


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test's node id: every test gets its
    own reproducible stream, independent of test order and selection."""
    return np.random.default_rng(seed_for(request.node.nodeid))


@pytest.fixture
def dev_flags():
    """Restores the developer switches (convx._conv._set_dev_flags) after a test."""
    from convx import _conv
    before = _conv._set_dev_flags(0)
    yield _conv._set_dev_flags
    _conv._set_dev_flags(before)
