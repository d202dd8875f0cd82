"""A threadpoolctl controller for libxsmmwrap, so that ``threadpoolctl.threadpool_info()``
lists the wrapper next to the BLAS it sits in front of.

threadpoolctl lists the controllers whose library is loaded in the process: :func:`register`
(called by ``import xsmmwrap`` when threadpoolctl is importable) registers the controller and
puts the library in the process, so it is listed from the import on. Its kernels run on the
calling thread, so the thread count is always 1 and setting it does nothing; the BLAS behind
it keeps its own controller.

The controller reads the library instance threadpoolctl found, through the header's
declarations (:func:`xsmmwrap._lib.instance`): no second spelling of ``xsmmwrap_config``.
"""

from __future__ import annotations

from typing import Any

import threadpoolctl  # type: ignore[import-untyped]

from . import _lib

if not hasattr(threadpoolctl, "register") or not hasattr(threadpoolctl, "LibController"):
    raise ImportError("threadpoolctl too old: register() and LibController are needed (>= 3.5)")

__all__ = ["XsmmwrapController", "register"]


class XsmmwrapController(threadpoolctl.LibController):  # type: ignore[misc]
    """libxsmmwrap in ``threadpool_info()``: version, target, kernel count, and whether
    in-process interposition (``xsmmwrap.enable()``) is on.

    Reads the library instance threadpoolctl found (``self.filepath``), not a second copy.
    """

    user_api = "xsmmwrap"
    internal_api = "xsmmwrap"
    filename_prefixes = ("libxsmmwrap",)

    def _bound(self) -> _lib.Binding:
        """The instance at ``self.filepath`` (already in the process), bound once."""
        bound: _lib.Binding | None = getattr(self, "_binding", None)
        if bound is None:
            bound = self._binding = _lib.instance(str(self.filepath))
        return bound

    def get_num_threads(self) -> int:
        return 1  # each call runs on its caller's thread

    def set_num_threads(self, num_threads: int) -> None:
        """Nothing to set: the kernels use no thread pool."""

    def get_version(self) -> str | None:
        return _lib.text(self._bound().lib.xsmmwrap_version()) or None

    def set_additional_attributes(self) -> None:
        ffi, lib = self._bound().ffi, self._bound().lib
        config = ffi.new("xsmmwrap_config *")
        self.target = None
        if lib.xsmmwrap_get_config(config) == 0:
            self.target = _lib.text(lib.xsmmwrap_target_name(config.target)) or None
        self.kernels = int(lib.xsmmwrap_kernel_count())
        self.enabled = bool(lib.xsmmwrap_enabled())
        self.patched_slots = int(lib.xsmmwrap_patch_count())

    def info(self, debugging_info: bool = False) -> dict[str, Any]:
        # threadpoolctl caches controllers: refresh the counters before each report.
        self.set_additional_attributes()
        return super().info(debugging_info)  # type: ignore[no-any-return]


_registered = False


def register() -> None:
    """Register :class:`XsmmwrapController` with threadpoolctl (once), and put the library in
    the process (:func:`xsmmwrap._lib.load_early`): threadpoolctl lists loaded libraries."""
    global _registered
    if not _registered:
        threadpoolctl.register(XsmmwrapController)
        _registered = True
    _lib.load_early()
