"""The live counter on a flight whose recorder has already closed it (an engineer replaying a
recorded flight, or the worker catching up after landing): every bin written once, as the
offline pass counts it; a flight never shown live, or without frames, ends the worker quietly."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world
from flight.errors import FlightError
from rackscan.live_count import LiveCounter, LiveCountOptions, compare_with_final, replay_live_fusions
from rackscan.process import process_bundle
from reconciliation.live import begin_live, live_bins, write_live_bins
from reconciliation.store import ResultsStore
from tests.conftest import REPO

SCENARIO = REPO / "datasets" / "scenarios" / "default.yaml"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("livecount")
    world = build_world(SCENARIO)
    record_synthetic_flight(world, root / "flight", face_ids=["R02/front"], max_passes_per_face=1)
    world.erp.to_csv(root / "erp.csv", index=False)
    return world, root


def test_a_closed_flight_is_counted_as_the_offline_pass_counts_it(recorded, tmp_path):
    world, root = recorded
    shutil.copytree(root / "flight", tmp_path / "flight")
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    bins = [b.bin_id for b in world.site.face("R02/front").bins]
    lid = begin_live(store, "flight", site_name="s", site_yaml="", plan=[(5, bins)], n_items=9)
    lines = []
    c = LiveCounter(tmp_path / "flight", f"sqlite:///{tmp_path / 'r.db'}", LiveCountOptions(erp=str(root / "erp.csv")),
                    log=lines.append)
    c.run(timeout_s=600)
    prov = live_bins(store, lid)
    assert sorted(prov.bin_id) == sorted(bins) and c.n_done == len(c.dets) > 0
    assert lines[-1].startswith(f"live: done: {c.n_done} of {c.n_done} frames processed")
    assert set(prov.kind) <= {"match", "short", "over", "ghost", "misplaced", "unexpected_sku", "needs_recount", "not_scanned"}
    assert prov.erp_qty.notna().all()
    process_bundle(tmp_path / "flight", log=lambda s: None)
    same, n, changed = compare_with_final(store, lid, pd.read_parquet(tmp_path / "flight" / "observations.parquet"))
    assert (same, n, changed) == (len(bins), len(bins), [])  # the same frames, the same fusion
    assert (prov.frames_fused == c.n_done).all()  # one fusion, of every frame (the flight was closed)
    rep = replay_live_fusions(tmp_path / "flight", store, lid)  # fused again offline from what the store says
    assert sorted(rep.bin_id) == sorted(bins) and (rep.replayed == rep.provisional).all(), rep


def test_a_replay_needs_the_frames_each_bin_was_fused_from(recorded, tmp_path):
    world, root = recorded
    shutil.copytree(root / "flight", tmp_path / "flight")
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    lid = begin_live(store, "flight", site_name="s", site_yaml="", plan=[(5, ["A01-B01-L1-P1"])], n_items=9)
    with pytest.raises(FlightError, match="the live count wrote no bins; nothing to replay"):
        replay_live_fusions(tmp_path / "flight", store, lid)
    write_live_bins(store, lid, [{"bin_id": "A01-B01-L1-P1", "count": 1, "sku": "", "confidence": 1.0, "erp_qty": None,
                                  "kind": "counted", "latency_s": None}])  # a row from before frames_fused was kept
    with pytest.raises(FlightError, match="do not say how many frames each was fused from"):
        replay_live_fusions(tmp_path / "flight", store, lid)


def test_nothing_to_count_ends_quietly(recorded, tmp_path):
    _, root = recorded
    shutil.copytree(root / "flight", tmp_path / "flight")
    lines = []
    c = LiveCounter(tmp_path / "flight", f"sqlite:///{tmp_path / 'r.db'}", log=lines.append)
    c.run(timeout_s=120)  # no live flight of that name: the feed never started
    assert "no live flight 'flight' in the store; nothing counted live" in lines[0]
