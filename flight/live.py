"""The flight as it happens, for whoever watches (the dashboard's Live page, through the results
store): a few samples a second of where the vehicle is, its heading, battery, mode, fix, the
mission item it flies to and how long since the link last said anything.

The feed runs on its own thread beside the runner and never holds it up: it reads the runner's
state, batches samples, and hands each batch to a sink (``LiveSink``; ``rackscan fly --live-db``
gives the results store's). A sink that fails or is slow loses batches, counted in ``dropped``;
the flight goes on. A lost link is written as a growing ``link_age_s``, so a viewer sees the link
lost, not a drone frozen in place.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, Protocol

import numpy as np


@dataclass(frozen=True)
class LiveSample:
    t_s: float  # since the feed started
    x_m: float | None  # site frame; None before the first position
    y_m: float | None
    alt_m: float  # above home
    yaw_deg: float  # site frame, counter-clockwise from +x
    battery_pct: float  # -1: not reported
    voltage_v: float
    mode: str
    armed: bool
    fix_type: int
    mission_seq: int  # the item flown to (MISSION_CURRENT)
    link_age_s: float  # since the vehicle's last message


class LiveSink(Protocol):
    def begin(self, *, flight_key: str, site_name: str, site_yaml: str, plan: list[tuple[int, list[str]]],
              n_items: int) -> None: ...

    def add(self, samples: list[LiveSample]) -> None: ...

    def end(self, status: str) -> None: ...


def pass_bins(items) -> list[tuple[int, list[str]]]:
    """(MAVLink mission seq, bin ids) of each mission item that ends a pass: seq is the item's
    index + 1 (slot 0 is home), as ``mission_to_mavlink`` numbers them."""
    return [(i + 1, list(it.bin_ids)) for i, it in enumerate(items) if getattr(it, "bin_ids", ())]


def pass_views(items, site, camera, *, tol_m: float = 0.15) -> list[tuple[int, list[str]]]:
    """(MAVLink mission seq, bin ids) of each pass of a rackscan mission with every bin its camera
    sees, not only those the plan gave it: a bin is done once every pass that sees it is flown.

    A pass is a waypoint flown at the scan speed (``change_speed`` then the waypoint, after the
    pass's start waypoint); its face is the one both ends stand off in front of, at the same
    distance (a left and right camera pair's: both faces of the aisle); what it sees is the view (``camera``'s field of view at that standoff) swept along
    the pass. A mission not in that shape (or without a site or camera) falls back to
    ``pass_bins``."""
    import math

    if site is None or camera is None:
        return pass_bins(items)
    hfov, vfov = (math.radians(x) / 2 for x in camera.fov_deg())
    alt0 = site.origin.alt_m
    out = []
    for i, it in enumerate(items):
        if not (it.kind == "waypoint" and i >= 3 and items[i - 1].kind == "change_speed"
                and items[i - 3].kind == "waypoint"):
            continue
        start = items[i - 3]
        ends = [(float(w.lat_deg), float(w.lon_deg), float(w.rel_alt_m)) for w in (start, it)]
        if abs(ends[0][2] - ends[1][2]) > tol_m:
            continue  # not level: a climb, not a pass
        pts = [site.origin.geodetic_to_site(lat, lon, alt0) * np.array([1.0, 1.0, 0.0]) + np.array([0.0, 0.0, z])
               for lat, lon, z in ends]
        level = []  # faces the pass runs along, in front of them at a steady distance
        for f in site.faces:
            qa, qb = f.site_to_face(np.array(pts))
            if qa[2] > 0 and abs(qa[2] - qb[2]) < tol_m:
                level.append((float(qa[2]), f, (qa, qb)))
        if not level:
            continue
        level.sort(key=lambda x: x[0])
        # one camera sees the nearest face; a left and right pair also the facing one as far away
        near = [x for x in level if x[0] - level[0][0] < tol_m] if camera.is_pair else level[:1]
        seen = []
        for _, f, (qa, qb) in near:
            d = float((qa[2] + qb[2]) / 2)
            half_u, half_v = d * math.tan(hfov), d * math.tan(vfov)
            u_lo, u_hi = min(qa[0], qb[0]) - half_u, max(qa[0], qb[0]) + half_u
            v = float((qa[1] + qb[1]) / 2)
            seen += [b.bin_id for b in f.bins if b.v0_m < v + half_v and b.v1_m > v - half_v and b.u0_m < u_hi and b.u1_m > u_lo]
        out.append((i + 1, seen))
    planned = {b for _, bs in pass_bins(items) for b in bs}
    if not out or not planned <= {b for _, bs in out for b in bs}:
        return pass_bins(items)  # not a mission of ours: the plan's own word
    return out


class LiveFeed:
    """Samples ``state()`` (the runner's ``VehicleState``) at ``rate_hz``; every ``batch_s`` hands the
    new samples to ``sink.add``. ``to_site(lat, lon, alt)``: site-frame metres; ``yaw_offset_deg``:
    the site's +x heading, to turn a compass yaw into the site frame."""

    def __init__(self, state: Callable[[], object], sink: LiveSink, *, to_site: Callable[[float, float, float], np.ndarray],
                 site_heading_deg: float = 0.0, rate_hz: float = 2.0, batch_s: float = 1.0,
                 log: Callable[[str], None] = lambda s: None) -> None:
        self._state, self._sink, self._to_site = state, sink, to_site
        self._heading = site_heading_deg
        self._period = 1.0 / rate_hz
        self._batch_s = batch_s
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self.sent = 0
        self.dropped = 0

    def sample(self) -> LiveSample:
        s = self._state()
        now = time.monotonic()
        x = y = None
        if getattr(s, "lat_deg", 0.0):
            p = self._to_site(s.lat_deg, s.lon_deg, s.alt_amsl_m)
            x, y = float(p[0]), float(p[1])
        # compass yaw (clockwise from north) -> site yaw (counter-clockwise from the site's +x)
        yaw_site = (self._heading - np.degrees(s.yaw_rad)) % 360.0
        last = getattr(s, "last_msg_wall", 0.0)
        return LiveSample(t_s=round(now - self._t0, 3), x_m=x, y_m=y, alt_m=float(s.rel_alt_m), yaw_deg=float(yaw_site),
                          battery_pct=float(s.battery_pct), voltage_v=float(s.voltage_v), mode=str(s.mode),
                          armed=bool(s.armed), fix_type=int(s.fix_type), mission_seq=int(s.mission_current),
                          link_age_s=round(now - last, 2) if last else -1.0)

    def _try_sample(self) -> LiveSample | None:
        try:
            return self.sample()
        except Exception:  # a state read mid-update: this tick is skipped, the next one reads it
            return None

    def _flush(self, batch: list[LiveSample]) -> None:
        if not batch:
            return
        try:
            self._sink.add(batch)
            self.sent += len(batch)
        except Exception as exc:  # the watchers lose a second of the flight; the flight goes on
            self.dropped += len(batch)
            if self.dropped == len(batch):
                self._log(f"live feed: cannot write ({type(exc).__name__}: {exc}); the flight goes on")

    def _run(self) -> None:
        batch: list[LiveSample] = []
        last_flush = time.monotonic()
        while not self._stop.wait(self._period):
            s = self._try_sample()
            if s is not None:
                batch.append(s)
            if time.monotonic() - last_flush >= self._batch_s:
                self._flush(batch)
                batch, last_flush = [], time.monotonic()
        self._flush(batch)

    def start(self) -> "LiveFeed":
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)


def as_row(s: LiveSample) -> dict:
    return asdict(s)


__all__ = ["LiveFeed", "LiveSample", "LiveSink", "pass_bins", "pass_views", "as_row"]
