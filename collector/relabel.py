"""Relabeling with Prometheus' exact semantics (``model/relabel/relabel.go``).

* Regexes are RE2 (:mod:`metrics_store.regex`, Go's syntax, linear time), fully anchored (``^(?s:regex)$``).
* ``$1``, ``${1}``, ``$name``, ``${name}`` and ``$$`` expand as Go's ``Regexp.Expand`` does
  (:meth:`~metrics_store.regex.Groups.expand`): ``$1x`` is the (missing) group named ``1x`` and expands to
  nothing; a malformed ``$`` stays literal.
* ``replace`` leaves the labels alone when the regex does not match, skips an invalid target label name, and
  deletes the target label when the expansion is empty.
* ``hashmod`` sets ``target_label`` to the big-endian value of the last 8 bytes of md5(joined values) modulo
  ``modulus``.
* An empty label value is the same as an absent label: setting a label to ``""`` deletes it.

Rules are compiled once (:func:`compile_rules`); :func:`relabel` is a pure function, safe from any thread.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from collector.config import RelabelAction, RelabelConfig
from collector.errors import RelabelError
from metrics_store.model import Labels
from metrics_store.regex import Regex, RegexError, compile_anchored

__all__ = ["CompiledRule", "compile_rules", "hashmod", "relabel", "relabel_labels"]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class CompiledRule:
    action: RelabelAction
    source_labels: tuple[str, ...]
    separator: str
    regex: Regex
    modulus: int
    target_label: str
    replacement: str


def compile_rules(configs: Iterable[RelabelConfig]) -> tuple[CompiledRule, ...]:
    """Compile config steps; raises :class:`RelabelError` for a regex RE2 refuses."""
    out = []
    for cfg in configs:
        try:
            regex = compile_anchored(cfg.regex)
        except RegexError as exc:
            raise RelabelError(str(exc)) from exc
        out.append(
            CompiledRule(
                cfg.action,
                tuple(cfg.source_labels),
                cfg.separator,
                regex,
                cfg.modulus or 0,
                cfg.target_label or "",
                cfg.replacement,
            )
        )
    return tuple(out)


def hashmod(value: str, modulus: int) -> int:
    """Prometheus' hashmod: last 8 bytes of md5(value), big-endian, modulo ``modulus``."""
    digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % modulus


def relabel(labels: dict[str, str], rules: Sequence[CompiledRule]) -> dict[str, str] | None:
    """Apply ``rules`` to ``labels`` (modified in place and returned); None when a rule drops the set."""
    for rule in rules:
        action = rule.action
        if action in ("labeldrop", "labelkeep"):
            _drop_names(labels, rule, keep=action == "labelkeep")
            continue
        if action == "labelmap":
            _labelmap(labels, rule)
            continue
        value = rule.separator.join(labels.get(n, "") for n in rule.source_labels)
        if action == "keep":
            if not rule.regex.matches(value):
                return None
        elif action == "drop":
            if rule.regex.matches(value):
                return None
        elif action == "hashmod":
            labels[rule.target_label] = str(hashmod(value, rule.modulus))
        else:
            _replace(labels, rule, value)
    return labels


def _drop_names(labels: dict[str, str], rule: CompiledRule, *, keep: bool) -> None:
    """``labeldrop`` (``keep`` False) or ``labelkeep``: names matching the regex go, or only they stay."""
    for name in list(labels):
        if rule.regex.matches(name) != keep:
            del labels[name]


def _labelmap(labels: dict[str, str], rule: CompiledRule) -> None:
    for name, value in sorted(labels.items()):
        m = rule.regex.match(name)
        if m is not None:
            new = m.expand(rule.replacement)
            if value:
                labels[new] = value
            else:
                labels.pop(new, None)


def _replace(labels: dict[str, str], rule: CompiledRule, value: str) -> None:
    m = rule.regex.match(value)
    if m is None:
        return
    target = m.expand(rule.target_label)
    if _LABEL_NAME.fullmatch(target) is None:
        return
    res = m.expand(rule.replacement)
    if res:
        labels[target] = res
    else:
        labels.pop(target, None)


def relabel_labels(labels: Labels | Mapping[str, str], rules: Sequence[CompiledRule]) -> Labels | None:
    """:func:`relabel` for canonical :data:`Labels` (sorted, empty values dropped) in and out."""
    items = labels.items() if isinstance(labels, Mapping) else labels
    out = relabel({k: v for k, v in items if v}, rules)
    if out is None:
        return None
    return tuple(sorted((k, v) for k, v in out.items() if v))
