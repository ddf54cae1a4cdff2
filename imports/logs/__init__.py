"""Readers of real flight logs, one module per format; ``read_log`` picks one by content."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from imports.errors import ImportsError

TLOG_EXT = (".tlog", ".mav")
DATAFLASH_EXT = (".bin",)
ULOG_EXT = (".ulg", ".ulog")


@contextlib.contextmanager
def quiet_fds():
    """Silence what log libraries print, C extensions included (pymavlink's dfindexer writes
    "bad header ..." to the process's stderr): fds 1 and 2 go to a scratch file meanwhile, whose
    text is handed back in the yielded list."""
    said: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as scratch:
        try:
            os.dup2(scratch.fileno(), 1)
            os.dup2(scratch.fileno(), 2)
            with contextlib.redirect_stdout(open(os.devnull, "w")) as a, contextlib.redirect_stderr(a):
                yield said
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            scratch.seek(0)
            said.extend(scratch.read(4096).decode("utf-8", "replace").splitlines())


def sniff(path: Path, head: bytes) -> str:
    """tlog | dataflash | ulog, from the first bytes (the extension only breaks a tie)."""
    if head[:4] == b"ULog":
        return "ulog"
    if head[:2] == b"\xa3\x95":
        return "dataflash"
    if len(head) > 8 and head[8] in (0xFE, 0xFD):
        return "tlog"
    ext = path.suffix.lower()
    if ext in ULOG_EXT:
        return "ulog"
    if ext in DATAFLASH_EXT:
        return "dataflash"
    if ext in TLOG_EXT:
        return "tlog"
    raise ImportsError(f"{path}: byte 0: not a flight log I know (starts {head[:8].hex(' ')}); expected a MAVLink "
                       ".tlog (8-byte time + 0xFE/0xFD packet), an ArduPilot DataFlash .bin (0xA3 0x95) or a PX4 .ulg ('ULog')")


def read_log(path: str | Path, *, system_id: int | None = None, boot_utc_ns: int | None = None):
    """A log file -> ``imports.telemetry.Telemetry`` (ImportsError naming the file and where)."""
    p = Path(path)
    if not p.is_file():
        raise ImportsError(f"{p}: no such file; expected a flight log (.tlog, .bin, .ulg)")
    with open(p, "rb") as f:
        head = f.read(64)
    if not head:
        raise ImportsError(f"{p}: byte 0: empty file; expected a flight log")
    kind = sniff(p, head)
    if kind == "tlog":
        from imports.logs.tlog import read_tlog

        return read_tlog(p, system_id=system_id)
    if kind == "dataflash":
        from imports.logs.dataflash import read_dataflash

        return read_dataflash(p, boot_utc_ns=boot_utc_ns)
    from imports.logs.ulog import read_ulog

    return read_ulog(p, boot_utc_ns=boot_utc_ns)
