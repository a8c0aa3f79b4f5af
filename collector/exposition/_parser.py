"""The parser object: owns the validated-key caches and the instrumentation; ``parse`` uses a default."""

from __future__ import annotations

import gc
import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from collector.exposition._errors import ParseError
from collector.exposition._floats import FloatLabelKeys
from collector.exposition._model import Exposition
from collector.exposition._openmetrics import OMParse, OMSeries
from collector.exposition._replay import ParseMemo
from collector.exposition._text import TextParse

__all__ = ["DEFAULT_MAX_KEYS", "OPENMETRICS_CONTENT_TYPE", "ExpositionParser", "default_parser", "parse"]

OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text"
DEFAULT_MAX_KEYS = 1_000_000


class ExpositionParser:
    """Parses exposition bodies, remembering which series keys it has already validated.

    Thread-safety: ``parse`` may be called from several threads: the caches are plain dicts whose
    single-key get/set are atomic in CPython, so concurrent parses at worst validate a key twice.
    ``max_keys`` bounds each cache (emptied when full: each key then takes the slow path once more).
    ``pause_gc`` pauses the cyclic garbage collector during a parse (a parse allocates only acyclic
    objects, and collection passes triggered by its allocations cost ~30 % of the fast path).
    ``utf8_names=True`` accepts quoted non-legacy names (text and OpenMetrics).
    ``normalise_float_labels=True`` emits the keys of ``le`` (under a histogram TYPE) and ``quantile``
    (under a summary TYPE) samples with the value as Prometheus 3 stores it (``1`` -> ``1.0``; see
    ``_floats``); off, values stay as written, as Prometheus 2.42 keeps them. ``metrics_from``: count in
    that parser's metrics instead of registering new ones (two parsers, one set of series).

    Metrics (``registry``): ``paramedic_exposition_parses_total{format,outcome}``,
    ``paramedic_exposition_samples_total{format}``, ``paramedic_exposition_slow_lines_total{format}``
    (sample lines that missed the validated-key cache).
    """

    def __init__(
        self,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        utf8_names: bool = False,
        normalise_float_labels: bool = False,
        pause_gc: bool = True,
        registry: CollectorRegistry | None = REGISTRY,
        metrics_from: ExpositionParser | None = None,
    ) -> None:
        self.max_keys = max_keys
        self.utf8_names = utf8_names
        self.pause_gc = pause_gc
        self._text_keys: dict[str, str] = {}
        self._comments: dict[str, tuple[str, str, str | None, int]] = {}
        self._om_keys: dict[str, OMSeries] = {}
        self._float_keys = FloatLabelKeys(max_keys) if normalise_float_labels else None
        if metrics_from is not None:
            self._parses: Counter = metrics_from._parses
            self._samples: Counter = metrics_from._samples
            self._slow: Counter = metrics_from._slow
            return
        reg = registry
        self._parses = Counter(
            "paramedic_exposition_parses_total",
            "Exposition bodies parsed, by format and outcome (ok|error).",
            ["format", "outcome"],
            registry=reg,
        )
        self._samples = Counter(
            "paramedic_exposition_samples_total",
            "Samples parsed from valid bodies.",
            ["format"],
            registry=reg,
        )
        self._slow = Counter(
            "paramedic_exposition_slow_lines_total",
            "Sample lines fully validated because their series key was not cached yet.",
            ["format"],
            registry=reg,
        )

    def parse(
        self, data: bytes, content_type: str | None = None, memo: ParseMemo | None = None
    ) -> Exposition:
        """Parse ``data``: OpenMetrics when ``content_type`` starts with ``application/openmetrics-text``,
        else the text format 0.0.4. Raises :class:`ParseError` for any invalid input.

        ``memo`` (one per target, text format only): a body with the same lines as the last one this parser
        fully parsed for that memo, only the values changed, is parsed through the memo's template (the
        same result, see ``_replay``); otherwise the full parse runs and its body becomes the template."""
        fmt = "openmetrics" if content_type and content_type.startswith(OPENMETRICS_CONTENT_TYPE) else "text"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._parses.labels(fmt, "error").inc()
            raise self._utf8_error(data, exc, fmt) from exc
        paused = self.pause_gc and gc.isenabled()
        if paused:
            gc.disable()
        try:
            result, slow = self._run(text, fmt, check_utf8=False, memo=memo)
        except ParseError:
            self._parses.labels(fmt, "error").inc()
            raise
        finally:
            if paused:
                gc.enable()
        self._parses.labels(fmt, "ok").inc()
        self._samples.labels(fmt).inc(result.sample_count)
        if slow:
            self._slow.labels(fmt).inc(slow)
        return result

    def _run(
        self, text: str, fmt: str, check_utf8: bool, memo: ParseMemo | None = None
    ) -> tuple[Exposition, int]:
        if memo is not None and fmt == "text":
            replayed = memo.replay(text, self)
            if replayed is not None:
                return replayed, 0
            result, slow = self._run(text, fmt, check_utf8)
            if memo.wants():
                memo.learn(text, result, self)
            return result, slow
        if fmt == "openmetrics":
            om = OMParse(self._om_keys, self.max_keys, self.utf8_names, self._float_keys)
            return om.run(text), om.slow_lines
        tp = TextParse(
            self._text_keys, self._comments, self.max_keys, self.utf8_names, check_utf8, self._float_keys
        )
        return tp.run(text), tp.slow_lines

    def _utf8_error(self, data: bytes, exc: UnicodeDecodeError, fmt: str) -> ParseError:
        """The first error in input order: a syntax error before (or at) the bad byte, else the bad byte."""
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
        text = data.decode("utf-8", "surrogateescape")
        try:
            # Throw-away caches: keys seen in an invalid body must not be remembered.
            if fmt == "openmetrics":
                OMParse({}, self.max_keys, self.utf8_names).run(text)
            else:
                TextParse({}, {}, self.max_keys, self.utf8_names, check_utf8=True).run(text)
        except ParseError as err:
            if err.line <= line:
                return err
        byte = data[exc.start]
        prefix = "text format parsing error" if fmt == "text" else "openmetrics parsing error"
        return ParseError(
            f"{prefix} in line {line}: invalid UTF-8 byte 0x{byte:02x} (column {column})", line, column
        )


_defaults: dict[tuple[bool, bool], ExpositionParser] = {}
_default_lock = threading.Lock()


def default_parser(*, utf8_names: bool = False, normalise_float_labels: bool = False) -> ExpositionParser:
    """The process-wide parser behind :func:`parse` (created on first use, default registry), or with
    ``utf8_names`` / ``normalise_float_labels`` its twins (sharing the metrics: one set of series)."""
    key = (utf8_names, normalise_float_labels)
    parser = _defaults.get(key)
    if parser is None:
        with _default_lock:
            parser = _defaults.get(key)
            if parser is None:
                other = next(iter(_defaults.values()), None)
                parser = ExpositionParser(
                    utf8_names=utf8_names, normalise_float_labels=normalise_float_labels, metrics_from=other
                )
                _defaults[key] = parser
    return parser


def parse(data: bytes, content_type: str | None = None) -> Exposition:
    """Parse one exposition body with the default parser; see :meth:`ExpositionParser.parse`."""
    return default_parser().parse(data, content_type)
