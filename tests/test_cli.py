"""``python -m convx``: the demo trains to convergence, ``info`` prints the configuration.

Each command runs in a fresh interpreter, from a temporary directory so that the source
tree is not picked up by accident; PYTHONPATH points at the directory holding the convx
these tests imported (the in-place build or the installed package).
"""

import os
import re
import subprocess
import sys

import pytest

import convx


def run_convx(args, cwd, timeout=120):
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(convx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "convx", *args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_demo_converges_and_shows_the_kernel(tmp_path):
    proc = run_convx(["demo"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "RESULT: CONVERGED" in out
    assert "sobel_x" in out and "sobel_y" in out
    assert "true" in out and "learned" in out
    # The loss is printed as it goes: several iterations, falling.
    losses = [float(m) for m in re.findall(r"^\s+\d+\s+(\S+e[-+]\d+)\s+\S+$", out, re.M)]
    assert len(losses) >= 5
    assert losses[-1] < 1e-12 < losses[0]
    rel = float(re.search(r"relative error .* = (\S+)", out).group(1))
    assert rel < 1e-4


def test_demo_with_bias_other_kernels_and_threads(tmp_path):
    proc = run_convx(["demo", "--kernels", "laplacian,box_blur", "--bias", "--images", "8",
                      "--size", "16", "--threads", "1", "--algorithm", "im2col"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "laplacian" in proc.stdout and "box_blur" in proc.stdout
    assert "bias: true" in proc.stdout
    assert "RESULT: CONVERGED" in proc.stdout


def test_demo_not_converged_exits_1(tmp_path):
    proc = run_convx(["demo", "--max-iter", "3"], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "RESULT: NOT CONVERGED" in proc.stdout


def test_demo_bad_kernel_is_a_usage_error(tmp_path):
    proc = run_convx(["demo", "--kernels", "no_such_filter"], tmp_path)
    assert proc.returncode == 2
    assert "no_such_filter" in proc.stderr and "sobel_x" in proc.stderr


def test_info_prints_show_config(tmp_path, capsys):
    convx.show_config()
    expected = capsys.readouterr().out.strip()
    proc = run_convx(["info"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert expected and expected in proc.stdout
    assert convx.__version__ in proc.stdout


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help(tmp_path, args):
    proc = run_convx(args, tmp_path)
    assert proc.returncode == 0
    assert "usage:" in proc.stdout
    assert "demo" in proc.stdout


def test_no_command_prints_usage_and_fails(tmp_path):
    proc = run_convx([], tmp_path)
    assert proc.returncode == 2
    assert "usage:" in proc.stdout and "info" in proc.stdout
