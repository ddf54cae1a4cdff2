"""ArduPilot DataFlash logs (.bin from the SD card), read with pymavlink's DFReader.

DataFlash has no checksums: bytes that do not start a known message are skipped (and said where),
a message cut by the end of the file is dropped, and values that cannot be (a latitude beyond 90
degrees, an attitude beyond 360) are dropped with a count. Times: each message's time since boot
(``TimeUS``, or ``TimeMS`` / ``T`` in older logs) put on UTC through the GPS messages' week and
time of week with the leap seconds of that date (pymavlink assumes 18 for every date).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imports.errors import ImportsError
from imports.logs import quiet_fds
from imports.telemetry import LogSource, Telemetry, quat_from_euler, sha256_of, sorted_unique
from imports.timebase import gps_to_unix_ns

WANTED = ("GPS", "POS", "ATT", "CAM", "TRIG", "VISP")


def _boot_ns(m) -> int | None:
    names = m.get_fieldnames() if hasattr(m, "get_fieldnames") else m._fieldnames
    if "TimeUS" in names:
        return int(m.TimeUS) * 1000
    if m.get_type() == "GPS" and "T" in names:
        return int(m.T) * 1_000_000
    if "TimeMS" in names and m.get_type() != "GPS":
        return int(m.TimeMS) * 1_000_000
    return None


def _gps_unix_ns(m) -> int | None:
    """UTC of a GPS message with a fix (new style GWk/GMS, old style Week/TimeMS)."""
    if int(getattr(m, "Status", 0)) < 3:
        return None
    week = getattr(m, "GWk", None)
    tow = getattr(m, "GMS", None)
    if week is None:
        week, tow = getattr(m, "Week", None), getattr(m, "TimeMS", None)
    if not week or tow is None:
        return None
    return gps_to_unix_ns(int(week), float(tow))


def read_dataflash(path: str | Path, *, boot_utc_ns: int | None = None) -> Telemetry:
    from pymavlink import DFReader

    p = Path(path)
    n_bytes = p.stat().st_size
    try:
        with quiet_fds():
            dfr = DFReader.DFReader_binary(str(p), zero_time_base=True)
    except Exception as exc:  # DFReader raises struct/Index/Value errors on a broken header
        raise ImportsError(f"{p}: byte 0: not a readable DataFlash log ({type(exc).__name__}: {str(exc)[:80]}); "
                           "expected an ArduPilot .bin starting with FMT messages (0xA3 0x95 0x80)") from None
    warnings: list[str] = []
    rows: dict[str, list] = {k: [] for k in WANTED}
    n_msgs = 0
    skipped: list[tuple[int, int]] = []
    bad_values = 0
    last_end = dfr.offset
    try:
        with quiet_fds():
            while True:
                start = dfr.offset
                m = dfr.recv_msg()
                if m is None:
                    break
                n_msgs += 1
                length = m.fmt.len
                msg_start = dfr.offset - length
                if msg_start > start:
                    skipped.append((start, msg_start - start))
                last_end = dfr.offset
                kind = m.get_type()
                if kind in rows:
                    b = _boot_ns(m)
                    if b is None:
                        continue
                    rows[kind].append((b, m))
    except Exception as exc:  # a corrupt FMT makes DFReader fail part way
        raise ImportsError(f"{p}: byte {dfr.offset}: DataFlash message does not decode ({type(exc).__name__}: "
                           f"{str(exc)[:80]}); expected messages laid out as the log's FMT says") from None
    if n_msgs == 0:
        raise ImportsError(f"{p}: byte 0: no DataFlash message in {n_bytes} bytes; expected an ArduPilot .bin "
                           "(0xA3 0x95 + type + payload, types defined by FMT messages)")
    for off, nb in skipped:
        warnings.append(f"{p.name}: byte {off}: {nb} bytes skipped (no DataFlash message starts there)")
    if n_bytes - last_end > 0:
        warnings.append(f"{p.name}: byte {last_end}: the last {n_bytes - last_end} bytes are a message cut by the end "
                        "of the file; dropped")
    # boot clock -> UTC, from the GPS messages with a fix
    pairs = [(b, _gps_unix_ns(m)) for b, m in rows["GPS"]]
    pairs = [(b, u) for b, u in pairs if u is not None]
    fixes = [int(m.Status) for _, m in rows["GPS"]]
    max_fix = max(fixes) if fixes else None
    if pairs:
        off = int(np.median([u - b for b, u in pairs]))
        time_source = f"boot clock (TimeUS) on UTC through {len(pairs)} GPS week/time-of-week stamps, leap seconds applied"
    elif boot_utc_ns is not None:
        off = int(boot_utc_ns)
        time_source = "boot clock (TimeUS) on UTC from --log-boot-utc (no GPS time in the log)"
    else:
        raise ImportsError(f"{p}: no GPS message with a fix and a week number ({len(rows['GPS'])} GPS messages, best "
                           f"Status {max_fix}); the boot clock cannot be put on UTC: pass --log-boot-utc ISO-TIME")

    def ok_ll(lat, lon):
        return -90 <= lat <= 90 and -180 <= lon <= 180 and (lat != 0 or lon != 0)

    pos_t, pos, what, frame = [], [], "", "geodetic"
    if rows["POS"]:
        good = [(b, m) for b, m in rows["POS"] if ok_ll(m.Lat, m.Lng)]
        bad_values += len(rows["POS"]) - len(good)
        if good:
            what = "POS (the EKF's position)"
            pos_t = [b + off for b, _ in good]
            pos = [(m.Lat, m.Lng, m.Alt) for _, m in good]
    if not pos_t:
        good = [(b, m) for b, m in rows["GPS"] if int(m.Status) >= 3 and ok_ll(m.Lat, m.Lng)]
        if good:
            what = "GPS"
            pos_t = [b + off for b, _ in good]
            pos = [(m.Lat, m.Lng, m.Alt) for _, m in good]
    if not pos_t and rows["VISP"]:
        what, frame = "VISP (vision position)", "local_ned"
        pos_t = [b + off for b, _ in rows["VISP"]]
        pos = [(m.PX, m.PY, m.PZ) for _, m in rows["VISP"]]
    if not pos_t:
        raise ImportsError(f"{p}: no position: no POS, no GPS message with a 3D fix (best Status {max_fix}), no VISP; "
                           "expected a GPS/RTK fix or a vision position")
    att = [(b, m) for b, m in rows["ATT"] if all(abs(float(v)) <= 360 for v in (m.Roll, m.Pitch, m.Yaw))]
    bad_values += len(rows["ATT"]) - len(att)
    if not att:
        raise ImportsError(f"{p}: no ATT message (attitude); expected the vehicle's attitude stream")
    rpy = np.radians(np.array([(m.Roll, m.Pitch, m.Yaw) for _, m in att], float))
    att_q = quat_from_euler(rpy[:, 0], rpy[:, 1], rpy[:, 2])
    att_t = np.array([b + off for b, _ in att], np.int64)
    if bad_values:
        warnings.append(f"{p.name}: {bad_values} POS/ATT messages with impossible values (corrupt bytes); dropped")
    trig_t, trig_what = [], ""
    for kind in ("CAM", "TRIG"):
        if rows[kind]:
            trig_what = kind
            trig_t = [b + off for b, _ in rows[kind]]
            break
    pt, pp = sorted_unique(np.array(pos_t, np.int64), np.array(pos, float))
    at, aq = sorted_unique(att_t, att_q)
    src = LogSource(path=str(p), sha256=sha256_of(p), kind="dataflash", n_bytes=n_bytes, time_source=time_source,
                    messages=n_msgs, max_fix_type=max_fix, warnings=tuple(warnings))
    return Telemetry(source=src, pos_t_ns=pt, pos=pp, pos_frame=frame, pos_what=what, att_t_ns=at, att_quat_wxyz=aq,
                     att_what="ATT", trig_t_ns=np.sort(np.array(trig_t, np.int64)), trig_what=trig_what)
