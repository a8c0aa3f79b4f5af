"""Per-target series cache and staleness tracking: from a parsed scrape to one ``Appender.append`` call.

``series_key -> store ref`` (or :data:`DROPPED`) lets steady-state scrapes skip label parsing, the
honor_labels merge, metric relabeling, limit checks and ``series_ref``. Only keys seen in the last successful
scrape are kept, so the cache is bounded by the target's series count; :meth:`ScrapeCache.reconfigure`
clears it when the job's relabel rules or limits change.

Staleness (Prometheus semantics): series appended by the previous scrape but absent from this one, or every
series of the previous scrape when this one fails, get :data:`~metrics_store.model.STALE_NAN` at this scrape's
timestamp. Series exposed with an explicit timestamp are not tracked (as in Prometheus by default).

Thread safety: none. A cache belongs to one scrape loop, which calls it from one worker thread at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter

import numpy as np
import numpy.typing as npt

from collector.errors import ScrapeLimitError
from collector.exposition import Exposition, series_labels
from collector.relabel import relabel
from collector.settings import ScrapeSettings
from metrics_store.base import Appender
from metrics_store.model import STALE_NAN, Labels

__all__ = ["DROPPED", "REPORT_METRICS", "IngestResult", "ScrapeCache"]

DROPPED = -1
REPORT_METRICS = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)
_KEY, _VALUE, _STAMP = itemgetter(0), itemgetter(1), itemgetter(2)


@dataclass(frozen=True, slots=True)
class IngestResult:
    scraped: int
    appended: int
    series_added: int
    dropped_by_relabel: int
    duplicates: int
    stale_markers: int


class ScrapeCache:
    def __init__(self, appender: Appender, target_labels: Labels, settings: ScrapeSettings) -> None:
        self._appender = appender
        self._target = target_labels
        self._target_names = {n for n, _ in target_labels}
        self._settings = settings
        self._entries: dict[str, int] = {}
        self._prev: set[int] = set()
        self._report_refs: list[int] | None = None
        # the last appended steady-state scrape: its keys in order, their refs and the set of those refs
        self._steady: tuple[list[str], npt.NDArray[np.int64], set[int]] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def reconfigure(self, settings: ScrapeSettings) -> None:
        """New job settings; the cache is rebuilt when relabeling or label limits change."""
        old = self._settings
        self._settings = settings
        if (
            old.metric_relabel != settings.metric_relabel
            or old.honor_labels != settings.honor_labels
            or (old.label_limit, old.label_name_length_limit, old.label_value_length_limit)
            != (settings.label_limit, settings.label_name_length_limit, settings.label_value_length_limit)
        ):
            self._entries = {}
            self._steady = None

    # -- series resolution -------------------------------------------------------------------------------

    def _merge_target_labels(self, exposed: Labels) -> dict[str, str]:
        lb = dict(exposed)
        if self._settings.honor_labels:
            for name, value in self._target:
                if not lb.get(name):
                    lb[name] = value
            return lb
        conflicts = [(name, lb[name]) for name, _ in self._target if lb.get(name)]
        lb.update(self._target)
        if conflicts:
            exposed_names = {n for n, _ in exposed}
            conflicts.sort(key=lambda c: len(c[0]))
            renamed: set[str] = set()
            for name, value in conflicts:
                new = name
                while True:
                    new = "exported_" + new
                    if new not in exposed_names and new not in self._target_names and new not in renamed:
                        break
                renamed.add(new)
                lb[new] = value
        return lb

    def _check_limits(self, labels: Labels) -> None:
        s = self._settings
        name = next((v for n, v in labels if n == "__name__"), "")
        if s.label_limit and len(labels) > s.label_limit:
            raise ScrapeLimitError(
                f"label_limit exceeded (metric: {name[:50]}, number of labels: {len(labels)}, "
                f"limit: {s.label_limit})",
                "label_limit",
            )
        for n, v in labels:
            if s.label_name_length_limit and len(n) > s.label_name_length_limit:
                raise ScrapeLimitError(
                    f"label_name_length_limit exceeded (metric: {name[:50]}, label name: {n[:50]}, "
                    f"length: {len(n)}, limit: {s.label_name_length_limit})",
                    "label_name_length_limit",
                )
            if s.label_value_length_limit and len(v) > s.label_value_length_limit:
                raise ScrapeLimitError(
                    f"label_value_length_limit exceeded (metric: {name[:50]}, label name: {n[:50]}, "
                    f"value: {v[:50]}, length: {len(v)}, limit: {s.label_value_length_limit})",
                    "label_value_length_limit",
                )

    def _resolve(self, key: str) -> int:
        merged = self._merge_target_labels(series_labels(key))
        out = relabel(merged, self._settings.metric_relabel) if self._settings.metric_relabel else merged
        if out is None:
            return DROPPED
        labels = tuple(sorted((k, v) for k, v in out.items() if v))
        if not labels:
            return DROPPED
        self._check_limits(labels)
        return self._appender.series_ref(labels)

    def _report(self) -> list[int]:
        if self._report_refs is None:
            self._report_refs = [
                self._appender.series_ref(tuple(sorted((*self._target, ("__name__", name)))))
                for name in REPORT_METRICS
            ]
        return self._report_refs

    # -- one scrape --------------------------------------------------------------------------------------

    def ingest(self, exposition: Exposition, ts_ms: int, started: float, now: float) -> IngestResult:
        """Append one successful scrape (samples, stale markers, report series) in one ``append`` call.

        ``started``/``now`` measure scrape_duration_seconds. Raises ScrapeLimitError before appending anything
        when a limit is exceeded (the caller then calls :meth:`fail`)."""
        fast = self._steady_state(exposition)
        if fast is not None:
            keys, refs, vals, tracked, fresh = fast
            tss: list[int] | None = None
            added = dropped = dups = 0
        else:
            ref_list, tss, vals, tracked, fresh, added, dropped, dups = self._resolve_all(exposition, ts_ms)
            refs = np.array(ref_list, dtype=np.int64)
        appended = len(refs)
        limit = self._settings.sample_limit
        if limit and appended > limit:
            raise ScrapeLimitError(
                f"sample_limit exceeded: {appended} samples > limit {limit}", "sample_limit"
            )
        stale = [] if self._prev is tracked else list(self._prev - tracked)
        report = self._report()
        vals.extend([STALE_NAN] * len(stale))
        vals.extend(
            [1.0, max(now - started, 0.0), float(exposition.sample_count), float(appended), float(added)]
        )
        all_refs = np.concatenate((refs, np.array(stale + report, dtype=np.int64)))
        if tss is None:  # every sample at the scrape's timestamp
            all_ts = np.full(len(all_refs), ts_ms, dtype=np.int64)
        else:
            all_ts = np.array(tss + [ts_ms] * (len(stale) + len(report)), dtype=np.int64)
        self._appender.append(all_refs, all_ts, np.array(vals, dtype=np.float64))
        self._entries = fresh
        self._steady = (keys, refs, tracked) if fast is not None else None
        self._prev = tracked
        return IngestResult(exposition.sample_count, appended, added, dropped, dups, len(stale))

    def _steady_state(
        self, exposition: Exposition
    ) -> tuple[list[str], npt.NDArray[np.int64], list[float], set[int], dict[str, int]] | None:
        """The common case at C speed: every key already cached, none dropped or duplicated, no exposed
        timestamps. Returns ``(keys, refs, values, tracked, entries)``, or None to take the general path.
        When the keys are those of the last appended steady-state scrape, in the same order, its refs and
        their set are reused (one list comparison instead of a dict look-up, a set and an array per
        sample)."""
        entries = self._entries
        if not entries or not exposition.sample_count:
            return None
        if exposition.columns is not None:  # the parser's columns: no timestamps, keys and values apart
            keys, values = exposition.columns[0], list(exposition.columns[1])
        else:
            samples = exposition.samples
            stamps = list(map(_STAMP, samples))
            if stamps.count(None) != len(stamps):
                return None
            keys = list(map(_KEY, samples))
            values = list(map(_VALUE, samples))
        steady = self._steady
        if steady is not None and steady[0] == keys:
            return keys, steady[1], values, steady[2], entries
        try:
            ref_list = list(map(entries.__getitem__, keys))
        except KeyError:
            return None
        tracked = set(ref_list)
        if len(tracked) != len(ref_list) or DROPPED in tracked:
            return None
        fresh = entries if len(entries) == len(ref_list) else dict(zip(keys, ref_list, strict=True))
        return keys, np.array(ref_list, dtype=np.int64), values, tracked, fresh

    def _resolve_all(
        self, exposition: Exposition, ts_ms: int
    ) -> tuple[list[int], list[int], list[float], set[int], dict[str, int], int, int, int]:
        """The general path: resolve new keys, count drops and duplicates, honour exposed timestamps."""
        entries = self._entries
        fresh: dict[str, int] = {}
        honor_ts = self._settings.honor_timestamps
        refs: list[int] = []
        tss: list[int] = []
        vals: list[float] = []
        seen: set[int] = set()
        tracked: set[int] = set()
        added = dropped = dups = 0
        for key, value, ts in exposition.samples:
            ref = entries.get(key)
            if ref is None:
                ref = fresh.get(key)
                if ref is None:
                    ref = self._resolve(key)
                    if ref != DROPPED:
                        added += 1
            fresh[key] = ref
            if ref == DROPPED:
                dropped += 1
                continue
            if ref in seen:
                dups += 1
                continue
            seen.add(ref)
            refs.append(ref)
            vals.append(value)
            if ts is not None and honor_ts:
                tss.append(ts)
            else:
                tss.append(ts_ms)
                tracked.add(ref)
        return refs, tss, vals, tracked, fresh, added, dropped, dups

    def fail(self, ts_ms: int, duration_s: float) -> int:
        """A failed scrape: ``up`` 0, report series, stale markers for every series of the previous scrape.
        Returns the number of stale markers."""
        stale = list(self._prev)
        report = self._report()
        refs = stale + report
        tss = [ts_ms] * len(refs)
        vals = [STALE_NAN] * len(stale) + [0.0, duration_s, 0.0, 0.0, 0.0]
        self._appender.append(refs, tss, vals)
        self._prev = set()
        return len(stale)

    def end(self, ts_ms: int) -> int:
        """The target is gone: stale markers for its series and its report series. Returns the count."""
        refs = [*self._prev, *(self._report_refs or [])]
        if refs:
            self._appender.append(refs, [ts_ms] * len(refs), [STALE_NAN] * len(refs))
        self._prev = set()
        self._report_refs = None
        return len(refs)
