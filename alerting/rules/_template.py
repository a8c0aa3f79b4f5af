"""A small evaluator for the subset of Go ``text/template`` that Prometheus rule templates use.

Supported: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``; pipelines
(``$value | humanize``), function calls with arguments, parentheses; ``$var`` / ``$var.field`` / ``.Field``;
``$x := pipeline``; ``if``/``else if``/``else``/``end``, ``with``, ``range`` over lists and maps; string, raw
string, number and bool literals. Functions: Go's ``and or not eq ne lt le gt ge len index print printf
println html urlquery`` and Prometheus' ``humanize humanize1024 humanizeDuration humanizePercentage
humanizeTimestamp title toUpper toLower match reReplaceAll stripPort stripDomain safeHtml args first label
value sortByLabel query parseDuration externalURL``. Anything else (``define``, ``template``, ``block``,
methods) fails with :class:`TemplateError` naming it: never a silently different text.

Missing map keys print as ``""`` (Prometheus sets ``missingkey=zero``). Numbers compare numerically even
across int/float (Go would refuse ``gt $value 10``; we accept it).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alerting.rules._template_funcs import FUNCS, QueryResult, to_text, truth
from alerting.rules.errors import TemplateError

__all__ = ["QueryResult", "Template", "expand"]


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"""
    r"""|(?P<decl>:=|=)|(?P<var>\$\w*(?:\.\w+)*)|(?P<field>(?:\.\w+)+|\.)|(?P<ident>\w+)"""
    r"""|(?P<punct>[|()]))"""
)


# --- parsing -------------------------------------------------------------------------------------------

Node = tuple[Any, ...]  # ("text", s) | ("pipe", cmds, decl) | ("if"|"with"|"range", pipe, body, else)


def _tokens(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"unexpected {src[pos:].strip()[:20]!r} in action {{{{{src}}}}}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _parse_pipe(toks: list[tuple[str, str]], i: int, close: str | None) -> tuple[list[list[Any]], int]:
    cmds: list[list[Any]] = [[]]
    while i < len(toks):
        kind, val = toks[i]
        if kind == "punct" and val == ")":
            if close == ")":
                return cmds, i + 1
            raise TemplateError("unexpected )")
        if kind == "punct" and val == "|":
            cmds.append([])
            i += 1
            continue
        if kind == "punct" and val == "(":
            sub, i = _parse_pipe(toks, i + 1, ")")
            cmds[-1].append(("sub", sub))
            continue
        if kind == "decl":
            raise TemplateError("unexpected := inside a pipeline")
        cmds[-1].append((kind, val))
        i += 1
    if close == ")":
        raise TemplateError("unclosed (")
    if any(not c for c in cmds):
        raise TemplateError("empty command in pipeline")
    return cmds, i


def _pipeline(src: str) -> tuple[list[list[Any]], str | None]:
    toks = _tokens(src)
    decl = None
    if len(toks) >= 2 and toks[0][0] == "var" and toks[1][0] == "decl":
        decl, toks = toks[0][1], toks[2:]
    cmds, _ = _parse_pipe(toks, 0, None)
    _check_funcs(cmds)
    return cmds, decl


_LATEFUNCS = {"query", "externalURL", "pathPrefix", "and", "or", "true", "false", "nil"}


def _check_funcs(cmds: list[list[Any]]) -> None:
    for cmd in cmds:
        for kind, val in cmd:
            if kind == "ident" and val not in FUNCS and val not in _LATEFUNCS:
                raise TemplateError(f'function "{val}" not defined')
            if kind == "sub":
                _check_funcs(val)


def _parse(text: str) -> list[Node]:
    stack: list[tuple[list[Node], Node | None]] = [([], None)]
    pos = 0
    for m in _ACTION.finditer(text):
        lit = text[pos : m.start()]
        if m.group(1):
            lit = lit.rstrip()
        stack[-1][0].append(("text", lit))
        pos = m.end()
        if m.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
        body = m.group(2).strip()
        if body.startswith("/*"):
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("if", "with", "range"):
            node: Node = (word, _pipeline(body[len(word) :]), [], [])
            stack[-1][0].append(node)
            stack.append((node[2], node))
        elif word == "else":
            _, owner = stack.pop() if len(stack) > 1 else (None, None)
            if owner is None or owner[0] == "else":
                raise TemplateError("unexpected {{else}}")
            target = owner[1] if owner[0] == "elseif" else owner
            rest = body[4:].strip()
            if rest.startswith("if"):
                node = ("if", _pipeline(rest[2:]), [], [])
                target[3].append(node)
                stack.append((node[2], ("elseif", node)))
            else:
                stack.append((target[3], ("else",)))
        elif word == "end":
            if len(stack) < 2:
                raise TemplateError("unexpected {{end}}")
            stack.pop()
        elif word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"{{{{{word}}}}} is not supported in Paramedic rule templates")
        else:
            stack[-1][0].append(("pipe", *_pipeline(body)))
    if len(stack) != 1:
        raise TemplateError("unexpected EOF: missing {{end}}")
    stack[0][0].append(("text", text[pos:]))
    return stack[0][0]


# --- evaluation ----------------------------------------------------------------------------------------


class _Scope:
    def __init__(self, funcs: Mapping[str, Callable[..., Any]], variables: dict[str, Any]) -> None:
        self.funcs = funcs
        self.vars = variables


def _field(x: Any, names: Sequence[str]) -> Any:
    for n in names:
        if type(x) is dict or isinstance(x, Mapping):  # dict first: no ABC check for $labels.x
            x = x.get(n, "")
        elif hasattr(x, n) and not n.startswith("_"):
            x = getattr(x, n)
        else:
            raise TemplateError(f"can't evaluate field {n} in {to_text(x)}")
    return x


def _operand(tok: tuple[str, Any], scope: _Scope, dot: Any) -> Any:
    kind, val = tok
    if kind == "str":
        return bytes(val[1:-1], "utf-8").decode("unicode_escape")
    if kind == "raw":
        return val[1:-1]
    if kind == "num":
        return float(val) if any(c in val for c in ".eE") else int(val)
    if kind == "var":
        name, *fields = val.split(".")
        if name not in scope.vars:
            raise TemplateError(f"undefined variable: {name}")
        return _field(scope.vars[name], fields) if fields else scope.vars[name]
    if kind == "field":
        return dot if val == "." else _field(dot, val.split(".")[1:])
    if kind == "sub":
        return _run_pipe(val, scope, dot)
    if kind == "ident":
        if val in ("true", "false"):
            return val == "true"
        if val == "nil":
            return None
        return _call(val, [], scope)
    raise TemplateError(f"unexpected {val!r}")


def _call(name: str, args: list[Any], scope: _Scope) -> Any:
    fn = scope.funcs.get(name)
    if fn is None:
        raise TemplateError(f'function "{name}" not defined')
    try:
        return fn(*args)
    except TemplateError:
        raise
    except Exception as exc:
        raise TemplateError(f"error calling {name}: {exc}") from exc


def _run_pipe(cmds: list[list[Any]], scope: _Scope, dot: Any) -> Any:
    result: Any = None
    for n, cmd in enumerate(cmds):
        head = cmd[0]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            if head[1] in ("and", "or"):
                vals = [_operand(t, scope, dot) for t in cmd[1:]] + ([result] if n else [])
                pick = next((v for v in vals if (not truth(v)) == (head[1] == "and")), vals[-1])
                result = pick
                continue
            args = [_operand(t, scope, dot) for t in cmd[1:]] + ([result] if n else [])
            result = _call(head[1], args, scope)
        else:
            if len(cmd) > 1 or n:
                raise TemplateError(f"can't give argument to non-function {head[1]}")
            result = _operand(head, scope, dot)
    return result


def _range_items(value: Any) -> list[Any]:
    """What ``range`` iterates over: a map's values in key order, a list, or nothing for nil."""
    if isinstance(value, Mapping):
        return [value[k] for k in sorted(value)]
    if isinstance(value, list | tuple):
        return list(value)
    if value is None:
        return []
    raise TemplateError(f"range can't iterate over {to_text(value)}")


def _exec(nodes: list[Node], scope: _Scope, dot: Any, out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "pipe":
            value = _run_pipe(node[1], scope, dot)
            if node[2] is not None:
                scope.vars[node[2]] = value
            else:
                out.append(value if type(value) is str else to_text(value))
        else:
            (cmds, decl), body, other = node[1], node[2], node[3]
            value = _run_pipe(cmds, scope, dot)
            if decl is not None:
                scope.vars[decl] = value
            if kind == "if":
                _exec(body if truth(value) else other, scope, dot, out)
            elif kind == "with":
                _exec(body if truth(value) else other, scope, value if truth(value) else dot, out)
            else:  # range
                items = _range_items(value)
                if not items:
                    _exec(other, scope, dot, out)
                for item in items:
                    _exec(body, scope, item, out)


class Template:
    """A parsed template; :meth:`expand` may be called from any thread."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._nodes = _parse(text) if "{{" in text else [("text", text)]
        self.is_constant = len(self._nodes) == 1 and self._nodes[0][0] == "text"  # expands to its text
        # the function table of the last (external_url, query) expanded with: built once, not per expansion
        self._funcs: tuple[str, object, dict[str, Callable[..., Any]]] | None = None

    def _funcs_for(
        self, external_url: str, query: Callable[[str], list[QueryResult]] | None
    ) -> dict[str, Callable[..., Any]]:
        cached = self._funcs
        if cached is not None and cached[0] == external_url and cached[1] is query:
            return cached[2]
        funcs = dict(FUNCS)
        funcs["externalURL"] = lambda: external_url
        funcs["pathPrefix"] = lambda: urllib.parse.urlparse(external_url).path
        if query is not None:
            funcs["query"] = lambda q: query(str(q))
        self._funcs = (external_url, query, funcs)
        return funcs

    def expand(
        self,
        labels: Mapping[str, str],
        value: float,
        *,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        query: Callable[[str], list[QueryResult]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        if self.is_constant:
            return str(self._nodes[0][1])
        data = {
            "Labels": dict(labels),
            "ExternalLabels": dict(external_labels or {}),
            "ExternalURL": external_url,
            "Value": value,
        }
        variables: dict[str, Any] = {
            "$": data,
            "$labels": data["Labels"],
            "$externalLabels": data["ExternalLabels"],
            "$externalURL": external_url,
            "$value": value,
        }
        for k, v in (extra or {}).items():
            variables["$" + k] = v
        out: list[str] = []
        _exec(self._nodes, _Scope(self._funcs_for(external_url, query), variables), data, out)
        return "".join(out)


def expand(text: str, labels: Mapping[str, str], value: float, **kw: Any) -> str:
    return Template(text).expand(labels, value, **kw)
