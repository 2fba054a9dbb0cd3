"""Fork: a process that used convx (and started OpenMP threads) can fork and
call convx in the child.

GNU OpenMP's thread pool does not survive fork(): a parallel region in the
child of a parent that had started its pool waits forever for threads that do
not exist. convx therefore notices the fork (os.register_at_fork) and runs
serially in the child, with one RuntimeWarning (README, "Limits and
safety"). Each scenario runs in its own interpreter under a timeout, and the
children have their own, so a hang fails the test instead of hanging CI.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import convx
from hostile import SUBRUN

pytestmark = [
    pytest.mark.skipif(SUBRUN, reason="fork handling does not depend on the SIMD path"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
]

TIMEOUT = 120

PRELUDE = textwrap.dedent("""
    import os, sys, warnings, numpy as np, convx
    warnings.simplefilter("always")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8, 20, 20)); w = rng.standard_normal((8, 8, 3, 3))
    gy = rng.standard_normal((4, 8, 20, 20))
    def work():
        return (convx.conv2d(x, w, padding=1, algorithm="im2col"),
                convx.conv2d(x, w, padding=1, algorithm="direct", threads=2),
                convx.conv2d_weight(x, w.shape, gy, padding=1, threads=2),
                convx.conv2d_input(x.shape, w, gy, padding=1))
    # the parent starts OpenMP's thread pool before forking
    expected = work()
    assert convx.config()["default_threads"] >= 2
""")


def _run(body):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    root = str(Path(convx.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    try:
        r = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
                           capture_output=True, text=True, timeout=TIMEOUT, env=env,
                           cwd=str(Path(__file__).parent))
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the forked scenario hung for {TIMEOUT} s: {exc.stdout!r} {exc.stderr!r}")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


@pytest.mark.skipif(not convx.config()["openmp"], reason="serial build: nothing to test")
def test_multiprocessing_fork_pool():
    """multiprocessing with the "fork" start method: 2 workers x 3 tasks, each
    computing all three operations, finish and match the parent bitwise."""
    r = _run("""
        import multiprocessing as mp
        def task(i):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = work()
            return [a.tobytes() for a in got], [str(c.message) for c in caught]
        ctx = mp.get_context("fork")
        with ctx.Pool(2) as pool:
            out = pool.map_async(task, range(6)).get(timeout=60)
        for arrays, _ in out:
            assert arrays == [a.tobytes() for a in expected]
        messages = [m for _, ms in out for m in ms]
        # one warning per worker process at most, never one per call
        assert 1 <= len(messages) <= 2, messages
        assert all("fork" in m for m in messages), messages
        print("ok", len(messages))
    """)
    assert r.stdout.startswith("ok")


@pytest.mark.skipif(not convx.config()["openmp"], reason="serial build: nothing to test")
def test_os_fork_child_computes_serially_and_warns_once():
    """os.fork: the child computes all three operations (explicit threads=2
    included) bitwise like the parent, warns exactly once, and exits; the
    parent keeps its threads. A child that hangs is killed after 60 s."""
    r = _run("""
        import signal, time
        from convx import _api
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)             # the child kills itself rather than hang
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ok = all(np.array_equal(a, b) for a, b in zip(work(), expected))
                ok = ok and all(np.array_equal(a, b) for a, b in zip(work(), expected))
            n = sum(issubclass(c.category, RuntimeWarning) and "fork" in str(c.message)
                    for c in caught)
            os._exit(0 if ok and n == 1 and _api._threads(4) == 1 else 3)
        deadline = time.monotonic() + 90
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise SystemExit("child hung")
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0, os.waitstatus_to_exitcode(status)
        # the parent is not affected
        assert _api._threads(None) == convx.config()["default_threads"] >= 2
        assert all(np.array_equal(a, b) for a, b in zip(work(), expected))
        print("ok")
    """)
    assert r.stdout.strip() == "ok"


def test_grandchild_inherits_the_fallback():
    """A child that forks again: child and grandchild both finish and match
    the parent bitwise (the fallback is inherited)."""
    r = _run("""
        import signal
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ok = all(np.array_equal(a, b) for a, b in zip(work(), expected))
                gpid = os.fork()
                if gpid == 0:
                    signal.alarm(60)
                    ok2 = all(np.array_equal(a, b) for a, b in zip(work(), expected))
                    os._exit(0 if ok2 else 4)
                _, st = os.waitpid(gpid, 0)
            os._exit(0 if ok and os.waitstatus_to_exitcode(st) == 0 else 5)
        _, st = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(st) == 0, os.waitstatus_to_exitcode(st)
        print("ok")
    """)
    assert r.stdout.strip() == "ok"
