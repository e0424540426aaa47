"""The candle store: one Parquet file per series under the home's `candles/`.

Files live at `candles/<exchange>/<BASE>-<QUOTE>/<timeframe>.parquet`, folders
0700 and files 0600. Every change is a whole-file atomic replace done under one
lock for the store (`candles/.lock`), so writers never lose each other's candles
and a reader sees the old file or the new one, never a half-written one. A
temporary file left by a crash is ignored by readers and deleted by the next
write to that series.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from crypto_trader.errors import InputError, NotFoundError
from crypto_trader.home import Home
from crypto_trader.market_data import parquet_file
from crypto_trader.market_data.candle_checks import first_invalid
from crypto_trader.market_data.candles import Candles, Int64Array, merge, sort_unique
from crypto_trader.market_data.gaps import Gap, find_gaps
from crypto_trader.market_data.series import SERIES_SUFFIX, SeriesId, series_from_path
from crypto_trader.market_data.timestamps import format_timestamp_ms
from crypto_trader.secure_fs import ensure_private_dir, exclusive_lock

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """What a stored series holds: its span, its size and its gaps."""

    series: SeriesId
    first_ms: int
    last_ms: int
    candles: int
    gaps: tuple[Gap, ...]

    def to_json(self) -> dict[str, object]:
        """The object `data list --json` prints for this series."""
        return {
            "exchange": self.series.exchange,
            "symbol": str(self.series.symbol),
            "timeframe": str(self.series.timeframe),
            "first": format_timestamp_ms(self.first_ms),
            "last": format_timestamp_ms(self.last_ms),
            "candles": self.candles,
            "gaps": [gap.to_json() for gap in self.gaps],
        }


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What a merge changed: candles added and replaced, and the series after it."""

    added: int
    replaced: int
    summary: SeriesSummary


class CandleStore:
    """Stored candle series under one folder (a home's `candles/`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_home(cls, home: Home) -> CandleStore:
        """The store of an installation."""
        return cls(home.candles)

    def path(self, series: SeriesId) -> Path:
        """The file that holds `series` (it may not exist)."""
        return self.root.joinpath(*series.relative_path.parts)

    def exists(self, series: SeriesId) -> bool:
        """Whether `series` has stored candles."""
        return self.path(series).is_file()

    def load(self, series: SeriesId) -> Candles:
        """Every stored candle of `series`, sorted; raises NotFoundError if none."""
        return parquet_file.read_candles(self._existing(series))

    def summary(self, series: SeriesId) -> SeriesSummary:
        """The span, size and gaps of a stored series."""
        timestamps = parquet_file.read_timestamps(self._existing(series))
        return summarize(series, timestamps)

    def series(self) -> list[SeriesId]:
        """Every stored series, by exchange, symbol and timeframe."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.glob(f"*/*/*{SERIES_SUFFIX}"):
            relative = PurePosixPath(*path.relative_to(self.root).parts)
            series = series_from_path(relative)
            if series is not None and path.is_file():
                found.append(series)
        return sorted(found, key=SeriesId.sort_key)

    def summaries(self) -> list[SeriesSummary]:
        """The summary of every stored series."""
        return [self.summary(series) for series in self.series()]

    def merge(self, series: SeriesId, candles: Candles) -> MergeResult:
        """Add `candles` (in any order) to `series`; on equal open times the new wins.

        The candles are checked first (InputError names the first bad one) and
        nothing is stored unless all pass. Merging no candles into a series that
        does not exist is an InputError.
        """
        new, _ = sort_unique(candles)
        with self._locked():
            path = self.path(series)
            stored = parquet_file.read_candles(path) if path.is_file() else None
            if stored is None and len(new) == 0:
                raise InputError(f"no candles to store for {series}")
            anchor = None if stored is None else int(stored.timestamp_ms[0])
            self._check(series, new, anchor)
            if stored is None:
                merged, replaced = new, 0
            else:
                merged, replaced = merge(stored, new)
            if merged is not stored:
                parquet_file.write_candles(self._prepared(series), merged)
        added = len(merged) - (0 if stored is None else len(stored))
        log.info("stored %d candles in %s (%d new)", len(new), series, added)
        return MergeResult(added, replaced, summarize(series, merged.timestamp_ms))

    def remove(self, series: SeriesId) -> None:
        """Delete a stored series, and its folders once they are empty."""
        with self._locked():
            path = self._existing(series)
            path.unlink()
            self._delete_temp_files(path)
            for folder in (path.parent, path.parent.parent):
                if any(folder.iterdir()):
                    break
                folder.rmdir()
        log.info("removed %s", series)

    def _existing(self, series: SeriesId) -> Path:
        path = self.path(series)
        if not path.is_file():
            raise NotFoundError(
                f"no candles stored for {series}; see `crypto-trader data list`"
            )
        return path

    def _prepared(self, series: SeriesId) -> Path:
        """The series' path, its folders made private, crash leftovers deleted."""
        folder = self.root
        for part in series.relative_path.parts[:-1]:
            folder = ensure_private_dir(folder / part)
        path = folder / series.relative_path.name
        self._delete_temp_files(path)
        return path

    @staticmethod
    def _delete_temp_files(path: Path) -> None:
        # Under the store's lock no write is under way: any temporary file is
        # the remains of a crash.
        for leftover in path.parent.glob(f".{path.name}.*"):
            if parquet_file.is_temp_file(leftover.name):
                leftover.unlink(missing_ok=True)

    @staticmethod
    def _check(series: SeriesId, candles: Candles, anchor: int | None) -> None:
        finding = first_invalid(candles, series.timeframe, anchor)
        if finding is not None:
            raise InputError(
                f"{series}, candle {finding.index + 1} of {len(candles)} "
                f"(by open time): {finding.reason}; nothing was stored"
            )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        ensure_private_dir(self.root)
        with exclusive_lock(self.root / LOCK_NAME):
            yield


def summarize(series: SeriesId, timestamps_ms: Int64Array) -> SeriesSummary:
    """The summary of `series` from its sorted, unique, non-empty open times."""
    return SeriesSummary(
        series,
        int(timestamps_ms[0]),
        int(timestamps_ms[-1]),
        len(timestamps_ms),
        tuple(find_gaps(timestamps_ms, series.timeframe.ms)),
    )
