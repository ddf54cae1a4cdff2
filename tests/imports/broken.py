"""Deliberately broken copies of the real logs in tests/data/logs, made byte for byte from them
(so they are reproducible and not stored twice): cut mid-packet, bytes flipped, garbage between
packets, MAVLink 1 packets turned into MAVLink 2 beside the rest, a second vehicle added."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from tests.conftest import REPO

LOGS = REPO / "tests" / "data" / "logs"
TLOG = LOGS / "apm-2013-10-13-18-31-24.tlog"
TLOG_NO_FIX = LOGS / "ardupilot-tlog_data_0.tlog"
DATAFLASH = LOGS / "solo-log171-trimmed.bin"
ULOG = LOGS / "px4-sample_log_small.ulg"


def tlog_packets(data: bytes) -> list[tuple[int, int]]:
    """(offset, length incl. the 8-byte time) of each packet of a clean MAVLink 1 tlog."""
    out, i = [], 0
    while i + 9 <= len(data):
        n = 8 + 6 + data[i + 9] + 2 if data[i + 8] == 0xFE else 8 + 10 + data[i + 9] + 2
        out.append((i, n))
        i += n
    return out


def cut_mid_packet(data: bytes, frac: float = 0.6) -> tuple[bytes, int]:
    """The file cut 5 bytes into the packet at ``frac`` of it; (bytes, the cut packet's offset)."""
    pk = tlog_packets(data) if data[8] in (0xFE, 0xFD) else None
    if pk:
        off = next(o for o, _ in pk if o >= int(len(data) * frac))
        return data[:off + 8 + 5], off
    cut = int(len(data) * frac)
    return data[:cut], cut


def flip_bytes(data: bytes, offsets: list[int]) -> bytes:
    b = bytearray(data)
    for o in offsets:
        b[o] ^= 0xFF
    return bytes(b)


def garbage_between(data: bytes, every: int = 500, seed: int = 3) -> tuple[bytes, list[int]]:
    """Random bytes (3..40, none starting a packet) inserted before every ``every``-th packet;
    (bytes, the offsets of the garbage in the new file)."""
    import random

    rnd = random.Random(seed)
    out, where = bytearray(), []
    for k, (o, n) in enumerate(tlog_packets(data)):
        if k and k % every == 0:
            junk = bytes(rnd.choice([x for x in range(256) if x not in (0xFE, 0xFD)]) for _ in range(rnd.randint(3, 40)))
            where.append(len(out))
            out += junk
        out += data[o:o + n]
    return bytes(out), where


def mixed_v1_v2_two_vehicles(data: bytes) -> bytes:
    """Every third MAVLink 1 packet re-encoded as MAVLink 2 (same message, same time), and a
    second vehicle (system 7) whose GLOBAL_POSITION_INT is 100 m off, at a fifth of the rate."""
    os.environ.setdefault("MAVLINK20", "1")
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    class _Sink:
        def write(self, b):
            pass

    dec = mavlink.MAVLink(None)
    out = bytearray()
    n_pos = 0
    for k, (o, n) in enumerate(tlog_packets(data)):
        t = data[o:o + 8]
        pkt = data[o + 8:o + n]
        try:
            m = dec.decode(bytearray(pkt))
        except Exception:  # unknown ids stay as they are
            m = None
        if m is not None and k % 3 == 0:
            enc = mavlink.MAVLink(_Sink(), srcSystem=m.get_srcSystem(), srcComponent=m.get_srcComponent())
            enc.seq = m.get_seq()
            pkt = m.pack(enc)
        out += t + pkt
        if m is not None and m.get_type() == "GLOBAL_POSITION_INT":
            n_pos += 1
            if n_pos % 5 == 0:
                enc = mavlink.MAVLink(_Sink(), srcSystem=7, srcComponent=1)
                other = mavlink.MAVLink_global_position_int_message(m.time_boot_ms, m.lat + 9000, m.lon, m.alt,
                                                                    m.relative_alt, 0, 0, 0, m.hdg)
                out += t + other.pack(enc)
    return bytes(out)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def first_time_us(data: bytes) -> int:
    return struct.unpack(">Q", data[:8])[0]
