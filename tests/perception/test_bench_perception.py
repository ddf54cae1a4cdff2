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
    fps = [float(line.split("│")[5]) for line in rows]  # detect fps column, measured
    assert all(f > 0 for f in fps)
    assert "ONNX Runtime on 2 CPU cores: detect + decode" in out
