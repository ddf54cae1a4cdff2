"""`rackscan replay`: annotated video + Rerun recording of a processed flight, and a re-run with
another threshold compared bin by bin."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world

REPO = Path(__file__).resolve().parents[2]
RACKSCAN = str(REPO / ".venv/bin/rackscan")


def test_replay_video_rerun_and_rerun_with_another_threshold(tmp_path, monkeypatch):
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    b = tmp_path / "bundle"
    record_synthetic_flight(world, b, face_ids=["R02/front"], max_passes_per_face=2)
    r = subprocess.run([RACKSCAN, "process", str(b)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # the fusion result saved by process is what a replay reads: no second fusion
    import pandas as pd

    import slam_fusion.tools.io as fio
    from flight.bundle import Bundle

    monkeypatch.setattr(fio, "fuse_bundle", lambda *a, **k: (_ for _ in ()).throw(AssertionError("fused again")))
    saved = fio.fused(Bundle(b))
    obs = pd.read_parquet(b / "observations.parquet")
    assert {o.bin_id: o.count for o in saved.observations} == dict(zip(obs.bin_id, obs["count"]))
    assert [o.count_confidence for o in saved.observations] == obs["count_confidence"].tolist()  # the count's own
    assert [o.n_serials for o in saved.observations] == obs["n_serials"].tolist()  # the labels of its GTIN read
    assert ((obs["n_serials"] <= obs["count"]) & ((obs["sku"] != "") | (obs["n_serials"] == 0))).all()
    assert [(o.count_lo, o.count_hi) for o in saved.observations] == [
        (lo, None if pd.isna(hi) else hi) for lo, hi in zip(obs["count_lo"], obs["count_hi"])]  # the counts allowed
    assert ((obs["count_lo"] <= obs["count"]) & (obs["count_hi"].isna() | (obs["count"] <= obs["count_hi"]))).all()
    assert [";".join(o.size_fits) for o in saved.observations] == obs["size_fits"].tolist()  # sizes fitting unread goods
    assert len(saved.trajectory) > 10 and saved.tracks
    monkeypatch.undo()
    r = subprocess.run([RACKSCAN, "replay", str(b), "--every", "2", "--conf", "0.9", "--out", str(tmp_path / "rp")],
                       capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "COLUMNS": "160"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "tires counted:" in r.stdout and "re-run detections in" in r.stdout.replace(chr(10), ' ')
    cap = cv2.VideoCapture(str(tmp_path / "rp" / "replay.mp4"))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, img = cap.read()
    assert ok and n >= 10 and img.shape[1] == 960
    rrd = tmp_path / "rp" / "replay.rrd"
    assert rrd.stat().st_size > 10_000 and rrd.read_bytes()[:4] == b"RRF2"


def test_replay_without_detections_is_one_line_error(tmp_path):
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    record_synthetic_flight(world, tmp_path / "b", face_ids=["R02/front"], max_passes_per_face=1)
    r = subprocess.run([RACKSCAN, "replay", str(tmp_path / "b")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "run `rackscan process" in r.stderr
