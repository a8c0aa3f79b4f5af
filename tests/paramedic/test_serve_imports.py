"""What ``paramedic serve`` imports before it knows its configuration: no package that only a feature it may
not use needs (forecasting, PDF reports, the remote store). Each is tens of MB resident for the server's
whole life (issue 18: peak memory of the query benchmark)."""

from __future__ import annotations

import subprocess
import sys

# the package and the feature that needs it
_LAZY = {
    "sklearn": "forecasts (harmonic forecaster, capacity growth fit)",
    "river": "the harmonic forecaster's online level and drift detector",
    "scipy": "scikit-learn and river",
    "matplotlib": "report charts and the PDF's font",
    "fpdf": "PDF reports",
    "influxdb_client": "the remote metrics store",
}


def test_the_server_module_imports_no_feature_only_package() -> None:
    code = (
        "import sys\nimport paramedic.assembly\n"
        f"print(' '.join(sorted(p for p in {sorted(_LAZY)!r} if p in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = out.stdout.split()
    assert loaded == [], {p: _LAZY[p] for p in loaded}
