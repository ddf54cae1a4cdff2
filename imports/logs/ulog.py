"""PX4 ULog (.ulg), read with pyulog.

Times: each topic's ``timestamp`` (microseconds since boot) put on UTC through the GPS's
``time_utc_usec`` (vehicle_gps_position / sensor_gps with a fix). Positions from
vehicle_global_position, else the GPS topic, else vehicle_local_position (local NED about the EKF
origin, for indoor flights). Attitude from vehicle_attitude (q: body FRD -> NED). Camera triggers
from camera_capture or camera_trigger.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imports.errors import ImportsError
from imports.logs import quiet_fds
from imports.telemetry import LogSource, Telemetry, sha256_of, sorted_unique

TOPICS = ["vehicle_global_position", "vehicle_gps_position", "sensor_gps", "vehicle_local_position",
          "vehicle_attitude", "camera_capture", "camera_trigger"]


def _lat_lon_alt(d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude, longitude (deg) and altitude (m AMSL) of a GPS topic, old (1e7 ints, mm) or new (deg, m) fields."""
    if "latitude_deg" in d:
        return d["latitude_deg"].astype(float), d["longitude_deg"].astype(float), d["altitude_msl_m"].astype(float)
    return d["lat"] / 1e7, d["lon"] / 1e7, d["alt"] / 1000.0


def read_ulog(path: str | Path, *, boot_utc_ns: int | None = None) -> Telemetry:
    from pyulog import ULog

    p = Path(path)
    n_bytes = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(16)
    if head[:7] != b"ULog\x01\x12\x35":
        raise ImportsError(f"{p}: byte 0: no ULog header (starts {head[:7].hex(' ')}); expected 'ULog' 01 12 35")
    try:
        with quiet_fds() as said:
            u = ULog(str(p), TOPICS, parse_header_only=False)
    except Exception as exc:  # pyulog raises several types on a broken definition section
        raise ImportsError(f"{p}: ULog does not parse ({type(exc).__name__}: {str(exc)[:80]}); expected a PX4 .ulg "
                           "with its format definitions intact") from None
    warnings = []
    if u.file_corruption:
        warnings.append(f"{p.name}: pyulog found corrupt data and skipped it (a message with a bad size or type)")
    said = [ln for ln in said if ln.strip()]
    if said:
        warnings.append(f"{p.name}: pyulog: {said[0][:120]}")
    topics = {}
    for d in u.data_list:
        if d.name in TOPICS and d.multi_id == 0:
            topics[d.name] = d.data
    gps_name = next((n for n in ("vehicle_gps_position", "sensor_gps") if n in topics), None)
    max_fix = None
    off = None
    if gps_name:
        g = topics[gps_name]
        fix = g["fix_type"].astype(int)
        max_fix = int(fix.max()) if len(fix) else None
        ok = (fix >= 3) & (g["time_utc_usec"] > 10 ** 15)
        if ok.any():
            off = int(np.median(g["time_utc_usec"][ok].astype(np.int64) * 1000 - g["timestamp"][ok].astype(np.int64) * 1000))
            time_source = f"boot clock (timestamp) on UTC through {int(ok.sum())} GPS time_utc_usec stamps"
    if off is None:
        cap = topics.get("camera_capture")
        if cap is not None and "timestamp_utc" in cap and (cap["timestamp_utc"] > 10 ** 15).any():
            k = cap["timestamp_utc"] > 10 ** 15
            off = int(np.median(cap["timestamp_utc"][k].astype(np.int64) * 1000 - cap["timestamp"][k].astype(np.int64) * 1000))
            time_source = "boot clock on UTC through camera_capture.timestamp_utc"
        elif boot_utc_ns is not None:
            off = int(boot_utc_ns)
            time_source = "boot clock on UTC from --log-boot-utc (no GPS time in the log)"
        else:
            raise ImportsError(f"{p}: no GPS time (no {gps_name or 'vehicle_gps_position/sensor_gps'} with a fix and "
                               "time_utc_usec); the boot clock cannot be put on UTC: pass --log-boot-utc ISO-TIME")

    def t_of(d) -> np.ndarray:
        return d["timestamp"].astype(np.int64) * 1000 + off

    pos_t = pos = None
    frame, what = "geodetic", ""
    if "vehicle_global_position" in topics:
        d = topics["vehicle_global_position"]
        what, pos_t, pos = "vehicle_global_position", t_of(d), np.stack([d["lat"], d["lon"], d["alt"]], 1).astype(float)
    elif gps_name and max_fix is not None and max_fix >= 3:
        g = topics[gps_name]
        k = g["fix_type"] >= 3
        lat, lon, alt = _lat_lon_alt(g)
        what, pos_t, pos = gps_name, t_of(g)[k], np.stack([lat[k], lon[k], alt[k]], 1)
    elif "vehicle_local_position" in topics and topics["vehicle_local_position"]["xy_valid"].any():
        d = topics["vehicle_local_position"]
        k = d["xy_valid"].astype(bool)
        what, frame = "vehicle_local_position", "local_ned"
        pos_t, pos = t_of(d)[k], np.stack([d["x"][k], d["y"][k], d["z"][k]], 1).astype(float)
    if pos_t is None or not len(pos_t):
        raise ImportsError(f"{p}: no position: no vehicle_global_position, no GPS with a 3D fix (best fix_type "
                           f"{max_fix}), no valid vehicle_local_position; expected a GPS/RTK fix or a local position")
    if "vehicle_attitude" not in topics:
        raise ImportsError(f"{p}: no vehicle_attitude topic; expected the vehicle's attitude")
    a = topics["vehicle_attitude"]
    att_q = np.stack([a["q[0]"], a["q[1]"], a["q[2]"], a["q[3]"]], 1).astype(float)
    good = np.all(np.isfinite(att_q), 1) & (np.linalg.norm(att_q, axis=1) > 0.5)
    trig_t, trig_what = np.zeros(0, np.int64), ""
    for name in ("camera_capture", "camera_trigger"):
        if name in topics and len(topics[name]["timestamp"]):
            trig_what = name
            d = topics[name]
            if "timestamp_utc" in d and (d["timestamp_utc"] > 10 ** 15).all():
                trig_t = d["timestamp_utc"].astype(np.int64) * 1000
            else:
                trig_t = t_of(d)
            break
    pt, pp = sorted_unique(pos_t, pos)
    at, aq = sorted_unique(t_of(a)[good], att_q[good])
    src = LogSource(path=str(p), sha256=sha256_of(p), kind="ulog", n_bytes=n_bytes, time_source=time_source,
                    messages=sum(len(d.data["timestamp"]) for d in u.data_list), max_fix_type=max_fix,
                    warnings=tuple(warnings))
    return Telemetry(source=src, pos_t_ns=pt, pos=pp, pos_frame=frame, pos_what=what, att_t_ns=at, att_quat_wxyz=aq,
                     att_what="vehicle_attitude", trig_t_ns=np.sort(trig_t), trig_what=trig_what)
