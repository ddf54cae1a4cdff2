"""Detector output of a rendered flight along one rack face, fused: counts and SKUs per bin
against the synthetic warehouse's truth (real renders, real detector, real decoders)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world

REPO = Path(__file__).resolve().parents[2]
RACKSCAN = str(REPO / ".venv/bin/rackscan")


def test_detect_then_fuse_counts_the_face_bins(tmp_path):
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    out = tmp_path / "bundle"
    record_synthetic_flight(world, out, face_ids=["R02/front"])
    for cmd in (["detect", str(out)], ["fuse", str(out), "--ply", str(tmp_path / "faces.ply")]):
        r = subprocess.run([RACKSCAN, *cmd], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    obs = pd.read_parquet(out / "observations.parquet")
    face_bins = {b.bin_id for b in world.site.face("R02/front").bins}
    assert set(obs.bin_id) == face_bins  # every bin of the face scanned, nothing from behind the rack
    truth = world.stock[world.stock["count"] > 0].groupby("bin_id").agg(count=("count", "sum"), sku=("sku", "first"))
    got = obs.set_index("bin_id")
    count_ok = sum(int(got.loc[b, "count"]) == int(truth["count"].get(b, 0)) for b in face_bins)
    sku_ok = sum(got.loc[b, "sku"] == truth["sku"].get(b, "") for b in face_bins)
    assert count_ok >= 22 and sku_ok >= 23, (count_ok, sku_ok, len(face_bins))
    # evidence: the best frame and the bin cut out of it, for every bin with tires
    full = obs[obs["count"] > 0]
    assert all((out / p).exists() for p in full.evidence_path) and (full.evidence_crop_path != "").mean() > 0.9
    # the PLY mesh is well formed: header counts match the body
    lines = (tmp_path / "faces.ply").read_text().splitlines()
    n_v = int(next(x for x in lines if x.startswith("element vertex")).split()[-1])
    n_f = int(next(x for x in lines if x.startswith("element face")).split()[-1])
    body = lines[lines.index("end_header") + 1:]
    assert len(body) == n_v + n_f and n_f > 2 * 24 and all(x.startswith("3 ") for x in body[n_v:])
