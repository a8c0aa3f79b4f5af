"""Errors raised by the exposition parser.

Hierarchy::

    ValueError
     └── ParseError      any invalid input: syntax, semantics, invalid UTF-8 (line and column always set)
"""

from __future__ import annotations

__all__ = ["ParseError"]


class ParseError(ValueError):
    """The input is not a valid exposition.

    ``str(err)`` is the full message, ``err.line`` and ``err.column`` are 1-based (column counts characters,
    or the offending byte for invalid UTF-8). For the text format the message starts with the reference Go
    parser's wording: ``text format parsing error in line N: ...`` and ends with `` (column C)``.
    """

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, int, int]]:
        return (type(self), (self.message, self.line, self.column))
