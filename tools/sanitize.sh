#!/usr/bin/env bash
# Build convx with AddressSanitizer + UndefinedBehaviorSanitizer and run the tests under it.
#
#   tools/sanitize.sh            the whole test suite (lower-ISA re-runs excepted: every
#                                path is already run in-process by test_isa, test_fuzz
#                                and test_nonfinite)
#   tools/sanitize.sh --quick    the hostile-input, fuzz (CI profile), non-finite, ISA,
#                                threads, fork, limits, error, forward and gradient
#                                tests (what .ci/run runs)
#   tools/sanitize.sh -- ARGS    pytest ARGS instead (e.g. -- -k depthwise tests/test_forward.py)
#   --reuse                      with CONVX_SANITIZE_DIR: skip the copy and the build if
#                                that directory already holds one (iterating on tests)
#
# How: the working tree (tracked and untracked, not ignored files) is copied to a
# scratch directory, installed with `CONVX_SANITIZE=1 pip install ".[test]"` into a
# fresh virtual environment there (the checkout and its in-place build are never
# touched), and pytest runs from outside the checkout, so the sanitized convx is
# the one imported. The Python interpreter is not instrumented: the ASan runtime is
# preloaded (LD_PRELOAD), leak detection is off (CPython keeps objects alive on
# purpose), PYTHONMALLOC=malloc gives every Python object an ASan redzone, and
# allocator_may_return_null=1 turns an impossible allocation into numpy's
# MemoryError instead of an ASan abort.
#
# Fails (exit 1) on any sanitizer report: every report aborts the process that
# hit it (-fno-sanitize-recover=all, halt_on_error) and is also written to a log
# file, so a report in a subprocess whose exit status a test ignored still fails
# the run. Before the tests, two canaries prove that reports are caught: a
# geometry that lies about the input size must produce a heap-buffer-overflow,
# and one whose weight size overflows 64 bits a UBSan signed-overflow report.
#
# Environment: CONVX_SANITIZE_DIR (scratch directory, kept; default: a new mktemp -d,
# removed at exit),
# CC (compiler whose libasan to preload; default gcc), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=full
reuse=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) mode=quick ;;
        --reuse) reuse=1 ;;
        --) shift; pytest_args=("$@"); mode=custom; break ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

cc=${CC:-gcc}
python=${PYTHON:-python3}
if [ -n "${CONVX_SANITIZE_DIR:-}" ]; then
    work=$CONVX_SANITIZE_DIR
else
    work=$(mktemp -d)
    # a scratch directory of our own (a venv and a copy of the tree) goes when we do;
    # reports are printed before that
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
start=$(date +%s)

echo "== convx sanitizer run ($mode) in $work"

if [ "$reuse" = 1 ] && [ -x "$work/venv/bin/python" ]; then
    # shellcheck disable=SC1091
    . "$work/venv/bin/activate"
else
# 1. a copy of the working tree (no build outputs)
rm -rf "$work/src"
mkdir -p "$work/src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files -z --cached --others --exclude-standard \
        | (cd "$root" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) \
        | (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$work/src"
else
    tar -C "$root" --exclude=build --exclude='*.so' --exclude='*.o' --exclude=.git -cf - . \
        | tar -xf - -C "$work/src"
fi

# 2. the sanitized build in a fresh virtual environment
"$python" -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
if ! CONVX_SANITIZE=1 CONVX_FAIL_NO_OPENMP=1 CC="$cc" \
        pip install --disable-pip-version-check "$work/src[test]" >"$work/pip.log" 2>&1; then
    tail -40 "$work/pip.log" >&2
    echo "sanitize.sh: the sanitized build failed (log: $work/pip.log)" >&2
    exit 1
fi
fi
build_done=$(date +%s)
echo "== built in $((build_done - start)) s"

so=$(find "$work/venv" -name '_conv*.so' -path '*convx*' | head -1)
symbols=$([ -n "$so" ] && nm -D "$so" || true)
if [[ "$symbols" != *__asan_init* || "$symbols" != *__ubsan_handle* ]]; then
    echo "sanitize.sh: the installed extension ($so) is not instrumented" \
         "(no __asan_init / __ubsan_handle symbols)" >&2
    exit 1
fi

# 3. the run-time environment
libasan=$("$cc" -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "sanitize.sh: $cc has no libasan.so" >&2; exit 1; }
logs="$work/reports"
rm -rf "$logs"
mkdir -p "$logs"
asan_base="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=1"
ubsan_base="halt_on_error=1:print_stacktrace=1"
# libstdc++ is preloaded too: ASan resolves the real __cxa_throw when it starts, and a
# C++ extension imported later (matplotlib's ft2font) would otherwise abort it.
libstdcxx=$("$cc" -print-file-name=libstdc++.so)
export LD_PRELOAD="$libasan${libstdcxx:+ $libstdcxx}"
export ASAN_OPTIONS="$asan_base:log_path=$logs/asan"
export UBSAN_OPTIONS="$ubsan_base:log_path=$logs/ubsan"
export PYTHONMALLOC=malloc
export CONVX_SANITIZED=1
export PYTHONDONTWRITEBYTECODE=1

imported=$(cd "$work" && python -c 'import convx._conv as m; print(m.__file__)')
if [ "$imported" != "$so" ]; then
    echo "sanitize.sh: imported $imported, not the sanitized $so" >&2
    exit 1
fi

# 4. canaries: the setup must catch a deliberate overrun and a deliberate overflow
canary() {
    local name=$1 want=$2 code=$3
    local dir="$work/canary-$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    # python is not the subshell's last command, so bash's "Aborted" notice goes to $dir/out
    (cd "$work" && ASAN_OPTIONS="$asan_base:log_path=$dir/asan" \
        UBSAN_OPTIONS="$ubsan_base:log_path=$dir/ubsan" python -c "$code" \
        && echo 0 >"$dir/status" || echo $? >"$dir/status") >"$dir/out" 2>&1
    if [ "$(cat "$dir/status")" = 0 ]; then
        echo "sanitize.sh: canary '$name' exited normally: the sanitizer did not stop it" >&2
        exit 1
    fi
    if ! grep -qs "$want" "$dir"/*; then
        echo "sanitize.sh: canary '$name' failed without a '$want' report:" >&2
        cat "$dir"/* >&2
        exit 1
    fi
    echo "== canary $name: caught ($want)"
}
# (the direct kernels copy input rows with whole vectors, so ASan may call the
# read a partly out-of-bounds "unknown-crash" rather than a heap-buffer-overflow)
canary overrun "heap-buffer-overflow\|unknown-crash" '
import numpy as np
from convx import _conv
x = np.ones(16)                      # 4x4 pixels, but the geometry below says 5x5
y = np.empty(25)
_conv.conv2d_fwd(x, np.ones(1), np.empty(0), y,
                 (1, 1, 5, 5, 1, 1, 1, 5, 5, 1, 1, 1, 1, 0, 0, 1), False, "direct", 1)'
canary overflow "runtime error" '
import numpy as np
from convx import _conv
# K * C/groups * R * S = 2**62 * 16 overflows 64 bits in the planner
_conv.plan_info((1, 1, 1, 1, 2**62, 4, 4, 1, 1, 1, 1, 1, 1, 0, 0, 1), "wgrad", "direct",
                np.float64)'

# 5. the tests, from outside the checkout copy's package directory
# --capture=sys: pytest captures Python's sys.stdout/stderr only, so a report the
# runtime writes to file descriptor 2 reaches the log even when it kills the process.
tests="$work/src/tests"
common=(-q -p no:cacheprovider -o addopts= --capture=sys --deselect
        "$tests/test_isa.py::test_whole_suite_under_lower_path")
case $mode in
    full) args=("${common[@]}" "$tests") ;;
    quick) args=("${common[@]}"
                 "$tests/test_bad_inputs.py" "$tests/test_nonfinite.py" "$tests/test_fuzz.py"
                 "$tests/test_limits.py" "$tests/test_concurrency.py" "$tests/test_fork.py"
                 "$tests/test_errors.py" "$tests/test_isa.py" "$tests/test_threads.py"
                 "$tests/test_forward.py" "$tests/test_gradients.py" "$tests/test_gemm.py"
                 "$tests/test_formats.py" "$tests/test_plan.py") ;;
    custom) args=("${pytest_args[@]}") ;;
esac
status=0
(cd "$work" && python -m pytest "${args[@]}") 2>&1 | tee "$work/pytest.log" || status=$?
[ "${PIPESTATUS[0]}" = 0 ] || status=1

# ASan writes its reports to $logs; GCC's UBSan runtime ignores log_path and writes
# to stderr, which the log above holds.
reports=$(find "$logs" -type f 2>/dev/null | head -20)
if [ -n "$reports" ]; then
    echo "== AddressSanitizer reports:" >&2
    for f in $reports; do echo "--- $f" >&2; head -60 "$f" >&2; done
    status=1
fi
if grep -qE 'runtime error:|ERROR: AddressSanitizer|UndefinedBehaviorSanitizer' "$work/pytest.log"; then
    echo "== sanitizer reports in the test output:" >&2
    grep -E -A20 'runtime error:|ERROR: AddressSanitizer|UndefinedBehaviorSanitizer' \
        "$work/pytest.log" | head -80 >&2
    status=1
fi
end=$(date +%s)
echo "== sanitizer run ($mode): $([ $status -eq 0 ] && echo clean || echo FAILED)," \
     "build $((build_done - start)) s, tests $((end - build_done)) s"
exit $status
