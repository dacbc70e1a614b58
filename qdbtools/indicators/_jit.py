"""The numba switch: the kernels of :mod:`._kernels` and :mod:`._kernels_window`, compiled
when numba can be used.

Without numba (or with ``QDBTOOLS_NO_NUMBA=1`` in the environment at import),
:data:`KERNELS` is None and every indicator runs on the numpy path, which gives the same
values to ~1e-15 relative. Compiled kernels are cached on disk (``cache=True``), so only
the first call in a fresh environment pays the compile time.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

from qdbtools.indicators import _kernels, _kernels_window

__all__ = ["ENABLED", "KERNELS", "kernels"]

_OFF = ("1", "true", "yes", "on")


def _compiled() -> SimpleNamespace | None:
    """Every kernel of :mod:`._kernels` and :mod:`._kernels_window` compiled (lazily, on first
    call), or None without numba."""
    if os.environ.get("QDBTOOLS_NO_NUMBA", "").strip().lower() in _OFF:
        return None
    try:
        import numba
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
    modules = (_kernels, _kernels_window)
    return SimpleNamespace(**{n: jit(getattr(m, n)) for m in modules for n in m.__all__})


#: The compiled kernels, by the names of :mod:`._kernels`; None when numba is not used.
KERNELS = _compiled()
ENABLED = KERNELS is not None


def kernels() -> SimpleNamespace:
    """The compiled kernels, for code that runs only when :data:`ENABLED` is true.

    Returns
    -------
    SimpleNamespace
        :data:`KERNELS`, looked up at call time (tests replace it).
    """
    assert KERNELS is not None, "compiled kernels are used only when ENABLED"
    return KERNELS
