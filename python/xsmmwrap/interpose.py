"""Redirect the GEMM calls of a running Python to libxsmmwrap, without ``LD_PRELOAD``.

:func:`enable` loads the library into the process (see :mod:`xsmmwrap._lib`) and calls
``xsmmwrap_enable()``: every loaded object that calls a GEMM name (numpy's
``_multiarray_umath``, scipy's ``_fblas``, ``cython_blas``, ...) has the slot it calls through
rewritten to point at libxsmmwrap, whose declined calls go on to the function the slot held.
The BLAS libraries themselves are left alone. :func:`disable` writes the saved values back.
See ``docs/INTERPOSE.md`` for the mechanism and its limits.

Extension modules imported after :func:`enable` are covered too: a finder placed first on
``sys.meta_path`` gives extension modules a loader that runs ``xsmmwrap_enable()`` again once
the module is loaded (cheap: only objects not seen before are looked at). :func:`disable`
removes it. Shared libraries loaded by other means after :func:`enable` (``ctypes.CDLL``) are
covered by calling :func:`enable` again.

Under ``LD_PRELOAD`` the calls reach libxsmmwrap already; :func:`enable` then finds nothing
to redirect and returns an empty list.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from . import _lib

__all__ = [
    "InterposeError",
    "disable",
    "enable",
    "enabled",
    "is_enabled",
    "patches",
    "skipped",
]

Pair = tuple[str, str]

# One lock for enable/disable and the import hook. Re-entrant: an import inside enable()
# (first use of the library) runs the hook on the same thread.
_lock = threading.RLock()


class InterposeError(RuntimeError):
    """Interposition is unavailable, or some objects could not be redirected.

    Attributes
    ----------
    skipped : list[tuple[str, str]]
        (object path, reason) for each slot that was not redirected.
    patched : list[tuple[str, str]]
        (object path, symbol) redirected anyway; they stay redirected until :func:`disable`.
    """

    def __init__(
        self, message: str, skipped: Sequence[Pair] = (), patched: Sequence[Pair] = ()
    ) -> None:
        super().__init__(message)
        self.skipped = list(skipped)
        self.patched = list(patched)


def _pairs(count: Any, get: Any) -> list[Pair]:
    ffi = _lib.binding().ffi
    first = ffi.new("char **")
    second = ffi.new("char **")
    result: list[Pair] = []
    for i in range(int(count())):
        if get(i, first, second) != 0:
            break  # the list shrank meanwhile (another thread called disable())
        pair = (_lib.text(first[0]), _lib.text(second[0]))
        if pair not in result:
            result.append(pair)
    return result


def patches() -> list[Pair]:
    """(object path, symbol) for each object and GEMM name redirected now, in load order."""
    if not _lib.is_loaded():  # never loaded: nothing can be redirected
        return []
    lib = _lib.binding().lib
    return _pairs(lib.xsmmwrap_patch_count, lib.xsmmwrap_patch_get)


def skipped() -> list[Pair]:
    """(object path, reason) for each slot :func:`enable` found but could not redirect."""
    if not _lib.is_loaded():
        return []
    lib = _lib.binding().lib
    return _pairs(lib.xsmmwrap_skip_count, lib.xsmmwrap_skip_get)


def _describe(skips: Sequence[Pair]) -> str:
    return "; ".join(f"{path}: {reason}" for path, reason in skips)


def _enable_locked() -> None:
    lib = _lib.binding().lib
    rc = int(lib.xsmmwrap_enable())
    if rc == int(lib.XSMMWRAP_EINVAL):
        raise InterposeError(
            "xsmmwrap.enable(): in-process interposition needs x86-64 Linux and the shared "
            "libxsmmwrap.so"
        )
    _lib.check(rc)


# --- the import hook ----------------------------------------------------------------------


def _after_load() -> None:
    """Redirect the objects a module import just loaded; warn about what cannot be."""
    with _lock:
        if _finder is None:  # disabled meanwhile
            return
        lib = _lib.binding().lib
        before = int(lib.xsmmwrap_skip_count())
        rc = int(lib.xsmmwrap_enable())
        grew = rc == 0 and int(lib.xsmmwrap_skip_count()) > before
        new = skipped()[before:] if grew else []
    if rc != 0:
        message = _lib.text(lib.xsmmwrap_strerror(rc))
        warnings.warn(f"xsmmwrap: enable() after an import failed: {message}", stacklevel=3)
    elif new:
        warnings.warn(f"xsmmwrap: not redirected: {_describe(new)}", stacklevel=3)


class _ExtensionLoader(importlib.machinery.ExtensionFileLoader):
    """The standard extension loader, then :func:`_after_load` (still an ExtensionFileLoader
    for code that checks)."""

    def exec_module(self, module: ModuleType) -> None:
        try:
            super().exec_module(module)
        finally:
            _after_load()  # even on failure: the shared object may stay loaded


class _LoaderProxy(importlib.abc.Loader):
    """Another loader of an extension file, then :func:`_after_load`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._inner.exec_module(module)
        finally:
            _after_load()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


_searching = threading.local()


class _Finder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: asks the finders after it, and gives the specs of extension
    modules a loader that redirects what the module loaded."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if getattr(_searching, "active", False):
            return None  # a finder below imports something itself: let it go its own way
        _searching.active = True
        try:
            finders = list(sys.meta_path)
            start = finders.index(self) + 1 if self in finders else len(finders)
            spec: importlib.machinery.ModuleSpec | None = None
            for finder in finders[start:]:
                find = getattr(finder, "find_spec", None)
                if find is not None:
                    spec = find(fullname, path, target)
                    if spec is not None:
                        break
        finally:
            _searching.active = False
        if spec is None:
            return None
        origin = spec.origin or ""
        loader = spec.loader
        if loader is None or not origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            return spec  # what the import system would have found itself, unchanged
        if type(loader) is importlib.machinery.ExtensionFileLoader:
            spec.loader = _ExtensionLoader(loader.name, loader.path)
        elif not isinstance(loader, (_ExtensionLoader, _LoaderProxy)):
            spec.loader = _LoaderProxy(loader)
        return spec


_finder: _Finder | None = None


def _install_finder() -> None:
    global _finder
    if _finder is None:
        _finder = _Finder()
        sys.meta_path.insert(0, _finder)


def _remove_finder() -> None:
    global _finder
    if _finder is not None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(_finder)
        _finder = None


# --- the API ------------------------------------------------------------------------------


def enable(*, strict: bool = True) -> list[Pair]:
    """Redirect the GEMM calls of every loaded object, and of extension modules imported later,
    to libxsmmwrap. Idempotent; safe while other threads call GEMM.

    Parameters
    ----------
    strict : bool
        Raise :class:`InterposeError` when some object calls a GEMM name through a slot that
        could not be redirected (the reasons are in the exception and :func:`skipped`). The
        redirections that succeeded stay in place either way. With ``strict=False`` such
        objects are only reported by :func:`skipped`.

    Returns
    -------
    list[tuple[str, str]]
        (object path, symbol) for each object and GEMM name redirected (all of them, also
        those redirected by earlier calls).

    Raises
    ------
    InterposeError
        When interposition is unavailable here, or (``strict``) when a slot was skipped.
    """
    with _lock:
        _enable_locked()
        _install_finder()
        done = patches()
        bad = skipped()
    if bad and strict:
        raise InterposeError(
            f"xsmmwrap.enable(): could not redirect: {_describe(bad)} (the other "
            f"{len(done)} redirections are active; disable() undoes them)",
            bad,
            done,
        )
    return done


def disable() -> None:
    """Undo :func:`enable`: every redirected slot gets its original value back and modules
    imported from now on are left alone. Idempotent; safe while other threads call GEMM."""
    with _lock:
        _remove_finder()
        if not _lib.is_loaded():
            return
        _lib.check(_lib.binding().lib.xsmmwrap_disable())


def is_enabled() -> bool:
    """True between :func:`enable` and :func:`disable`."""
    if not _lib.is_loaded():
        return False
    return bool(_lib.binding().lib.xsmmwrap_enabled())


@contextlib.contextmanager
def enabled(*, strict: bool = True) -> Iterator[list[Pair]]:
    """Context manager: :func:`enable` on entry and, unless it was enabled already,
    :func:`disable` on exit (also when ``enable`` raises).

    Yields
    ------
    list[tuple[str, str]]
        What :func:`enable` returned.
    """
    was_enabled = is_enabled()
    try:
        pairs = enable(strict=strict)
    except BaseException:
        if not was_enabled:
            disable()
        raise
    try:
        yield pairs
    finally:
        if not was_enabled:
            disable()
