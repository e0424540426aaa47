"""Compile numeric kernels with numba, keeping the machine code on disk.

numba stores compiled code in NUMBA_CACHE_DIR when it is set, else next to the
module (`__pycache__`), else in the user's cache folder: the first of these it can
write. When it can write none of them it refuses caching when the kernel is
defined; the kernel then compiles in memory, once per process, instead.

A cached kernel is recompiled when its own source file changes, not when a
function it calls in another file does: keep a kernel's helpers in its module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

Kernel = TypeVar("Kernel", bound=Callable[..., Any])

# nogil: an optimiser may run kernels on several threads at once.
# error_model "numpy": a division by zero gives inf or nan, as numpy does, instead
# of a Python exception that costs a branch on every division.
_OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy"}


def compiled(function: Kernel) -> Kernel:
    """`function` compiled by numba on its first call, cached on disk if possible."""
    try:
        return cast(Kernel, numba.njit(cache=True, **_OPTIONS)(function))
    except RuntimeError:  # numba found no folder it may write its cache to
        return cast(Kernel, numba.njit(**_OPTIONS)(function))


def inlined(function: Kernel) -> Kernel:
    """`function` for kernels only, copied into each kernel that calls it.

    A call that passes arrays costs reference counting on every call; a helper
    copied into its caller costs none.
    """
    return cast(Kernel, numba.njit(inline="always", **_OPTIONS)(function))


def interpreted(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """The Python function a numba kernel was made from, run by the interpreter.

    For a caller outside the kernels that asks one thing at a time (a live
    runner), this skips the dispatcher's argument checks and its compilation on
    first use, and runs the very same statements.
    """
    return cast(Callable[..., Any], getattr(kernel, "py_func", kernel))
