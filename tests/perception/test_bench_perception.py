"""`rackscan bench perception` runs its CPU speed part end to end and prints both backends."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_perception_cpu_speed_table():
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "bench", "perception", "--skip", "codes", "--skip", "detector",
                        "--skip", "gpu", "--frames", "2", "--cores", "2"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "frames per second at 1920x1080" in out
    rows = [line for line in out.splitlines() if line.startswith("│ onnx") or line.startswith("│ torch")]
    assert len(rows) == 2
    cells = [[c.strip() for c in line.split("│")] for line in rows]
    assert all(c[5] == "1" for c in cells)  # on 2 cores, one thread reads codes beside the detector, as process does
    fps = [(float(c[6]), float(c[7])) for c in cells]  # detect, detect + decode: measured
    # both measured, neither compared: with codes read on a thread beside the detector, two frames on a
    # shared CI machine can time detect + decode at or above detect alone (CI failed once so)
    assert all(det > 0 and total > 0 for det, total in fps)
    assert "ONNX Runtime on 2 CPU cores: detect + decode" in out
