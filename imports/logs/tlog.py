"""MAVLink telemetry logs (.tlog): an 8-byte big-endian unix-microsecond time before each packet,
as QGroundControl, Mission Planner and MAVProxy write them.

Read packet by packet, each checked by its CRC: MAVLink 1 and 2 mixed, several systems in one
file (the vehicle is the system with the most position and attitude messages unless one is
given), garbage between packets (skipped, and said where), and a truncated tail (the cut packet
dropped, and said where). Times: the vehicle's own clock (``time_boot_ms``) put on UTC through
SYSTEM_TIME's GPS time when the vehicle sent it, else the ground station's receive time.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imports.errors import ImportsError
from imports.telemetry import LogSource, Telemetry, quat_from_euler, sha256_of, sorted_unique

T_MIN_US = 946_684_800_000_000  # 2000-01-01: a tlog time before this is not a time
T_MAX_US = 4_102_444_800_000_000  # 2100-01-01
UNIX_AFTER_US = 1_000_000_000_000_000  # a MAVLink time_usec above this is unix time, below it time since boot
POSITION_TYPES = ("GLOBAL_POSITION_INT", "GPS_RAW_INT", "ODOMETRY", "VISION_POSITION_ESTIMATE", "ATTITUDE",
                  "ATTITUDE_QUATERNION")
TRIGGER_TYPES = ("CAMERA_FEEDBACK", "CAMERA_TRIGGER", "CAMERA_IMAGE_CAPTURED")
WANTED = set(POSITION_TYPES + TRIGGER_TYPES + ("SYSTEM_TIME", "HEARTBEAT"))


@dataclass
class TlogScan:
    """Packets read from a tlog, and what was skipped."""

    packets: list = field(default_factory=list)  # (offset, t_us, msg) of the wanted types
    n_packets: int = 0
    v1: int = 0
    v2: int = 0
    unknown_ids: int = 0
    systems: dict = field(default_factory=dict)  # sysid -> packets
    skipped: list = field(default_factory=list)  # (offset, n_bytes, why)
    truncated_at: int | None = None


def _packet_len(data: bytes, j: int) -> int | None:
    """Length of the MAVLink packet starting at data[j] (its magic), or None if it is not one."""
    magic = data[j]
    if magic == 0xFE:
        return 6 + data[j + 1] + 2 if j + 1 < len(data) else 8
    if magic == 0xFD:
        if j + 2 >= len(data):
            return 12
        return 10 + data[j + 1] + 2 + (13 if data[j + 2] & 0x01 else 0)
    return None


def scan_tlog(data: bytes) -> TlogScan:
    os.environ.setdefault("MAVLINK20", "1")
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None)
    out = TlogScan()
    n = len(data)
    i = 0
    bad_from: int | None = None
    bad_why = ""

    def close_bad(upto: int) -> None:
        nonlocal bad_from
        if bad_from is not None:
            out.skipped.append((bad_from, upto - bad_from, bad_why))
            bad_from = None

    while i + 9 <= n:
        ok = False
        why = "no MAVLink start byte (0xFE/0xFD) after an 8-byte time"
        length = _packet_len(data, i + 8)
        if length is not None:
            (t_us,) = struct.unpack_from(">Q", data, i)
            if not T_MIN_US <= t_us <= T_MAX_US:
                why = "time stamp out of range"
            elif i + 8 + length > n:
                # a packet that runs past the end: the recorder stopped mid-write (or garbage)
                if bad_from is None and _tail_is_cut_packet(data, i, mav):
                    out.truncated_at = i
                    break
                why = "packet runs past the end of the file"
            else:
                buf = bytearray(data[i + 8:i + 8 + length])
                try:
                    msg = mav.decode(buf)
                    ok = True
                except Exception as exc:  # pymavlink raises MAVError (bad CRC, unknown id) and struct errors
                    text = str(exc)
                    if "unknown MAVLink message ID" in text or "Unknown MAVLink message ID" in text:
                        ok, msg = True, None
                        out.unknown_ids += 1
                    else:
                        why = "bad CRC" if "CRC" in text else f"undecodable packet ({text[:60]})"
        if not ok:
            if bad_from is None:
                bad_from, bad_why = i, why
            i += 1
            continue
        close_bad(i)
        out.n_packets += 1
        if data[i + 8] == 0xFE:
            out.v1 += 1
        else:
            out.v2 += 1
        if msg is not None:
            sysid = msg.get_srcSystem()
            out.systems[sysid] = out.systems.get(sysid, 0) + 1
            if msg.get_type() in WANTED:
                out.packets.append((i, t_us, msg))
        i += 8 + length
    if out.truncated_at is None and i < n:
        if bad_from is None:
            bad_from, bad_why = i, "trailing bytes shorter than a packet"
    close_bad(n if out.truncated_at is None else out.truncated_at)
    return out


def _tail_is_cut_packet(data: bytes, i: int, mav) -> bool:
    """Whether the bytes from ``i`` look like the start of a real packet that the end of the file cut."""
    return len(data) - i <= 8 + 280


def read_tlog(path: str | Path, *, system_id: int | None = None) -> Telemetry:
    p = Path(path)
    data = p.read_bytes()
    scan = scan_tlog(data)
    if scan.n_packets == 0:
        where = scan.skipped[0][0] if scan.skipped else 0
        raise ImportsError(f"{p}: byte {where}: no MAVLink packet with a valid CRC after an 8-byte time in "
                           f"{len(data)} bytes; expected a .tlog (8-byte big-endian unix us + MAVLink 1/2 packet)")
    warnings: list[str] = []
    for off, nb, why in scan.skipped:
        warnings.append(f"{p.name}: byte {off}: {nb} bytes skipped ({why})")
    if scan.truncated_at is not None:
        warnings.append(f"{p.name}: byte {scan.truncated_at}: the last packet is cut by the end of the file; dropped")
    if scan.unknown_ids:
        warnings.append(f"{p.name}: {scan.unknown_ids} packets of message ids this dialect does not know; skipped")
    # the vehicle: the system with the most position/attitude packets
    per_sys: dict[int, int] = {}
    for _, _, m in scan.packets:
        if m.get_type() in POSITION_TYPES:
            per_sys[m.get_srcSystem()] = per_sys.get(m.get_srcSystem(), 0) + 1
    if system_id is None:
        if not per_sys:
            raise ImportsError(f"{p}: no GLOBAL_POSITION_INT, GPS_RAW_INT, ODOMETRY, VISION_POSITION_ESTIMATE or "
                               f"ATTITUDE in {scan.n_packets} packets; expected a vehicle's telemetry")
        system_id = max(per_sys, key=lambda s: (per_sys[s], -s))
    elif system_id not in scan.systems:
        raise ImportsError(f"{p}: --system-id {system_id}: no packets from that system; the log has systems "
                           f"{sorted(scan.systems)}")
    msgs = [(off, t, m) for off, t, m in scan.packets if m.get_srcSystem() == system_id]
    if len(scan.systems) > 1:
        others = {s: c for s, c in scan.systems.items() if s != system_id}
        warnings.append(f"{p.name}: systems {sorted(scan.systems)} in one log; the vehicle is system {system_id}, "
                        f"ignored {sum(others.values())} packets of {sorted(others)}")
    boot_to_unix = _boot_to_unix(msgs)
    time_source = ("vehicle clock (time_boot_ms) on UTC through SYSTEM_TIME's GPS time" if boot_to_unix is not None
                   else "ground station receive time (tlog stamps)")

    def t_of(t_us: int, m, boot_ms: int | None) -> int:
        if boot_to_unix is not None and boot_ms is not None:
            return int(boot_ms) * 1_000_000 + boot_to_unix(int(t_us) * 1000)
        return int(t_us) * 1000

    by = {k: [] for k in WANTED}
    for off, t, m in msgs:
        by[m.get_type()].append((t, m))
    fixes = [int(m.fix_type) for _, m in by["GPS_RAW_INT"]]
    max_fix = max(fixes) if fixes else None
    # positions
    pos_t, pos, frame, what = [], [], "geodetic", ""
    gpi = [(t, m) for t, m in by["GLOBAL_POSITION_INT"] if m.lat != 0 or m.lon != 0]
    if gpi:
        what = "GLOBAL_POSITION_INT"
        pos_t = [t_of(t, m, m.time_boot_ms) for t, m in gpi]
        pos = [(m.lat / 1e7, m.lon / 1e7, m.alt / 1000.0) for _, m in gpi]
    else:
        raw = [(t, m) for t, m in by["GPS_RAW_INT"] if m.fix_type >= 3 and (m.lat != 0 or m.lon != 0)]
        if raw:
            what = "GPS_RAW_INT"
            pos_t = [_usec_time(m.time_usec, t, boot_to_unix) for t, m in raw]
            pos = [(m.lat / 1e7, m.lon / 1e7, m.alt / 1000.0) for _, m in raw]
        elif by["ODOMETRY"]:
            what, frame = "ODOMETRY", "local_ned"
            pos_t = [_usec_time(m.time_usec, t, boot_to_unix) for t, m in by["ODOMETRY"]]
            pos = [(m.x, m.y, m.z) for _, m in by["ODOMETRY"]]
        elif by["VISION_POSITION_ESTIMATE"]:
            what, frame = "VISION_POSITION_ESTIMATE", "local_ned"
            pos_t = [_usec_time(m.usec, t, boot_to_unix) for t, m in by["VISION_POSITION_ESTIMATE"]]
            pos = [(m.x, m.y, m.z) for _, m in by["VISION_POSITION_ESTIMATE"]]
    if not pos_t:
        n_gpi = len(by["GLOBAL_POSITION_INT"])
        raise ImportsError(f"{p}: no position: {n_gpi} GLOBAL_POSITION_INT all at lat/lon 0, no GPS_RAW_INT with a 3D fix "
                           f"(best fix_type {max_fix}), no ODOMETRY or VISION_POSITION_ESTIMATE from system {system_id}; "
                           "expected a GPS/RTK fix or an external position (indoors)")
    # attitude
    att_t, att_q, att_what = [], np.zeros((0, 4)), ""
    if by["ATTITUDE"]:
        att_what = "ATTITUDE"
        att_t = [t_of(t, m, m.time_boot_ms) for t, m in by["ATTITUDE"]]
        rpy = np.array([(m.roll, m.pitch, m.yaw) for _, m in by["ATTITUDE"]], float)
        att_q = quat_from_euler(rpy[:, 0], rpy[:, 1], rpy[:, 2])
    elif by["ATTITUDE_QUATERNION"]:
        att_what = "ATTITUDE_QUATERNION"
        att_t = [t_of(t, m, m.time_boot_ms) for t, m in by["ATTITUDE_QUATERNION"]]
        att_q = np.array([(m.q1, m.q2, m.q3, m.q4) for _, m in by["ATTITUDE_QUATERNION"]], float)
    elif what == "ODOMETRY":
        att_what = "ODOMETRY"
        att_t = list(pos_t)
        att_q = np.array([tuple(m.q) for _, m in by["ODOMETRY"]], float)
    elif what == "VISION_POSITION_ESTIMATE":
        att_what = "VISION_POSITION_ESTIMATE"
        att_t = list(pos_t)
        v = by["VISION_POSITION_ESTIMATE"]
        att_q = quat_from_euler([m.roll for _, m in v], [m.pitch for _, m in v], [m.yaw for _, m in v])
    if not len(att_t):
        raise ImportsError(f"{p}: no attitude (ATTITUDE, ATTITUDE_QUATERNION or ODOMETRY) from system {system_id}; "
                           "expected the vehicle's attitude stream")
    # camera triggers
    trig_t, trig_what = [], ""
    for kind in TRIGGER_TYPES:
        if by[kind]:
            trig_what = kind
            if kind == "CAMERA_IMAGE_CAPTURED":
                trig_t = [(int(m.time_utc) * 1000 if m.time_utc > UNIX_AFTER_US else t_of(t, m, m.time_boot_ms))
                          for t, m in by[kind]]
            else:
                trig_t = [_usec_time(m.time_usec, t, boot_to_unix) for t, m in by[kind]]
            break
    pt, pp = sorted_unique(np.array(pos_t, np.int64), np.array(pos, float))
    at, aq = sorted_unique(np.array(att_t, np.int64), np.asarray(att_q, float))
    src = LogSource(path=str(p), sha256=sha256_of(p), kind="tlog", n_bytes=len(data), time_source=time_source,
                    system_id=system_id, systems=dict(sorted(scan.systems.items())), messages=scan.n_packets,
                    max_fix_type=max_fix,
                    warnings=tuple(warnings) + ((f"{p.name}: MAVLink 1 and 2 mixed ({scan.v1} v1, {scan.v2} v2 packets)",)
                                                if scan.v1 and scan.v2 else ()))
    return Telemetry(source=src, pos_t_ns=pt, pos=pp, pos_frame=frame, pos_what=what, att_t_ns=at, att_quat_wxyz=aq,
                     att_what=att_what, trig_t_ns=np.sort(np.array(trig_t, np.int64)), trig_what=trig_what)


def _usec_time(time_usec: int, t_us: int, boot_to_unix) -> int:
    """A MAVLink ``time_usec`` (unix, or time since boot for small values) -> unix ns."""
    if time_usec > UNIX_AFTER_US:
        return int(time_usec) * 1000
    if boot_to_unix is not None:
        return int(time_usec) * 1000 + boot_to_unix(int(t_us) * 1000)
    return int(t_us) * 1000


def _boot_to_unix(msgs):
    """A function (log time ns -> offset ns from the vehicle's boot clock to UTC), from SYSTEM_TIME
    (the vehicle's GPS time beside its time_boot_ms), or None when the vehicle sent no GPS time.
    The offset of the SYSTEM_TIME nearest in log time is used (a reboot starts a new one); each is
    a running median over 9 messages against GPS time jitter."""
    st = [(t, m) for _, t, m in msgs if m.get_type() == "SYSTEM_TIME" and m.time_unix_usec > UNIX_AFTER_US]
    if len(st) < 2:
        return None
    t_log = np.array([t * 1000 for t, _ in st], np.int64)
    off = np.array([m.time_unix_usec * 1000 - m.time_boot_ms * 1_000_000 for _, m in st], np.int64)
    k = 4
    med = np.array([int(np.median(off[max(0, i - k):i + k + 1])) for i in range(len(off))], np.int64)

    def f(t_ns: int) -> int:
        j = int(np.clip(np.searchsorted(t_log, t_ns), 0, len(t_log) - 1))
        if j > 0 and abs(t_log[j - 1] - t_ns) < abs(t_log[j] - t_ns):
            j -= 1
        return int(med[j])

    return f
