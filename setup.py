"""Build the compiled core, pyvmm._core, from native/core.pyx (metadata is in pyproject.toml)."""

import os
import sysconfig

from Cython.Build import cythonize
from setuptools import Extension, setup

# The run loop's threaded dispatch (native/execute.pxi) relies on every
# handler keeping its own indirect jump; GCC's cross-jumping would merge them
# back into one shared jump.
compile_args = ["-O2"]
if "gcc" in os.environ.get("CC", sysconfig.get_config_var("CC") or ""):
    compile_args.append("-fno-crossjumping")

core = Extension(
    "pyvmm._core",
    sources=["native/core.pyx"],
    extra_compile_args=compile_args,
)

setup(
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
