"""``python -m convx``: the demos pass and say what they learned; ``info`` prints the config.

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
from convx import __main__ as cli


def run_convx(args, cwd, timeout=180, code=None):
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(convx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "convx", *args]
    return subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_demo_runs_all_three_and_passes(tmp_path):
    """The README's command: every demo passes, prints what it learned, saves pictures."""
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    proc = run_convx(["demo"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for name in ("features", "cocktail", "digits"):
        assert re.search(r"^RESULT %s +PASS" % name, out, re.M), out
    # features: true vs learned kernels and the error
    assert "sobel_x" in out and "gaussian_blur" in out and "| learned" in out
    assert re.search(r"max \|learned - true\| = \S+e-0[5-9]", out)
    # cocktail: the recipe table with names
    assert re.search(r"^\s+gin\s+liqueur\s+lemon juice\s+cola\s+total$", out, re.M)
    assert re.search(r"^  White Lady\s+0\.\d{3} \(0\.50\)", out, re.M)
    # digits: accuracy, confusion matrix, training time, pictures
    acc = float(re.search(r"test accuracy: (\S+)%", out).group(1))
    assert acc >= 97
    assert "confusion matrix" in out and "training time:" in out
    pictures = tmp_path / "convx-demo-output"
    assert sorted(p.name for p in pictures.iterdir()) == ["digits_kernels.png",
                                                          "digits_loss.png"]
    assert "saved %s" % (pictures / "digits_kernels.png") in out
    assert proc.stderr == ""             # not a terminal: no progress bar


def test_demo_by_name(tmp_path):
    proc = run_convx(["demo", "cocktail", "features", "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = re.findall(r"^RESULT (\w+) +PASS", proc.stdout, re.M)
    assert results == ["cocktail", "features"]
    assert not (tmp_path / "convx-demo-output").exists()


def test_demo_options_reach_the_demos(monkeypatch):
    seen = {}

    def fake_run(names, **kw):
        seen.update(kw, names=names)
        return 0

    monkeypatch.setattr("convx._demo.run", fake_run)
    assert cli.main(["demo", "digits", "--out", "pics", "--seed", "3", "--threads", "2",
                     "--no-progress"]) == 0
    assert seen == dict(names=["digits"], out_dir="pics", seed=3, threads=2, progress=False)
    cli.main(["demo"])
    assert seen["names"] == [] and seen["threads"] == 1 and seen["progress"] == "auto"


def test_unknown_demo_is_a_usage_error(tmp_path):
    proc = run_convx(["demo", "mnist"], tmp_path)
    assert proc.returncode == 2
    assert "mnist" in proc.stderr and "features, cocktail, digits" in proc.stderr


def test_importing_convx_needs_neither_sklearn_nor_matplotlib(tmp_path):
    code = ("import sys, convx, convx.nn, convx.optim, convx.train; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('sklearn', 'matplotlib')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = run_convx([], tmp_path, code=code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


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
    if args[0] == "demo":
        for name in ("features", "cocktail", "digits", "--out", "--threads"):
            assert name in proc.stdout


def test_no_command_prints_usage_and_fails(tmp_path):
    proc = run_convx([], tmp_path)
    assert proc.returncode == 2
    assert "usage:" in proc.stdout and "info" in proc.stdout


def test_runs_from_the_checkout_root():
    """The README's first command runs `python -m convx demo` in the checkout,
    whose source package (without a compiled extension after `pip install .`)
    comes first on sys.path: convx must then hand over to the installed build
    (and with an in-place build, use that). Either way the import works and the
    extension it uses is a real one."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "import convx; print(convx._conv.__file__); print(convx.conv2d.__module__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    so, module = proc.stdout.split()
    assert os.path.isfile(so) and os.path.basename(so).startswith("_conv.")
    assert module == "convx._api"
    proc = subprocess.run([sys.executable, "-m", "convx", "info"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "openmp" in proc.stdout, proc.stdout + proc.stderr
