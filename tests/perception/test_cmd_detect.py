"""`rackscan detect` on a real synthetic flight bundle: detections.parquet with boxes, codes, tracks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world
from perception.io import read_detections

REPO = Path(__file__).resolve().parents[2]


def test_detect_writes_boxes_codes_tracks_and_skips_a_corrupt_frame(tmp_path):
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    out = tmp_path / "bundle"
    res = record_synthetic_flight(world, out, face_ids=["R02/front"], max_passes_per_face=1)
    frames = sorted((out / "frames").glob("*.jpg"))
    frames[-1].write_bytes(frames[-1].read_bytes()[:100])  # a truncated frame
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "detect", str(out), "--annotate", str(tmp_path / "ann")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    dets = read_detections(out / "detections.parquet")
    assert len(dets) == res.n_frames - 1
    texts = {t for d in dets for t in d.codes.text}
    site_bins = {b.bin_id for b in world.site.bins}
    assert texts & site_bins  # location labels read
    tracked = [t for d in dets for t in d.track_id if t >= 0]
    assert tracked and len(set(tracked)) < len(tracked)  # ids persist across frames
    assert len(list((tmp_path / "ann").glob("*.jpg"))) == len(dets)


def test_detect_missing_bundle_is_one_line_error(tmp_path):
    r = subprocess.run([str(REPO / ".venv/bin/rackscan"), "detect", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert (r.stdout + r.stderr).strip().startswith("error:") and "Traceback" not in r.stdout + r.stderr
