"""The compiled kernels: cached on disk where possible, in memory where not."""

from __future__ import annotations

from pathlib import Path

import numba.core.caching
import numpy as np
import pytest

from crypto_trader.backtest import _jit, _kernel, indicators


def test_the_kernels_keep_their_machine_code_on_disk() -> None:
    indicators.sma(np.arange(5.0), 2)  # compiled or loaded by now

    for kernel in (_kernel.run, indicators._sma, indicators._crossings):
        cache = kernel._cache
        assert isinstance(cache, numba.core.caching.FunctionCache)
        assert Path(cache.cache_path).is_dir()
    assert any(Path(indicators._sma._cache.cache_path).glob("indicators._sma-*.nbi"))


def test_without_a_writable_cache_folder_kernels_compile_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # numba refuses caching at definition when no locator can write anywhere.
    monkeypatch.setattr(numba.core.caching.CacheImpl, "_locator_classes", [])

    def twice(x: float) -> float:
        return 2.0 * x

    kernel = _jit.compiled(twice)

    assert kernel(21.0) == 42.0
    assert isinstance(kernel._cache, numba.core.caching.NullCache)
