"""A threadpoolctl controller for libxsmmwrap, so that ``threadpoolctl.threadpool_info()``
lists the wrapper next to the BLAS it sits in front of.

threadpoolctl lists the controllers whose library is loaded in the process: libxsmmwrap
appears once it is preloaded or :mod:`xsmmwrap` has bound it. Its kernels run on the calling
thread, so the thread count is always 1 and setting it does nothing; the BLAS behind it keeps
its own controller. Imported by ``xsmmwrap/__init__.py`` only when threadpoolctl is importable.
"""

from __future__ import annotations

import ctypes
from typing import Any

import threadpoolctl  # type: ignore[import-untyped]

if not hasattr(threadpoolctl, "register") or not hasattr(threadpoolctl, "LibController"):
    raise ImportError("threadpoolctl too old: register() and LibController are needed (>= 3.5)")

__all__ = ["XsmmwrapController", "register"]


class _Config(ctypes.Structure):
    """``xsmmwrap_config`` of include/xsmmwrap.h (field for field)."""

    _fields_ = [
        ("max_mnk", ctypes.c_int64),
        ("max_kernels", ctypes.c_int64),
        ("disabled", ctypes.c_int),
        ("jit", ctypes.c_int),
        ("target", ctypes.c_int),
        ("cpu_target", ctypes.c_int),
        ("trylock", ctypes.c_int),
        ("verbosity", ctypes.c_int),
        ("tune_file", ctypes.c_char_p),
        ("tune_state", ctypes.c_int),
        ("tune_reason", ctypes.c_char_p),
        ("tune_entries", ctypes.c_int64),
        ("tune_moved", ctypes.c_int64),
        ("tune_default", ctypes.c_char_p),
    ]


class XsmmwrapController(threadpoolctl.LibController):  # type: ignore[misc]
    """libxsmmwrap in ``threadpool_info()``: version, target, kernel count, and whether
    in-process interposition (``xsmmwrap.enable()``) is on.

    Reads the library instance threadpoolctl found (``self.dynlib``), not a second copy.
    """

    user_api = "xsmmwrap"
    internal_api = "xsmmwrap"
    filename_prefixes = ("libxsmmwrap",)

    def _call(self, name: str, restype: Any, *args: Any) -> Any:
        func = getattr(self.dynlib, name)
        func.restype = restype
        return func(*args)

    def get_num_threads(self) -> int:
        return 1  # each call runs on its caller's thread

    def set_num_threads(self, num_threads: int) -> None:
        """Nothing to set: the kernels use no thread pool."""

    def get_version(self) -> str | None:
        raw = self._call("xsmmwrap_version", ctypes.c_char_p)
        return raw.decode() if isinstance(raw, bytes) else None

    def set_additional_attributes(self) -> None:
        config = _Config()
        ok = self._call("xsmmwrap_get_config", ctypes.c_int, ctypes.byref(config)) == 0
        target = self._call("xsmmwrap_target_name", ctypes.c_char_p, config.target) if ok else None
        self.target = target.decode() if isinstance(target, bytes) else None
        self.kernels = int(self._call("xsmmwrap_kernel_count", ctypes.c_int))
        self.enabled = bool(self._call("xsmmwrap_enabled", ctypes.c_int))
        self.patched_slots = int(self._call("xsmmwrap_patch_count", ctypes.c_int))

    def info(self, debugging_info: bool = False) -> dict[str, Any]:
        # threadpoolctl caches controllers: refresh the counters before each report.
        self.set_additional_attributes()
        return super().info(debugging_info)  # type: ignore[no-any-return]


_registered = False


def register() -> None:
    """Register :class:`XsmmwrapController` with threadpoolctl (once)."""
    global _registered
    if not _registered:
        threadpoolctl.register(XsmmwrapController)
        _registered = True
