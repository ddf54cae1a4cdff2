"""Keep only some message types of an ArduPilot DataFlash log, byte for byte (how
``logs/solo-log171-trimmed.bin`` was cut from dronekit-la-testdata's ``log171.bin``; see README.md).

    python tests/data/trim_dataflash.py IN.bin OUT.bin FMT,PARM,MSG,MODE,EV,ERR,CMD,GPS,ATT,CTUN

Every kept message is copied unchanged (header 0xA3 0x95, type, payload); the lengths come from
the log's own FMT messages. A byte that does not start a known message is dropped.
"""

from __future__ import annotations

import sys


def trim(data: bytes, keep: set[str]) -> bytes:
    fmt = {128: ("FMT", 89)}
    out = bytearray()
    i = 0
    while i + 3 <= len(data):
        if data[i] != 0xA3 or data[i + 1] != 0x95 or data[i + 2] not in fmt:
            i += 1
            continue
        name, length = fmt[data[i + 2]]
        if i + length > len(data):
            break
        if data[i + 2] == 128:
            fmt[data[i + 3]] = (data[i + 5:i + 9].rstrip(b"\0").decode("ascii", "replace"), data[i + 4])
        if name in keep:
            out += data[i:i + length]
        i += length
    return bytes(out)


if __name__ == "__main__":
    src, dst, types = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(trim(data, types))
