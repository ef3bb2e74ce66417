"""Build the compiled core, pyvmm._core, from native/core.pyx (metadata is in pyproject.toml)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension(
    "pyvmm._core",
    sources=["native/core.pyx"],
    extra_compile_args=["-O2"],
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
