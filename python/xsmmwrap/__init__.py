"""xsmmwrap: look inside libxsmmwrap, the BLAS GEMM call wrapper, and call it directly.

The library is loaded on first use: the instance already in the process when it was
preloaded (``LD_PRELOAD``, e.g. by ``xsmmwrap run``), else the bundled ``libxsmmwrap.so``
(or the file named by ``XSMMWRAP_LIBRARY``). See :mod:`xsmmwrap._lib`.

This module only gathers the API; each concern has a module of its own:

======================  ============================================================
``_lib``                loading the library (cffi), its paths, errors
``_config``             configuration, verbosity, version
``_stats``              statistics and the kernels of the registry
``_gemm``               :func:`gemm`, numpy arrays through the library's routing
``interpose``           :func:`enable` and :func:`disable`, without ``LD_PRELOAD``
``_threadpoolctl``      the wrapper in ``threadpoolctl.threadpool_info()``
``cli``, ``merge``      the ``xsmmwrap`` command; ``xsmmwrap.tools`` its samples,
                        benchmarks, plots, tests and tuning, loaded by the command only
======================  ============================================================

Module attributes
-----------------
verbosity : int
    The library's verbosity, readable and settable at run time (``xsmmwrap.verbosity = 2``).
__version__ : str
    The library's version string.
"""

from __future__ import annotations

import contextlib
import sys
import types

from ._config import Config, config, get_verbosity, set_verbosity
from ._config import version as _version
from ._gemm import gemm
from ._lib import (
    XsmmwrapError,
    include_path,
    is_preloaded,
    library_path,
    static_library_path,
)
from ._stats import FamilyStats, KernelInfo, Stats, kernels, reset_stats, stats, write_json
from .interpose import disable, enable, enabled, is_enabled

__all__ = [
    "Config",
    "FamilyStats",
    "KernelInfo",
    "Stats",
    "XsmmwrapError",
    "__version__",
    "config",
    "disable",
    "enable",
    "enabled",
    "gemm",
    "get_verbosity",
    "include_path",
    "is_enabled",
    "is_preloaded",
    "kernels",
    "library_path",
    "reset_stats",
    "set_verbosity",
    "static_library_path",
    "stats",
    "verbosity",
    "write_json",
]

# Provided by _Module properties below (annotations only, for type checkers).
__version__: str
verbosity: int

# What this module defined before the API had modules by concern stays xsmmwrap's (help(),
# pickle, reprs); XsmmwrapError and interposition's names were always their modules'.
for _obj in (Config, FamilyStats, KernelInfo, Stats, config, gemm, get_verbosity, include_path,
             is_preloaded, kernels, library_path, reset_stats, set_verbosity, static_library_path,
             stats, write_json):  # fmt: skip
    _obj.__module__ = __name__
del _obj


class _Module(types.ModuleType):
    """Module type giving ``xsmmwrap`` its run-time properties."""

    @property
    def verbosity(self) -> int:
        return get_verbosity()

    @verbosity.setter
    def verbosity(self, level: int) -> None:
        set_verbosity(level)

    @property
    def __version__(self) -> str:
        return _version()

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), "verbosity", "__version__"})


sys.modules[__name__].__class__ = _Module

# List libxsmmwrap in threadpoolctl.threadpool_info() from now on, when threadpoolctl is there.
with contextlib.suppress(ImportError):  # threadpoolctl is not installed, or too old
    from ._threadpoolctl import register as _register

    _register()
