"""A short run of the soak test (benchmarks/soak.py) as part of the suite:
1 and 8 clients with correct, wrong, crashing and endless programs, oversize,
chunked, malformed and surrogate bodies, while sandbox workers are killed.
No verdict may be lost and none may differ from the same sample judged alone.
(Its latencies are reported, not asserted: timing belongs to the benchmark.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("httpx")
pytest.importorskip("fastapi")

pytestmark = pytest.mark.sandbox

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"


def test_a_short_soak_loses_nothing_and_changes_nothing(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, str(SOAK), "--seconds", "16", "--levels", "1,8", "--kill-every", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["lost"] == [] and report["differing"] == [], proc.stdout[-3000:]
    assert report["unexpected_refusals"] == {}, proc.stdout[-3000:]
    assert len(report["kills"]) >= 3 and report["server_up_after"]
    assert all(level["verdicts"] > 0 for level in report["levels"])
    assert proc.returncode == 0, proc.stdout[-3000:]
