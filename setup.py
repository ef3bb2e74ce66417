"""Build the compiled core, pyvmm._core, from native/core.pyx (metadata is in pyproject.toml)."""

import os
import sysconfig

from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

# The run loop's threaded dispatch (native/execute.pxi) relies on every
# handler keeping its own indirect jump; GCC's cross-jumping would merge them
# back into one shared jump.
# The F/D semantics (native/fpu.pxi) change the host's rounding mode and read
# its exception flags between operations: GCC must not fold, move or drop
# floating-point operations as if the environment were fixed
# (-frounding-math, -fsignaling-nans); -fno-math-errno lets sqrt be the host
# instruction; fast-math stays off.
compile_args = ["-O2", "-frounding-math", "-fsignaling-nans", "-fno-math-errno"]
if "gcc" in os.environ.get("CC", sysconfig.get_config_var("CC") or ""):
    compile_args.append("-fno-crossjumping")

core = Extension(
    "pyvmm._core",
    sources=["native/core.pyx"],
    extra_compile_args=compile_args,
    libraries=["m"],
)

# The guests (guests/ of the checkout) install as the package data of
# pyvmm.guests, so an installed pyvmm runs the README's examples and its
# benchmarks from any directory (pyvmm.resources finds them).
GUEST_FILES = ["*.S", "*.md"] + [f"{depth}*.{ext}" for depth in ("*/", "*/*/")
                                 for ext in ("S", "inc", "h", "c", "ld", "elf", "md")] \
    + ["*/Makefile", "linux/init", "linux/applets.sh"]

setup(
    packages=find_packages(include=["pyvmm", "pyvmm.*"]) + ["pyvmm.guests"],
    package_dir={"pyvmm.guests": "guests"},
    package_data={"pyvmm.guests": GUEST_FILES,
                  "pyvmm.bench": ["guests/*.S"]},     # the 2D-walk microbenchmark's guest
    ext_modules=cythonize(
        [core],
        include_path=["native"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
