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

from flight.bundle import Bundle
from imports.logs import read_log
from tests.conftest import REPO

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
    from rackscan.import_bench import run_import_bench

    b = run_import_bench(REPO / "datasets" / "scenarios" / "default.yaml", tmp_path_factory.mktemp("roundtrip"),
                         clock_error_s=CLOCK_ERROR_S, utc_offset="+02:00", log=lambda s: None)
    return b


def test_mp4_and_dataflash_give_the_counts_of_the_original(flights):
    orig, imp = flights.counts["orig"], flights.counts["from_video"]
    assert len(orig) == 8 and sum(c for _, c in orig.values()) > 20
    assert imp == orig and _counts(flights.bundles["from_video"]) == orig
    log = read_log(flights.out / "video.bin")  # what was exported is a DataFlash log pymavlink reads
    assert log.source.kind == "dataflash" and "leap seconds" in log.source.time_source and log.pos_what.startswith("POS")
    meta = Bundle(flights.bundles["from_video"]).meta
    assert meta.source == "import" and meta.extra["import"]["frames"]["files"]["flight.mp4"]


def test_exif_photos_without_triggers_clock_offset_solved_within_20_ms(flights):
    rep = flights.reports["from_photos"]
    assert rep.frame_timing["source"].startswith("camera clock: EXIF") and rep.frame_timing["matched"] == 0
    res = json.loads((flights.bundles["from_photos"] / "fusion" / "result.json").read_text())
    # fusion looks poses up at frame time + offset: a camera 0.3 s fast is an offset of -0.3 s
    assert abs(res["clock_offset_s"] + CLOCK_ERROR_S) < 0.020, res["clock_offset_s"]
    assert flights.counts["from_photos"] == flights.counts["orig"]


def test_photos_with_a_cam_message_each_are_timed_by_the_triggers(flights):
    ft = flights.reports["from_cam"].frame_timing
    n = len(Bundle(flights.bundles["orig"]).frames)
    assert ft["source"].startswith("camera triggers: CAM") and ft["matched"] == n and ft["unmatched_frames"] == 0
    assert abs(ft["offset_s"] + CLOCK_ERROR_S) < 0.001 and ft["residual_ms_max"] < 1.0
    truth = pd.read_csv(flights.bundles["orig"] / "truth" / "poses.csv")["t_ns"].to_numpy()
    assert abs(Bundle(flights.bundles["from_cam"]).frame_times_ns - truth).max() < 1_000_000  # on the autopilot's clock


def test_the_flights_page_and_replay_work_on_an_imported_bundle(flights, tmp_path, monkeypatch):
    from dashboard.access import Session, utcnow
    from dashboard.gate import SESSION_KEY
    from reconciliation.store import ResultsStore
    from tests.dashboard.factories import make_users

    monkeypatch.setenv("RACKSCAN_DB", flights.db_url)
    monkeypatch.setenv("RACKSCAN_USERS", str(make_users(tmp_path / "users.yaml")))
    fl = ResultsStore(flights.db_url).list_flights().iloc[0]
    video = flights.bundles["from_video"]
    assert fl["n_frames"] == len(Bundle(video).frames) and fl["flight_time_s"] > 3
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=90)
    now = utcnow()
    at.session_state[SESSION_KEY] = Session("lan", "apptest", now, now)
    at.run()
    at.switch_page("views/flights.py")
    at.run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == f"Flight {Bundle(video).meta.flight_id}"
    assert len(at.get("plotly_chart")) == 1 and (at.get("imgs") or at.get("image"))
    out = _run("replay", str(video), "--every", "3", "--no-rerun", "--out", str(tmp_path / "rp"))
    assert "annotated video" in out and (tmp_path / "rp" / "replay.mp4").stat().st_size > 10_000
