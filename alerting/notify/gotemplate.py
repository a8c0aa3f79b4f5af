"""Go ``text/template`` for receiver fields written by operators (``title: '{{ .CommonLabels.alertname }}'``),
over Alertmanager's ``template.Data`` with its methods and functions, rendering the text Alertmanager renders.

Supported: text and actions with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``; pipelines, parentheses,
function calls and method calls with arguments (``.CommonLabels.Remove .GroupLabels.Names``); ``.Field``
chains, ``$``, ``$x :=``/``$x =``, ``range $i, $e :=``; ``if``/``else if``/``else``, ``with``/``else``,
``range``/``else``, ``end``; ``template "name" pipeline`` calling Alertmanager's default definitions;
literals (strings, raw strings, integers, ``true``/``false``). Data: ``Receiver``, ``Status``, ``Alerts``
(``.Firing``, ``.Resolved``), ``GroupLabels``/``CommonLabels``/``CommonAnnotations`` (maps with
``SortedPairs``, ``Names``, ``Values``, ``Remove``), ``ExternalURL``; an alert's ``Status``, ``Labels``,
``Annotations``, ``GeneratorURL``, ``Fingerprint``, ``StartsAt``/``EndsAt`` (printed as Go prints a
``time.Time``). Functions: Go's ``and or not len index eq ne lt le gt ge print printf println urlquery html
js`` and Alertmanager's ``toUpper toLower title join match safeHtml stringSlice`` (not ``reReplaceAll``: no
unanchored RE2 replace here yet). A missing map key prints as ``""`` (``missingkey=zero``). Anything else
(``define``, ``block``, ``break``, other functions) is refused when the config loads, naming it. Output is
capped (:data:`MAX_OUTPUT_CHARS`), and so is every intermediate value (a string a function, method or
``printf`` width would build longer than that is refused before it is built); a template runs at most
:data:`MAX_STEPS` evaluation steps; a source is at most :data:`MAX_SOURCE_CHARS` and is lexed in linear time;
too deep a nesting is a :class:`TemplateError`. Only the data's own Go-named methods are callable: a
Python method of a builtin value (``str.format``, ``dict.clear``, ...) is not (a map's unknown key is its
zero value, as in Go), so no config can make a notification loop, balloon, mutate the alert or read Python
internals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from alerting.notify.errors import TemplateError
from metrics_store.regex import compile_anchored

__all__ = ["MAX_OUTPUT_CHARS", "MAX_SOURCE_CHARS", "MAX_STEPS", "GoTemplate", "SafeHtml", "parse"]

MAX_OUTPUT_CHARS = 512 * 1024
MAX_STEPS = 200_000
MAX_SOURCE_CHARS = 256 * 1024
_MAX_INT = 2**63  # Go's int
# Attributes of Python's builtin types: never reachable from a template (a Go map has no methods).
_BUILTIN_ATTRS = frozenset(
    a for t in (object, str, bytes, int, float, bool, list, tuple, dict, set, frozenset) for a in dir(t)
)
_WS = re.compile(r"\s*")
_PRINTF_NUMS = re.compile(r"\d+")

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+)(?![\w.])"""
    r"""|(?P<decl>:=|=)|(?P<var>\$\w*(?:\.\w+)*)|(?P<field>(?:\.\w+)+)|(?P<dot>\.)|(?P<ident>\w+)"""
    r"""|(?P<punct>[|(),]))"""
)
_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "a": "\a", "b": "\b"}


class SafeHtml(str):
    """A value ``safeHtml`` marked: not escaped in HTML mode."""


# --- parsing -----------------------------------------------------------------------------------------------

Tok = tuple[str, str]


@dataclass
class Pipe:
    decl: list[str]  # variables declared (":=") or assigned ("=")
    assign: bool
    cmds: list[list[Any]]  # each command: operands (Tok, ("sub", Pipe) or ("chain", operand, fields))


@dataclass
class Node:
    kind: str  # text | action | if | with | range | template
    text: str = ""
    pipe: Pipe | None = None
    body: list[Node] | None = None
    other: list[Node] | None = None
    name: str = ""


def _unquote(tok: Tok) -> str:
    kind, val = tok
    if kind == "raw":
        return val[1:-1]
    return re.sub(r"\\(.)", lambda m: _GO_ESCAPES.get(m.group(1), m.group(1)), val[1:-1])


def _tokens(src: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while (pos := _WS.match(src, pos).end()) < len(src):  # type: ignore[union-attr] # \s* always matches
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"unexpected {src[pos:].strip()[:20]!r} in {{{{{src.strip()}}}}}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _operand(toks: list[Tok], i: int) -> tuple[Any, int]:
    kind, val = toks[i]
    if kind == "punct" and val == "(":
        sub, i = _pipe(toks, i + 1, close=True)
        if i < len(toks) and toks[i][0] == "field":  # (pipeline).Field
            return ("chain", ("sub", sub), toks[i][1].split(".")[1:]), i + 1
        return ("sub", sub), i
    return (kind, val), i + 1


def _decl(toks: list[Tok], i: int) -> tuple[list[str], bool, int]:
    """``$x :=``, ``$x =`` or ``$i, $e :=`` at ``i``: the names, whether it assigns, the next index."""
    names: list[str] = []
    j = i
    while j + 1 < len(toks) and toks[j][0] == "var":
        sep = toks[j + 1]
        names.append(toks[j][1])
        if sep == ("punct", ","):
            j += 2
            continue
        if sep[0] == "decl":
            return names, sep[1] == "=", j + 2
        break
    return [], False, i


def _pipe(toks: list[Tok], i: int, *, close: bool = False) -> tuple[Pipe, int]:
    decl, assign, i = _decl(toks, i)
    cmds: list[list[Any]] = [[]]
    while i < len(toks):
        kind, val = toks[i]
        if kind == "punct" and val == ")":
            if not close:
                raise TemplateError("unexpected )")
            close = False
            i += 1
            break
        if kind == "punct" and val == "|":
            cmds.append([])
            i += 1
            continue
        if kind == "decl" or (kind == "punct" and val == ","):
            raise TemplateError(f"unexpected {val!r}")
        operand, i = _operand(toks, i)
        cmds[-1].append(operand)
    if close:
        raise TemplateError("unclosed (")
    if any(not c for c in cmds):
        raise TemplateError("missing value in a pipeline")
    return Pipe(decl, assign, cmds), i


def _actions(src: str) -> Iterator[re.Match[str]]:
    """``_ACTION.finditer(src)`` in linear time: each match is searched only up to the first ``}}`` after
    its ``{{`` (where the lazy pattern ends anyway), so a run of unclosed ``{{`` is not rescanned."""
    pos = 0
    while (start := src.find("{{", pos)) >= 0:
        close = src.find("}}", start + 2)
        if close < 0:
            return
        m = _ACTION.match(src, start, close + 2)
        if m is None:  # pragma: no cover -- "{{" ... "}}" always matches
            return
        yield m
        pos = m.end()


def _lex(src: str) -> list[tuple[str, str]]:
    """``("text", s)`` and ``("action", inner)`` pieces with Go's trimming applied."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _actions(src):
        text = src[pos : m.start()]
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        if out and out[-1][0] == "trim":
            out.pop()
            text = text.lstrip(" \t\r\n")
        out.append(("text", text))
        inner = m.group(2).strip()
        if not (inner.startswith("/*") and inner.endswith("*/")):
            out.append(("action", inner))
        if m.group(3):
            out.append(("trim", ""))
        pos = m.end()
    text = src[pos:]
    if out and out[-1][0] == "trim":
        out.pop()
        text = text.lstrip(" \t\r\n")
    if "{{" in text:
        raise TemplateError("unclosed action")
    out.append(("text", text))
    return [p for p in out if p[0] == "action" or p[1]]


def _block(pieces: list[tuple[str, str]], i: int, top: bool) -> tuple[list[Node], int, str]:
    """Nodes until ``end``/``else`` (returned as the stop word with its rest) or the end."""
    nodes: list[Node] = []
    while i < len(pieces):
        kind, val = pieces[i]
        i += 1
        if kind == "text":
            nodes.append(Node("text", text=val))
            continue
        word, _, rest = val.partition(" ")
        if word in {"end", "else"}:
            if top:
                raise TemplateError(f"unexpected {{{{{val}}}}}")
            return nodes, i, val
        if word in {"if", "with", "range"}:
            node, i = _control(word, rest, pieces, i)
            nodes.append(node)
        elif word == "template":
            toks = _tokens(rest)
            if not toks or toks[0][0] not in {"str", "raw"}:
                raise TemplateError("template: want a quoted name")
            pipe = _pipe(toks, 1)[0] if len(toks) > 1 else None
            nodes.append(Node("template", name=_unquote(toks[0]), pipe=pipe))
        elif word in {"define", "block", "break", "continue"}:
            raise TemplateError(f"{{{{{word}}}}} is not supported in a receiver field")
        else:
            nodes.append(Node("action", pipe=_pipe(_tokens(val), 0)[0]))
    if not top:
        raise TemplateError("missing {{end}}")
    return nodes, i, ""


def _control(word: str, rest: str, pieces: list[tuple[str, str]], i: int) -> tuple[Node, int]:
    pipe = _pipe(_tokens(rest), 0)[0]
    body, i, stop = _block(pieces, i, top=False)
    other: list[Node] | None = None
    if stop.startswith("else"):
        tail = stop[4:].strip()
        if tail.startswith(("if ", "with ")):  # else if / else with: a nested control ending at the same end
            inner_word, _, inner_rest = tail.partition(" ")
            nested, i = _control(inner_word, inner_rest, pieces, i)
            other = [nested]
        else:
            other, i, stop = _block(pieces, i, top=False)
            if stop != "end":
                raise TemplateError(f"unexpected {{{{{stop}}}}}")
    elif stop != "end":
        raise TemplateError(f"unexpected {{{{{stop}}}}}")
    return Node(word, pipe=pipe, body=body, other=other), i


def parse(src: str) -> GoTemplate:
    """Parse ``src`` (:class:`TemplateError` naming what is unsupported)."""
    if len(src) > MAX_SOURCE_CHARS:
        raise TemplateError(f"template longer than {MAX_SOURCE_CHARS} characters")
    try:
        nodes, _, _ = _block(_lex(src), 0, top=True)
    except RecursionError:
        raise TemplateError("template nested too deeply") from None
    template = GoTemplate(nodes)
    template.check()
    return template


# --- evaluation --------------------------------------------------------------------------------------------


def _go_time(t: datetime) -> str:
    """``time.Time.String()`` of a UTC time: ``2006-01-02 15:04:05.999999999 +0000 UTC``."""
    t = t.astimezone(UTC)
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return f"{t.year:04d}-{t:%m-%d %H:%M:%S}{frac} +0000 UTC"


def to_text(v: Any) -> str:
    """Go's ``fmt.Sprint`` of a template value."""
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return _go_time(v)
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{k}:{to_text(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(to_text(x) for x in v) + "]"
    return str(v)


def truth(v: Any) -> bool:
    if isinstance(v, datetime):
        return True
    return bool(v)


def _cmp(name: str, a: Any, b: Any) -> bool:
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    strings = isinstance(a, str) and isinstance(b, str)
    if type(a) is not type(b) and not numbers and not strings:
        raise TemplateError(f"{name}: incompatible types for comparison")
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda x, y: x == y,
        "ne": lambda x, y: x != y,
        "lt": lambda x, y: x < y,
        "le": lambda x, y: x <= y,
        "gt": lambda x, y: x > y,
        "ge": lambda x, y: x >= y,
    }
    return ops[name](a, b)


def _eq(a: Any, *bs: Any) -> bool:
    return any(_cmp("eq", a, b) for b in bs)


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        v = v.get(k, "") if isinstance(v, Mapping) else v[k]
    return v


def _printf(fmt: str, *args: Any) -> str:
    out, n = [], 0
    for m in re.finditer(r"%(%|[-+# 0]*\d*(?:\.\d+)?[vsdqfgetx])|[^%]+|%", fmt):
        tok = m.group(0)
        if not tok.startswith("%") or tok == "%%":
            out.append("%" if tok == "%%" else tok)
            continue
        if n >= len(args):
            out.append(f"%!{tok[-1]}(MISSING)")
            continue
        arg, verb = args[n], tok[-1]
        n += 1
        if any(int(d) > MAX_OUTPUT_CHARS for d in _PRINTF_NUMS.findall(tok)):
            raise TemplateError(f"printf: width or precision of {tok[:24]} over {MAX_OUTPUT_CHARS}")
        if verb in "vs":
            out.append(to_text(arg))
        elif verb == "q":
            out.append('"' + to_text(arg).replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            out.append(("%" + tok[1:]) % arg)
    return "".join(out)


def _join(sep: str, items: Sequence[str]) -> str:
    _check_size("join", len(sep) * len(items) + sum(len(x) for x in items if isinstance(x, str)))
    return sep.join(items)


def _match(pattern: str, text: str) -> bool:
    """Go's ``regexp.MatchString`` (unanchored), in RE2 as Go."""
    return compile_anchored(f".*(?:{pattern}).*").match(text) is not None


def _title(s: str) -> str:
    return re.sub(r"[^\W_]+", lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), s)


FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda v: not truth(v),
    "len": len,
    "index": _index,
    "eq": _eq,
    "ne": lambda a, b: _cmp("ne", a, b),
    "lt": lambda a, b: _cmp("lt", a, b),
    "le": lambda a, b: _cmp("le", a, b),
    "gt": lambda a, b: _cmp("gt", a, b),
    "ge": lambda a, b: _cmp("ge", a, b),
    "print": lambda *a: "".join(to_text(x) for x in a),
    "println": lambda *a: " ".join(to_text(x) for x in a) + "\n",
    "printf": _printf,
    "urlquery": lambda *a: quote_plus("".join(to_text(x) for x in a)),
    "html": lambda *a: _html("".join(to_text(x) for x in a)),
    "js": lambda *a: _js("".join(to_text(x) for x in a)),
    "toUpper": lambda s: s.upper(),
    "toLower": lambda s: s.lower(),
    "title": _title,
    "join": _join,
    "match": _match,
    "safeHtml": SafeHtml,
    "stringSlice": lambda *s: list(s),
}
_LAZY = {"and", "or"}


def _js(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')


def _html(s: str) -> str:
    from alerting.notify.amtemplate import html_escape  # noqa: PLC0415 -- amtemplate imports this module

    return html_escape(s)


@dataclass
class _Run:
    html: bool
    definitions: Mapping[str, Callable[[Any], str]]
    steps: int = 0
    size: int = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(f"template ran more than {MAX_STEPS} steps")


class GoTemplate:
    """A parsed field template; :meth:`render` over an Alertmanager data object."""

    def __init__(self, nodes: list[Node]) -> None:
        self._nodes = nodes

    def template_names(self) -> set[str]:
        """The names this template calls with ``{{ template "name" }}``."""
        names: set[str] = set()

        def walk(nodes: list[Node] | None) -> None:
            for n in nodes or []:
                if n.kind == "template":
                    names.add(n.name)
                walk(n.body)
                walk(n.other)

        walk(self._nodes)
        return names

    def check(self) -> None:
        """Unknown functions are an error at load, as Go's parser makes them."""

        def walk_pipe(p: Pipe | None) -> None:
            for cmd in p.cmds if p else []:
                for op in cmd:
                    walk_op(op)

        def walk_op(op: Any) -> None:
            if op[0] == "ident" and op[1] not in FUNCS and op[1] not in _LAZY | {"true", "false", "nil"}:
                raise TemplateError(f'function "{op[1]}" not defined')
            if op[0] == "sub":
                walk_pipe(op[1])
            if op[0] == "chain":
                walk_op(op[1])

        def walk(nodes: list[Node] | None) -> None:
            for n in nodes or []:
                walk_pipe(n.pipe)
                walk(n.body)
                walk(n.other)

        walk(self._nodes)

    def render(
        self, data: Any, definitions: Mapping[str, Callable[[Any], str]], *, html: bool = False
    ) -> str:
        run = _Run(html, definitions)
        out: list[str] = []
        try:
            self._exec(self._nodes, data, {"$": data}, out, run)
        except RecursionError:
            raise TemplateError("template nested too deeply") from None
        return "".join(out)

    def _emit(self, out: list[str], text: str, run: _Run) -> None:
        run.size += len(text)
        if run.size > MAX_OUTPUT_CHARS:
            raise TemplateError(f"template output longer than {MAX_OUTPUT_CHARS} characters")
        out.append(text)

    def _exec(self, nodes: list[Node], dot: Any, env: dict[str, Any], out: list[str], run: _Run) -> None:
        for node in nodes:
            run.tick()
            if node.kind == "text":
                self._emit(out, node.text, run)
            elif node.kind == "action" and node.pipe is not None:
                value = self._pipe(node.pipe, dot, env, run)
                if not node.pipe.decl:
                    text = to_text(value)
                    if run.html and not isinstance(value, SafeHtml):
                        text = _html(text)
                    self._emit(out, text, run)
            elif node.kind == "template":
                fn = run.definitions.get(node.name)
                if fn is None:
                    raise TemplateError(f'no such template "{node.name}"')
                arg = self._pipe(node.pipe, dot, env, run) if node.pipe else None
                self._emit(out, fn(arg), run)
            else:
                self._control(node, dot, env, out, run)

    def _control(self, node: Node, dot: Any, env: dict[str, Any], out: list[str], run: _Run) -> None:
        if node.pipe is None:
            return
        scope = dict(env)
        if node.kind == "range":
            items = self._range_pipe(node.pipe, dot, scope, run)
            for key, item in items:
                if len(node.pipe.decl) == 2:
                    scope[node.pipe.decl[0]], scope[node.pipe.decl[1]] = key, item
                elif node.pipe.decl:
                    scope[node.pipe.decl[0]] = item
                self._exec(node.body or [], item, scope, out, run)
            if not items and node.other:
                self._exec(node.other, dot, dict(env), out, run)
            return
        value = self._pipe(node.pipe, dot, scope, run)
        if truth(value):
            self._exec(node.body or [], value if node.kind == "with" else dot, scope, out, run)
        elif node.other:
            self._exec(node.other, dot, dict(env), out, run)

    def _range_pipe(self, pipe: Pipe, dot: Any, env: dict[str, Any], run: _Run) -> list[tuple[Any, Any]]:
        value = self._pipe(Pipe([], False, pipe.cmds), dot, env, run)
        if isinstance(value, Mapping):
            return [(k, value[k]) for k in sorted(value)]
        if isinstance(value, list | tuple):
            return list(enumerate(value))
        if value is None:
            return []
        raise TemplateError(f"range can't iterate over {to_text(value)[:40]}")

    def _pipe(self, pipe: Pipe, dot: Any, env: dict[str, Any], run: _Run) -> Any:
        value: Any = None
        for i, cmd in enumerate(pipe.cmds):
            value = self._command(cmd, dot, env, run, [] if i == 0 else [value])
        for name in pipe.decl:
            env[name] = value
        return value

    def _command(self, cmd: list[Any], dot: Any, env: dict[str, Any], run: _Run, piped: list[Any]) -> Any:
        run.tick()
        head = cmd[0]
        if head[0] == "ident" and head[1] in _LAZY:
            args = cmd[1:]
            result: Any = None
            for op in args:
                result = self._operand(op, dot, env, run)
                if truth(result) == (head[1] == "or"):
                    return result
            return piped[0] if piped and truth(result) == (head[1] == "and") else result
        if head[0] == "ident" and head[1] in FUNCS:
            args = [self._operand(op, dot, env, run) for op in cmd[1:]] + piped
            _check_size(head[1], sum(len(a) for a in args if isinstance(a, str)))
            try:
                return _sized(head[1], FUNCS[head[1]](*args))
            except TemplateError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, re.error) as exc:
                raise TemplateError(f"{head[1]}: {exc}") from exc
        if head[0] in {"field", "chain"} or (head[0] == "var" and "." in head[1]):
            return self._method_call(head, cmd[1:], dot, env, run, piped)
        if len(cmd) > 1 or piped:
            raise TemplateError(f"can't give arguments to {head[1]!r}")
        return self._operand(head, dot, env, run)

    def _method_call(
        self, head: Any, rest: list[Any], dot: Any, env: dict[str, Any], run: _Run, piped: list[Any]
    ) -> Any:
        """``.A.B arg...``, ``$x.A arg...``, ``(pipe).A arg...``: the last name is called with the args."""
        args = [self._operand(op, dot, env, run) for op in rest] + piped
        base, names = self._base(head, dot, env, run)
        for name in names[:-1]:
            base = _field(base, name, [])
        return _field(base, names[-1], args) if names else base

    def _base(self, op: Any, dot: Any, env: dict[str, Any], run: _Run) -> tuple[Any, list[str]]:
        if op[0] == "field":
            return dot, op[1].split(".")[1:]
        if op[0] == "var":
            name, *names = op[1].split(".")
            if name not in env:
                raise TemplateError(f"undefined variable {name}")
            return env[name], names
        return self._operand(op[1], dot, env, run), list(op[2])

    def _operand(self, op: Any, dot: Any, env: dict[str, Any], run: _Run) -> Any:
        kind = op[0]
        if kind == "dot":
            return dot
        if kind in {"field", "var", "chain"}:
            return self._method_call(op, [], dot, env, run, [])
        if kind in {"str", "raw"}:
            return _unquote(op)
        if kind == "num":
            if len(op[1]) > 20 or not -_MAX_INT <= (n := int(op[1])) < _MAX_INT:
                raise TemplateError(f"number {op[1][:24]} out of range")
            return n
        if kind == "ident":
            if op[1] in {"true", "false"}:
                return op[1] == "true"
            if op[1] == "nil":
                return None
            return self._command([op], dot, env, run, [])
        if kind == "sub":
            return self._pipe(op[1], dot, dict(env), run)
        raise TemplateError(f"unexpected {op[1]!r}")


def _check_size(what: str, n: int) -> None:
    if n > MAX_OUTPUT_CHARS:
        raise TemplateError(f"{what}: a value longer than {MAX_OUTPUT_CHARS} characters")


def _sized(what: str, value: Any) -> Any:
    if isinstance(value, str):
        _check_size(what, len(value))
    return value


def _field(obj: Any, name: str, args: Sequence[Any]) -> Any:
    own = not name.startswith("_") and name not in _BUILTIN_ATTRS and hasattr(type(obj), name)
    if isinstance(obj, Mapping) and not own:
        if args:
            raise TemplateError(f"{name} is not a method but has arguments")
        return obj.get(name, "")  # missingkey=zero
    attr = getattr(obj, name, None) if not name.startswith("_") and name not in _BUILTIN_ATTRS else None
    if attr is None:
        raise TemplateError(f"can't evaluate field {name} in type {type(obj).__name__}")
    if callable(attr):
        _check_size(name, sum(len(a) for a in args if isinstance(a, str)))
        return _sized(name, attr(*args))
    if args:
        raise TemplateError(f"{name} is not a method but has arguments")
    return attr
