"""bench/run.py: runs end to end on tiny shapes, writes JSON, and its numpy baseline is right.

The benchmark runs in a fresh interpreter from a temporary directory, with PYTHONPATH
pointing at the directory holding the convx these tests imported.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import convx

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
RUN_PY = os.path.join(BENCH_DIR, "run.py")

TINY_SHAPES = """\
# name N C H W K R stride pad groups
tiny      2 3 8 8 4 3 1 1 1
tiny_g2s2 2,4,9,9,6,3,2,0,2
"""


def load_run_module():
    spec = importlib.util.spec_from_file_location("convx_bench_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_bench(args, cwd, timeout=300):
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(convx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, RUN_PY, *args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tiny_shapes(tmp_path):
    path = tmp_path / "shapes.txt"
    path.write_text(TINY_SHAPES)
    return path


def test_bench_runs_and_writes_json(tmp_path, tiny_shapes):
    out_json = tmp_path / "out.json"
    proc = run_bench(["--shapes", str(tiny_shapes), "--repeats", "1", "--no-torch",
                      "--threads", "1", "--json", str(out_json), "--warm-time", "0",
                      "--min-time", "0"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH" not in proc.stdout and "WRONG" not in proc.stdout
    for word in ("shape", "GFLOP/s", "x numpy", "x torch", "tiny", "tiny_g2s2",
                 "convx direct", "convx im2col", "numpy"):
        assert word in proc.stdout

    doc = json.loads(out_json.read_text())
    machine = doc["machine"]
    assert machine["cpu_count"] == os.cpu_count()
    assert machine["threads"] == 1
    assert machine["torch"] is None
    assert machine["platform"]
    assert set(machine["convx_config"]) >= {"version", "openmp", "default_threads",
                                            "compiler", "simd"}
    assert doc["ok"] is True and doc["mismatches"] == []
    assert doc["settings"]["repeats"] == 1 and doc["settings"]["dtype"] == "float32"

    shapes = {s["name"]: s for s in doc["shapes"]}
    assert set(shapes) == {"tiny", "tiny_g2s2"}
    g = shapes["tiny_g2s2"]
    assert (g["p"], g["q"]) == (4, 4)
    assert g["flops"] == 2 * 2 * 6 * (4 // 2) * 3 * 3 * 4 * 4

    rows = doc["results"]
    combos = {(r["shape"], r["op"], r["impl"], r["algorithm"]) for r in rows}
    for name in shapes:
        for op in ("fwd", "wgrad", "dgrad"):
            assert (name, op, "numpy", "im2col+matmul") in combos
            for alg in ("direct", "im2col"):
                assert (name, op, "convx", alg) in combos
    assert len(rows) == 2 * 3 * 3
    for r in rows:
        assert r["ms"] > 0 and len(r["times_ms"]) == 1
        assert r["gflops"] == pytest.approx(shapes[r["shape"]]["flops"] / (r["ms"] * 1e6))
        assert r["speedup_vs_torch"] is None
        if r["impl"] == "convx":
            assert r["ok"] is True and r["error"] is None
            assert r["max_rel_err"] <= r["tolerance"]
            base = next(b for b in rows if (b["shape"], b["op"], b["impl"])
                        == (r["shape"], r["op"], "numpy"))
            assert r["speedup_vs_numpy"] == pytest.approx(base["ms"] / r["ms"])


def test_bench_only_ops_and_float64(tmp_path, tiny_shapes):
    out_json = tmp_path / "out.json"
    proc = run_bench(["--shapes", str(tiny_shapes), "--only", "tiny", "--ops", "wgrad",
                      "--algorithms", "im2col", "--dtype", "float64", "--repeats", "2",
                      "--min-time", "0", "--warmup", "0", "--no-torch", "--json",
                      str(out_json)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out_json.read_text())
    assert {(r["shape"], r["op"], r["impl"]) for r in doc["results"]} == {
        ("tiny", "wgrad", "numpy"), ("tiny", "wgrad", "convx")}
    assert all(len(r["times_ms"]) == 2 for r in doc["results"])
    assert doc["settings"]["dtype"] == "float64"


@pytest.mark.parametrize("args, text", [
    (["--only", "nope"], "nope"),
    (["--ops", "fwd,backward"], "backward"),
    (["--repeats", "0"], "repeats"),
])
def test_bench_bad_arguments(tmp_path, tiny_shapes, args, text):
    proc = run_bench(["--shapes", str(tiny_shapes), "--no-torch", *args], tmp_path)
    assert proc.returncode == 2
    assert text in proc.stderr


def test_bench_bad_shapes_file(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("oops 1 2 3\n")
    proc = run_bench(["--shapes", str(bad), "--no-torch"], tmp_path)
    assert proc.returncode == 2
    assert "bad.txt:1" in proc.stderr


def test_shapes_file_has_the_standard_shapes():
    run = load_run_module()
    shapes = {s.name: s for s in run.load_shapes(run.DEFAULT_SHAPES)}
    expected = {
        "lenet1": (64, 1, 28, 28, 8, 5, 1, 2, 1),
        "lenet2": (64, 8, 14, 14, 16, 5, 1, 2, 1),
        "res3x3_64": (8, 64, 56, 56, 64, 3, 1, 1, 1),
        "res3x3_256": (8, 256, 14, 14, 256, 3, 1, 1, 1),
        "res1x1": (8, 256, 56, 56, 64, 1, 1, 0, 1),
        "stem7x7s2": (8, 3, 224, 224, 64, 7, 2, 3, 1),
        "depthwise": (8, 128, 56, 56, 128, 3, 1, 1, 128),
        "latency1": (1, 64, 56, 56, 64, 3, 1, 1, 1),
        "vgg3x3_512": (4, 512, 28, 28, 512, 3, 1, 1, 1),
    }
    assert set(expected) <= set(shapes)
    for name, values in expected.items():
        s = shapes[name]
        assert (s.n, s.c, s.h, s.w, s.k, s.r, s.stride, s.pad, s.groups) == values, name
    assert (shapes["stem7x7s2"].p, shapes["stem7x7s2"].q) == (112, 112)
    assert shapes["res3x3_64"].flops == 2 * 8 * 64 * 64 * 9 * 56 * 56


@pytest.mark.parametrize("n, c, h, w, k, r, s, stride, padding, dilation, groups", [
    (2, 3, 7, 8, 4, 3, 3, 1, 1, 1, 1),
    (2, 4, 9, 7, 6, 3, 2, (2, 1), (1, 2), (1, 2), 2),
    (1, 4, 6, 6, 8, 1, 1, 1, 0, 1, 4),        # depthwise, multiplier 2
    (3, 2, 10, 9, 3, 5, 3, 3, 2, 1, 1),       # stride > kernel width
])
def test_numpy_baseline_matches_convx(n, c, h, w, k, r, s, stride, padding, dilation, groups):
    run = load_run_module()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((k, c // groups, r, s))
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = run.numpy_conv2d(x, wt, **kw)
    np.testing.assert_allclose(y, convx.conv2d(x, wt, **kw), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(run.numpy_conv2d_weight(x, wt.shape, dy, **kw),
                               convx.conv2d_weight(x, wt.shape, dy, **kw),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.numpy_conv2d_input(x.shape, wt, dy, **kw),
                               convx.conv2d_input(x.shape, wt, dy, **kw),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_loop_script_times_one_layer(tmp_path, layout):
    """bench/loop.py: one shapes.txt layer, op and layout in a timed loop."""
    script = os.path.join(os.path.dirname(RUN_PY), "loop.py")
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(convx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, script, "lenet1", "wgrad", layout, "1", "0.01"],
                         cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"lenet1 wgrad {layout} T1: ") and "GFLOP/s" in out.stdout
    mode = subprocess.run([sys.executable, script, "lenet1", "dgrad", layout, "1", "0.01",
                           "reflect"], cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=300)
    assert mode.returncode == 0, mode.stderr
    assert mode.stdout.startswith(f"lenet1 dgrad {layout} reflect T1: ")
    bad = subprocess.run([sys.executable, script, "lenet1", "nope", layout, "1", "0.01"],
                         cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "OP must be one of" in bad.stderr


def _script_runner(name, tmp_path):
    """run(*args): bench/NAME run as a script in tmp_path with this convx on
    its path; the CompletedProcess (text output)."""
    script = os.path.join(os.path.dirname(RUN_PY), name)
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(convx.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)

    def run(*args):
        return subprocess.run([sys.executable, script, *args], cwd=str(tmp_path), env=env,
                              capture_output=True, text=True, timeout=300)
    return run

def test_nd_loop_script(tmp_path):
    """bench/nd_loop.py: a 1-D layer in a timed loop, the folded 3-D switch
    accepted, the Python-side overhead rounds, and a usage error."""
    run = _script_runner("nd_loop.py", tmp_path)

    out = run("conv1d_audio", "dgrad", "1", "0.01")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("conv1d_audio dgrad T1: ") and "GFLOP/s" in out.stdout
    over = run("overhead", "1")
    assert over.returncode == 0, over.stderr
    assert over.stdout.startswith("lenet2 fwd T1: Cython call ") and "Python side" in over.stdout
    bad = run("conv3d_32", "nope", "1", "0.01")
    assert bad.returncode != 0 and "nd_loop.py" in bad.stderr


def test_variant_ab_script(tmp_path):
    """bench/variant_ab.py: channels-last and a padding mode against NCHW
    zeros on one layer (rounds and their median), and a usage error."""
    run = _script_runner("variant_ab.py", tmp_path)
    for variant in ("NHWC", "reflect"):
        out = run("lenet1", "fwd", "1", variant, "2", "0.01")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"lenet1 fwd T1 {variant} / NCHW zeros: ")
        assert len(out.stdout.split("per round ")[1].split(";")[0].split()) == 2
    bad = run("lenet1", "fwd", "1", "NCDHW")
    assert bad.returncode != 0 and "VARIANT" in bad.stderr


def test_align_ab_script(tmp_path):
    """bench/align_ab.py: operands off a line against on one (each op, the
    ratios of the rounds), and a usage error."""
    run = _script_runner("align_ab.py", tmp_path)
    for op in ("fwd", "wgrad", "dgrad"):
        out = run("lenet1", op, "NHWC", "1", "2", "0.01")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"lenet1 {op} NHWC T1: aligned median ")
        assert len(out.stdout.split("per round ")[1].split(";")[0].split()) == 2
    bad = run("lenet1", "fwd", "NCDHW", "1")
    assert bad.returncode != 0 and "align_ab.py" in bad.stderr


def test_border_ab_script(tmp_path):
    """bench/border_ab.py: the padding-mode input gradient's two forms against
    zeros on one layer (the forms checked against each other first), and an
    unknown shape refused."""
    run = _script_runner("border_ab.py", tmp_path)

    out = run("1", "0.01", "circular", "lenet2", "lenet1")
    assert out.returncode == 0, out.stderr
    rows = [r for r in out.stdout.splitlines() if r.startswith("| lenet")]
    assert len(rows) == 2 and rows[1].split("|")[3].strip() == "-", out.stdout
    assert float(rows[0].split("|")[3]) > 0 and float(rows[0].split("|")[4]) > 0
    bad = run("1", "0.01", "reflect", "nope")
    assert bad.returncode != 0 and "unknown shape" in bad.stderr


def test_border_only_ab_script(tmp_path):
    """bench/border_only_ab.py: the same build's padding-mode border loaded
    twice agrees with itself and is timed in rounds; a usage error."""
    so = convx._conv.__file__
    run = _script_runner("border_only_ab.py", tmp_path)
    out = run(so, so, "1", "replicate", "2", "0.01")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("lenet2 border T1 replicate: ") and "median" in out.stdout
    assert out.stdout.count("B/A per round") == 1
    bad = run(so)
    assert bad.returncode != 0 and "border_only_ab.py" in bad.stderr


def test_conv3d_algos_script(tmp_path):
    """bench/conv3d_algos.py: one 3-D layer's forward and input gradient timed
    with both explicit algorithms (a direct / im2col ratio each); a usage
    error."""
    run = _script_runner("conv3d_algos.py", tmp_path)
    out = run("1", "1", "0.001", "--first", "1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("direct / im2col" in r for r in lines), out.stdout
    assert float(lines[0].split("direct / im2col ")[1]) > 0
    bad = run("1")
    assert bad.returncode != 0 and "conv3d_algos.py" in bad.stderr


def test_so_ab_script(tmp_path):
    """bench/so_ab.py: the same build loaded twice agrees with itself and times
    both (forward, the input gradient's form, the weight gradient); a usage
    error."""
    so = convx._conv.__file__
    run = _script_runner("so_ab.py", tmp_path)
    for extra in ((), ("dgrad",), ("wgrad",)):
        out = run(so, so, "2", "3", "9", "11", "4", "3", "1", "1", "2", "0.01", *extra)
        assert out.returncode == 0, out.stderr
        assert "B/A per round" in out.stdout and "median" in out.stdout
    bad = run(so, so, "2", "3")
    assert bad.returncode != 0 and "so_ab.py" in bad.stderr


def test_ukernel_l1_script(tmp_path):
    """bench/ukernel_l1.py compiles the micro-kernel template standalone and
    reports a rate per tile (or says why it cannot), and refuses a bad count."""
    run = _script_runner("ukernel_l1.py", tmp_path)
    out = run("200")
    assert out.returncode == 0, out.stderr
    assert ("6x16 " in out.stdout and out.stdout.count("GFLOP/s") == 12) or \
        "lacks AVX2" in out.stdout or "no gcc" in out.stdout
    bad = run("-3")
    assert bad.returncode != 0 and "ukernel_l1.py" in bad.stderr


def test_halves_sweep_script(tmp_path):
    """bench/halves_sweep.py: the Zen 4 routing's A/B on given 8-channel
    forwards, both layouts (a 7-pixel row is routed, NCHW and NHWC; a
    28-pixel NCHW row is not), or a clear refusal off the AVX-512 path; and
    bench/loop.py takes a sweep_shapes.txt layer too."""
    run = _script_runner("halves_sweep.py", tmp_path)
    out = run("1", "1", "0.01", "8,3,7,2", "8,3,28,1")
    if convx._conv.active_isa() != "avx512":
        assert out.returncode != 0 and "needs the AVX-512 path" in out.stderr
    else:
        assert out.returncode == 0, out.stderr
        rows = out.stdout.splitlines()
        assert len(rows) == 2 and "AVX-512 plan / routed" in rows[0], out.stdout
        assert rows[0].startswith("C8 R3 Q7 N2 NCHW T1 (routed)"), rows[0]
        assert rows[1].startswith("C8 R3 Q28 N1 NCHW T1 (not routed)"), rows[1]
        nhwc = run("1", "1", "0.01", "--nhwc", "8,3,7,2")
        assert nhwc.returncode == 0, nhwc.stderr
        assert nhwc.stdout.startswith("C8 R3 Q7 N2 NHWC T1 (routed)"), nhwc.stdout
    assert run("1").returncode != 0
    loop = _script_runner("loop.py", tmp_path)
    out = loop("c8k8_3x3", "fwd", "NCHW", "1", "0.01")
    assert out.returncode == 0 and out.stdout.startswith("c8k8_3x3 fwd NCHW T1: "), out.stderr
    bad = loop("nope", "fwd", "NCHW", "1", "0.01")
    assert bad.returncode != 0 and "unknown layer" in bad.stderr


def test_pair_script(tmp_path):
    """bench/pair.py: PyTorch / convx auto on one layer in alternating rounds
    (where PyTorch is installed; without it, a clear refusal), and a usage
    error."""
    run = _script_runner("pair.py", tmp_path)
    out = run("lenet1", "dgrad", "1", "2", "0.01")
    try:
        import torch  # noqa: F401
    except ImportError:
        assert out.returncode != 0 and "needs PyTorch" in out.stderr
    else:
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("lenet1 dgrad 1T: torch ") and "median" in out.stdout
        assert len(out.stdout.split("per round ")[1].split(";")[0].split()) == 2
        bad = run("nope", "fwd", "1", "2", "0.01")
        assert bad.returncode != 0 and "unknown layer" in bad.stderr
    assert run("lenet1").returncode != 0
