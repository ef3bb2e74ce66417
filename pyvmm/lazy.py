"""Package names imported when first used, so that `pyvmm run --help`, a
usage error or a run that needs none of them never loads their modules."""

import importlib


def lazy_exports(package, exports, namespace):
    """(__getattr__, __dir__) for a package whose names `exports` maps to the
    modules that define them; a name is imported on first use and kept in
    the package's `namespace` (its globals) from then on."""
    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
