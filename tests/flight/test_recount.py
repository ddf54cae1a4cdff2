"""Targeted recounts: a mission over only the listed bins sees each of them as the full mission does,
and flies less; `rackscan plan --bins / --recount-queue`."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from flight.errors import FlightError
from flight.planner import PlanOptions, plan
from flight.recount import RUN_UP_M, plan_recount, read_bin_list
from rackscan.cli import main
from reconciliation.diff import reconcile
from reconciliation.erp import ErpSnapshot
from reconciliation.store import ResultsStore
from tests.conftest import DEFAULT_SITE
from warehouse.camera import CameraSpec
from warehouse.site import load_site

SITE = load_site(DEFAULT_SITE)
CAM = CameraSpec()
FULL = plan(SITE, CAM)
HALF_U = FULL.standoff_m * math.tan(math.radians(CAM.fov_deg()[0]) / 2)
HALF_V = FULL.standoff_m * math.tan(math.radians(CAM.fov_deg()[1]) / 2)


def _views(passes, b):
    """The heights of the passes whose view reaches bin b, and whether each flies past it whole."""
    out = {}
    for p in passes:
        if p.face_id == b.face_id and b.v0_m - HALF_V < p.v_m < b.v1_m + HALF_V:
            lo, hi = sorted((p.u_from_m, p.u_to_m))
            length = SITE.face(b.face_id).length_m  # the full mission too starts and ends 0.5 m past the face
            out[round(p.v_m, 3)] = (lo <= max(-0.5, b.u0_m - HALF_U) + 1e-6) and (hi >= min(length + 0.5, b.u1_m + HALF_U) - 1e-6)
    return out


@pytest.mark.parametrize("n_bins, seed", [(1, 0), (1, 5), (3, 1), (10, 2), (10, 7), (30, 3)])
def test_each_listed_bin_is_flown_past_as_the_full_mission_flies_past_it(n_bins, seed):
    ids = random.Random(seed).sample([b.bin_id for b in SITE.bins], n_bins)
    r = plan_recount(SITE, CAM, ids)
    assert r.bins_planned == n_bins and r.missions
    for bid in ids:
        b = SITE.bin(bid)
        full, mine = _views(FULL.passes, b), _views(r.passes, b)
        assert set(mine) == set(full), bid  # the same heights
        assert all(mine.values()), bid  # each pass flies past the whole bin and the camera's half view
    assert all(abs(p.u_to_m - p.u_from_m) <= FULL.passes[0].u_to_m - FULL.passes[0].u_from_m + 1e-9 for p in r.passes)
    assert r.est_flight_time_s < FULL.est_flight_time_s
    assert r.speed_m_s == FULL.speed_m_s and r.standoff_m == FULL.standoff_m


def test_one_bin_flies_a_fifth_of_the_site_or_less():
    shares = [plan_recount(SITE, CAM, [b]).est_flight_time_s / FULL.est_flight_time_s
              for b in random.Random(0).sample([x.bin_id for x in SITE.bins], 10)]
    assert max(shares) <= 0.2
    assert RUN_UP_M > 0


def test_bin_list_text_and_csv(tmp_path):
    a, b = SITE.bins[0].bin_id, SITE.bins[5].bin_id
    (tmp_path / "bins.txt").write_text(f"# tonight's recounts\n{a}\n\n{b}  # a note\n{a}\n")
    assert read_bin_list(tmp_path / "bins.txt", SITE) == [a, b]
    pd.DataFrame({"kind": ["short", "over"], "bin_id": [b, a]}).to_csv(tmp_path / "d.csv", index=False)
    assert read_bin_list(tmp_path / "d.csv", SITE) == [b, a]


@pytest.mark.parametrize("text, message", [
    ("A01-B01-L1-P1\nZ9\n", ":2: bin 'Z9' is not on site"),
    ("kind,qty\nshort,1\n", ":1: CSV header ['kind', 'qty']; expected a bin_id column"),
    ("# nothing\n", "no bin ids"),
])
def test_bad_bin_list_is_one_line(tmp_path, text, message):
    (tmp_path / "bins.txt").write_text(text)
    with pytest.raises(FlightError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_bin_list(tmp_path / "bins.txt", SITE)


def test_plan_cli_recounts_listed_bins_and_the_review_queue(tmp_path, capsys):
    ids = [SITE.bins[3].bin_id, SITE.bins[40].bin_id]
    (tmp_path / "bins.txt").write_text("\n".join(ids) + "\n")
    assert main(["plan", str(DEFAULT_SITE), "--bins", str(tmp_path / "bins.txt"), "-o", str(tmp_path / "rc.plan")]) == 0
    out = capsys.readouterr().out
    assert "bins to recount" in out and (tmp_path / "rc.plan").exists() and (tmp_path / "rc.png").exists()
    # the review queue: a doubtful count, and a short a reviewer sent back
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = ResultsStore(db)
    obs = pd.DataFrame({"bin_id": ids, "sku": ["s1", "s2"], "count": [3, 1], "confidence": [0.5, 0.95]})
    erp = pd.DataFrame({"bin_id": ids, "sku": ["s1", "s2"], "qty": [4, 4]})
    fid = store.upsert_flight("f1", site_id=store.upsert_site("default", DEFAULT_SITE.read_text()), observations=obs)
    snap = ErpSnapshot("erp.csv", "0" * 64, erp.assign(description="", lot="", unit_price=None))
    rid = store.save_reconciliation(fid, store.import_erp_snapshot(snap), reconcile(erp, obs), {})
    assert store.recount_queue(rid) == [ids[0]]
    short = store.list_discrepancies(rid, kinds=["short"])
    store.record_review(short["id"].tolist(), "recount_ordered", "lan", "controller")
    assert store.recount_queue() == sorted(ids)
    assert main(["plan", str(DEFAULT_SITE), "--recount-queue", db, "-o", str(tmp_path / "q.plan")]) == 0
    assert "bins to recount" in capsys.readouterr().out
    assert main(["plan", str(DEFAULT_SITE), "--bins", str(tmp_path / "bins.txt"), "--recount-queue", db]) == 1
    assert "expected one of them" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [0, 4, 9])
def test_a_faces_passes_are_chained_at_the_face(seed):
    """Between two recount passes on one face the vehicle stays at the face (no waypoint at the
    transit altitude, no new heading), and the estimate is shorter than climbing out between them."""
    from flight.planner import PlanOptions, _build_missions

    r = plan_recount(SITE, CAM, random.Random(seed).sample([b.bin_id for b in SITE.bins], 10))
    faces = [p.face_id for p in r.passes]
    runs = 1 + sum(a != b for a, b in zip(faces, faces[1:]))  # runs of passes on one face
    assert len(r.missions) == 1 and runs < len(r.passes)
    items = r.missions[0].items
    transit = max(it.rel_alt_m for it in items if it.kind == "waypoint")
    assert sum(it.kind == "waypoint" and it.rel_alt_m == transit for it in items) == 2 + 2 * runs  # over home out and back; in, out per run
    assert sum(it.kind == "set_yaw" for it in items) == runs
    climbing = _build_missions(SITE, CAM, PlanOptions(), r.passes, {p.aisle_id: r.standoff_m for p in r.passes},
                               r.speed_m_s, r.passes_per_face, r.min_frames_per_bin, [], r.exposure)
    assert r.est_flight_time_s < 0.9 * climbing.est_flight_time_s


def test_a_camera_pair_recounts_bins_of_both_faces_in_the_same_passes():
    """A recount with a left and right pair flies the full plan's passes down the aisle's middle that
    see the listed bins, cut to their span: one pass serves a bin on each face."""
    site = SITE
    cam = CameraSpec(name="pair-4k", image_width_px=3840, image_height_px=2160, focal_mm=4.4, mounts_yaw_deg=(-90.0, 90.0))
    fa, fb = site.faces_of_aisle("A01")
    a = next(b for b in fa.bins if b.level == 1)
    b = min((x for x in fb.bins if x.level == 1), key=lambda x: abs(
        fa.site_to_face(fb.face_to_site([[x.center_uv_m[0], 0, 0]]))[0][0] - a.center_uv_m[0]))
    rp = plan_recount(site, cam, [a.bin_id, b.bin_id])
    full = plan(site, cam, PlanOptions(aisles=("A01",)))
    assert rp.bins_planned == 2 and rp.passes and all(p.other_face_id == fb.face_id for p in rp.passes)
    assert {a.bin_id, b.bin_id} <= {x for p in rp.passes for x in p.bin_ids}
    assert len(rp.passes) < len(full.passes) and rp.est_flight_time_s < full.est_flight_time_s
    assert max(abs(p.u_to_m - p.u_from_m) for p in rp.passes) < fa.length_m / 2
