"""A synthetic flight out as a real drone's files and back in (`rackscan export`, `rackscan
import`): its MP4 + DataFlash log give the same counts as the original bundle; its photos with
EXIF times (a camera 0.3 s fast, local time at UTC+02:00) and a log without trigger messages give
fusion's clock offset within 20 ms of the truth; photos with a CAM message each are timed by them;
the dashboard's Flights page and `rackscan replay` work on the imported bundle.

Real renders, the shipped detector, real encoders (libx264 through PyAV, JPEG with EXIF by
Pillow's writer) and pymavlink reading the DataFlash log. About 60 s on 2 cores: three flights
processed (detect + fuse), one face, one pass."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world
from flight.bundle import Bundle
from imports.export import export_flight
from imports.importer import ImportOptions, import_flight
from imports.logs import read_log
from tests.conftest import REPO
from warehouse.camera import dump_camera

pytestmark = pytest.mark.slow
RACKSCAN = str(REPO / ".venv/bin/rackscan")
CLOCK_ERROR_S = 0.3  # the camera's clock is this far ahead of the autopilot's


def _run(*args: str) -> str:
    r = subprocess.run([RACKSCAN, *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout


def _counts(bundle: Path) -> dict[str, tuple[str, int]]:
    obs = pd.read_parquet(bundle / "observations.parquet")
    return {r.bin_id: (r.sku, int(r.count)) for r in obs.itertuples()}


@pytest.fixture(scope="module")
def flights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    orig = tmp / "orig"
    record_synthetic_flight(world, orig, face_ids=["R02/front"], max_passes_per_face=1, clock_offset_s=CLOCK_ERROR_S)
    b = Bundle(orig)
    cam = tmp / "camera.yaml"
    dump_camera(b.camera_spec(), cam)
    common = dict(camera=cam, site=orig / "site.yaml", catalogue=orig / "catalogue.csv")
    # the camera's MP4 + the autopilot's DataFlash log
    export_flight(orig, log=tmp / "video.bin", video=tmp / "flight.mp4")
    import_flight(ImportOptions(logs=(tmp / "video.bin",), video=tmp / "flight.mp4", out=tmp / "from_video", **common))
    # the camera's photos (EXIF, UTC+02:00) + a log without trigger messages
    export_flight(orig, log=tmp / "photos.bin", photos=tmp / "photos", utc_offset="+02:00")
    rep_photos = import_flight(ImportOptions(logs=(tmp / "photos.bin",), images=tmp / "photos", out=tmp / "from_photos",
                                             **common))
    erp = tmp / "erp_stock.csv"
    world.erp.to_csv(erp, index=False)
    _run("process", str(orig))
    _run("process", str(tmp / "from_video"), "--erp", str(erp), "--db", f"sqlite:///{tmp / 'results.db'}")
    _run("process", str(tmp / "from_photos"))
    return {"tmp": tmp, "orig": orig, "video": tmp / "from_video", "photos": tmp / "from_photos", "rep_photos": rep_photos,
            "db": f"sqlite:///{tmp / 'results.db'}", "cam": cam}


def test_mp4_and_dataflash_give_the_counts_of_the_original(flights):
    orig, imp = _counts(flights["orig"]), _counts(flights["video"])
    assert len(orig) == 8 and sum(c for _, c in orig.values()) > 20
    assert imp == orig
    log = read_log(flights["tmp"] / "video.bin")  # what was exported is a DataFlash log pymavlink reads
    assert log.source.kind == "dataflash" and "leap seconds" in log.source.time_source and log.pos_what.startswith("POS")
    meta = Bundle(flights["video"]).meta
    assert meta.source == "import" and meta.extra["import"]["frames"]["files"]["flight.mp4"]


def test_exif_photos_without_triggers_clock_offset_solved_within_20_ms(flights):
    rep = flights["rep_photos"]
    assert rep.frame_timing["source"].startswith("camera clock: EXIF") and rep.frame_timing["matched"] == 0
    res = json.loads((flights["photos"] / "fusion" / "result.json").read_text())
    # fusion looks poses up at frame time + offset: a camera 0.3 s fast is an offset of -0.3 s
    assert abs(res["clock_offset_s"] + CLOCK_ERROR_S) < 0.020, res["clock_offset_s"]
    assert _counts(flights["photos"]) == _counts(flights["orig"])


def test_photos_with_a_cam_message_each_are_timed_by_the_triggers(flights):
    tmp = flights["tmp"]
    export_flight(flights["orig"], log=tmp / "cam.bin", photos=tmp / "photos_cam", utc_offset="-05:00", triggers=True)
    rep = import_flight(ImportOptions(logs=(tmp / "cam.bin",), images=tmp / "photos_cam", camera=flights["cam"],
                                      site=flights["orig"] / "site.yaml", out=tmp / "from_cam"))
    ft = rep.frame_timing
    n = len(Bundle(flights["orig"]).frames)
    assert ft["source"].startswith("camera triggers: CAM") and ft["matched"] == n and ft["unmatched_frames"] == 0
    assert abs(ft["offset_s"] + CLOCK_ERROR_S) < 0.001 and ft["residual_ms_max"] < 1.0
    truth = pd.read_csv(flights["orig"] / "truth" / "poses.csv")["t_ns"].to_numpy()
    assert abs(Bundle(tmp / "from_cam").frame_times_ns - truth).max() < 1_000_000  # frames on the autopilot's clock


def test_the_flights_page_and_replay_work_on_an_imported_bundle(flights, tmp_path, monkeypatch):
    from dashboard.access import Session, utcnow
    from dashboard.gate import SESSION_KEY
    from reconciliation.store import ResultsStore
    from tests.dashboard.factories import make_users

    monkeypatch.setenv("RACKSCAN_DB", flights["db"])
    monkeypatch.setenv("RACKSCAN_USERS", str(make_users(tmp_path / "users.yaml")))
    fl = ResultsStore(flights["db"]).list_flights().iloc[0]
    assert fl["n_frames"] == len(Bundle(flights["video"]).frames) and fl["flight_time_s"] > 3
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=90)
    now = utcnow()
    at.session_state[SESSION_KEY] = Session("lan", "apptest", now, now)
    at.run()
    at.switch_page("views/flights.py")
    at.run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == f"Flight {Bundle(flights['video']).meta.flight_id}"
    assert len(at.get("plotly_chart")) == 1 and (at.get("imgs") or at.get("image"))
    out = _run("replay", str(flights["video"]), "--every", "3", "--no-rerun", "--out", str(tmp_path / "rp"))
    assert "annotated video" in out and (tmp_path / "rp" / "replay.mp4").stat().st_size > 10_000
