"""``paramedic demo``'s folder is the user's alone, and a shared folder is refused, never changed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from paramedic.demo._output import DemoError
from paramedic.demo._run import _private_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_folder_is_made_0700_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "a" / "demo"
    _private_dir(target)
    assert _mode(target) == 0o700


def test_an_own_folder_left_open_by_an_older_run_is_closed(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    target.mkdir()
    target.chmod(0o755)
    _private_dir(target)
    assert _mode(target) == 0o700


def test_a_shared_sticky_folder_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(DemoError, match=r"is shared .*mode 1777.*a folder of your own"):
        _private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    with pytest.raises(DemoError, match="is not a folder"):
        _private_dir(target)
