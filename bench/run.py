#!/usr/bin/env python
"""Time convx convolutions against numpy (im2col + matmul) and PyTorch, in one run.

For every shape in a shapes file (see ``bench/shapes.txt``) and every requested op

    fwd    y  = conv2d(x, w)                  convx.conv2d
    wgrad  dw = conv2d_weight(x, w.shape, dy)  convx.conv2d_weight
    dgrad  dx = conv2d_input(x.shape, w, dy)   convx.conv2d_input

this script times convx with each algorithm ("direct", "im2col"), a plain numpy
implementation (im2col built with ``sliding_window_view``, then ``matmul``) and, when it
can be imported, PyTorch -- all on the same arrays with the same thread count.
Each timing is the median of ``--repeats`` calls (and of at least ``--min-time``
seconds of calls) after ``--warmup`` calls (and ``--warm-time`` seconds of them). Every convx
result is checked once against numpy's; a mismatch is printed loudly and makes the
exit status 1.

Run ``python bench/run.py --help`` for the options and ``bench/README.md`` for what the
columns mean.
"""

import argparse
import tracemalloc
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHAPES = os.path.join(HERE, "shapes.txt")
OPS = ("fwd", "wgrad", "dgrad")
ALGORITHMS = ("direct", "im2col")
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")


def _preset_blas_threads(argv):
    """Put ``--threads N`` into the BLAS environment variables; return how numpy is limited.

    numpy's BLAS reads its thread count once, when numpy is first imported. With
    threadpoolctl installed the count is changed at run time instead (see ``main``); without
    it the environment, set before the import below, is the only way to give numpy the same
    thread count as convx and torch. Variables the user already set are left alone.
    """
    if importlib.util.find_spec("threadpoolctl") is not None:
        return "threadpoolctl"
    threads = None
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
        elif arg.startswith("--threads="):
            threads = arg.split("=", 1)[1]
    if threads is None or not threads.isdigit() or int(threads) < 1:
        return None
    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, threads)
    return "environment (%s=%s; threadpoolctl not installed)" % (
        BLAS_THREAD_VARS[0], os.environ[BLAS_THREAD_VARS[0]])


if __name__ == "__main__":
    _NUMPY_THREAD_CONTROL = _preset_blas_threads(sys.argv[1:])
else:
    _NUMPY_THREAD_CONTROL = None

import numpy as np  # noqa: E402  (after the BLAS environment is set)
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402


# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """One benchmark convolution: ``name N C H W K R stride pad groups`` (square kernel)."""

    name: str
    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    stride: int
    pad: int
    groups: int

    @property
    def s(self):
        return self.r

    @property
    def p(self):
        return (self.h + 2 * self.pad - self.r) // self.stride + 1

    @property
    def q(self):
        return (self.w + 2 * self.pad - self.s) // self.stride + 1

    @property
    def flops(self):
        """FLOPs of one op: 2*N*K*(C/groups)*R*S*P*Q (one multiply + one add per term)."""
        return 2 * self.n * self.k * (self.c // self.groups) * self.r * self.s * self.p * self.q

    def reduction_length(self, op):
        """Number of products summed into one output element (sets the check tolerance)."""
        if op == "fwd":
            return (self.c // self.groups) * self.r * self.s
        if op == "wgrad":
            return self.n * self.p * self.q
        return (self.k // self.groups) * self.r * self.s

    def descriptor(self):
        return "N%d C%d H%d W%d K%d R%d s%d p%d g%d" % (
            self.n, self.c, self.h, self.w, self.k, self.r, self.stride, self.pad, self.groups)


def load_shapes(path):
    """Parse a shapes file: ``name N C H W K R stride pad groups`` per line, ``#`` comments."""
    shapes = []
    seen = set()
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].replace(",", " ").strip()
            if not line:
                continue
            where = "%s:%d" % (path, lineno)
            fields = line.split()
            if len(fields) != 10:
                raise ValueError("%s: expected 10 fields 'name N C H W K R stride pad groups', "
                                 "got %d: %r" % (where, len(fields), raw.strip()))
            name = fields[0]
            try:
                n, c, h, w, k, r, stride, pad, groups = (int(v) for v in fields[1:])
            except ValueError:
                raise ValueError("%s: the 9 numbers must be integers: %r"
                                 % (where, raw.strip())) from None
            if min(n, c, h, w, k, r, stride, groups) < 1 or pad < 0:
                raise ValueError("%s: sizes, stride and groups must be >= 1 and pad >= 0: %r"
                                 % (where, raw.strip()))
            if c % groups or k % groups:
                raise ValueError("%s: groups=%d must divide C=%d and K=%d"
                                 % (where, groups, c, k))
            if name in seen:
                raise ValueError("%s: duplicate shape name %r" % (where, name))
            shape = Shape(name, n, c, h, w, k, r, stride, pad, groups)
            if shape.p < 1 or shape.q < 1:
                raise ValueError("%s: kernel %d larger than the padded %dx%d input"
                                 % (where, r, h + 2 * pad, w + 2 * pad))
            seen.add(name)
            shapes.append(shape)
    return shapes


# --------------------------------------------------------------------------------------
# numpy baseline: im2col with sliding_window_view, then one matmul per group
# --------------------------------------------------------------------------------------

def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def numpy_columns(x, kernel, stride=1, padding=0, dilation=1, groups=1):
    """im2col: (G, Cg*R*S, N*P*Q) column matrix of x (N, C, H, W) for an R x S kernel."""
    (r, s), (sh, sw), (ph, pw), (dh, dw) = kernel, _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    # Windows of the dilated kernel extent, then keep every dilation-th tap and every
    # stride-th window position: (N, C, P, Q, R, S), a view.
    win = sliding_window_view(xp, ((r - 1) * dh + 1, (s - 1) * dw + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]
    p, q = win.shape[2:4]
    win = win.reshape(n, groups, c // groups, p, q, r, s)
    # (G, Cg, R, S, N, P, Q) -> (G, Cg*R*S, N*P*Q): the one copy im2col makes.
    cols = win.transpose(1, 2, 5, 6, 0, 3, 4).reshape(groups, (c // groups) * r * s, n * p * q)
    return cols, (p, q)


def numpy_conv2d(x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Forward: y[n, g*Kg+k] = W[g] (Kg, Cg*R*S) @ cols[g] (Cg*R*S, N*P*Q)."""
    k, cg, r, s = weight.shape
    n = x.shape[0]
    cols, (p, q) = numpy_columns(x, (r, s), stride, padding, dilation, groups)
    y = np.matmul(weight.reshape(groups, k // groups, cg * r * s), cols)  # (G, Kg, N*P*Q)
    return y.reshape(k, n, p, q).transpose(1, 0, 2, 3)


def numpy_conv2d_weight(x, weight_shape, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Weight gradient: dW[g] (Kg, Cg*R*S) = dY[g] (Kg, N*P*Q) @ cols[g].T."""
    k, cg, r, s = weight_shape
    n, _, p, q = grad_output.shape
    cols, _ = numpy_columns(x, (r, s), stride, padding, dilation, groups)
    dy = grad_output.transpose(1, 0, 2, 3).reshape(groups, k // groups, n * p * q)
    return np.matmul(dy, cols.transpose(0, 2, 1)).reshape(k, cg, r, s)


def numpy_conv2d_input(input_shape, weight, grad_output, stride=1, padding=0, dilation=1,
                       groups=1):
    """Input gradient: dcols[g] = W[g].T @ dY[g], then col2im (scatter-add over r, s)."""
    n, c, h, w = input_shape
    k, cg, r, s = weight.shape
    _, _, p, q = grad_output.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    dy = grad_output.transpose(1, 0, 2, 3).reshape(groups, k // groups, n * p * q)
    wt = weight.reshape(groups, k // groups, cg * r * s).transpose(0, 2, 1)
    dcols = np.matmul(wt, dy).reshape(c, r, s, n, p, q)
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dcols.dtype)
    for i in range(r):
        for j in range(s):
            dxp[:, :, i * dh:i * dh + (p - 1) * sh + 1:sh,
                j * dw:j * dw + (q - 1) * sw + 1:sw] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return dxp[:, :, ph:ph + h, pw:pw + w]


# --------------------------------------------------------------------------------------
# Timing and checking
# --------------------------------------------------------------------------------------

#: Pause before each implementation is timed. After a call, OpenBLAS's and the
#: OpenMP runtimes' worker threads keep spinning for a while (about 0.1 s of CPU
#: measured here after a numpy matmul); on 2 cores they would steal the next
#: implementation's cores, so every implementation starts from quiet threads.
SETTLE_S = 0.3


# After the settling pause the cores idle, and on a VM the first calls after an
# idle spell run slow (clock and caches): sub-millisecond calls swung by 2x
# between runs. So every implementation is also warmed up for WARM_S seconds
# and timed for at least MIN_S seconds (more than ``repeats`` calls if fast).
WARM_S = 0.05
MIN_S = 0.1


def time_call(fn, warmup, repeats, warm_s=None, min_s=None):
    """After the pause, call fn ``warmup`` times and for at least warm_s seconds,
    then time it ``repeats`` times and for at least min_s seconds (defaults
    WARM_S, MIN_S); return (times_ms, last result)."""
    warm_s = WARM_S if warm_s is None else warm_s
    min_s = MIN_S if min_s is None else min_s
    result = None
    time.sleep(SETTLE_S)
    n = 0
    t_end = time.perf_counter() + warm_s
    while n < warmup or time.perf_counter() < t_end:
        result = fn()
        n += 1
    times = []
    t_end = time.perf_counter() + min_s
    while len(times) < repeats or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times, result


def extra_memory_mb(fn, result):
    """Peak bytes allocated during one call of fn (convx allocates its output and
    every workspace through numpy, which tracemalloc sees), minus the output."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(peak - result.nbytes, 0) / 2**20


def measure_fma_peak(convx, threads, dtype):
    """GFLOP/s of convx's FMA probe (independent FMA chains on the active SIMD path)
    on 1 thread and on `threads` threads; halved for float64 (half the lanes)."""
    from convx import _conv
    isa = _conv.active_isa()
    n = 20_000_000 if isa != "generic" else 5_000_000
    _conv.fma_probe(isa, n // 10)                       # warm up clocks
    best1 = bestn = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        flops, _ = _conv.fma_probe(isa, n)
        best1 = max(best1, flops / (time.perf_counter() - t0) / 1e9)
        t0 = time.perf_counter()
        flops, _ = _conv.fma_probe_parallel(isa, n, threads)
        bestn = max(bestn, flops / (time.perf_counter() - t0) / 1e9)
    scale = 0.5 if np.dtype(dtype) == np.float64 else 1.0
    return isa, best1 * scale, bestn * scale


def check_close(result, reference, dtype, reduction_length):
    """Return (ok, max error relative to max|reference|, tolerance).

    The tolerance grows with the number of products summed per element, since the
    implementations sum in different orders: 16 * eps * sqrt(length).
    """
    result = np.asarray(result, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    tol = 16 * np.finfo(dtype).eps * math.sqrt(max(reduction_length, 1))
    if result.shape != reference.shape:
        return False, math.inf, tol
    if reference.size == 0:
        return True, 0.0, tol
    scale = max(float(np.max(np.abs(reference))), np.finfo(np.float64).tiny)
    err = float(np.max(np.abs(result - reference))) / scale
    return bool(err <= tol), err, tol   # NaN compares False: a NaN result is a mismatch


@dataclass
class Row:
    shape: str
    op: str
    impl: str                  # "convx", "numpy" or "torch"
    algorithm: str             # convx algorithm; "im2col+matmul" for numpy, "-" for torch
    ms: float = None           # median time of one call, milliseconds
    times_ms: list = None
    gflops: float = None
    speedup_vs_numpy: float = None  # numpy_ms / ms (> 1: faster than numpy)
    speedup_vs_torch: float = None  # torch_ms / ms (> 1: faster than torch)
    max_rel_err: float = None  # against numpy, relative to max|numpy result|
    tolerance: float = None
    ok: bool = None            # None: not checked
    error: str = None          # exception text when the call failed
    extra_mb: float = None     # convx: peak memory allocated during one call, minus its output

    @property
    def label(self):
        return self.impl if self.impl != "convx" else "convx " + self.algorithm


def make_operands(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.n, shape.c, shape.h, shape.w)).astype(dtype)
    w = rng.standard_normal((shape.k, shape.c // shape.groups, shape.r, shape.s)).astype(dtype)
    dy = rng.standard_normal((shape.n, shape.k, shape.p, shape.q)).astype(dtype)
    return x, w, dy


def op_calls(shape, op, x, w, dy, convx, torch, threads):
    """The three implementations of one op on the same operands, as zero-argument callables."""
    kw = dict(stride=shape.stride, padding=shape.pad, groups=shape.groups)

    if op == "fwd":
        calls = {"numpy": lambda: numpy_conv2d(x, w, **kw),
                 "convx": lambda alg: (lambda: convx.conv2d(x, w, algorithm=alg,
                                                            threads=threads, **kw))}
    elif op == "wgrad":
        calls = {"numpy": lambda: numpy_conv2d_weight(x, w.shape, dy, **kw),
                 "convx": lambda alg: (lambda: convx.conv2d_weight(
                     x, w.shape, dy, algorithm=alg, threads=threads, **kw))}
    else:
        calls = {"numpy": lambda: numpy_conv2d_input(x.shape, w, dy, **kw),
                 "convx": lambda alg: (lambda: convx.conv2d_input(
                     x.shape, w, dy, algorithm=alg, threads=threads, **kw))}

    if torch is not None:
        tx, tw, tdy = (torch.from_numpy(a) for a in (x, w, dy))
        if op == "fwd":
            calls["torch"] = lambda: torch.nn.functional.conv2d(tx, tw, None, **kw)
        elif op == "wgrad":
            calls["torch"] = lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, **kw)
        else:
            calls["torch"] = lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, **kw)
    return calls


def bench_shape(shape, args, convx, torch, numpy_limit, seed):
    """Time every op and implementation on one shape; return the rows."""
    dtype = np.dtype(args.dtype)
    x, w, dy = make_operands(shape, dtype, seed)
    rows = []
    for op in args.ops:
        calls = op_calls(shape, op, x, w, dy, convx, torch, args.threads)
        with numpy_limit():
            times, reference = time_call(calls["numpy"], args.warmup, args.repeats,
                                   args.warm_time, args.min_time)
        base = Row(shape.name, op, "numpy", "im2col+matmul", times_ms=times)
        op_rows = [base]
        if "torch" in calls:
            times, tres = time_call(calls["torch"], args.warmup, args.repeats,
                                   args.warm_time, args.min_time)
            row = Row(shape.name, op, "torch", "-", times_ms=times)
            row.ok, row.max_rel_err, row.tolerance = check_close(
                tres.numpy(), reference, dtype, shape.reduction_length(op))
            op_rows.append(row)
        for alg in args.algorithms:
            row = Row(shape.name, op, "convx", alg)
            try:
                row.times_ms, result = time_call(calls["convx"](alg), args.warmup, args.repeats,
                                   args.warm_time, args.min_time)
            except Exception as exc:  # report and carry on with the other rows
                row.error = "%s: %s" % (type(exc).__name__, exc)
                row.ok = False
            else:
                row.ok, row.max_rel_err, row.tolerance = check_close(
                    result, reference, dtype, shape.reduction_length(op))
                row.extra_mb = extra_memory_mb(calls["convx"](alg), result)
            op_rows.append(row)

        torch_ms = None
        for row in op_rows:
            if row.times_ms:
                row.ms = statistics.median(row.times_ms)
                row.gflops = shape.flops / (row.ms * 1e-3) / 1e9 if row.ms > 0 else None
            if row.impl == "torch":
                torch_ms = row.ms
        for row in op_rows:
            if row.ms and row.impl != "numpy":
                row.speedup_vs_numpy = base.ms / row.ms
            if row.ms and torch_ms and row.impl != "torch":
                row.speedup_vs_torch = torch_ms / row.ms
        rows.extend(op_rows)
    return rows


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------

def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def print_table(shapes, rows, peak_gflops, out=sys.stdout):
    by_name = {s.name: s for s in shapes}
    header = ["shape", "op", "impl", "ms", "GFLOP/s"]
    if peak_gflops:
        header.append("%peak")
    header += ["x numpy", "x torch", "extra MB", "check"]
    lines = []
    last_shape = None
    for row in rows:
        shape_cell = ""
        if row.shape != last_shape:
            shape_cell = row.shape
            last_shape = row.shape
        if row.error:
            check = "ERROR"
        elif row.ok is None:
            check = "ref"
        elif row.ok:
            check = "ok"
        else:
            check = "MISMATCH %.1e" % row.max_rel_err
        cells = [shape_cell, row.op, row.label, _fmt(row.ms, ".3f"), _fmt(row.gflops, ".2f")]
        if peak_gflops:
            cells.append(_fmt(None if row.gflops is None else 100 * row.gflops / peak_gflops,
                              ".1f"))
        cells += [_fmt(row.speedup_vs_numpy, ".2f"), _fmt(row.speedup_vs_torch, ".2f"),
                  _fmt(row.extra_mb, ".1f"), check]
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    left = {0, 1, 2, len(header) - 1}

    def render(cells):
        return "  ".join(c.ljust(wd) if i in left else c.rjust(wd)
                         for i, (c, wd) in enumerate(zip(cells, widths))).rstrip()

    print(render(header), file=out)
    print(render(["-" * wd for wd in widths]), file=out)
    last_shape = None
    for row, cells in zip(rows, lines):
        if row.shape != last_shape and last_shape is not None:
            print(file=out)
        last_shape = row.shape
        print(render(cells), file=out)
    print(file=out)
    print("shapes:", file=out)
    for name in dict.fromkeys(r.shape for r in rows):
        s = by_name[name]
        print("  %-12s %s  -> P=%d Q=%d, %.4g GFLOP per op"
              % (name, s.descriptor(), s.p, s.q, s.flops / 1e9), file=out)


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def print_summary(rows, args, out=sys.stdout):
    print("geometric-mean speedup of convx (numpy_ms / convx_ms; torch_ms / convx_ms):",
          file=out)
    for op in args.ops:
        for alg in args.algorithms:
            sel = [r for r in rows if r.op == op and r.impl == "convx" and r.algorithm == alg]
            vn = geomean([r.speedup_vs_numpy for r in sel])
            vt = geomean([r.speedup_vs_torch for r in sel])
            print("  %-6s %-7s  vs numpy %s   vs torch %s"
                  % (op, alg, _fmt(vn, "6.2f", "     -"), _fmt(vt, "6.2f", "     -")), file=out)


def import_convx():
    """The installed convx if there is one, else the (built in place) source tree above bench/."""
    try:
        import convx
    except ImportError:
        sys.path.insert(0, os.path.dirname(HERE))
        import convx
    return convx


def machine_info(convx, torch, threads, numpy_control):
    try:
        config = convx.config()
    except Exception as exc:  # the benchmark should still say what it ran on
        config = {"error": "%s: %s" % (type(exc).__name__, exc)}
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numpy_threads": numpy_control,
        "torch": None if torch is None else torch.__version__,
        "threads": threads,
        "convx_version": getattr(convx, "__version__", None),
        "convx_path": os.path.dirname(os.path.abspath(convx.__file__)),
        "convx_config": config,
    }


def _json_safe(value):
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

def _csv(choices, what):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError("unknown %s %s; choose from %s"
                                             % (what, ",".join(bad) or repr(text),
                                                ",".join(choices)))
        return list(dict.fromkeys(items))
    return parse


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected an integer, got %r" % text) from None
        if value < minimum:
            raise argparse.ArgumentTypeError("expected an integer >= %d, got %d"
                                             % (minimum, value))
        return value
    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Time convx forward / weight-gradient / input-gradient convolutions "
                    "against numpy (im2col + matmul) and PyTorch on the same inputs and "
                    "thread count; print a table, optionally write JSON.",
        epilog="Speedup columns: 'x numpy' = numpy_ms / ms and 'x torch' = torch_ms / ms, "
               "so > 1 means faster than that baseline. Exit status 1 if any convx result "
               "disagrees with numpy or raises.")
    parser.add_argument("--shapes", default=DEFAULT_SHAPES, metavar="FILE",
                        help="shapes file (default: bench/shapes.txt)")
    parser.add_argument("--only", default=None, metavar="NAMES",
                        help="comma-separated shape names to run (default: all)")
    parser.add_argument("--ops", type=_csv(OPS, "op"), default=list(OPS),
                        help="comma-separated subset of fwd,wgrad,dgrad (default: all)")
    parser.add_argument("--algorithms", type=_csv(ALGORITHMS + ("auto",), "algorithm"),
                        default=list(ALGORITHMS),
                        help="convx algorithms to time (default: direct,im2col)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=_int_at_least(1), default=None,
                        help="threads for convx, numpy's BLAS and torch "
                             "(default: convx's default thread count)")
    parser.add_argument("--repeats", type=_int_at_least(1), default=5,
                        help="timed calls per measurement; the median is reported (default 5)")
    parser.add_argument("--warmup", type=_int_at_least(0), default=1,
                        help="untimed calls before timing (default 1)")
    parser.add_argument("--warm-time", type=float, default=WARM_S, metavar="S",
                        help="also warm up for at least S seconds (default %g)" % WARM_S)
    parser.add_argument("--min-time", type=float, default=MIN_S, metavar="S",
                        help="time for at least S seconds, more calls than --repeats "
                             "if fast (default %g)" % MIN_S)
    parser.add_argument("--seed", type=_int_at_least(0), default=0,
                        help="seed of the random operands (default 0)")
    parser.add_argument("--peak", type=float, default=None, metavar="GFLOPS",
                        help="machine peak GFLOP/s for the thread count; adds a %%peak column")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="also write the results and machine info as JSON")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    try:
        shapes = load_shapes(args.shapes)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if args.only:
        wanted = [t.strip() for t in args.only.split(",") if t.strip()]
        known = {s.name for s in shapes}
        unknown = [t for t in wanted if t not in known]
        if unknown:
            parser.error("--only: unknown shape(s) %s; %s has %s"
                         % (",".join(unknown), args.shapes, ",".join(s.name for s in shapes)))
        shapes = [s for s in shapes if s.name in wanted]

    convx = import_convx()

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None

    threads = args.threads
    if threads is None:
        threads = int(convx.config().get("default_threads") or os.cpu_count() or 1)

    # Same thread count everywhere: convx by argument, torch globally, numpy's BLAS via
    # threadpoolctl (or the environment at startup; see _preset_blas_threads).
    numpy_control = _NUMPY_THREAD_CONTROL
    numpy_limit = _null_context
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_limits
        numpy_control = "threadpoolctl (%d)" % threads
        numpy_limit = lambda: threadpool_limits(limits=threads, user_api="blas")  # noqa: E731
    elif numpy_control is None:
        numpy_control = ("not controlled: install threadpoolctl or pass --threads "
                         "(BLAS default, usually all cores)")
    if torch is not None:
        torch.set_num_threads(threads)

    info = machine_info(convx, torch, threads, numpy_control)
    print("convx %s  |  %s  |  %s CPUs  |  python %s  numpy %s  torch %s"
          % (info["convx_version"], info["platform"], info["cpu_count"], info["python"],
             info["numpy"], info["torch"] or "(not used)"))
    print("convx from %s; config: %s" % (info["convx_path"], info["convx_config"]))
    print("threads: %d (convx threads=%d; torch %s; numpy BLAS %s)"
          % (threads, threads, "set_num_threads(%d)" % threads if torch else "-",
             numpy_control))
    print("dtype %s, median of %d after %d warm-up call(s); ops %s; convx algorithms %s"
          % (args.dtype, args.repeats, args.warmup, ",".join(args.ops),
             ",".join(args.algorithms)))
    isa, peak1, peakn = measure_fma_peak(convx, threads, args.dtype)
    info["fma_peak"] = {"isa": isa, "dtype": args.dtype, "gflops_1_thread": peak1,
                        "gflops_threads": peakn, "threads": threads}
    print("FMA peak (convx probe, %s path, %s): %.1f GFLOP/s on 1 thread, %.1f on %d"
          % (isa, args.dtype, peak1, peakn, threads))
    if args.peak is None:
        args.peak = peakn
    print(flush=True)
    # Run convx with the resolved count, so "same thread count" holds even by default.
    args.threads = threads

    rows = []
    t_start = time.perf_counter()
    for i, shape in enumerate(shapes):
        rows.extend(bench_shape(shape, args, convx, torch, numpy_limit, args.seed + i))
    elapsed = time.perf_counter() - t_start

    print_table(shapes, rows, args.peak)
    print()
    print_summary(rows, args)

    bad = [r for r in rows if r.impl == "convx" and r.ok is False]
    torch_bad = [r for r in rows if r.impl == "torch" and r.ok is False]
    for r in torch_bad:
        print("warning: torch disagrees with numpy on %s %s (max rel err %.2e): "
              "check the baseline" % (r.shape, r.op, r.max_rel_err))
    if bad:
        print()
        print("!" * 78)
        print("!!! %d convx result(s) WRONG or FAILED:" % len(bad))
        for r in bad:
            if r.error:
                print("!!!   %s %s %s: raised %s" % (r.shape, r.op, r.algorithm, r.error))
            else:
                print("!!!   %s %s %s: max |convx - numpy| / max|numpy| = %.3e > tol %.1e"
                      % (r.shape, r.op, r.algorithm, r.max_rel_err, r.tolerance))
        print("!" * 78)
    print("total %.1f s" % elapsed)

    if args.json:
        doc = {
            "machine": info,
            "settings": {"shapes_file": os.path.abspath(args.shapes), "dtype": args.dtype,
                         "ops": args.ops, "algorithms": args.algorithms,
                         "repeats": args.repeats, "warmup": args.warmup, "seed": args.seed,
                         "peak_gflops": args.peak, "torch": torch is not None},
            "shapes": [dict(asdict(s), p=s.p, q=s.q, flops=s.flops) for s in shapes],
            "results": [asdict(r) for r in rows],
            "mismatches": [asdict(r) for r in bad],
            "ok": not bad,
            "elapsed_s": elapsed,
        }
        with open(args.json, "w") as f:
            json.dump(_json_safe(doc), f, indent=1)
            f.write("\n")
        print("wrote %s" % args.json)
    return 1 if bad else 0


class _null_context:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
