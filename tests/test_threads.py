"""Specification of threading behaviour.

* For a fixed algorithm, results are bit-identical for every thread count and
  for repeated calls (no nondeterministic parallel reductions).
* threads=None uses the OpenMP default, which honours OMP_NUM_THREADS
  (visible as convx.config()["default_threads"]).
* The GIL is released during the computation: another Python thread runs
  while a call computes, and calls from several Python threads at once
  complete and give the serial results (no timing assertions).
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import convx
from reference import ALGORITHMS, output_hw, ref_conv2d

# Shapes with enough independent work (batch, channels, rows) that any
# sensible partitioning splits them between 2..4 threads, and one with N = 1
# where the parallel split must happen inside an image or over the reduction.
SHAPES = [
    pytest.param(dict(x=(3, 8, 17, 15), w=(12, 8, 3, 3), stride=1, padding=1, groups=1), id="N3_3x3"),
    pytest.param(dict(x=(1, 16, 21, 19), w=(10, 8, 3, 2), stride=(2, 1), padding="same", groups=2),
                 id="N1_groups2_same"),
    pytest.param(dict(x=(2, 6, 9, 30), w=(12, 1, 3, 3), stride=1, padding=1, groups=6),
                 id="depthwise_mult2"),
    pytest.param(dict(x=(4, 24, 6, 6), w=(16, 24, 1, 1), stride=1, padding=0, groups=1),
                 id="pointwise_1x1"),
]

OPS = ["conv2d", "conv2d_weight", "conv2d_input"]


def _run(op, shape, dtype, algorithm, threads, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape["x"]).astype(dtype)
    w = rng.standard_normal(shape["w"]).astype(dtype)
    geo = dict(stride=shape["stride"], padding=shape["padding"], groups=shape["groups"])
    if op == "conv2d":
        b = rng.standard_normal(shape["w"][0]).astype(dtype)
        return convx.conv2d(x, w, b, **geo, algorithm=algorithm, threads=threads)
    P, Q = output_hw(shape["x"][2:], shape["w"][2:], shape["stride"], shape["padding"])
    gy = rng.standard_normal((shape["x"][0], shape["w"][0], P, Q)).astype(dtype)
    if op == "conv2d_weight":
        return convx.conv2d_weight(x, w.shape, gy, **geo, algorithm=algorithm, threads=threads)
    return convx.conv2d_input(x.shape, w, gy, **geo, algorithm=algorithm, threads=threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_results_independent_of_thread_count(shape, op, algorithm, dtype):
    """threads = 1, 2, 3, 4 and None, and a repeated call, give bit-identical results."""
    baseline = _run(op, shape, dtype, algorithm, threads=1)
    for threads in (2, 3, 4, None, 1):
        got = _run(op, shape, dtype, algorithm, threads=threads)
        assert got.dtype == baseline.dtype
        assert np.array_equal(got, baseline), f"threads={threads}"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_more_threads_than_work(algorithm, rng):
    """Far more threads than output rows/channels: same result as 1 thread."""
    x = rng.standard_normal((1, 2, 2, 3))
    w = rng.standard_normal((1, 2, 2, 2))
    one = convx.conv2d(x, w, algorithm=algorithm, threads=1)
    many = convx.conv2d(x, w, algorithm=algorithm, threads=16)
    assert np.array_equal(one, many)
    np.testing.assert_allclose(one, ref_conv2d(x, w), rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------------------
# config() and OMP_NUM_THREADS
# ---------------------------------------------------------------------------

def test_config_keys_and_types():
    """config() has the documented keys with the documented types."""
    cfg = convx.config()
    assert isinstance(cfg["version"], str) and cfg["version"] == convx.__version__
    assert isinstance(cfg["openmp"], bool)
    assert isinstance(cfg["default_threads"], int) and cfg["default_threads"] >= 1
    assert isinstance(cfg["compiler"], str)
    assert isinstance(cfg["simd"], str)


def _python_env(**extra):
    """Environment for a child interpreter that imports the same convx as this one."""
    env = dict(os.environ)
    pkg_parent = str(Path(convx.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


def _default_threads_in_child(tmp_path, omp_num_threads):
    code = ("import convx, sys; "
            "sys.stdout.write(repr((convx.__file__, convx.config()['default_threads'], "
            "convx.config()['openmp'])))")
    env = _python_env(OMP_NUM_THREADS=omp_num_threads)
    res = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    path, threads, openmp = eval(res.stdout)  # noqa: S307 - our own repr output
    assert Path(path).resolve() == Path(convx.__file__).resolve()
    return threads, openmp


@pytest.mark.parametrize("n", ["3", "1"])
def test_omp_num_threads_is_honoured(tmp_path, n):
    """With OMP_NUM_THREADS=n, default_threads is n (1 in a build without OpenMP)."""
    threads, openmp = _default_threads_in_child(tmp_path, n)
    assert threads == (int(n) if openmp else 1)


def test_omp_num_threads_run(tmp_path):
    """A child with OMP_NUM_THREADS=3 computes with threads=None the same bits as threads=3."""
    code = (
        "import numpy as np, convx\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.standard_normal((2, 8, 12, 12)); w = rng.standard_normal((8, 8, 3, 3))\n"
        "a = convx.conv2d(x, w, padding=1, algorithm='im2col')\n"
        "b = convx.conv2d(x, w, padding=1, algorithm='im2col', threads=3)\n"
        "assert np.array_equal(a, b)\n"
        "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], env=_python_env(OMP_NUM_THREADS="3"),
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


# ---------------------------------------------------------------------------
# GIL release: concurrent calls from Python threads
# ---------------------------------------------------------------------------

def _concurrent(jobs):
    """Run the callables concurrently (started together by a barrier); return
    their results, re-raising the first exception."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)
    errors = []

    def worker(i, job):
        try:
            barrier.wait(timeout=60)
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a conv call did not finish"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_concurrent_calls_from_python_threads(algorithm, rng):
    """Two Python threads calling conv2d / gradients at the same time (each
    with 2 OpenMP threads) finish and reproduce the serial results exactly."""
    xa = rng.standard_normal((2, 8, 24, 24)).astype(np.float32)
    xb = rng.standard_normal((3, 8, 20, 22))
    w32 = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    w64 = rng.standard_normal((16, 8, 3, 3))
    gy = rng.standard_normal((3, 16, 20, 22))
    jobs = [
        lambda: convx.conv2d(xa, w32, padding=1, algorithm=algorithm, threads=2),
        lambda: convx.conv2d(xb, w64, padding=1, algorithm=algorithm, threads=2),
        lambda: convx.conv2d_weight(xb, w64.shape, gy, padding=1, algorithm=algorithm, threads=2),
        lambda: convx.conv2d_input(xb.shape, w64, gy, padding=1, algorithm=algorithm, threads=2),
    ]
    serial = [job() for job in jobs]
    for _ in range(3):
        concurrent = _concurrent(jobs)
        for s, c in zip(serial, concurrent):
            assert np.array_equal(s, c)


def test_gil_is_released_during_the_computation(rng):
    """Another Python thread runs while conv2d computes.

    The switch interval is set very high, so the main thread never hands the
    GIL over by preemption: a second thread woken just before the call can
    only run if the call itself releases the GIL.  If it does not, the flag
    is still unset when the calls return (event order, no timing).  The
    calls are long (~1 GFLOP each, single-threaded) so the woken thread has
    ample time to be scheduled.
    """
    x = rng.standard_normal((8, 64, 40, 40))
    w = rng.standard_normal((64, 64, 3, 3))
    go = threading.Event()
    ran = []

    def other():
        go.wait(60)
        ran.append(True)

    t = threading.Thread(target=other)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        t.start()
        while not t.is_alive():
            pass
        go.set()
        for _ in range(5):
            convx.conv2d(x, w, padding=1, algorithm="direct", threads=1)
            if ran:
                break
        ran_during_calls = bool(ran)
    finally:
        sys.setswitchinterval(old)
        go.set()
        t.join(60)
    assert ran_during_calls, "no other Python thread ran while conv2d was computing"
