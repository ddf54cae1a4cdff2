"""Real public logs of three origins (a MAVLink 1 tlog from an APM, an ArduCopter DataFlash .bin,
a PX4 .ulg: tests/data/README.md) import with their positions and attitude over time in the
import report; deliberately broken copies import with a warning naming the byte offset or fail
with one line naming the file and where; no traceback."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flight.bundle import Bundle
from imports.errors import ImportsError
from imports.importer import ImportOptions, import_flight
from imports.logs import read_log
from rackscan.cli import main
from slam_fusion.tools.tlog import trajectory_from_bundle
from tests.imports import broken
from tests.imports.helpers import small_camera, site_at, video_at

ORIGINS = [(broken.TLOG, "tlog", "GLOBAL_POSITION_INT", "ground station receive time"),
           (broken.DATAFLASH, "dataflash", "GPS", "GPS week/time-of-week"),
           (broken.ULOG, "ulog", "vehicle_gps_position", "GPS time_utc_usec")]
README = (broken.LOGS.parent / "README.md").read_text()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Per real log: a camera file, a site placed where it flew, an MP4 inside its flight."""
    tmp = tmp_path_factory.mktemp("real")
    cam = small_camera(tmp / "cam.yaml")
    out = {}
    for log, kind, _, _ in ORIGINS:
        tel = read_log(log)
        lat, lon, alt = tel.pos[0]
        site = site_at(tmp / f"site-{kind}.yaml", lat, lon, alt)
        start = int(tel.pos_t_ns[0] + 0.5e9)
        out[kind] = {"cam": cam, "site": site, "video": video_at(tmp / f"{kind}.mp4", start, n=8, fps=2.0), "tel": tel}
    return out


@pytest.mark.parametrize("log,kind,what,clock", ORIGINS, ids=[o[1] for o in ORIGINS])
def test_a_real_log_imports_with_positions_and_attitude_plotted(tmp_path, inputs, log, kind, what, clock):
    i = inputs[kind]
    r = import_flight(ImportOptions(logs=(log,), video=i["video"], camera=i["cam"], site=i["site"], out=tmp_path / "b"))
    assert r.logs[0]["kind"] == kind and clock in r.logs[0]["time_source"]
    assert r.logs[0]["sha256"] in README  # the file is the one the README records
    assert what in r.poses["source"] and r.poses["n"] >= 20 and r.frames["n"] == 8
    png = tmp_path / "b" / "import" / "report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert json.loads((tmp_path / "b" / "import" / "report.json").read_text())["poses"]["n"] == r.poses["n"]
    # the bundle is what fusion reads: a trajectory in the site frame, near the origin where it flew
    b = Bundle(tmp_path / "b")
    traj = trajectory_from_bundle(b)
    assert len(traj) == r.poses["n"] and len(b.frames) == 8
    assert np.all(np.abs(traj.positions_site_m) < 5000) and np.ptp(traj.positions_site_m, axis=0).max() > 0.2
    prov = b.meta.extra["import"]
    assert prov["logs"][0]["file"] == log.name and prov["frames"]["files"]["%s.mp4" % kind]


def test_gps_week_and_leap_seconds_of_the_dataflash_log():
    """GPS week 1871 (November 2015) was 17 s ahead of UTC; pymavlink assumes 18 for every date."""
    tel = read_log(broken.DATAFLASH)
    first_fix_utc = (dt.datetime(1980, 1, 6, tzinfo=dt.timezone.utc) + dt.timedelta(weeks=1871, milliseconds=603882400)
                     - dt.timedelta(seconds=17))
    got_s = tel.pos_t_ns[0] / 1e9
    assert abs(got_s - first_fix_utc.timestamp()) < 0.1  # the GPS's report latency jitters by tens of ms
    assert abs(got_s - (first_fix_utc.timestamp() - 1.0)) > 0.8  # not pymavlink's 18 s
    assert first_fix_utc.isoformat().startswith("2015-11-21T23:44:25.4")


def _argv(kind, inputs, log, out):
    i = inputs[kind]
    return ["import", "--log", str(log), "--video", str(i["video"]), "--camera", str(i["cam"]), "--site", str(i["site"]),
            "-o", str(out)]


def _variants(tmp):
    """(name, kind, file, expect 'ok' or 'error', text the warning or the error must hold)."""
    tl = broken.TLOG.read_bytes()
    cut, cut_at = broken.cut_mid_packet(tl)
    pk = broken.tlog_packets(tl)
    flip_at = [pk[4000][0] + 12, pk[9000][0] + 20]
    garbage, where = broken.garbage_between(tl)
    df = broken.DATAFLASH.read_bytes()
    ul = broken.ULOG.read_bytes()
    df_head = df.find(b"\xa3\x95", 150_000)  # a message's header: DataFlash has no CRC, a flip there is seen
    w = lambda name, data: broken.write(tmp / name, data)  # noqa: E731
    return [
        ("tlog cut mid-packet", "tlog", w("cut.tlog", cut), "ok", f"byte {cut_at}: the last packet is cut"),
        ("tlog bytes flipped", "tlog", w("flip.tlog", broken.flip_bytes(tl, flip_at)), "ok",
         f"byte {pk[4000][0]}: "),
        ("tlog garbage between packets", "tlog", w("junk.tlog", garbage), "ok", f"byte {where[0]}: "),
        ("tlog MAVLink 1 and 2 mixed, two vehicles", "tlog", w("mixed.tlog", broken.mixed_v1_v2_two_vehicles(tl)), "ok",
         "the vehicle is system 1"),
        ("tlog without a GPS fix (real)", "tlog", broken.TLOG_NO_FIX, "error", "no position"),
        ("tlog of 5 bytes", "tlog", w("tiny.tlog", tl[:5]), "error", "byte 0: "),
        ("not a log", "tlog", w("noise.dat", bytes(range(256)) * 8), "error", "byte 0: not a flight log"),
        ("empty", "tlog", w("empty.tlog", b""), "error", "byte 0: empty file"),
        ("dataflash cut mid-message", "dataflash", w("cut.bin", df[:len(df) * 2 // 3 + 7]), "ok", "cut by the end"),
        ("dataflash bytes flipped", "dataflash", w("flip.bin", broken.flip_bytes(df, [df_head + 1])), "ok",
         f"byte {df_head}: "),
        ("dataflash FMT destroyed", "dataflash", w("nofmt.bin", broken.flip_bytes(df, list(range(0, 89 * 72, 89)))), "error",
         "byte 0: "),
        ("ulog cut in the middle", "ulog", w("cut.ulg", ul[:len(ul) * 3 // 4]), "ok", ""),
        ("ulog header flipped", "ulog", w("head.ulg", broken.flip_bytes(ul, [2])), "error", "byte 0: no ULog header"),
    ]


def test_broken_copies_import_or_fail_in_one_line(tmp_path, inputs, capsys):
    seen = []
    for k, (name, kind, path, expect, text) in enumerate(_variants(tmp_path)):
        out = tmp_path / f"out{k}"
        rc = main(_argv(kind, inputs, path, out))
        cap = capsys.readouterr()
        if expect == "ok":
            assert rc == 0, (name, cap.err)
            warnings = json.loads((out / "import" / "report.json").read_text())["warnings"]
            assert any(text in x for x in warnings) or not text, (name, warnings)
        else:
            assert rc == 1, (name, cap.out[-500:])
            lines = cap.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0] and text in lines[0], (
                name, cap.err)
            assert "Traceback" not in cap.err + cap.out
        seen.append(name)
    assert len(seen) == 13


def test_a_mixed_tlog_reads_the_same_positions_as_the_clean_one(tmp_path):
    clean = read_log(broken.TLOG)
    mixed = read_log(broken.write(tmp_path / "m.tlog", broken.mixed_v1_v2_two_vehicles(broken.TLOG.read_bytes())))
    assert mixed.source.system_id == 1 and set(mixed.source.systems) == {1, 7, 51, 255}
    np.testing.assert_array_equal(mixed.pos_t_ns, clean.pos_t_ns)
    np.testing.assert_allclose(mixed.pos, clean.pos)
    assert any("MAVLink 1 and 2 mixed" in w for w in mixed.source.warnings)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.integers(0, 39_999), max_size=30), cut=st.integers(9, 40_000))
def test_any_damage_to_a_tlog_reads_or_raises_the_package_error(tmp_path, flips, cut):
    data = broken.flip_bytes(broken.TLOG.read_bytes()[:40_000], flips)[:cut]
    p = broken.write(tmp_path / "h.tlog", data)
    try:
        tel = read_log(p)
    except ImportsError as exc:
        assert str(p) in str(exc) and "\n" not in str(exc)
    else:
        assert len(tel.pos_t_ns) and np.all(np.diff(tel.pos_t_ns) > 0)
