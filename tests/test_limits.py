"""Sizes and memory: what is supported, and MemoryError before allocating.

* Every size, stride, padding and dilation is below 2**60, so every index the
  C layer computes (products of dimensions, ``p*stride + r*dilation - pad``)
  stays inside a signed 64-bit integer; larger values are a ValueError.
* Shape products beyond 2**31 are planned with 64-bit arithmetic (checked on
  the plan of problems far too big to allocate).
* A call checks all the memory it will allocate, the result, contiguous
  copies of its inputs and the glue's workspace (one slot per thread, the
  prepacked weight, the weight gradient's partial sums), against the lowest
  of the machine's memory, its cgroup's limit and the RLIMIT_AS/RLIMIT_DATA
  rlimits, and raises MemoryError before allocating any of it; "auto" falls
  back from im2col to direct (no workspace) when only im2col does not fit.
* Broadcast (zero-stride) views describing more data than exists are copied
  only after that check.
"""

import os
import re
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import convx
from convx import _api, _conv
from hostile import SANITIZED, SUBRUN, names

pytestmark = pytest.mark.skipif(SUBRUN, reason="limits do not depend on the SIMD path")

GiB = 2**30


@pytest.fixture
def limit(monkeypatch):
    """Pretend this process may use only `limit(n)` bytes (checks small requests too)."""
    def set_limit(nbytes):
        monkeypatch.setattr(_api, "_memory_limit", lambda: nbytes)
        monkeypatch.setattr(_api, "_ALWAYS_FITS", 0)
    return set_limit


def _peak_during(fn):
    """(exception raised by fn, peak bytes numpy allocated meanwhile)."""
    tracemalloc.start()
    try:
        fn()
    except Exception as exc:   # noqa: BLE001 - returned to the caller
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return None, None


# ---------------------------------------------------------------------------
# Integer limits
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("arg", ["stride", "padding", "dilation"])
def test_largest_accepted_value_is_below_2_60(arg):
    """2**60 - 1 passes validation (the result may then be too big), 2**60 does not."""
    x, w = np.ones((1, 1, 2, 2), np.float32), np.ones((1, 1, 1, 1), np.float32)
    try:
        convx.conv2d(x, w, **{arg: 2**60 - 1})
    except (MemoryError, ValueError) as exc:      # too large a result or padded size
        assert "2**60" in str(exc) or isinstance(exc, MemoryError)
    with pytest.raises(ValueError, match=names(arg, 2**60)):
        convx.conv2d(x, w, **{arg: 2**60})


@pytest.mark.parametrize("op", ["fwd", "wgrad", "dgrad"])
@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
@pytest.mark.parametrize("shape", [
    pytest.param((1, 1, 2**16, 2**16 + 1, 1, 1, 1), id="HW_above_2_32"),
    pytest.param((2**20, 3, 64, 64, 16, 3, 3), id="NCHW_2_34"),
    pytest.param((1, 2**12, 2**12, 2**12, 2**12, 3, 3), id="C_K_HW_2_36"),
    pytest.param((2**30, 1, 1, 1, 2**30, 1, 1), id="N_K_2_30"),
])
def test_plans_beyond_2_31_do_not_overflow(shape, algorithm, op):
    """The C planner on problems whose element counts pass 2**31 (too big to
    allocate here): positive item counts and sane, bounded sizes."""
    N, C, H, W, K, R, S = shape
    geo = _api._geometry((N, C, H, W), (K, C, R, S), 1, "same", 1, 1)
    info = _conv.plan_info(geo.astuple(), op, algorithm, np.float32)
    assert info["nitems"] > 0
    for key, value in info.items():
        assert not isinstance(value, int) or value >= 0, (key, value)
    if op == "wgrad" and algorithm == "im2col":
        assert info["workspace_bytes"] < 2**42
    else:
        assert info["workspace_bytes"] < 64 * 2**20, info
    assert info["prepacked_weight_bytes"] < 64 * 2**20


# ---------------------------------------------------------------------------
# MemoryError before allocating
# ---------------------------------------------------------------------------

def test_limit_is_the_lowest_of_machine_cgroup_and_rlimit():
    limit = _api._memory_limit()
    assert 0 < limit <= _api._machine_memory()
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            assert limit <= soft
    except ImportError:
        pass


def test_cgroup_limit_files(tmp_path):
    for text, expected in [("max\n", _api._NO_LIMIT), ("1073741824\n", 2**30), ("", _api._NO_LIMIT),
                           ("garbage", _api._NO_LIMIT)]:
        f = tmp_path / "memory.max"
        f.write_text(text)
        assert _api._read_limit(str(f)) == expected
    assert _api._read_limit(str(tmp_path / "absent")) == _api._NO_LIMIT


@pytest.mark.parametrize("op", ["conv2d", "conv2d_weight", "conv2d_input"])
def test_product_beyond_2_31_over_the_limit_raises_before_allocating(op, limit):
    """Operands of 2**31 + 2**16 elements (broadcast views: 8 GiB of float32
    copies) under a 1 GiB limit: MemoryError, and nothing was allocated."""
    limit(GiB)
    big = (1, 1, 2**15, 2**16 + 2)        # 2**31 + 2**16 elements
    x = np.broadcast_to(np.float32(1), big)
    w = np.ones((1, 1, 1, 3), np.float32)
    gy = np.broadcast_to(np.float32(1), (1, 1, 2**15, 2**16))
    fn = {"conv2d": lambda: convx.conv2d(x, w),
          "conv2d_weight": lambda: convx.conv2d_weight(x, w.shape, gy),
          "conv2d_input": lambda: convx.conv2d_input(big, w, gy)}[op]
    exc, peak = _peak_during(fn)
    assert isinstance(exc, MemoryError), exc
    assert "GiB" in str(exc)
    assert peak < 2**20, f"{peak} bytes were allocated before the MemoryError"


@pytest.mark.parametrize("op", ["conv2d", "conv2d_weight", "conv2d_input"])
def test_result_beyond_the_machine_raises_memory_error(op):
    """A result of 2**40 float64 elements (8 TiB) from broadcast operands, with
    the real limit: MemoryError naming the result, before allocating."""
    x = np.broadcast_to(1.0, (2**10, 1, 2**15, 2**15))
    w = np.ones((1, 1, 1, 1))
    gy = np.broadcast_to(1.0, (2**10, 1, 2**15, 2**15))
    # the weight gradient is big when the weight is: 2**20 x 2**20 channels
    xc = np.broadcast_to(1.0, (1, 2**20, 1, 1))
    gc = np.broadcast_to(1.0, (1, 2**20, 1, 1))
    fn = {"conv2d": lambda: convx.conv2d(x, w),
          "conv2d_weight": lambda: convx.conv2d_weight(xc, (2**20, 2**20, 1, 1), gc),
          "conv2d_input": lambda: convx.conv2d_input(x.shape, w, gy)}[op]
    exc, peak = _peak_during(fn)
    assert isinstance(exc, MemoryError), exc
    assert peak < 2**20


def test_workspace_beyond_the_limit(limit):
    """The weight gradient's im2col workspace is bounded per thread (a few MB,
    whatever the image: large images use the packed GEMM, whose workspace does
    not grow). Under a limit below it, algorithm="im2col" is a MemoryError
    naming the workspace, before any allocation; "auto" falls back to the
    direct algorithm (its plain loops need no workspace at all) and computes
    the same result."""
    rng = np.random.default_rng(0)
    wshape = (128, 16, 3, 3)
    # ("auto" takes the GEMM for weight gradients of >= 128 output channels on
    # rows this wide, on every path; column dilation 2 keeps the sliding
    # direct tiles, which need contiguous kernel rows, out of the picture)
    dil = (1, 2)
    x = rng.integers(-2, 3, (1, 16, 256, 256)).astype(np.float32)
    gy = rng.integers(-2, 3, (1, 128, 254, 252)).astype(np.float32)
    geo = _api._geometry(x.shape, wshape, 1, 0, dil, 1)
    assert _api._auto("wgrad", geo) == "im2col"
    ws = _conv.plan_info(geo.astuple(), "wgrad", "im2col", np.float32)["workspace_bytes"]
    assert 0 < ws <= 4 * 2**20
    huge = _api._geometry((1, 16, 32768, 32768), wshape, 1, 0, dil, 1)
    assert _conv.plan_info(huge.astuple(), "wgrad", "im2col", np.float32)["workspace_bytes"] <= ws
    assert _conv.plan_info(geo.astuple(), "wgrad", "direct_plain", np.float32)[
        "workspace_bytes"] == 0
    unlimited = convx.conv2d_weight(x, wshape, gy, algorithm="im2col", dilation=dil)
    limit(ws // 2)
    exc, peak = _peak_during(lambda: convx.conv2d_weight(x, wshape, gy, algorithm="im2col",
                                                         dilation=dil))
    assert isinstance(exc, MemoryError) and "workspace" in str(exc), exc
    assert peak < 2**20
    got = convx.conv2d_weight(x, wshape, gy, dilation=dil)              # auto -> direct
    assert np.array_equal(got, unlimited)     # integer data: exact on every algorithm


@pytest.mark.skipif(SANITIZED, reason="AddressSanitizer needs an unlimited address space")
@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="Linux rlimits")
def test_rlimit_as_is_respected(tmp_path):
    """Under RLIMIT_AS = 3 GiB, a call that needs 4 GiB raises convx's
    MemoryError (naming the rlimit's 3 GiB), and one that fits runs."""
    code = textwrap.dedent("""
        import resource, numpy as np, convx
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        x = np.broadcast_to(np.float32(1), (1, 1, 2**15, 2**15))   # 4 GiB if copied
        try:
            convx.conv2d(x, np.ones((1, 1, 1, 1), np.float32))
        except MemoryError as exc:
            assert "3 GiB" in str(exc), exc
            print("MemoryError")
        y = convx.conv2d(np.ones((2, 3, 64, 64), np.float32), np.ones((4, 3, 3, 3), np.float32))
        print(y.shape)
    """)
    root = str(Path(convx.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split("\n")[:2] == ["MemoryError", "(2, 4, 62, 62)"]


def test_copy_of_a_broadcast_weight_is_checked(limit):
    """A broadcast weight needs a contiguous copy: counted like any allocation."""
    limit(2**20)
    w = np.broadcast_to(np.float32(1), (1024, 64, 3, 3))       # 2.25 MiB copy
    with pytest.raises(MemoryError, match=re.escape("weight")):
        convx.conv2d(np.ones((1, 64, 3, 3), np.float32), w)
