"""cffi (ABI mode) binding of libxsmmwrap; the only module that imports cffi.

The declarations are the block between ``/* XSMMWRAP_CDEF_BEGIN */`` and
``/* XSMMWRAP_CDEF_END */`` of ``xsmmwrap.h``, looked up in the package directory
(``include/xsmmwrap.h``) and then in a source checkout (``../../include``).

Which copy of the library is bound, on first use:

1. the copy already in the process (``LD_PRELOAD`` or loaded globally): found with
   ``dlopen(NULL)`` when it resolves ``xsmmwrap_version``. Binding that instance keeps one
   registry and one set of statistics; a second copy is never loaded next to it;
2. else the file named by the environment variable ``XSMMWRAP_LIBRARY`` when it is set
   (for a build tree before installation, e.g. ``XSMMWRAP_LIBRARY=build/libxsmmwrap.so``);
3. else the ``libxsmmwrap.so`` bundled in the package directory.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cffi

__all__ = [
    "Binding",
    "XsmmwrapError",
    "binding",
    "check",
    "declarations",
    "header_path",
    "include_path",
    "instance",
    "is_loaded",
    "is_preloaded",
    "library_path",
    "load_early",
    "package_file",
    "static_library_path",
    "text",
]

LIBRARY_ENV = "XSMMWRAP_LIBRARY"
_PKG_DIR = Path(__file__).resolve().parent
_BEGIN = "/* XSMMWRAP_CDEF_BEGIN */"
_END = "/* XSMMWRAP_CDEF_END */"


class XsmmwrapError(RuntimeError):
    """A libxsmmwrap function returned a nonzero status.

    Attributes
    ----------
    status : int
        The ``xsmmwrap_status`` code.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"xsmmwrap error {status}: {message}")
        self.status = status


def package_file(*parts: str) -> Path:
    """Path of a file installed in the package (works for meson-python editable installs).

    Raises
    ------
    FileNotFoundError
        When the file is not there.
    """
    candidates: list[Path] = []
    found: Any
    try:
        found = resources.files(__package__ or "xsmmwrap")
        for part in parts:  # one at a time: Traversable.joinpath takes one name before 3.11
            found = found.joinpath(part)
    except (ModuleNotFoundError, TypeError, ValueError):
        found = None
    if isinstance(found, Path):
        candidates.append(found)
    candidates.append(_PKG_DIR.joinpath(*parts))
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(f"{'/'.join(parts)} is not installed in {_PKG_DIR}")


def library_path() -> Path:
    """Path of the shared library, for ``LD_PRELOAD``.

    Returns
    -------
    pathlib.Path
        The bundled ``libxsmmwrap.so``, or ``$XSMMWRAP_LIBRARY`` when that is set.
    """
    override = os.environ.get(LIBRARY_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{LIBRARY_ENV}={override}: no such file")
        return path.resolve()
    return package_file("libxsmmwrap.so")


def static_library_path() -> Path:
    """Path of the bundled static library ``libxsmmwrap.a`` (for linking with ``--wrap``);
    next to ``$XSMMWRAP_LIBRARY`` when that is set and has one.

    Raises
    ------
    FileNotFoundError
        When the static library is not installed.
    """
    override = os.environ.get(LIBRARY_ENV)
    if override:
        path = Path(override).expanduser().resolve().with_name("libxsmmwrap.a")
        if path.is_file():
            return path
    return package_file("libxsmmwrap.a")


def header_path() -> Path:
    """``xsmmwrap.h``: in the package's include directory, else in the source checkout."""
    try:
        return package_file("include", "xsmmwrap.h")
    except FileNotFoundError:
        path = _PKG_DIR.parent.parent / "include" / "xsmmwrap.h"
        if path.is_file():
            return path
        raise FileNotFoundError(
            f"xsmmwrap.h not found in {_PKG_DIR / 'include'} nor {path.parent}"
        ) from None


def include_path() -> Path:
    """Directory holding ``xsmmwrap.h`` (for ``-I``)."""
    return header_path().parent


def _cdef(header: str) -> str:
    start = header.find(_BEGIN)
    end = header.find(_END, start)
    if start < 0 or end < 0:
        raise RuntimeError("xsmmwrap.h has no XSMMWRAP_CDEF_BEGIN/END block")
    return header[start + len(_BEGIN) : end]


@dataclass(frozen=True)
class Binding:
    """The bound library: ``ffi``, ``lib``, and where it came from."""

    ffi: Any  #: the cffi.FFI (typed Any: cffi's stubs do not know the cdef'd structs)
    lib: Any
    preloaded: bool  #: True when the instance already in the process was bound
    path: Path | None  #: file loaded by this module (None when preloaded)


_lock = threading.Lock()  # taken to bind
_binding: Binding | None = None
_ffi_lock = threading.Lock()  # taken to parse the declarations (also while binding)
_ffi: Any = None


def declarations() -> Any:
    """The cffi.FFI holding the header's declarations (parsed once, shared by every handle)."""
    global _ffi
    with _ffi_lock:
        if _ffi is None:
            ffi = cffi.FFI()
            ffi.cdef(_cdef(header_path().read_text(encoding="utf-8")))
            _ffi = ffi
        return _ffi


def _load() -> Binding:
    ffi = declarations()
    try:
        lib: Any = ffi.dlopen(None)
        lib.xsmmwrap_version  # noqa: B018  (raises when the library is not in the process)
    except (AttributeError, OSError, NotImplementedError):
        pass
    else:
        return Binding(ffi, lib, True, None)
    path = library_path()
    return Binding(ffi, ffi.dlopen(str(path)), False, path)


def load_early() -> None:
    """Put the library in the process now (no binding yet), so that tools that list loaded
    libraries (threadpoolctl) see it from ``import xsmmwrap`` on. Cheap: a dlopen without
    cffi's parse of the header; the binding made on first use then finds the same instance.
    Does nothing when an instance is already in the process, or none can be loaded."""
    import ctypes

    try:
        ctypes.CDLL(None).xsmmwrap_version  # noqa: B018  (preloaded, or loaded globally)
    except AttributeError:
        try:
            ctypes.CDLL(str(library_path()))
        except OSError:
            pass


def binding() -> Binding:
    """Load the library on first use (see the module docstring) and return the binding."""
    global _binding
    if _binding is None:
        with _lock:
            if _binding is None:
                _binding = _load()
    return _binding


def is_loaded() -> bool:
    """Whether this module has bound the library yet (nothing is loaded to answer)."""
    return _binding is not None


def is_preloaded() -> bool:
    """Whether the library was already in the process (``LD_PRELOAD``, ``xsmmwrap run``).

    When it was, statistics and kernels are those of the program's own GEMM calls.
    """
    return bool(binding().preloaded)


def instance(path: str) -> Binding:
    """The copy of the library at ``path`` that is already in the process (the one a tool such
    as threadpoolctl found), bound with the header's declarations like :func:`binding`'s.

    Raises
    ------
    OSError
        When no library at ``path`` is loaded (this call loads nothing).
    """
    ffi = declarations()
    return Binding(ffi, ffi.dlopen(path, ffi.RTLD_NOW | ffi.RTLD_NOLOAD), True, None)


def text(ptr: Any) -> str:
    """A C string returned by the library as ``str`` ("" for NULL; bad bytes replaced)."""
    ffi = declarations()
    if ptr == ffi.NULL:
        return ""
    value = ffi.string(ptr)
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def check(rc: int) -> int:
    """Return ``rc`` when it is 0 (success), else raise :class:`XsmmwrapError`."""
    if rc != 0:
        raise XsmmwrapError(rc, text(binding().lib.xsmmwrap_strerror(rc)))
    return rc
