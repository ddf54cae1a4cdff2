"""Clocks of real data: GPS week/time of week with the leap seconds of the date, EXIF local times
with their offset, the camera-trigger match, and the one-line refusals of times that cannot be."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.errors import ImportsError
from imports.frames import exif_time_ns, photo_times
from imports.match import match_triggers
from imports.timebase import exif_to_unix_ns, gps_to_unix_ns, iso_to_unix_ns, parse_utc_offset, unix_ns_to_gps
from tests.imports.helpers import photos_at


def _utc(*a) -> int:
    return int(dt.datetime(*a, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000


@pytest.mark.parametrize("utc,leap", [
    ((2005, 6, 1), 13), ((2009, 6, 1), 15), ((2013, 10, 13), 16), ((2015, 11, 21), 17), ((2016, 12, 31, 12), 17),
    ((2017, 1, 2), 18), ((2026, 1, 1), 18),
])
def test_gps_time_is_utc_plus_the_leap_seconds_of_its_date(utc, leap):
    t = _utc(*utc)
    week, tow_ms = unix_ns_to_gps(t)
    gps_s = dt.datetime(1980, 1, 6, tzinfo=dt.timezone.utc) + dt.timedelta(weeks=week, milliseconds=tow_ms)
    assert round(gps_s.timestamp() - t / 1e9) == leap
    assert abs(gps_to_unix_ns(week, tow_ms) - t) < 1000


@settings(max_examples=60, deadline=None)
@given(st.integers(_utc(2000, 1, 1), _utc(2099, 1, 1)))
def test_gps_week_round_trip(t_ns):
    week, tow = unix_ns_to_gps(t_ns)
    assert 0 <= tow < 604_800_000 and abs(gps_to_unix_ns(week, tow) - t_ns) < 2000


@settings(max_examples=80, deadline=None)
@given(t_s=st.integers(_utc(2001, 1, 1) // 10 ** 9, _utc(2090, 1, 1) // 10 ** 9), ms=st.integers(0, 999),
       minutes=st.sampled_from([-600, -300, -210, 0, 60, 120, 330, 345, 540, 780]))
def test_exif_local_time_with_its_offset_is_the_same_instant(t_s, ms, minutes):
    tz = dt.timezone(dt.timedelta(minutes=minutes))
    local = dt.datetime.fromtimestamp(t_s, tz=tz)
    off = local.strftime("%z")
    got = exif_to_unix_ns(local.strftime("%Y:%m:%d %H:%M:%S"), f"{ms:03d}", f"{off[:3]}:{off[3:]}", where="x")
    assert got == t_s * 1_000_000_000 + ms * 1_000_000


@pytest.mark.parametrize("when,sub,off,what", [
    ("2026-01-01 10:00:00", "5", "+01:00", "expected 'YYYY:MM:DD HH:MM:SS'"),
    ("2026:01:01 10:00:00", "5a", "+01:00", "SubSecTimeOriginal '5a'; expected digits"),
    ("2026:01:01 10:00:00", "5", "+1:00", "UTC offset '+1:00'; expected +HH:MM"),
    ("2026:01:01 10:00:00", "5", "+01:75", "UTC offset '+01:75'"),
    ("2026:01:01 10:00:00", "5", None, "no OffsetTimeOriginal"),
])
def test_an_exif_time_that_cannot_be_read_is_refused_naming_the_file(when, sub, off, what):
    with pytest.raises(ImportsError) as e:
        exif_to_unix_ns(when, sub, off, where="IMG_0001.JPG")
    assert str(e.value).startswith("IMG_0001.JPG") and what in str(e.value)


def test_photos_without_an_offset_need_the_cameras_and_get_it(tmp_path):
    from PIL import Image

    t = _utc(2026, 3, 1, 9, 30) + 250_000_000
    d = photos_at(tmp_path / "p", [t, t + 500_000_000], "+02:00")
    for f in d.iterdir():  # a camera that writes no OffsetTimeOriginal
        with Image.open(f) as im:
            exif = im.getexif()
            exif.get_ifd(0x8769).pop(0x9011)
            data = im.tobytes()
            mode, size = im.mode, im.size
        Image.frombytes(mode, size, data).save(f, exif=exif, quality=95)
    with pytest.raises(ImportsError, match="no OffsetTimeOriginal"):
        photo_times(d)
    ft = photo_times(d, default_offset=parse_utc_offset("+02:00", where="x"))
    assert ft.t_ns.tolist() == [t, t + 500_000_000] and "--camera-utc-offset" in ft.source
    assert exif_time_ns(sorted(d.iterdir())[0], default_offset=dt.timezone.utc)[0] == t + 2 * 3600 * 10 ** 9


@pytest.mark.parametrize("text", ["2026-01-01T00:00:07.25", "yesterday", "2026-13-01T00:00:00Z"])
def test_an_iso_time_without_a_zone_or_a_date_is_refused(text):
    with pytest.raises(ImportsError, match="--video-start-utc"):
        iso_to_unix_ns(text, where="--video-start-utc")


@pytest.mark.parametrize("offset_s,drift_ppm,drop_frames,drop_trig", [
    (0.3, 0.0, 0, 0), (-1800.0, 0.0, 0, 0), (7200.4, 40.0, 5, 0), (0.05, -80.0, 0, 7), (12.34, 0.0, 9, 4),
])
def test_triggers_place_the_frames_on_the_log_clock(offset_s, drift_ppm, drop_frames, drop_trig):
    rng = np.random.default_rng(1)
    true = _utc(2026, 1, 1) + np.cumsum(rng.uniform(0.4, 0.6, 120) * 1e9).astype(np.int64)  # a shot every ~0.5 s
    cam = ((true - true[0]) * (1 + drift_ppm * 1e-6)).astype(np.int64) + true[0] - int(offset_s * 1e9)
    cam = cam + rng.integers(-2_000_000, 2_000_000, len(cam))  # 2 ms of jitter between shutter and stamp
    keep_f = np.sort(rng.choice(len(cam), len(cam) - drop_frames, replace=False))
    keep_t = np.sort(rng.choice(len(true), len(true) - drop_trig, replace=False))
    m = match_triggers(cam[keep_f], true[keep_t])
    assert m is not None and m.unmatched_frames == len(np.setdiff1d(keep_f, keep_t))
    assert abs(m.offset_ns / 1e9 - offset_s) < 0.005 and abs(m.drift_ppm - drift_ppm) < 20
    fi, ti = m.pairs[:, 0], m.pairs[:, 1]
    assert np.all(keep_f[fi] == keep_t[ti]) and m.residual_ms_max < 5  # every frame with its own shot


def test_no_triggers_near_the_frames_is_no_match():
    f = _utc(2026, 1, 1) + np.arange(10) * 500_000_000
    assert match_triggers(f, f[:2]) is None
