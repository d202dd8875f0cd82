"""The library's configuration, verbosity and version, and the names of its targets.

What the library decided at first use from the environment (:func:`config`), the one setting
that changes at run time (the verbosity), and the version string. Re-exported by
:mod:`xsmmwrap`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _lib

__all__ = ["Config", "config", "get_verbosity", "set_verbosity", "target_name", "version"]


def target_name(target: int) -> str:
    """The library's name of an ``xsmmwrap_target`` ("generic", "avx2", "avx512")."""
    return _lib.text(_lib.binding().lib.xsmmwrap_target_name(target)) or str(target)


def version() -> str:
    """The library's version string (``xsmmwrap.__version__``)."""
    return _lib.text(_lib.binding().lib.xsmmwrap_version())


def get_verbosity() -> int:
    """Current verbosity of the library (``LIBXSMM_VERBOSE``)."""
    return int(_lib.binding().lib.xsmmwrap_get_verbosity())


def set_verbosity(level: int) -> None:
    """Change the verbosity at run time; it decides what the library prints at exit.

    Parameters
    ----------
    level : int
        0 is silent; higher levels print more.
    """
    _lib.check(_lib.binding().lib.xsmmwrap_set_verbosity(int(level)))


@dataclass(frozen=True)
class Config:
    """The configuration in effect, read once from the environment at first use.

    Attributes
    ----------
    max_mnk : int
        Largest M*N*K served by a kernel (``XSMMWRAP_MAX_MNK``), in real multiply-adds: a
        complex call is served up to 4*M*N*K = max_mnk.
    max_kernels : int
        Registry capacity (``XSMMWRAP_MAX_KERNELS``).
    disabled : bool
        ``XSMMWRAP_DISABLE``.
    jit : bool
        ``XSMMWRAP_JIT`` (False: portable kernel only).
    target : str
        Target in use ("generic", "avx2", "avx512").
    cpu_target : str
        Best target the CPU and OS support.
    trylock : bool
        ``LIBXSMM_TRYLOCK``.
    verbosity : int
        ``LIBXSMM_VERBOSE`` / ``XSMMWRAP_VERBOSE``.
    tune_file : str or None
        The tuning file read (``XSMMWRAP_TUNE``, else this CPU's cache file when it exists).
    tune_state : str
        "none", "in use" or "ignored" (then ``tune_reason`` says why).
    tune_reason : str
        Why the tuning file is ignored ("" otherwise).
    tune_entries : int
        Descriptors the file names, when in use.
    tune_moved : int
        Of those, the ones whose choice differs from the default routing here: only their
        calls are routed by the file (and counted as following it).
    tune_default : str or None
        This CPU's per-user cache file (``xsmmwrap tune`` writes it by default).
    """

    max_mnk: int
    max_kernels: int
    disabled: bool
    jit: bool
    target: str
    cpu_target: str
    trylock: bool
    verbosity: int
    tune_file: str | None = None
    tune_state: str = "none"
    tune_reason: str = ""
    tune_entries: int = 0
    tune_moved: int = 0
    tune_default: str | None = None


def _tune_state(state: int) -> str:
    """"none", "in use", "ignored": the header's name of the state (``xsmmwrap_tune_state``)
    without its prefix, in lower case."""
    name = _lib.declarations().typeof("xsmmwrap_tune_state").elements.get(state)
    return name.split("_", 2)[2].replace("_", " ").lower() if name else str(state)


def config() -> Config:
    """The library's configuration."""
    b = _lib.binding()
    raw = b.ffi.new("xsmmwrap_config *")
    _lib.check(b.lib.xsmmwrap_get_config(raw))
    return Config(
        max_mnk=int(raw.max_mnk),
        max_kernels=int(raw.max_kernels),
        disabled=bool(raw.disabled),
        jit=bool(raw.jit),
        target=target_name(int(raw.target)),
        cpu_target=target_name(int(raw.cpu_target)),
        trylock=bool(raw.trylock),
        verbosity=int(raw.verbosity),
        tune_file=_lib.text(raw.tune_file) or None,
        tune_state=_tune_state(int(raw.tune_state)),
        tune_reason=_lib.text(raw.tune_reason),
        tune_entries=int(raw.tune_entries),
        tune_moved=int(raw.tune_moved),
        tune_default=_lib.text(raw.tune_default) or None,
    )
