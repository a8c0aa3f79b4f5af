"""The Cloud Foundry adapter must never import the simulator it is tested against (it speaks HTTP to it)."""

from __future__ import annotations

import ast
from pathlib import Path

import platforms.cloudfoundry


def test_the_cloudfoundry_adapter_does_not_import_cf_sim() -> None:
    package = Path(platforms.cloudfoundry.__file__).parent
    offenders = []
    for source in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            offenders += [f"{source.name}: {n}" for n in names if n.startswith("platforms.cf_sim")]
    assert list(package.rglob("*.py")), "the adapter package has sources"
    assert offenders == []
