"""``paramedic patterns [FILE]``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from paramedic.cli import app

LINES = [
    "Accepted publickey for alice from 10.0.0.1 port 5000 ssh2",
    "Connection closed by 10.0.0.4 port 5003",
    "Accepted publickey for alice from 10.0.0.2 port 5001 ssh2",
    "caf\xe9 opened",
]


def _parse(output: str) -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in output.splitlines()]
    assert all(len(r) == 2 for r in rows)
    return [(r[0], r[1]) for r in rows]


def test_stdin() -> None:
    result = CliRunner().invoke(app, ["patterns"], input="\n".join(LINES) + "\n")
    assert result.exit_code == 0, result.output
    rows = _parse(result.output)
    assert len(rows) == len(LINES)
    assert rows[0][0] == rows[2][0] != rows[1][0]
    assert rows[0][1] == "Accepted publickey for alice from <*> port <*>"
    assert rows[1][1] == "Connection closed by <*> port <*>"
    assert rows[3][1] == "caf\xe9 opened"


def test_file_matches_stdin_and_handles_crlf_and_bad_utf8(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"\r\n".join(line.encode() for line in LINES) + b"\r\nbad \xff byte\r\n")
    from_file = CliRunner().invoke(app, ["patterns", str(log)])
    from_stdin = CliRunner().invoke(app, ["patterns"], input="\n".join(LINES) + "\n")
    assert from_file.exit_code == 0
    rows = _parse(from_file.output)
    assert rows[:4] == _parse(from_stdin.output)
    assert rows[4][1] == "bad \ufffd byte"


def test_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["patterns", str(tmp_path / "nope.log")])
    assert result.exit_code == 1
    assert "nope.log" in result.output
