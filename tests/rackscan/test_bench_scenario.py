"""`rackscan bench SCENARIO.yaml` end to end on the indoor scenario (no RTK: 0.3 m/min drift,
camera clock 0.25 s ahead), one aisle: the table holds measured figures and they are good."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _figure(out: str, name: str) -> str:
    line = next(line for line in out.splitlines() if name in line)
    return line.split("│")[2].strip()


def test_bench_scenario_indoor_drift_one_aisle(tmp_path):
    cmd = [str(REPO / ".venv/bin/rackscan"), "bench", str(REPO / "datasets/scenarios/indoor-drift.yaml"),
           "--aisles", "A01", "--out", str(tmp_path / "bench")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={"COLUMNS": "200", **__import__("os").environ})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert _figure(out, "coverage (bins observed").endswith("100.0%")
    n_ok, n = map(int, re.match(r"(\d+)/(\d+)", _figure(out, "bin count accuracy")).groups())
    assert n == 48 and n_ok >= 46
    s_ok, _ = map(int, re.match(r"(\d+)/(\d+)", _figure(out, "SKU accuracy")).groups())
    assert s_ok >= 47
    est, true = map(float, re.match(r"([-+]?[\d.]+) ms \(([-+]?[\d.]+) ms\)", _figure(out, "camera clock offset estimated")).groups())
    assert abs(est - true) < 20
    ratio = float(_figure(out, "processing time / flight time").split("=")[-1])
    assert ratio > 0
    # a second run reuses the recorded flight and every processed stage
    r2 = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={"COLUMNS": "200", **__import__("os").environ})
    assert r2.returncode == 0 and "reusing the recorded flight" in r2.stdout and r2.stdout.count("up to date") == 3
