"""Threads: concurrent callers, nested thread pools, threadpoolctl.

* 8 Python threads calling convx at once, with mixed shapes, operations,
  algorithms, dtypes and ``threads=`` values, get results bitwise identical
  to the same calls run one after another.
* The default thread rule (README, "Limits and safety"): ``threads=None`` is
  OpenMP's default in the main thread and 1 thread in any other thread, so a
  pool of P Python threads (or an outer OpenMP team calling back into
  Python) runs P convx threads, not P x cores. Shown by counting the
  process's OS threads.
* ``threadpoolctl.threadpool_limits(1, "openmp")`` limits convx, like
  OMP_NUM_THREADS.
"""

import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import convx
from convx import _api, _conv
from hostile import SUBRUN

pytestmark = pytest.mark.skipif(SUBRUN, reason="threading does not depend on the SIMD path")

OPENMP = convx.config()["openmp"]

N_THREADS = 8
CALLS_PER_THREAD = 24

# (x shape, w shape, geometry): a 3x3 "same", a strided dilated grouped one,
# a depthwise one, a pointwise one, and one big enough for several im2col tiles.
SHAPES = [
    ((2, 8, 17, 15), (12, 8, 3, 3), dict(padding=1)),
    ((1, 6, 19, 21), (9, 2, 3, 2), dict(stride=(2, 1), dilation=(1, 2), groups=3, padding="same")),
    ((3, 4, 12, 12), (8, 1, 5, 5), dict(groups=4, padding=2)),
    ((2, 24, 9, 9), (16, 24, 1, 1), {}),
    ((1, 16, 40, 40), (24, 16, 3, 3), dict(padding=1, stride=2)),
]
OPS = ("conv2d", "conv2d_weight", "conv2d_input")
ALGORITHMS = ("direct", "im2col", "auto")
THREADS = (None, 1, 2, 3)


def _job(i):
    """Job i: a deterministic mix of shape, op, algorithm, dtype and threads."""
    xs, ws, geo = SHAPES[i % len(SHAPES)]
    op = OPS[(i // 5) % 3]
    algorithm = ALGORITHMS[(i // 3) % 3]
    dtype = (np.float32, np.float64)[(i // 2) % 2]
    threads = THREADS[(i // 7) % 4]
    rng = np.random.default_rng(i)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    y = convx.conv2d(x, w, b, **geo, algorithm="direct", threads=1)
    gy = rng.standard_normal(y.shape).astype(dtype)

    def run():
        if op == "conv2d":
            return convx.conv2d(x, w, b, **geo, algorithm=algorithm, threads=threads)
        if op == "conv2d_weight":
            return convx.conv2d_weight(x, w.shape, gy, **geo, algorithm=algorithm, threads=threads)
        return convx.conv2d_input(x.shape, w, gy, **geo, algorithm=algorithm, threads=threads)
    return run


def test_eight_threads_mixed_calls_bitwise_identical_to_serial():
    """8 threads x 24 calls (shape, op, algorithm, dtype and threads= all
    mixed), started together: every result equals the serial run's bits."""
    jobs = [_job(i) for i in range(N_THREADS * CALLS_PER_THREAD)]
    serial = [job() for job in jobs]
    barrier = threading.Barrier(N_THREADS)
    results = [None] * len(jobs)
    errors = []

    def worker(t):
        try:
            barrier.wait(timeout=60)
            # each thread takes every N_THREADS-th job, in a thread-dependent order
            mine = list(range(t, len(jobs), N_THREADS))
            for i in (mine if t % 2 else mine[::-1]):
                results[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a convx call did not finish"
    if errors:
        raise errors[0]
    for i, (s, c) in enumerate(zip(serial, results)):
        assert c.dtype == s.dtype and c.shape == s.shape
        assert np.array_equal(s, c), f"job {i} differs from its serial run"


def test_default_threads_rule():
    """threads=None: OpenMP's default in the main thread, 1 in other threads;
    an explicit count is used wherever the call is made."""
    assert _api._threads(None) == max(1, min(_conv.max_threads(), _api.MAX_THREADS))
    seen = {}

    def probe():
        seen["none"] = _api._threads(None)
        seen["three"] = _api._threads(3)

    t = threading.Thread(target=probe)
    t.start()
    t.join(60)
    assert seen == {"none": 1, "three": 3}


def _os_threads():
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_python_thread_pool_does_not_oversubscribe():
    """A pool of 8 Python threads calling convx with threads=None adds its 8
    threads and no OpenMP threads; with threads=2 each pool thread gets its
    own OpenMP team (the caller asked for it)."""
    x = np.ones((2, 8, 24, 24), np.float32)
    w = np.ones((8, 8, 3, 3), np.float32)
    before = _os_threads()
    with ThreadPoolExecutor(max_workers=8) as pool:
        barrier = threading.Barrier(8)

        def call(_):
            barrier.wait(60)          # all 8 pool threads exist and run at once
            return convx.conv2d(x, w, padding=1)

        list(pool.map(call, range(8)))
        during = _os_threads()
    assert during - before <= 8, (before, during)


NESTED_C = r"""
#include <omp.h>
typedef void (*callback)(int);
/* An outer OpenMP team of n threads, each calling back into Python. */
int outer(int n, callback cb) {
    int levels = 0;
    #pragma omp parallel num_threads(n)
    {
        cb(omp_get_thread_num());
        #pragma omp atomic
        levels += omp_get_active_level();
    }
    return levels;
}
"""


@pytest.mark.skipif(not OPENMP or not os.path.isdir("/proc/self/task"),
                    reason="needs OpenMP and /proc")
def test_nested_inside_an_outer_openmp_team(tmp_path):
    """convx called from each thread of an outer OpenMP team (a C library
    calling back into Python): the team's worker threads are not Python's
    main thread, so they run convx with 1 thread, and GNU OpenMP does not
    nest parallel regions by default (max-active-levels 1), so the master's
    call adds no threads either. The process ends with the outer team only."""
    import ctypes
    import shutil
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    src = tmp_path / "outer.c"
    src.write_text(NESTED_C)
    lib = tmp_path / "libouter.so"
    r = subprocess.run([cc, "-shared", "-fPIC", "-fopenmp", "-O1", str(src), "-o", str(lib)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build an OpenMP library: {r.stderr[-300:]}")
    code = textwrap.dedent(f"""
        import ctypes, os, threading, numpy as np, convx
        lib = ctypes.CDLL({str(lib)!r})
        CB = ctypes.CFUNCTYPE(None, ctypes.c_int)
        x = np.ones((2, 8, 24, 24)); w = np.ones((8, 8, 3, 3))
        ref = convx.conv2d(x, w, padding=1, threads=1)
        main = []
        def cb(tid):
            main.append(threading.current_thread() is threading.main_thread())
            assert np.array_equal(convx.conv2d(x, w, padding=1), ref)
        f = CB(cb)
        base = len(os.listdir("/proc/self/task"))
        lib.outer(4, f)
        after = len(os.listdir("/proc/self/task"))
        print(base, after, sorted(main))
    """)
    env = dict(os.environ, OMP_NUM_THREADS="4", PYTHONPATH=_pythonpath())
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    base, after, *main = r.stdout.split(maxsplit=2)
    # 4 outer threads = the main thread + 3 OpenMP workers; nothing nested on top
    assert int(after) - int(base) <= 3, r.stdout
    assert main[0].strip() == "[False, False, False, True]", r.stdout


def _pythonpath():
    root = str(Path(convx.__file__).resolve().parents[1])
    return os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p])


@pytest.mark.skipif(not OPENMP or not os.path.isdir("/proc/self/task"),
                    reason="needs OpenMP and /proc")
def test_threadpoolctl_limits_convx(tmp_path):
    """threadpoolctl finds the OpenMP runtime convx uses, and
    threadpool_limits(1, "openmp") makes threads=None run on one thread (no
    OpenMP thread is started); outside the block OMP_NUM_THREADS=2 applies."""
    pytest.importorskip("threadpoolctl")
    code = textwrap.dedent("""
        import os, numpy as np, convx
        from threadpoolctl import threadpool_info, threadpool_limits
        libs = [i for i in threadpool_info() if i["user_api"] == "openmp"]
        assert libs, threadpool_info()
        x = np.ones((4, 16, 32, 32)); w = np.ones((16, 16, 3, 3))
        tasks = lambda: len(os.listdir("/proc/self/task"))
        base = tasks()
        with threadpool_limits(1, "openmp"):
            limited = convx.config()["default_threads"]
            convx.conv2d(x, w, padding=1)
            during = tasks()
        convx.conv2d(x, w, padding=1)
        print(limited, convx.config()["default_threads"], during - base, tasks() - base)
    """)
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=_pythonpath())
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    limited, default, added_limited, added_after = map(int, r.stdout.split())
    assert (limited, default) == (1, 2)
    assert added_limited == 0            # one thread: no OpenMP worker started
    assert added_after == 1              # two threads: one OpenMP worker
