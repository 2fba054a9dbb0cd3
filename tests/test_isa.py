"""Every instruction-set path this CPU has: micro-kernels and whole operations.

convx picks its SIMD path once at import (generic, avx2, avx512) and
CONVX_CPU_CAPABILITY forces a lower one. Here each path is selected in turn
inside this process (``_conv.select_isa``, restored afterwards) and checked:

* the GEMM micro-kernel over named edge cases relative to the path's own
  tile (K below, at and above KC; M and N below, at and above MR and NR;
  strided C), its indirect twin, and the dot-product tile likewise;
* integer-valued data: every path gives bit-for-bit the same convolutions;
* and, in a subprocess per lower path, the whole test suite stays green.

Paths the CPU lacks are skipped (they cannot run here); the generic path
always runs.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import convx
from convx import _conv

PATHS = _conv.isa_names()
BEST = _conv.cpu_best_isa()
SUPPORTED = PATHS[: PATHS.index(BEST) + 1]


@pytest.fixture(params=PATHS)
def isa(request):
    name = request.param
    if name not in SUPPORTED:
        pytest.skip(f"this CPU has no {name} (best path: {BEST})")
    before = _conv.active_isa()
    assert _conv.select_isa(name) == name
    try:
        yield name
    finally:
        _conv.select_isa(before)


def _gemm_cases(k):
    mr, nr, kc, mc, nc = k["mr"], k["nr"], k["kc"], k["mc"], k["nc"]
    return {
        "tile": (mr, nr, 16),
        "k_lt_kc": (mr, nr, kc - 1),
        "k_eq_kc": (mr, nr, kc),
        "k_gt_kc": (mr, nr, kc + 1),
        "k_multi_kc": (mr + 1, nr + 1, 2 * kc + 3),
        "m_lt_mr": (mr - 1, nr, 20),
        "m_gt_mr": (mr + 1, nr, 20),
        "n_lt_nr": (mr, nr - 1, 20),
        "n_gt_nr": (mr, nr + 1, 20),
        "m_gt_mc": (mc + 5, nr, 20),
        "n_gt_nc": (3, nc + 7, 20),
        "k_one": (mr, nr, 1),
        "odd": (2 * mr + 3, 3 * nr + 5, 77),
    }


CASE_NAMES = list(_gemm_cases(dict(mr=4, nr=8, kc=256, mc=128, nc=1024)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_gemm_ukernel_edge_cases(isa, case, dtype):
    info = _conv.kernel_info()[np.dtype(dtype).name]
    m, n, k = _gemm_cases(info)[case]
    rng = np.random.default_rng(5)
    a = rng.integers(-4, 5, (m, k)).astype(dtype)
    b = rng.integers(-4, 5, (k, n)).astype(dtype)
    c = np.full((m, n), np.nan, dtype)                  # overwrite: C never read
    _conv.gemm(a, b, c, False)
    assert np.array_equal(c, (a.astype(np.int64) @ b.astype(np.int64)).astype(dtype))
    c0 = rng.integers(-4, 5, (m, n)).astype(dtype)     # accumulate: C += A B
    c = c0.copy()
    _conv.gemm(a, b, c, True)
    assert np.array_equal(c, c0 + (a.astype(np.int64) @ b.astype(np.int64)).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_igemm_ukernel_edge_cases(isa, case, dtype):
    """The indirect twin: B row p is read in place at b[boff[p]:], rows in any
    order and overlapping (as the stride-1 forward's shifted rows are)."""
    info = _conv.kernel_info()[np.dtype(dtype).name]
    m, n, k = _gemm_cases(info)[case]
    if k == 0:
        return
    rng = np.random.default_rng(9)
    a = rng.integers(-4, 5, (m, k)).astype(dtype)
    span = n + 3 * info["nr"]
    b = rng.integers(-4, 5, span + 7 * k + 1).astype(dtype)
    boff = ((np.arange(k) * 7) % (7 * k + 1 - 0)).astype(np.intp)[rng.permutation(k)]
    B = np.stack([b[o:o + n] for o in boff])
    c = np.full((m, n), np.nan, dtype)
    _conv.igemm(a, b, boff, c)
    assert np.array_equal(c, (a.astype(np.int64) @ B.astype(np.int64)).astype(dtype))


def test_igemm_rejects_offsets_past_the_buffer():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="too short"):
        _conv.igemm(a, np.zeros(10, np.float32), np.array([0, 1, 500], np.intp),
                    np.zeros((2, 4), np.float32))


def _check_tile_call(rng, dtype, m, n, k, **which):
    """One micro-kernel call (ukernel_tile with which = narrow= / edge=) on an
    m x k by k x n integer product: overwrite (C starts as NaN, never read) and
    accumulate, exact, into a strided C inside a sentinel buffer it must not
    write past."""
    a = rng.integers(-4, 5, (m, k)).astype(dtype)
    b = rng.integers(-4, 5, (k, n)).astype(dtype)
    ref = (a.astype(np.int64) @ b.astype(np.int64)).astype(dtype)
    big = np.full((m + 2, 2 * n + 3), 9.0, dtype)
    c = big[1:1 + m, 1:1 + 2 * n:2]
    c[...] = np.nan
    _conv.ukernel_tile(a, b, c, False, **which)
    assert np.array_equal(c, ref), (which, m, n, k)
    c0 = rng.integers(-4, 5, (m, n)).astype(dtype)
    c[...] = c0
    _conv.ukernel_tile(a, b, c, True, **which)
    assert np.array_equal(c, c0 + ref), (which, m, n, k)
    mask = np.ones(big.shape, bool)
    mask[1:1 + m, 1:1 + 2 * n:2] = False
    assert np.all(big[mask] == 9.0), ("wrote outside C", which, m, n, k)


@pytest.mark.parametrize("narrow", [False, True], ids=["main", "narrow"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_one_ukernel_call_every_edge(isa, dtype, narrow):
    """One call of the micro-kernel (and of the path's narrow tile, the
    channels-last drivers' choice for few output channels): every m <= MR and
    n <= NR edge, k of 1, a few and above KC, overwrite and accumulate, into a
    strided C inside a sentinel buffer; exact on integer data."""
    info = _conv.kernel_info()[np.dtype(dtype).name]
    tile = info["narrow"] if narrow else info
    mr, nr = tile["mr"], tile["nr"]
    if narrow and info["narrow"]["name"] == info["name"]:
        assert (mr, nr) == (info["mr"], info["nr"])     # no second tile on this path
    rng = np.random.default_rng(11)
    for m in sorted({1, mr - 1, mr} - {0}):
        for n in sorted({1, nr // 2 + 1, nr - 1, nr} - {0}):
            for k in (1, 7, info["kc"] + 3):
                _check_tile_call(rng, dtype, m, n, k, narrow=narrow)
    # unit-stride C (the whole-vector store of a full tile)
    a = rng.integers(-4, 5, (mr, 40)).astype(dtype)
    b = rng.integers(-4, 5, (40, nr)).astype(dtype)
    c = np.full((mr, nr), np.nan, dtype)
    _conv.ukernel_tile(a, b, c, False, narrow)
    assert np.array_equal(c, (a.astype(np.int64) @ b.astype(np.int64)).astype(dtype))
    with pytest.raises(ValueError, match="ukernel_tile"):
        _conv.ukernel_tile(np.zeros((mr + 1, 2), dtype), np.zeros((2, 1), dtype),
                           np.zeros((mr + 1, 1), dtype), False, narrow)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_edge_ukernels(isa, dtype):
    """The AVX2 tiles' edge twins (4 and 2 of the 6 rows, reading A panels
    packed for 6; the GEMM runs them on a last block of 1-4 rows): every m,
    n edges, k of 1, a few and above KC, overwrite and accumulate into a
    strided C inside a sentinel buffer, exact on integers, and bit for bit the
    main tile's rows on random data (the same FMAs in the same order)."""
    edges = _conv.edge_tiles(dtype)
    assert edges == ([2, 4] if isa == "avx2" else [])
    info = _conv.kernel_info()[np.dtype(dtype).name]
    mr, nr = info["mr"], info["nr"]
    rng = np.random.default_rng(12)
    for e, rows in enumerate(edges):
        assert rows < mr
        for m in range(1, rows + 1):
            for n in sorted({1, nr // 2 + 1, nr - 1, nr}):
                for k in (1, 7, info["kc"] + 3):
                    _check_tile_call(rng, dtype, m, n, k, edge=e)
        a = rng.standard_normal((rows, 300)).astype(dtype)
        b = rng.standard_normal((300, nr)).astype(dtype)
        c_edge, c_main = np.empty((rows, nr), dtype), np.empty((rows, nr), dtype)
        _conv.ukernel_tile(a, b, c_edge, False, edge=e)
        _conv.ukernel_tile(a, b, c_main, False)
        assert np.array_equal(c_edge, c_main)
        with pytest.raises(ValueError, match="ukernel_tile"):
            _conv.ukernel_tile(np.zeros((rows + 1, 2), dtype), np.zeros((2, 1), dtype),
                               np.zeros((rows + 1, 1), dtype), False, edge=e)
    with pytest.raises(ValueError, match="no edge tile"):
        _conv.ukernel_tile(np.zeros((1, 2), dtype), np.zeros((2, 1), dtype),
                           np.zeros((1, 1), dtype), False, edge=len(edges))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_gemm_ukernel_strided_c_and_random_values(isa, dtype):
    info = _conv.kernel_info()[np.dtype(dtype).name]
    m, n, k = 2 * info["mr"] + 1, 2 * info["nr"] + 3, info["kc"] + 9
    rng = np.random.default_rng(6)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    big = np.full((m + 4, 2 * n + 3), 5.0, dtype)
    c = big[2:2 + m, 1:1 + 2 * n:2]
    _conv.gemm(a, b, c, False)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c, a.astype(np.float64) @ b.astype(np.float64), rtol=tol, atol=tol)
    mask = np.ones(big.shape, bool)
    mask[2:2 + m, 1:1 + 2 * n:2] = False
    assert np.all(big[mask] == 5.0), "wrote outside C"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", ["len_lt_vec", "len_eq_vec", "len_gt_vec", "long",
                                  "m_lt_mr", "m_gt_mr", "n_lt_nr", "n_gt_nr"])
def test_dot_ukernel_edge_cases(isa, case, dtype):
    info = _conv.kernel_info()[np.dtype(dtype).name]
    mr, nr = info["dot_mr"], info["dot_nr"]
    vec = 64 // np.dtype(dtype).itemsize          # longest vector any path uses
    m, n, length = {
        "len_lt_vec": (mr, nr, 3), "len_eq_vec": (mr, nr, vec), "len_gt_vec": (mr, nr, vec + 5),
        "long": (mr, nr, 1000), "m_lt_mr": (mr - 1 or 1, nr, 50), "m_gt_mr": (mr + 1, nr, 50),
        "n_lt_nr": (mr, nr - 1, 50), "n_gt_nr": (mr, nr + 1, 50),
    }[case]
    rng = np.random.default_rng(7)
    a = rng.integers(-4, 5, (m, length)).astype(dtype)
    b = rng.integers(-4, 5, (n, length)).astype(dtype)
    c0 = rng.integers(-4, 5, (m, n)).astype(dtype)
    c = c0.copy()
    _conv.dot(a, b, c)
    assert np.array_equal(c, c0 + (a.astype(np.int64) @ b.astype(np.int64).T).astype(dtype))


def _int_problem(seed, shape):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = shape
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (N, C, H, W)).astype(np.float32)
    w = rng.integers(-3, 4, (K, C // groups, R, S)).astype(np.float32)
    b = rng.integers(-3, 4, K).astype(np.float32)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = convx.conv2d(x, w, b, **args, algorithm="direct")
    gy = rng.integers(-3, 4, y.shape).astype(np.float32)
    return x, w, b, gy, args


INT_SHAPES = {
    "3x3_pad": (2, 16, 13, 11, 24, 3, 3, 1, 1, 1, 1),
    "5x3_stride2_dil": (2, 5, 17, 14, 7, 5, 3, 2, ((2, 1), (0, 3)), (1, 2), 1),
    "pointwise": (3, 40, 9, 10, 33, 1, 1, 1, 0, 1, 1),
    "groups": (2, 12, 10, 10, 18, 3, 3, 1, "same", 1, 3),
    "long_reduction": (1, 70, 8, 8, 13, 3, 3, 1, 1, 1, 1),
}


@pytest.mark.parametrize("name", INT_SHAPES)
def test_integer_data_identical_on_every_path(name):
    """Small-integer float32 data: sums are exact, so every path and both
    algorithms must agree bit for bit for all three operations."""
    x, w, b, gy, args = _int_problem(8, INT_SHAPES[name])
    before = _conv.active_isa()
    results = {}
    try:
        for path in SUPPORTED:
            _conv.select_isa(path)
            for algo in ("direct", "im2col"):
                results[path, algo] = (
                    convx.conv2d(x, w, b, **args, algorithm=algo),
                    convx.conv2d_weight(x, w.shape, gy, **args, algorithm=algo),
                    convx.conv2d_input(x.shape, w, gy, **args, algorithm=algo),
                )
    finally:
        _conv.select_isa(before)
    first = results["generic", "direct"]
    for key, got in results.items():
        for op, (g, f) in zip(("fwd", "wgrad", "dgrad"), zip(got, first)):
            assert np.array_equal(g, f), f"{key} {op} differs from generic/direct"


def test_config_names_the_path_in_use():
    cfg = convx.config()
    assert cfg["simd"] == _conv.active_isa()
    assert cfg["simd_best"] == BEST
    names = cfg["gemm_kernels"]["float32"]
    assert all(n.endswith("__" + cfg["simd"]) for n in names)


def _run_convx(env_value, code):
    env = dict(os.environ, CONVX_CPU_CAPABILITY=env_value)
    root = str(Path(convx.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, cwd=str(Path(__file__).parent))


@pytest.mark.parametrize("path", PATHS)
def test_environment_override_selects_the_path(path):
    r = _run_convx(path, "import convx; print(convx.config()['simd'])")
    assert r.returncode == 0, r.stderr
    expected = path if path in SUPPORTED else BEST
    assert r.stdout.strip() == expected
    if path not in SUPPORTED:
        assert "not supported" in r.stderr


def test_environment_override_rejects_unknown_names_with_a_warning():
    r = _run_convx("sse9", "import convx; print(convx.config()['simd'])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == BEST and "sse9" in r.stderr


@pytest.mark.skipif(os.environ.get("CONVX_ISA_SUBRUN") == "1", reason="already inside a sub-run")
@pytest.mark.parametrize("path", [p for p in PATHS if p != BEST])
def test_whole_suite_under_lower_path(path):
    """The rest of the suite, in a subprocess, on each lower path the CPU has."""
    if path not in SUPPORTED:
        pytest.skip(f"this CPU has no {path}")
    env = dict(os.environ, CONVX_CPU_CAPABILITY=path, CONVX_ISA_SUBRUN="1")
    tests = Path(__file__).parent
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(tests),
           "--ignore", str(tests / "test_isa.py"), "--ignore", str(tests / "test_bench.py"),
           "--ignore", str(tests / "test_dask.py"), "--ignore", str(tests / "test_demos.py"),
           "--ignore", str(tests / "test_cli.py")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900,
                       cwd=str(tests.parent))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout
