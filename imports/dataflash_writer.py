"""Writing ArduPilot DataFlash logs: FMT messages that define each type, then messages packed as
the format characters say (the layout of ArduPilot's AP_Logger, which pymavlink's DFReader,
Mission Planner and MAVExplorer read)."""

from __future__ import annotations

import struct
from typing import BinaryIO

HEAD = b"\xa3\x95"
FMT_TYPE = 128
# format character -> (struct code, multiplier applied when writing)
FORMAT_CHARS = {
    "b": ("b", 1), "B": ("B", 1), "h": ("h", 1), "H": ("H", 1), "i": ("i", 1), "I": ("I", 1),
    "f": ("f", None), "d": ("d", None), "n": ("4s", None), "N": ("16s", None), "Z": ("64s", None),
    "c": ("h", 100), "C": ("H", 100), "e": ("i", 100), "E": ("I", 100), "L": ("i", 1e7), "M": ("B", 1),
    "q": ("q", 1), "Q": ("Q", 1),
}
# message types as ArduCopter 4.x logs them (names, formats and columns); ids are ours, defined by FMT
TYPES = {
    "PARM": (64, "QNf", "TimeUS,Name,Value"),
    "GPS": (65, "QBBIHBcLLeffffB", "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U"),
    "MSG": (66, "QZ", "TimeUS,Message"),
    "MODE": (67, "QMBB", "TimeUS,Mode,ModeNum,Rsn"),
    "ATT": (68, "QccccCCCCB", "TimeUS,DesRoll,Roll,DesPitch,Pitch,DesYaw,Yaw,ErrRP,ErrYaw,AEKF"),
    "POS": (69, "QLLfff", "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt"),
    "CAM": (70, "QBHIHLLeeeccC", "TimeUS,I,Img,GPSTime,GPSWeek,Lat,Lng,Alt,RelAlt,GPSAlt,R,P,Y"),
}


def _struct(fmt: str) -> struct.Struct:
    return struct.Struct("<" + "".join(FORMAT_CHARS[c][0] for c in fmt))


class DataFlashWriter:
    """Write a DataFlash log to a binary file object: ``write("ATT", TimeUS, ...)``."""

    def __init__(self, f: BinaryIO, types: dict[str, tuple[int, str, str]] = TYPES) -> None:
        self.f = f
        self._fmt_struct = _struct("BBnNZ")
        self.types = {}
        self._define(FMT_TYPE, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns")
        for name, (tid, fmt, cols) in types.items():
            self._define(tid, name, fmt, cols)

    def _define(self, tid: int, name: str, fmt: str, columns: str) -> None:
        s = _struct(fmt)
        self.types[name] = (tid, fmt, s)
        body = self._fmt_struct.pack(tid, 3 + s.size, name.encode("ascii"), fmt.encode("ascii"), columns.encode("ascii"))
        self.f.write(HEAD + bytes([FMT_TYPE]) + body)

    def write(self, name: str, *values) -> None:
        tid, fmt, s = self.types[name]
        if len(values) != len(fmt):
            raise ValueError(f"DataFlash {name}: {len(values)} values for format {fmt!r}")
        out = []
        for c, v in zip(fmt, values):
            code, mult = FORMAT_CHARS[c]
            if code.endswith("s"):
                out.append(v.encode("ascii") if isinstance(v, str) else bytes(v))
            elif mult is None:
                out.append(float(v))
            else:
                out.append(int(round(float(v) * mult)))
        self.f.write(HEAD + bytes([tid]) + s.pack(*out))
