"""Good and bad config files (tests/config/*.good.yaml, *.bad.yaml). A bad file's first line says
``# error: <expected start of one reported problem>``; the reported problem names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paramedic.cli import app
from paramedic.config import ConfigError, load_config

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
GOOD = sorted(CONFIG_DIR.glob("*.good.yaml"))
BAD = sorted(CONFIG_DIR.glob("*.bad.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# error: "), f"{path.name} must start with '# error: ...'"
    return first.removeprefix("# error: ")


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_good_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.server.listen_host == "127.0.0.1"


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_config_names_file_line_and_key(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONFIG_DIR)
    with pytest.raises(ConfigError) as info:
        load_config(Path(path.name))
    rendered = [str(p) for p in info.value.problems]
    assert any(r.startswith(_expected(path)) for r in rendered), rendered


def test_fixture_sets_are_not_empty() -> None:
    assert len(GOOD) >= 3
    assert len(BAD) >= 6


def test_secrets_are_redacted() -> None:
    cfg = load_config(CONFIG_DIR / "remote-store.good.yaml")
    assert "s3cr3t" not in repr(cfg)
    assert "s3cr3t" not in cfg.model_dump_json()


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_check_config_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONFIG_DIR)
    runner = CliRunner()
    ok = runner.invoke(app, ["check", "config", "full.good.yaml"])
    assert ok.exit_code == 0, ok.output
    assert "full.good.yaml: OK" in ok.output
    bad = runner.invoke(app, ["check", "config", "bad-port.bad.yaml"])
    assert bad.exit_code == 1
    assert "bad-port.bad.yaml:3: server.listen_port" in bad.output
