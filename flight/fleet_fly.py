"""A fleet flown at once (``rackscan fly --fleet fleet.yaml``): one link, one thread and one
bundle per vehicle sortie, and the fleet's time line.

``load_fleet`` reads the ``fleet.yaml`` that ``rackscan plan --drones N`` writes (what each vehicle
flies, from which pad, when it may start) and refuses a bad one in one line. ``fly_fleet`` flies
every vehicle on its own link (``flight.session.fly`` per sortie, the vehicle's MAVLink system id
checked so crossed links never command the wrong vehicle): each vehicle waits its planned start,
flies its sorties one after another with a battery change on its pad between them (``swap``: the
operator's, or a simulator's), and records ``RECORD/NAME-vK`` (``RECORD/NAME-vK-s2``, ...). One stop event
reaches every vehicle: an operator's Ctrl-C sends each airborne vehicle its abort mode, keeps the
ones on the ground there, and waits for all of them to be down. ``fleet_timeline.json`` holds
every sortie's take-off and landing (ground-station clock), every battery change, and the closest
approach of two vehicles in the recorded telemetry (``telemetry_separation``).
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, NamedTuple

import numpy as np

from flight.errors import FlightError

if TYPE_CHECKING:
    from flight.fleet import FleetPlan
    from flight.runner import RunnerOptions
    from flight.session import CameraSource
    from warehouse.geodetic import GeoOrigin

TIMELINE_FILE = "fleet_timeline.json"
TimedPath = tuple[np.ndarray, np.ndarray]  # (T,) seconds, (T,3) site metres


@dataclass(frozen=True, kw_only=True)
class FleetVehicle:
    vehicle: int
    sysid: int
    aisles: tuple[str, ...]
    missions: tuple[Path, ...]  # one .plan per sortie, in order
    start_s: float  # takes off this long after every vehicle is ready (the plan's deconfliction; TakeoffGate)
    flight_s: float  # planned


@dataclass(frozen=True, kw_only=True)
class FleetManifest:
    path: Path
    site: str
    vehicles: tuple[FleetVehicle, ...]
    battery_swap_s: float  # planned time on the pad between two sorties
    required_separation_m: float  # the closest two vehicles may come (the plan's --min-separation-m)
    bins_planned: int
    wall_clock_s: float  # planned


def _field(doc: dict, key: str, where: str, kind: type, expect: str):
    if key not in doc:
        raise FlightError(f"{where}.{key}: missing; expected {expect}")
    v = doc[key]
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, kind) or isinstance(v, bool):
        raise FlightError(f"{where}.{key}: {v!r}; expected {expect}")
    return v


def write_fleet(fp: "FleetPlan", out: Path, *, site_name: str, battery_swap_s: float,
                required_separation_m: float = 3.0) -> tuple[Path, dict]:
    """Each vehicle's missions (OUT.v1.plan, OUT.v1.s2.plan, ...) and ``fleet.yaml`` beside them
    (what each vehicle flies, from where, when); the fleet file and what it says."""
    import yaml

    from flight.planfile import write_plan

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"site": site_name, "min_separation_m": round(fp.min_separation_m, 2) if fp.closest else None,
           "timing_tolerance_s": fp.timing_tolerance_s, "tolerance_window_s": fp.tolerance_window_s,
           "wall_clock_s": round(fp.wall_clock_s, 1), "bins_planned": fp.bins_planned,
           "required_separation_m": required_separation_m, "battery_swap_s": battery_swap_s, "vehicles": []}
    for v in fp.vehicles:
        files = []
        for i, m in enumerate(v.plan.missions):
            p = out.with_suffix(f".v{v.vehicle}.plan" if i == 0 else f".v{v.vehicle}.s{i + 1}.plan")
            write_plan(m, p)
            files.append(p)
        doc["vehicles"].append({"vehicle": v.vehicle, "sysid": v.vehicle, "aisles": list(v.aisles),
                                "missions": [str(f.name) for f in files], "home_m": [round(x, 2) for x in v.home_m],
                                "transit_alt_m": v.transit_alt_m, "start_s": v.start_s,
                                "flight_s": round(v.plan.est_flight_time_s, 1), "battery_swaps_s": round(v.plan.battery_swaps_s, 1)})
    fleet_yaml = out.with_name("fleet.yaml")
    fleet_yaml.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return fleet_yaml, doc


def load_fleet(path: str | Path) -> FleetManifest:
    """``fleet.yaml`` (``rackscan plan --drones N``) with its mission files checked to exist."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FlightError(f"{p}: fleet file not found; expected the fleet.yaml `rackscan plan --drones N` writes")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        raise FlightError(f"{p}{at}: not YAML ({getattr(e, 'problem', e)}); expected a fleet.yaml") from None
    if not isinstance(doc, dict):
        raise FlightError(f"{p}: expected a mapping with site, vehicles, ... (a fleet.yaml)")
    vs = doc.get("vehicles")
    if not isinstance(vs, list) or not vs:
        raise FlightError(f"{p}: vehicles: {vs!r}; expected a list of one or more vehicles")
    out, sysids = [], set()
    for i, v in enumerate(vs):
        where = f"{p}: vehicles[{i}]"
        if not isinstance(v, dict):
            raise FlightError(f"{where}: {v!r}; expected a mapping (vehicle, sysid, missions, start_s)")
        sysid = _field(v, "sysid", where, int, "a MAVLink system id 1-255")
        if not 1 <= sysid <= 255:
            raise FlightError(f"{where}.sysid: {sysid}; expected 1-255")
        if sysid in sysids:
            raise FlightError(f"{where}.sysid: {sysid} again; expected one system id per vehicle")
        sysids.add(sysid)
        missions = _field(v, "missions", where, list, "a list of .plan files (beside the fleet.yaml)")
        if not missions or not all(isinstance(m, str) for m in missions):
            raise FlightError(f"{where}.missions: {missions!r}; expected one or more .plan file names")
        files = tuple((p.parent / m) for m in missions)
        for j, f in enumerate(files):
            if not f.is_file():
                raise FlightError(f"{where}.missions[{j}]: {f} not found; expected the mission beside {p.name}")
        start_s = _field(v, "start_s", where, float, "seconds (>= 0) the vehicle waits once every vehicle is ready")
        if start_s < 0:
            raise FlightError(f"{where}.start_s: {start_s}; expected >= 0")
        out.append(FleetVehicle(vehicle=_field(v, "vehicle", where, int, "the vehicle's number"), sysid=sysid,
                                aisles=tuple(str(a) for a in v.get("aisles") or ()), missions=files, start_s=start_s,
                                flight_s=float(v.get("flight_s") or 0.0)))
    swap = doc.get("battery_swap_s", 180.0)
    if not isinstance(swap, (int, float)) or isinstance(swap, bool) or swap < 0:
        raise FlightError(f"{p}: battery_swap_s: {swap!r}; expected seconds >= 0")
    sep = doc.get("required_separation_m", 3.0)
    if not isinstance(sep, (int, float)) or isinstance(sep, bool) or sep < 0:
        raise FlightError(f"{p}: required_separation_m: {sep!r}; expected metres >= 0")
    return FleetManifest(path=p, site=str(doc.get("site") or ""), vehicles=tuple(out), battery_swap_s=float(swap),
                         required_separation_m=float(sep),
                         bins_planned=int(doc.get("bins_planned") or 0), wall_clock_s=float(doc.get("wall_clock_s") or 0.0))


def parse_links(texts: list[str], manifest: FleetManifest, *, base_port: int = 14550) -> dict[int, str]:
    """``--link VEHICLE=ADDRESS`` per vehicle; a vehicle not named listens on
    ``udpin:0.0.0.0:{base_port + 10 * (vehicle - 1)}`` (SITL's ``-I`` instances are 10 ports apart)."""
    known = {v.vehicle for v in manifest.vehicles}
    links = {v.vehicle: f"udpin:0.0.0.0:{base_port + 10 * (v.vehicle - 1)}" for v in manifest.vehicles}
    for t in texts:
        k, sep, addr = t.partition("=")
        if not sep or not k.strip().isdigit() or not addr.strip():
            raise FlightError(f"--link {t!r}: expected VEHICLE=ADDRESS, e.g. 2=udpin:0.0.0.0:14560")
        if int(k) not in known:
            raise FlightError(f"--link {t!r}: no vehicle {k} in {manifest.path}; expected one of {sorted(known)}")
        links[int(k)] = addr.strip()
    if len(set(links.values())) < len(links):
        raise FlightError(f"--link: two vehicles on one address ({sorted(links.values())}); expected one link per vehicle")
    return links


@dataclass(frozen=True, kw_only=True)
class SortieRecord:
    vehicle: int
    sysid: int
    sortie: int  # 1, 2, ...
    plan: str
    record: str  # the bundle
    status: str  # complete, aborted, failed, not flown, ...
    start_ns: int  # when the ground station began it (connect)
    end_ns: int
    frames: int = 0
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class SwapRecord:
    vehicle: int
    before_sortie: int
    start_ns: int
    end_ns: int


@dataclass
class FleetFlight:
    """How the fleet's flight went: every sortie, every battery change, the wall clock and the
    closest approach in the recorded telemetry."""

    record: Path
    sorties: list[SortieRecord]
    swaps: list[SwapRecord]
    wall_clock_s: float  # the fleet's start to the last vehicle down
    min_separation_m: float | None = None  # in the recorded telemetry (None: fewer than two vehicles flew)
    closest: tuple[int, int, float] | None = None  # (vehicle, vehicle, seconds after the fleet's start)
    stopped: bool = False  # the operator stopped it
    holds: list["HoldRecord"] = field(default_factory=list)  # the separation guard's
    timeline_file: Path | None = None
    warnings: list[str] = field(default_factory=list)
    refused: str = ""  # why the fleet stayed on the ground (a link check failed before anything armed)

    @property
    def ok(self) -> bool:
        return not self.refused and bool(self.sorties) and all(s.status == "complete" for s in self.sorties)

    @property
    def bundles(self) -> list[Path]:
        return [Path(s.record) for s in self.sorties if s.status != "not flown" and Path(s.record).exists()]

    def to_json(self) -> dict:
        return {"record": str(self.record), "wall_clock_s": round(self.wall_clock_s, 2),
                "min_separation_m": None if self.min_separation_m is None else round(self.min_separation_m, 3),
                "closest": list(self.closest) if self.closest else None, "stopped": self.stopped,
                "sorties": [asdict(s) for s in self.sorties], "swaps": [asdict(s) for s in self.swaps],
                "holds": [h.to_json() for h in self.holds],
                "warnings": self.warnings, "refused": self.refused}


def sortie_record_dir(record: Path, vehicle: int, sortie: int) -> Path:
    """RECORD/NAME-vK for a vehicle's first sortie, RECORD/NAME-vK-sS after a battery change (a
    bundle's folder name is its flight's key in the results store: unique per fleet flight)."""
    return record / (f"{record.name}-v{vehicle}" if sortie == 1 else f"{record.name}-v{vehicle}-s{sortie}")


def telemetry_track(bundle_dir: Path, origin: "GeoOrigin") -> tuple[np.ndarray, np.ndarray]:
    """(T,) ground-station seconds and (T,3) site positions of a bundle's GLOBAL_POSITION_INT
    (what the vehicle reported; height above home)."""
    from flight.bundle import Bundle

    t, xyz = [], []
    for t_ns, m in Bundle(bundle_dir).iter_mavlink(["GLOBAL_POSITION_INT"]):
        if m.lat == 0 and m.lon == 0:
            continue
        e = origin.geodetic_to_site(m.lat * 1e-7, m.lon * 1e-7, origin.alt_m)
        t.append(t_ns * 1e-9)
        xyz.append((e[0], e[1], m.relative_alt * 1e-3))
    return np.asarray(t, float), np.asarray(xyz, float).reshape(-1, 3)


def telemetry_separation(tracks: "dict[int, TimedPath] | list[tuple[int, TimedPath]]", *, sample_s: float = 0.1
                         ) -> tuple[float | None, tuple[int, int, float] | None]:
    """Closest approach of two vehicles' recorded tracks while one of them is airborne
    (``flight.fleet.closest_approach`` on the telemetry): (metres, (vehicle, vehicle, time s)).
    ``tracks``: a track per vehicle, or (vehicle, track) per sortie: sorties are never joined, so
    a vehicle is not drawn across the gap of a battery change (it may land away from its pad, at
    the rally point its RTL chose, and be carried back)."""
    from flight.fleet import closest_approach

    items = sorted(tracks.items()) if isinstance(tracks, dict) else list(tracks)
    items = [(k, tr) for k, tr in items if len(tr[0]) > 1]
    best: tuple[float, tuple[int, int, float]] | None = None
    for i, (a, ta) in enumerate(items):
        for b, tb in items[i + 1:]:
            if a == b:
                continue
            d, t = closest_approach(ta, tb, sample_s=sample_s)
            if np.isfinite(d) and (best is None or d < best[0]):
                best = (d, (min(a, b), max(a, b), t))
    return (best[0], best[1]) if best else (None, None)


def _sortie_tracks(sorties: list[SortieRecord], origin: "GeoOrigin", t0_s: float) -> list[tuple[int, "TimedPath"]]:
    """(vehicle, (seconds since ``t0_s``, site positions)) of every sortie flown."""
    out = []
    for s in sorties:
        if s.status == "not flown" or not (Path(s.record) / "telemetry.tlog").exists():
            continue
        t, p = telemetry_track(Path(s.record), origin)
        if len(t):
            out.append((s.vehicle, (t - t0_s, p)))
    return out


def wait_for_charged_battery(address: str, options: "RunnerOptions", *, timeout_s: float = 900.0,
                             stop: threading.Event | None = None, log: Callable[[str], None] = lambda s: None) -> float:
    """A battery change by a person: wait until the vehicle on ``address`` (its system id as
    ``options.expect_sysid``) reports a pack at or over ``options.min_battery_pct``; the pack's
    charge (%). Reconnects while the autopilot reboots on its new pack."""
    from dataclasses import replace

    from flight.runner import MissionRunner

    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout_s
    last = "no vehicle yet"
    while not stop.is_set() and time.monotonic() < deadline:
        r = None
        try:
            r = MissionRunner(address, replace(options, heartbeat_timeout_s=5.0)).connect()
            r.request_streams()
            if r.wait_until(lambda s: s.battery_pct >= options.min_battery_pct, 5.0):
                return r.state.battery_pct
            last = f"battery {r.state.battery_pct:.0f}%"
        except FlightError as e:
            last = str(e)
        finally:
            if r is not None:
                r.close()
        log(f"waiting for a charged battery ({last}); expected >= {options.min_battery_pct:.0f}%")
        stop.wait(5.0)
    raise FlightError(f"{address}: no charged battery within {timeout_s:.0f} s ({last}); expected "
                      f">= {options.min_battery_pct:.0f}%")


@dataclass(frozen=True, kw_only=True)
class GuardOptions:
    """``SeparationGuard``'s settings (vehicle seconds, metres)."""

    keep_m: float = 3.0  # the closest two vehicles may come (the plan's required separation)
    margin_m: float = 1.5  # hold when the next ``lookahead_s`` would bring them within keep + margin
    lookahead_s: float = 5.0
    release_margin_m: float = 0.5  # released only when clear by this much more
    # to a vehicle on the ground (on its pad before its start or for a battery change) the margin is
    # this: it stands where it is seen, and climbs straight up when it goes (with margin_m a first
    # pass 4.2 m from the pads was held until the three vehicles waiting on them had all gone:
    # 86 s, simulated fleet of 4, 2026-12-07)
    ground_margin_m: float = 0.5
    min_closing_m_s: float = 0.1  # slower than this is not closing (two vehicles climbing side by side)
    min_hold_s: float = 1.0
    period_s: float = 0.05  # wall seconds between looks
    # how a held vehicle is seen to stop: on at its speed while the hold reaches it (a look, the
    # link; a look is 0.5 vehicle seconds at 10x), then slowing at this much. Less than either
    # vehicle brakes at: ArduCopter SITL came to rest from 3 m/s in 2.3 m (2026-12-07; BRAKE eases
    # into 7.5 m/s/s at PSC_JERK_XY's 5 m/s/s/s), the simulated vehicle slows at 2.5 m/s/s
    brake_delay_s: float = 1.0
    brake_decel_m_s2: float = 2.0
    land_m_s: float = 0.5  # a held vehicle in an RTL or LAND, over where it comes down, descends this fast (LAND_SPD_MS)


@dataclass(frozen=True)
class Track:
    """A vehicle as the guard sees it: site position and velocity (m, m/s), where it would fly if
    let go (``intent``: its velocity toward its next waypoint), and whether it can be held."""

    p: np.ndarray
    v: np.ndarray
    intent: np.ndarray
    airborne: bool
    can_hold: bool  # flying its mission in AUTO


class Braking(NamedTuple):
    """How a held vehicle is seen to stop: on at its velocity for ``delay_s``, then slowing evenly
    at ``decel_m_s2`` to rest."""

    delay_s: float
    decel_m_s2: float


def _flown(p: np.ndarray, v: np.ndarray, t: np.ndarray, brake: Braking | None) -> np.ndarray:
    """Positions at times ``t`` (s): straight on at ``v``, or braking to rest along it."""
    if brake is None:
        return p + np.outer(t, v)
    speed = float(np.linalg.norm(v))
    if speed < 1e-9:
        return np.tile(p, (len(t), 1))
    tau = np.clip(t - brake.delay_s, 0.0, speed / brake.decel_m_s2)
    s = speed * (np.minimum(t, brake.delay_s) + tau) - 0.5 * brake.decel_m_s2 * tau * tau
    return p + np.outer(s, v / speed)


def predicted_min(pa: np.ndarray, va: np.ndarray, pb: np.ndarray, vb: np.ndarray, horizon_s: float, *,
                  brake_a: Braking | None = None, brake_b: Braking | None = None) -> float:
    """Closest distance of two vehicles flying straight on at their velocities for ``horizon_s``; a
    vehicle given its ``brake_*`` (a held one) brakes to rest instead."""
    if brake_a is None and brake_b is None:
        r, v = np.asarray(pb, float) - pa, np.asarray(vb, float) - va
        vv = float(v @ v)
        t = 0.0 if vv < 1e-12 else min(max(-float(r @ v) / vv, 0.0), horizon_s)
        return float(np.linalg.norm(r + v * t))
    t = np.linspace(0.0, horizon_s, int(np.ceil(horizon_s / 0.02)) + 1)  # 2 cm or less apart at 1 m/s
    d = _flown(np.asarray(pb, float), np.asarray(vb, float), t, brake_b) - \
        _flown(np.asarray(pa, float), np.asarray(va, float), t, brake_a)
    return float(np.sqrt((d * d).sum(axis=1)).min())


class GuardDecision(NamedTuple):
    """What the guard does now: vehicles to hold, held ones to let go, and the vehicles let go to
    pass held ones they wait for (``passing``: vehicle -> the held vehicles it passes)."""

    hold: set[int]
    let_go: set[int]
    passing: dict[int, set[int]]


def guard_decisions(tracks: dict[int, Track], held: set[int], opts: GuardOptions,
                    passing: Mapping[int, set[int]] | None = None) -> GuardDecision:
    """Which vehicles to hold now and which held ones to let go, pure.

    A pair closing to within keep + margin (keep + ground margin when one of them is on the
    ground) in the next ``lookahead_s`` holds the vehicle flying into the other (the larger speed
    toward it; the higher number on a tie) when it can be held, else the other one. A held vehicle
    is let go when, flying toward its next waypoint, it would stay keep + margin + release margin
    (keep + ground margin + release margin from one on the ground) from every vehicle (or move away
    from it); when held vehicles only wait for each other, the lowest number goes first if its way
    keeps ``keep_m``.
    Either way a held vehicle still moving is seen braking to rest (``Braking``), not
    standing where it is nor flying on: on two ArduCopter SITL instances meeting at a crossing, one
    held 12.6 m from it coasted 2.3 m more; seen flying on, it had the other held too, and seen
    standing, the other let go and held again a second later (2026-12-07).
    That one passes the held vehicles it waited for (``passing``, carried from one look to the
    next): it is held again only when it would come within ``keep_m`` of them, the limit it was let
    go on (held again at keep + margin, it was let go and held again each second as it crept past:
    ArduCopter SITL, 2026-12-07), and passes them until it no longer closes on them."""
    hold: set[int] = set()
    ks = sorted(tracks)
    near = opts.keep_m + opts.margin_m
    ground = opts.keep_m + opts.ground_margin_m
    passing = {k: set(v) for k, v in (passing or {}).items() if k in tracks and k not in held}

    def closing(pa, va, pb, vb) -> bool:
        r = pb - pa
        return -float(r @ (vb - va)) / max(float(np.linalg.norm(r)), 1e-9) > opts.min_closing_m_s

    def passes(a: int, b: int) -> bool:
        """``a`` passes held ``b``, or the other way round."""
        return (b in held and b in passing.get(a, ())) or (a in held and a in passing.get(b, ()))

    brake = Braking(opts.brake_delay_s, opts.brake_decel_m_s2)

    def braking(k: int) -> Braking | None:
        """How held ``k`` stops, or None: not held, it flies on."""
        return brake if k in held else None

    for i, a in enumerate(ks):
        for b in ks[i + 1:]:
            ta, tb = tracks[a], tracks[b]
            if not (ta.airborne or tb.airborne):
                continue
            limit = opts.keep_m if passes(a, b) else near if ta.airborne and tb.airborne else ground
            if not closing(ta.p, ta.v, tb.p, tb.v) or predicted_min(
                    ta.p, ta.v, tb.p, tb.v, opts.lookahead_s, brake_a=braking(a), brake_b=braking(b)) >= limit:
                continue
            u = (tb.p - ta.p) / max(float(np.linalg.norm(tb.p - ta.p)), 1e-9)
            toward = {a: float(ta.v @ u), b: float(-(tb.v @ u))}
            order = sorted((a, b), key=lambda k: (-toward[k], -k))
            pick = next((k for k in order if k not in held and tracks[k].airborne and tracks[k].can_hold), None)
            if pick is not None:
                hold.add(pick)

    def blockers(h: int, keep: float, keep_ground: float | None = None) -> set[int]:
        """Who stops held ``h`` flying on toward its next waypoint, keeping ``keep``: a vehicle let
        go in this same look flies toward its own (two held ones let go at once, each sure the other
        stays, flew at each other and were held again, turn about, every second: SITL, 2026-12-07).
        A vehicle on the ground is kept ``keep_ground`` from, where given."""
        th, out = tracks[h], set()
        for o, to in tracks.items():
            if o == h:
                continue
            vo = to.intent if o in let_go else to.v
            stop = braking(o) if o not in let_go else None
            limit = keep if to.airborne or keep_ground is None else keep_ground
            if closing(th.p, th.intent, to.p, vo) and predicted_min(th.p, th.intent, to.p, vo, opts.lookahead_s, brake_b=stop) < limit:
                out.add(o)
        return out

    let_go: set[int] = {h for h in held - hold if h not in tracks}
    stuck = []
    for h in sorted((held - hold) & set(tracks)):
        b = blockers(h, near + opts.release_margin_m, ground + opts.release_margin_m)
        if not b:
            let_go.add(h)
        elif b <= held:
            stuck.append(h)
    # held vehicles only blocked by held ones would wait for each other for ever: the lowest number
    # goes first when its way keeps the hard limit (keep_m) from every vehicle
    if stuck and not (let_go & set(tracks)):
        first = next((h for h in stuck if not blockers(h, opts.keep_m)), None)
        if first is not None:
            let_go.add(first)
            passing[first] = blockers(first, near + opts.release_margin_m, ground + opts.release_margin_m)
    # a pass ends when the vehicle is held again, or no longer closes on a vehicle still held
    passing = {k: {o for o in v if o in held - let_go and o in tracks
                   and closing(tracks[k].p, tracks[k].v if k not in held else tracks[k].intent, tracks[o].p, np.zeros(3))}
               for k, v in passing.items() if k not in hold}
    return GuardDecision(hold, let_go, {k: v for k, v in passing.items() if v})


@dataclass(frozen=True)
class HoldRecord:
    """One hold of the separation guard: which vehicle, for how long (wall seconds), when (wall
    seconds after the guard started), where (its reported position) and at which mission item."""

    vehicle: int
    held_s: float
    at_s: float
    lat_deg: float
    lon_deg: float
    rel_alt_m: float
    mission_seq: int

    def to_json(self) -> dict:
        return {"vehicle": self.vehicle, "held_s": round(self.held_s, 2), "at_s": round(self.at_s, 2),
                "lat_deg": round(self.lat_deg, 7), "lon_deg": round(self.lon_deg, 7), "rel_alt_m": round(self.rel_alt_m, 2),
                "mission_seq": self.mission_seq}


class SeparationGuard:
    """Keeps a fleet's vehicles apart in flight, whatever their timing: every ``period_s`` it looks at
    every connected vehicle's reported position, and a vehicle about to come too close to another
    is held (BRAKE, ``MissionRunner.guard_hold``) until its way is clear, then continues its mission
    (``guard_release``). The plan's time slots assume the planned speeds; this does not."""

    def __init__(self, to_site: Callable[[float, float, float], np.ndarray], opts: GuardOptions = GuardOptions(), *,
                 R_site_ned: np.ndarray | None = None,
                 time_scale: float = 1.0, log: Callable[[str], None] = lambda s: None) -> None:
        """``R_site_ned``: the site frame's rotation from NED; with it each vehicle's velocity is the
        one it reports (GLOBAL_POSITION_INT), else it is differenced from its reported positions
        (noisy: a centimetre of position noise between two looks 0.05 s apart is 0.2 m/s, enough to
        see two vehicles on parallel passes in neighbouring aisles as closing)."""
        self.to_site, self.opts, self.time_scale, self.log = to_site, opts, time_scale, log
        self.R_site_ned = None if R_site_ned is None else np.asarray(R_site_ned, float)
        self._runners: dict[int, object] = {}
        self._prev: dict[int, tuple[float, np.ndarray]] = {}
        self._vel: dict[int, np.ndarray] = {}
        # a hold in progress: when it began (monotonic s) and where (lat, lon, rel alt, mission item)
        self._held: dict[int, tuple[float, tuple[float, float, float, int]]] = {}
        self._passing: dict[int, set[int]] = {}  # let go to pass held vehicles (``guard_decisions``)
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.holds: list[HoldRecord] = []

    def attach(self, vehicle: int, runner) -> None:
        """The vehicle's runner once connected; None when its sortie is over."""
        with self._lock:
            if runner is None:
                self._runners.pop(vehicle, None)
                self._prev.pop(vehicle, None)
                self._vel.pop(vehicle, None)
                self._end_hold(vehicle)
            else:
                self._runners[vehicle] = runner

    def start(self) -> "SeparationGuard":
        self._thread = threading.Thread(target=self._loop, daemon=True, name="separation-guard")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _end_hold(self, vehicle: int) -> None:
        began = self._held.pop(vehicle, None)
        if began is not None:
            t, where = began
            self.holds.append(HoldRecord(vehicle, time.monotonic() - t, t - self._t0, *where))

    def _loop(self) -> None:
        while not self._stop.wait(self.opts.period_s):
            try:
                self.step()
            except Exception as e:  # the guard must not die quietly: say so, and keep looking
                self.log(f"separation guard: {type(e).__name__}: {e}")

    def _differenced_velocity(self, k: int, p: np.ndarray, now: float) -> np.ndarray:
        """Vehicle k's velocity from its last two different reported positions (vehicle m/s)."""
        t_prev = self._prev.get(k)
        if t_prev is not None and now - t_prev[0] > 1e-3 and not np.array_equal(t_prev[1], p):
            self._vel[k] = (p - t_prev[1]) / ((now - t_prev[0]) * self.time_scale)
            self._prev[k] = (now, p)
        elif t_prev is None:
            self._prev[k] = (now, p)
        return self._vel.get(k, np.zeros(3))

    def _track(self, k: int, r, now: float) -> Track | None:
        s = r.state
        if not s.lat_deg and not s.lon_deg:
            return None
        p = np.asarray(self.to_site(s.lat_deg, s.lon_deg, 0.0), float).copy()
        p[2] = s.rel_alt_m
        if self.R_site_ned is not None and s.position_t_ns:
            v = self.R_site_ned @ np.asarray(s.vel_ned_m_s, float)
        else:
            v = self._differenced_velocity(k, p, now)
        intent = v
        if k in self._held:
            intent = self._intent(r, p)
        airborne = bool(s.armed and s.rel_alt_m > 0.3)
        return Track(p=p, v=v, intent=intent, airborne=airborne,
                     can_hold=airborne and s.mode == "AUTO" and r.commanded_mode == "AUTO")

    def _intent(self, r, p: np.ndarray) -> np.ndarray:
        """How held vehicle ``r`` at ``p`` would fly on if let go: toward its next waypoint at the
        speed in force; in its mission's RTL or LAND toward where it comes down (the nearest of
        home and the rally points, ``MissionRunner.landing_point``) and, over it, down at
        ``land_m_s``. Seen hovering in its RTL instead, a vehicle over its rally point 3.8 m from
        one held on its pass was let go and held again as it came down, 39 times in 25 s, while the
        other stayed held until both packs ran low (simulated fleet of 4, 2026-12-07)."""
        from flight.mission import NAV_LAND, NAV_RETURN_TO_LAUNCH

        speed = r.speed_in_force() or 1.0
        cmd = r.current_command()
        if cmd in (NAV_RETURN_TO_LAUNCH, NAV_LAND):
            rp = r.landing_point()
            d = np.zeros(3)
            if rp is not None:
                d[:2] = (np.asarray(self.to_site(rp[0], rp[1], 0.0), float) - p)[:2]
            n = float(np.linalg.norm(d))
            return d / n * speed if n > 1.0 else np.array([0.0, 0.0, -self.opts.land_m_s])
        wp = r.next_waypoint()
        if wp is None:
            return np.zeros(3)
        q = np.asarray(self.to_site(wp[0], wp[1], 0.0), float).copy()
        q[2] = wp[2]
        d = q - p
        n = float(np.linalg.norm(d))
        return d / n * speed if n > 0.2 else np.zeros(3)

    def step(self) -> None:
        now = time.monotonic()
        with self._lock:
            runners = dict(self._runners)
            tracks = {k: t for k, r in runners.items() if (t := self._track(k, r, now)) is not None}
            held = set(self._held)
        hold, let_go, self._passing = guard_decisions(tracks, held, self.opts, self._passing)
        for k in sorted(let_go):
            if now - self._held.get(k, (now,))[0] < self.opts.min_hold_s / self.time_scale:
                continue
            r = runners.get(k)
            if r is not None:
                r.guard_release("separation guard: the way is clear; continuing the mission")
            with self._lock:
                self._end_hold(k)
        for k in sorted(hold):
            others = [o for o in tracks if o != k]
            near = min(others, key=lambda o: float(np.linalg.norm(tracks[o].p - tracks[k].p)))
            d = float(np.linalg.norm(tracks[near].p - tracks[k].p))
            if runners[k].guard_hold(f"separation guard: vehicle {near} {d:.1f} m away and closing; holding"):
                st = runners[k].state
                with self._lock:
                    self._held[k] = (now, (st.lat_deg, st.lon_deg, st.rel_alt_m, int(getattr(st, "mission_current", 0))))
                self.log(f"separation guard: holding vehicle {k} ({d:.1f} m from vehicle {near})")


def _refused_only(record: Path) -> bool:
    """RECORD holds nothing but the time line of a fleet refused before anything flew: the operator
    fixed the link and starts again with the same command (the new time line replaces it)."""
    import json

    if [p.name for p in record.iterdir()] != [TIMELINE_FILE]:
        return False
    try:
        return bool(json.loads((record / TIMELINE_FILE).read_text()).get("refused"))
    except (OSError, ValueError):
        return False


def check_links(manifest: FleetManifest, links: dict[int, str], options: "RunnerOptions") -> dict[int, str]:
    """Connect to every vehicle's link at once, as the fleet starts and before anything arms: the
    vehicle there must answer with a heartbeat and be the system the fleet names for it (its
    SYSID_THISMAV). Vehicle -> why its link failed (empty: every link good). A vehicle held back by
    the plan is checked now too, so a crossed or dead link of a later vehicle keeps the first one on
    the ground instead of failing while it flies."""
    from dataclasses import replace

    from flight.runner import MissionRunner

    bad: dict[int, str] = {}
    lock = threading.Lock()

    def check(v: FleetVehicle) -> None:
        try:
            MissionRunner(links[v.vehicle], replace(options, expect_sysid=v.sysid)).connect().close()
        except Exception as e:  # noqa: BLE001 - every way a link can fail is the operator's to fix before flying
            with lock:
                bad[v.vehicle] = str(e)

    threads = [threading.Thread(target=check, args=(v,), name=f"link-check-{v.vehicle}", daemon=True)
               for v in manifest.vehicles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(sorted(bad.items()))


class TakeoffGate:
    """The fleet's start. The plan holds each vehicle back ``start_s`` after the first one takes
    off; a vehicle's checks (EKF, fix, mission upload) take as long as they take, so each vehicle
    waits here, ready to take off, until every vehicle is ready or out, and takes off its
    ``start_s`` after that moment (held back before its checks instead, two ArduCopter SITL
    instances whose EKFs took 40 s took off together, the 20 s between them gone: 2026-12-07)."""

    def __init__(self, vehicles: Iterable[int], stop: threading.Event, *, log: Callable[[str], None] = lambda s: None) -> None:
        self._waiting = set(vehicles)
        self._stop = stop
        self._log = log
        self._go: float | None = None  # monotonic s: every vehicle ready or out
        self._cv = threading.Condition()

    def _settle(self) -> None:
        if not self._waiting and self._go is None:
            self._go = time.monotonic()
            self._cv.notify_all()

    def leave(self, vehicle: int) -> None:
        """``vehicle`` will not take off its first sortie (failed, stopped, or gone): none waits for it."""
        with self._cv:
            self._waiting.discard(vehicle)
            self._settle()

    def ready(self, vehicle: int, start_s: float) -> None:
        """``vehicle`` could take off now; returns ``start_s`` (wall seconds) after every vehicle is
        ready or out, or at once when the fleet is stopped."""
        with self._cv:
            self._waiting.discard(vehicle)
            if self._waiting:
                self._log(f"vehicle {vehicle}: ready; waiting for vehicle(s) {sorted(self._waiting)}")
            self._settle()
            while self._go is None and not self._stop.is_set():
                self._cv.wait(0.1)
            go = self._go
        if go is not None:
            self._stop.wait(max(0.0, go + start_s - time.monotonic()))


def fly_fleet(manifest: FleetManifest, *, record: Path, links: dict[int, str],
              camera_for: Callable[[FleetVehicle], "CameraSource"], options: "RunnerOptions",
              site_yaml: Path | None = None, time_scale: float = 1.0,
              swap: Callable[[FleetVehicle, int], None] | None = None, stop: threading.Event | None = None,
              guard: bool = True,
              log: Callable[[str], None] = lambda s: None,
              on_progress: Callable[[int, int, int, int], None] | None = None) -> FleetFlight:
    """Fly every vehicle of ``manifest`` at once; return (and write to RECORD/fleet_timeline.json)
    how it went. ``time_scale``: vehicle seconds per wall second (a simulator's speedup), applied to
    the planned holds and battery changes. ``swap(vehicle, next_sortie)`` changes the battery (it
    returns once the vehicle can fly again); the planned change time is waited out in any case.
    ``on_progress(vehicle, sortie, item, items)`` as each vehicle flies. ``guard``: a
    ``SeparationGuard`` keeps the vehicles ``required_separation_m`` apart in flight. Every link is
    checked first (``check_links``); if one fails, no vehicle flies (``FleetFlight.refused``)."""
    from dataclasses import replace

    from flight.session import FlyRequest, fly, write_json

    record = Path(record)
    if record.exists() and any(record.iterdir()) and not _refused_only(record):
        raise FlightError(f"--record {record}: exists and is not empty; expected a new folder for the fleet's bundles")
    if time_scale <= 0:
        raise FlightError(f"time scale {time_scale}: expected > 0")
    missing = [v.vehicle for v in manifest.vehicles if v.vehicle not in links]
    if missing:
        raise FlightError(f"fleet: no link for vehicle(s) {missing}; expected --link VEHICLE=ADDRESS for each")
    record.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    cameras = {v.vehicle: camera_for(v) for v in manifest.vehicles}  # built before any vehicle moves
    bad = check_links(manifest, links, options)
    refused = "link check: " + "; ".join(f"vehicle {k}: {e}" for k, e in bad.items()) if bad else ""
    from flight.planfile import read_plan
    from warehouse.geodetic import GeoOrigin

    home = read_plan(manifest.vehicles[0].missions[0]).home  # any common origin: distances do not depend on it
    origin = GeoOrigin(lat_deg=home[0], lon_deg=home[1], alt_m=home[2])
    sep_guard = (SeparationGuard(origin.geodetic_to_site, GuardOptions(keep_m=manifest.required_separation_m),
                                 R_site_ned=origin.ned_to_site_rotation(), time_scale=time_scale, log=log).start()
                 if guard and not refused else None)
    sorties: list[SortieRecord] = []
    swaps: list[SwapRecord] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    t0_ns = time.time_ns()

    def note(s: SortieRecord) -> None:
        with lock:
            sorties.append(s)

    def not_flown(v: FleetVehicle, first: int, detail: str) -> None:
        """Sorties ``first``.. of ``v`` stay on the ground, with the reason."""
        for k in range(first, len(v.missions) + 1):
            note(SortieRecord(vehicle=v.vehicle, sysid=v.sysid, sortie=k, plan=str(v.missions[k - 1]),
                              record=str(sortie_record_dir(record, v.vehicle, k)), status="not flown",
                              start_ns=0, end_ns=0, detail=detail))

    def fly_vehicle(v: FleetVehicle) -> None:
        opts = replace(options, expect_sysid=v.sysid)
        for j, m in enumerate(v.missions, 1):
            if j > 1 and not stop.is_set():
                s0, w0 = time.time_ns(), time.monotonic()
                log(f"vehicle {v.vehicle}: battery change before sortie {j}")
                failed = ""
                try:
                    if swap is not None:
                        swap(v, j)
                except Exception as e:  # the vehicle cannot fly again: its remaining sorties are not flown
                    log(f"vehicle {v.vehicle}: battery change failed ({e})")
                    failed = f"battery change failed: {e}"
                else:
                    stop.wait(max(0.0, manifest.battery_swap_s / time_scale - (time.monotonic() - w0)))
                with lock:
                    swaps.append(SwapRecord(vehicle=v.vehicle, before_sortie=j, start_ns=s0, end_ns=time.time_ns()))
                if failed:
                    return not_flown(v, j, failed)
            if stop.is_set():
                return not_flown(v, j, "stopped")
            a_ns = time.time_ns()
            prog = (lambda done, total, j=j: on_progress(v.vehicle, j, done, total)) if on_progress else None
            try:
                s = fly(FlyRequest(plan_file=m, record=sortie_record_dir(record, v.vehicle, j), connect=links[v.vehicle],
                                   camera=cameras[v.vehicle], site_yaml=site_yaml, options=opts, abort=stop,
                                   on_runner=(lambda r, k=v.vehicle: sep_guard.attach(k, r)) if sep_guard else None,
                                   ready=(lambda: gate.ready(v.vehicle, v.start_s / time_scale)) if j == 1 else None),
                        log=lambda t: log(f"vehicle {v.vehicle}: {t}"), on_progress=prog)
            except Exception as e:  # this vehicle is out; the others fly on
                if j == 1 and stop.is_set() and isinstance(e, FlightError):  # refused on the ground: it never took off
                    return not_flown(v, j, f"stopped before take-off: {e}")
                note(SortieRecord(vehicle=v.vehicle, sysid=v.sysid, sortie=j, plan=str(m), status="failed",
                                  record=str(sortie_record_dir(record, v.vehicle, j)), start_ns=a_ns,
                                  end_ns=time.time_ns(), detail=str(e)))
                log(f"vehicle {v.vehicle}: sortie {j} failed: {e}")
                return not_flown(v, j + 1, f"sortie {j} failed")
            note(SortieRecord(vehicle=v.vehicle, sysid=v.sysid, sortie=j, plan=str(m), record=str(s.record),
                              status=s.status, start_ns=a_ns, end_ns=time.time_ns(), frames=s.frames,
                              detail="" if s.status == "complete" else "; ".join(s.events[-2:])))
            if s.status != "complete":  # a vehicle that came down early does not take off again
                log(f"vehicle {v.vehicle}: sortie {j} {s.status}; its later sorties are not flown")
                return not_flown(v, j + 1, f"sortie {j} {s.status}")

    if refused:  # every vehicle stays on the ground
        log(f"fleet refused before anything armed: {refused}")
        for v in manifest.vehicles:
            not_flown(v, 1, bad.get(v.vehicle, "another vehicle's link failed its check"))
    flying = [] if refused else list(manifest.vehicles)
    # each vehicle says it is done with an event: a Thread.join interrupted by Ctrl-C can mark a
    # running thread stopped (CPython before 3.13), and the fleet must wait for every vehicle
    done = {v.vehicle: threading.Event() for v in flying}

    gate = TakeoffGate([v.vehicle for v in flying], stop, log=log)

    def run(v: FleetVehicle) -> None:
        try:
            fly_vehicle(v)
        finally:
            gate.leave(v.vehicle)
            done[v.vehicle].set()

    for v in flying:
        threading.Thread(target=run, args=(v,), name=f"vehicle-{v.vehicle}", daemon=True).start()
    # The operator's Ctrl-C: every vehicle to its abort mode, then wait for all of them. Our own
    # SIGINT handler only sets the stop, so it takes effect wherever the main thread happens to be
    # (a KeyboardInterrupt raised in a finaliser, or between two waits, could be lost while the
    # fleet flies on); off the main thread the KeyboardInterrupt path is kept.
    presses: list[float] = []

    def on_sigint(_signum, _frame) -> None:
        presses.append(time.monotonic())
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    told = 0
    try:
        while not all(e.is_set() for e in done.values()):
            try:
                for e in done.values():
                    e.wait(0.2)
            except KeyboardInterrupt:
                on_sigint(signal.SIGINT, None)
            while told < len(presses):
                log(f"stopping the fleet: {options.abort_mode} for every airborne vehicle, the rest stay on the ground"
                    if told == 0 else "waiting for every vehicle to be down before stopping")
                told += 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    stopped = bool(presses)
    wall = time.monotonic() - t0
    if sep_guard is not None:
        sep_guard.stop()
    sorties.sort(key=lambda s: (s.vehicle, s.sortie))
    swaps.sort(key=lambda s: (s.vehicle, s.before_sortie))
    ff = FleetFlight(record=record, sorties=sorties, swaps=swaps, wall_clock_s=wall * time_scale, stopped=stopped,
                     holds=list(sep_guard.holds) if sep_guard else [], refused=refused)
    if sum(1 for s in sorties if s.status != "not flown") > 1:
        try:
            sep, closest = telemetry_separation(_sortie_tracks(sorties, origin, t0_ns * 1e-9))
        except FlightError as e:
            ff.warnings.append(f"separation not measured: {e}")
        else:
            ff.min_separation_m = sep
            ff.closest = (closest[0], closest[1], round(closest[2] * time_scale, 1)) if closest else None
            if sep is not None and sep < manifest.required_separation_m:
                ff.warnings.append(f"vehicles {ff.closest[0]} and {ff.closest[1]} came within {sep:.2f} m of each other "
                                   f"{ff.closest[2]:.0f} s in; the plan asks for at least "
                                   f"{manifest.required_separation_m:g} m (its time slots assume the planned speeds)")
    ff.timeline_file = record / TIMELINE_FILE
    write_json(ff.timeline_file, {"fleet": str(manifest.path), "site": manifest.site, "time_scale": time_scale,
                                  "start_unix_ns": t0_ns, **ff.to_json()})
    return ff


__all__ = ["GuardDecision", "write_fleet", "FleetManifest", "FleetVehicle", "FleetFlight", "SortieRecord", "SwapRecord", "load_fleet", "parse_links",
           "fly_fleet", "wait_for_charged_battery", "GuardOptions", "Track", "SeparationGuard",
           "guard_decisions", "predicted_min", "Braking", "TakeoffGate", "telemetry_track", "telemetry_separation", "sortie_record_dir", "TIMELINE_FILE"]
