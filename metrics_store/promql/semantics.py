"""Which Prometheus the PromQL engine answers like: 3.x (the default) or 2.42 (``promql.semantics``).

What differs, each checked against the real servers by ``tests/differential`` (Prometheus 2.42 from Debian,
Prometheus 3 built from its Go module):

* **range selectors and subqueries** select ``ref - range < t <= ref`` in 3.x (left-open: a sample exactly
  at the range start is excluded), ``ref - range <= t <= ref`` in 2.42; the **lookback** of an instant
  selector likewise (``ref - lookback < t`` in 3.x), and a subquery's first inner step is the first multiple
  of its step *after* the range start;
* **regex** ``.`` matches a newline in 3.x label matchers and ``label_replace`` (Go's ``^(?s:...)$``), not in
  2.42 (``^(?:...)$``);
* **UTF-8 metric and label names**: 3.x accepts the quoted syntax (``{"my.metric", "label.x"="v"}``,
  ``sum by ("a.b")``); 2.42 refuses it (a parse error);
* **holt_winters**: 2.42's name; 3.x renamed it ``double_exponential_smoothing`` and put it behind the
  ``promql-experimental-functions`` feature flag (here ``promql.experimental_functions``); 3.x does not
  know ``holt_winters`` at all;
* **rate and increase** extrapolate a series that starts inside the window to half an average interval
  before the start *then* clamp to the counter's zero point (2.42 clamped first); **atan2** drops the metric
  name as every arithmetic operator does (2.42 kept it);
* **native-histogram functions**: ``histogram_avg``, ``histogram_stddev`` and ``histogram_stdvar`` exist in
  3.x only. Paramedic stores no native histograms, and Prometheus 3 ignores float samples in them (and in
  ``histogram_count`` and ``histogram_sum``), so over the classic histograms Paramedic holds they answer what
  Prometheus 3 answers over the same data: an empty vector. ``histogram_fraction`` is the one that classic
  histograms answer too in 3.x (estimated from the ``le`` buckets, as ``histogram_quantile`` is); 2.42
  answers it for native histograms only (empty);
* **scraped ``le``/``quantile`` values** (not PromQL, but what queries see): 3.x stores them normalised
  (``le="1"`` as ``"1.0"``, see ``collector.exposition._floats``), 2.42 as written; the assembly passes
  ``semantics == "3"`` to the scrape manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PROMETHEUS_2", "PROMETHEUS_3", "Semantics", "SemanticsVersion", "semantics_for"]

SemanticsVersion = Literal["2", "3"]


@dataclass(frozen=True, slots=True)
class Semantics:
    """One Prometheus version's PromQL rules, as flags the parser and evaluator read. Immutable."""

    version: SemanticsVersion
    left_open: bool  # ranges, lookback and subqueries exclude the sample at their start
    regex_dot_nl: bool  # `.` matches "\n" in label matchers and label_replace
    utf8_names: bool  # the quoted name syntax parses
    experimental_functions: bool  # 3.x: --enable-feature=promql-experimental-functions

    @property
    def smoothing_function(self) -> str:
        """The name the Holt-Winters-style smoothing function has in this version."""
        return "double_exponential_smoothing" if self.version == "3" else "holt_winters"

    @property
    def native_histogram_functions(self) -> bool:
        return self.version == "3"

    @property
    def zero_after_threshold(self) -> bool:
        """rate/increase: 3.x moves a far start to half an interval before clamping it to the counter's
        zero point; 2.42 clamped first."""
        return self.version == "3"

    @property
    def atan2_drops_name(self) -> bool:
        """3.x drops the metric name from ``atan2`` results like any arithmetic operator; 2.42 kept it."""
        return self.version == "3"


PROMETHEUS_2 = Semantics(
    "2", left_open=False, regex_dot_nl=False, utf8_names=False, experimental_functions=False
)
PROMETHEUS_3 = Semantics(
    "3", left_open=True, regex_dot_nl=True, utf8_names=True, experimental_functions=False
)


def semantics_for(version: SemanticsVersion, *, experimental_functions: bool = False) -> Semantics:
    """The rules of Prometheus ``version`` ("2": 2.42, "3": 3.x), with 3.x's experimental functions on
    or off (2.42 has no such flag: ``holt_winters`` is a standard function there)."""
    if version == "2":
        return PROMETHEUS_2
    if experimental_functions:
        return Semantics("3", True, True, True, experimental_functions=True)
    return PROMETHEUS_3
