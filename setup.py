"""Build convx's compiled core: the Cython glue in src/_conv.pyx and the C drivers.

OpenMP: the compiler is asked to compile *and link* a small OpenMP program
first. If that works the extension is built with OpenMP; otherwise a serial
library is built and a loud warning printed. CONVX_FAIL_NO_OPENMP=1 turns the
fallback into an error (CI sets it).

Flags: -O3 only. Never -march=native (the package must run on any CPU of its
architecture) and never -ffast-math (it would change results and NaN handling).
"""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy  # noqa: F401  (build requirement; keeps the pyproject honest)
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_TEST = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d %d\\n", n, omp_get_max_threads());
        return n > 0 ? 0 : 1;
    }
    """
)


def _openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP, or None if the toolchain has none."""
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    tmp = tempfile.mkdtemp(prefix="convx-omp-")
    try:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "w") as f:
            f.write(OPENMP_TEST)
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                exe = os.path.join(tmp, "omp_test")
                compiler.link_executable(objs, exe, extra_postargs=lflags)
                subprocess.run([exe], check=True, capture_output=True, timeout=60)
                return cflags, lflags
            except Exception:  # any failure means: not this flag set
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _parallel_compile(compiler, jobs):
    """Compile an extension's sources on `jobs` threads (each runs the compiler as
    a process; distutils compiles them one after another). The loop is
    CCompiler.compile's own; compilers without its hooks stay serial."""
    hooks = ("_setup_compile", "_get_cc_args", "_compile")
    if jobs <= 1 or not all(hasattr(compiler, h) for h in hooks):
        return

    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=False,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
        todo = [(obj, build[obj]) for obj in objects if obj in build]
        # the largest sources first, so that they do not finish last
        todo.sort(key=lambda job: -os.path.getsize(job[1][0]))

        def one(job):
            obj, (src, ext) = job
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with concurrent.futures.ThreadPoolExecutor(min(jobs, max(len(todo), 1))) as pool:
            for _ in pool.map(one, todo):     # (re-raises the first CompileError)
                pass
        return objects

    compiler.compile = compile


def _build_jobs():
    """Compiler processes at once: CONVX_BUILD_JOBS, else the CPUs this process may use."""
    env = os.environ.get("CONVX_BUILD_JOBS", "")
    if env.strip().isdigit():
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class BuildExt(build_ext):
    def build_extensions(self):
        flags = _openmp_flags(self.compiler)
        if flags is None:
            msg = (
                "convx: the C compiler cannot build an OpenMP program; building a SERIAL "
                "library (every operation will use one thread). Install an OpenMP runtime "
                "(e.g. libgomp with gcc, libomp with clang) to get parallel kernels."
            )
            if os.environ.get("CONVX_FAIL_NO_OPENMP", "") not in ("", "0"):
                raise RuntimeError(msg + " (CONVX_FAIL_NO_OPENMP is set)")
            bar = "*" * 78
            print(f"\n{bar}\nWARNING: {msg}\n{bar}\n", file=sys.stderr)
            cflags, lflags = [], []
        else:
            cflags, lflags = flags
            print(f"convx: building with OpenMP ({' '.join(cflags)})")
        opt = ["/O2"] if self.compiler.compiler_type == "msvc" else ["-O3"]
        for ext in self.extensions:
            ext.extra_compile_args = opt + cflags + list(ext.extra_compile_args)
            ext.extra_link_args = lflags + list(ext.extra_link_args)
        _parallel_compile(self.compiler, _build_jobs())
        super().build_extensions()


extensions = [
    Extension(
        "convx._conv",
        sources=["src/_conv.pyx",
                 "src/cx_conv_f32.c", "src/cx_conv_f32_avx2.c", "src/cx_conv_f32_avx512.c",
                 "src/cx_conv_f64.c", "src/cx_conv_f64_avx2.c", "src/cx_conv_f64_avx512.c",
                 "src/cx_conv_dispatch.c", "src/cx_dispatch.c", "src/cx_ukernels_x86.c",
                 "src/cx_info.c"],
        include_dirs=["src"],
        depends=["src/cx_conv.h", "src/cx_gemm.h", "src/cx_gemm_impl.h", "src/cx_conv_impl.h",
                 "src/cx_direct_impl.h", "src/cx_nhwc_impl.h", "src/cx_ukernel_simd_impl.h", "src/_cx.pxd"],
    )
]

# ---- CONVX_SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer build -------------
# For tools/sanitize.sh (see its header for how to run Python under it). Any report
# aborts (-fno-sanitize-recover=all); -g for line numbers; -fno-wrapv undoes the -fwrapv
# in Python's CFLAGS, which would make signed overflow defined and so unchecked.
if os.environ.get("CONVX_SANITIZE", "") not in ("", "0"):
    _sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                 "-fno-omit-frame-pointer", "-g", "-fno-wrapv"]
    for _ext in extensions:
        _ext.extra_compile_args = list(_ext.extra_compile_args) + _sanitize
        _ext.extra_link_args = list(_ext.extra_link_args) + _sanitize
    print("convx: building with AddressSanitizer and UndefinedBehaviorSanitizer")
# ---- end CONVX_SANITIZE -----------------------------------------------------------------

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={"language_level": "3"},
    ),
    cmdclass={"build_ext": BuildExt},
)
