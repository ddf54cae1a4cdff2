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
           "--aisles", "A01", "--faces", "R02/front", "--out", str(tmp_path / "bench")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={"COLUMNS": "200", **__import__("os").environ})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert _figure(out, "coverage (bins observed").endswith("100.0%")
    n_ok, n = map(int, re.match(r"(\d+)/(\d+)", _figure(out, "bin count accuracy")).groups())
    assert n == 24 and n_ok >= 23
    s_ok, _ = map(int, re.match(r"(\d+)/(\d+)", _figure(out, "SKU accuracy")).groups())
    assert s_ok >= 23
    est, true = map(float, re.match(r"([-+]?[\d.]+) ms \(([-+]?[\d.]+) ms\)", _figure(out, "camera clock offset estimated")).groups())
    assert abs(est - true) < 20
    ratio = float(_figure(out, "processing time / flight time").split("=")[-1])
    assert ratio > 0
    # a second run reuses the recorded flight and every processed stage
    r2 = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={"COLUMNS": "200", **__import__("os").environ})
    assert r2.returncode == 0 and "reusing the recorded flight" in r2.stdout and r2.stdout.count("up to date") == 3
    # the drift solvers compared on the same flight against its true camera positions
    r3 = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "drift", str(tmp_path / "bench" / "flight"),
                         "--solvers", "scipy"], capture_output=True, text=True, timeout=600,
                        env={"COLUMNS": "200", **__import__("os").environ})
    assert r3.returncode == 0, r3.stdout[-3000:] + r3.stderr[-3000:]
    rows = {cells[2]: cells for cells in (
        [c.strip() for c in line.split("│")] for line in r3.stdout.splitlines() if line.count("│") >= 7)}
    raw_m = float(rows["none"][3].split("/")[0])
    fixed_m = float(rows["scipy"][3].split("/")[0])
    assert raw_m > 0.15 and fixed_m < 0.05, r3.stdout  # 0.3 m/min of drift over one face, corrected to centimetres
    assert int(rows["scipy"][6].split("/")[0]) >= 23
    # the confidence against the truth: a table by band, the error figures and the diagram
    r4 = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "calibration", str(tmp_path / "bench" / "flight"),
                         "--fit", "--png", str(tmp_path / "rel.png")], capture_output=True, text=True, timeout=600,
                        env={"COLUMNS": "200", **__import__("os").environ})
    assert r4.returncode == 0, r4.stdout[-3000:] + r4.stderr[-3000:]
    ece = float(re.search(r"confidence: expected calibration error ([\d.]+)", r4.stdout).group(1))
    assert ece < 0.1 and "fitted on all these flights: Calibration(" in r4.stdout
    import cv2

    assert cv2.imread(str(tmp_path / "rel.png")).shape == (500, 500, 3)


def test_bench_drift_refuses_a_bundle_without_truth(tmp_path):
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "drift", str(tmp_path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "truth/poses.csv" in r.stdout + r.stderr


def test_bench_scenario_refuses_a_face_outside_its_aisles(tmp_path):
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", str(REPO / "datasets/scenarios/indoor-drift.yaml"),
                        "--aisles", "A01", "--faces", "R03/back", "--out", str(tmp_path / "bench")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert lines == ["error: --faces R03/back: not a face of A01; expected one of R01/back, R02/front"], lines
