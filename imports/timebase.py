"""Clocks of real data: GPS week + time of week to UTC (leap seconds), EXIF local times with
their offset, ISO 8601 instants. Everything comes out as unix nanoseconds (UTC)."""

from __future__ import annotations

import datetime as dt
import re

GPS_EPOCH_UNIX_S = 315_964_800  # 1980-01-06T00:00:00Z
# GPS - UTC in seconds from each leap second on (IERS Bulletin C); none announced after 2017.
LEAP_SECONDS = (
    (dt.datetime(1981, 7, 1), 1), (dt.datetime(1982, 7, 1), 2), (dt.datetime(1983, 7, 1), 3),
    (dt.datetime(1985, 7, 1), 4), (dt.datetime(1988, 1, 1), 5), (dt.datetime(1990, 1, 1), 6),
    (dt.datetime(1991, 1, 1), 7), (dt.datetime(1992, 7, 1), 8), (dt.datetime(1993, 7, 1), 9),
    (dt.datetime(1994, 7, 1), 10), (dt.datetime(1996, 1, 1), 11), (dt.datetime(1997, 7, 1), 12),
    (dt.datetime(1999, 1, 1), 13), (dt.datetime(2006, 1, 1), 14), (dt.datetime(2009, 1, 1), 15),
    (dt.datetime(2012, 7, 1), 16), (dt.datetime(2015, 7, 1), 17), (dt.datetime(2017, 1, 1), 18),
)
SECONDS_PER_WEEK = 604_800


def _leap_at_utc(utc_s: float) -> int:
    """GPS - UTC (s) at a UTC instant."""
    t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=utc_s)
    return max((leap for when, leap in LEAP_SECONDS if t >= when), default=0)


def _leap_at_gps(gps_s: float) -> int:
    """GPS - UTC (s) at a GPS instant written as seconds since 1970 on the GPS scale."""
    t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=gps_s)
    return max((leap for when, leap in LEAP_SECONDS if t >= when + dt.timedelta(seconds=leap)), default=0)


def gps_to_unix_ns(week: int, tow_ms: float) -> int:
    """GPS week and time of week (ms) -> unix ns (UTC), the leap seconds of that date applied."""
    gps_s = GPS_EPOCH_UNIX_S + int(week) * SECONDS_PER_WEEK + float(tow_ms) / 1000.0
    return int(round((gps_s - _leap_at_gps(gps_s)) * 1e9))


def unix_ns_to_gps(t_ns: int) -> tuple[int, float]:
    """unix ns (UTC) -> (GPS week, time of week in ms), the inverse of ``gps_to_unix_ns``."""
    utc_s = t_ns / 1e9
    since = utc_s + _leap_at_utc(utc_s) - GPS_EPOCH_UNIX_S
    week = int(since // SECONDS_PER_WEEK)
    return week, (since - week * SECONDS_PER_WEEK) * 1000.0


_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def parse_utc_offset(text: str, *, where: str) -> dt.timezone:
    """``+02:00`` / ``-0530`` / ``Z`` -> a fixed time zone; ImportsError naming ``where`` otherwise."""
    from imports.errors import ImportsError

    s = (text or "").strip()
    if s in ("Z", "+00:00", "UTC"):
        return dt.timezone.utc
    m = _OFFSET.match(s)
    if not m or int(m.group(3)) >= 60 or int(m.group(2)) > 14:
        raise ImportsError(f"{where}: UTC offset {text!r}; expected +HH:MM or -HH:MM (e.g. +02:00)")
    sign = 1 if m.group(1) == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))


def exif_to_unix_ns(date_time: str, subsec: str | None, offset: str | None, *, where: str,
                    default_offset: dt.timezone | None = None) -> int:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` (local time) + ``SubSecTime`` digits (fraction of a second) +
    ``OffsetTime`` (``+HH:MM``) -> unix ns. Without an offset in the file ``default_offset`` is
    used; without either the time is ambiguous and refused."""
    from imports.errors import ImportsError

    s = (date_time or "").strip().rstrip("\x00")
    try:
        local = dt.datetime.strptime(s, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        raise ImportsError(f"{where}: DateTimeOriginal {date_time!r}; expected 'YYYY:MM:DD HH:MM:SS'") from None
    frac_ns = 0
    sub = (subsec or "").strip().rstrip("\x00").strip()
    if sub:
        if not sub.isdigit():
            raise ImportsError(f"{where}: SubSecTimeOriginal {subsec!r}; expected digits (a fraction of a second)")
        frac_ns = int(round(int(sub) / 10 ** len(sub) * 1e9))
    if offset and offset.strip().rstrip("\x00").strip():
        tz = parse_utc_offset(offset.strip().rstrip("\x00"), where=f"{where}: OffsetTimeOriginal")
    elif default_offset is not None:
        tz = default_offset
    else:
        raise ImportsError(f"{where}: no OffsetTimeOriginal (the camera's time zone); "
                           "expected EXIF 0x9011 or pass --camera-utc-offset +HH:MM")
    return int(local.replace(tzinfo=tz).timestamp()) * 1_000_000_000 + frac_ns


def iso_to_unix_ns(text: str, *, where: str) -> int:
    """ISO 8601 with a zone (``2026-01-01T00:00:07.250Z``, ``...+02:00``) -> unix ns."""
    from imports.errors import ImportsError

    s = (text or "").strip()
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ImportsError(f"{where}: time {text!r}; expected ISO 8601 with a zone, e.g. 2026-01-01T10:00:00Z") from None
    if t.tzinfo is None:
        raise ImportsError(f"{where}: time {text!r} has no zone; expected ISO 8601 with Z or +HH:MM")
    whole = t.replace(microsecond=0)
    return int(whole.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def unix_ns_to_iso(t_ns: int) -> str:
    t = dt.datetime.fromtimestamp(t_ns // 1_000_000_000, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{(t_ns % 1_000_000_000) // 1000:06d}Z"
