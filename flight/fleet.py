"""A site's aisles split between several vehicles (``rackscan plan --drones N``), pure.

Each vehicle gets whole aisles, so no two vehicles are ever in one aisle; the aisles are dealt
longest first to the vehicle with the least work so far (LPT), counting each aisle's flight time
and its share of battery changes, so the vehicles finish together. Each vehicle has its own
launch pad along the site's near edge (``pad_spacing_m`` apart, nearest pad to its own aisles)
and, where the ceiling leaves room, its own transit altitude. Every vehicle's missions are flown
out on a time line (``mission_timeline``: the planner's time model of ArduCopter's legs, the
same one its flight time comes from, battery changes on its pad); where two vehicles would come
closer than ``min_separation_m`` at the same time, or would over their first legs (the
``tolerance_window_s`` after the later of the two takes off, near the pads, where the separation
guard cannot hold a vehicle taking off) if either flew up to ``timing_tolerance_s`` early or
late, the later vehicle's start is held back a slot at a time until they do not; a vehicle
waiting for its start is on its pad, in the way. ``FleetPlan.min_separation_m`` is the closest
approach left, so counted. Planned to the second instead, four vehicles sharing one transit
altitude kept 3.19 m on the time lines but 0.21 m with one 2.5 s late (their paths cross near
the pads), and flew to 2.46 m in the simulator when they took off together (2026-12-07). Later
in the flight the time model's error outgrows any such tolerance (the simulated fleet of 4 flies
its 14.3 planned minutes in 13.0), and the guard keeps them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from flight.errors import FlightError
from flight.mission import Mission
from flight.planner import PlanOptions, PlanResult, leg_s, plan
from warehouse.camera import CameraSpec
from warehouse.site import Site


@dataclass(frozen=True, kw_only=True)
class FleetOptions:
    drones: int = 2
    pad_spacing_m: float = 4.0  # launch pads along the site's near edge
    min_separation_m: float = 3.0  # closest two vehicles may come (checked on the time lines)
    # over its first legs either vehicle of a pair may fly this much early or late against its
    # time line (take-off jitter, the time model's error) and still keep ``min_separation_m``
    timing_tolerance_s: float = 5.0
    tolerance_window_s: float = 60.0  # the first legs: from the later of the pair's starts
    altitude_step_m: float = 1.0  # transit altitudes this far apart, where the ceiling has room
    slot_s: float = 5.0  # a vehicle's start is held back by whole slots to keep its distance
    max_hold_s: float = 1800.0
    sample_s: float = 0.25  # time-line resolution

    def __post_init__(self) -> None:
        if self.drones < 1:
            raise FlightError(f"--drones {self.drones}: expected 1 or more")
        if (self.min_separation_m < 0 or self.pad_spacing_m <= 0 or self.slot_s <= 0 or self.timing_tolerance_s < 0
                or self.tolerance_window_s < 0):
            raise FlightError("fleet options: expected min separation, timing tolerance and its window >= 0, "
                              "pad spacing and slot > 0")


@dataclass(frozen=True)
class VehiclePlan:
    vehicle: int  # 1..N (its MAVLink system id)
    aisles: tuple[str, ...]
    plan: PlanResult
    home_m: tuple[float, float]
    transit_alt_m: float
    start_s: float  # held back this long after the first vehicle takes off

    @property
    def busy_s(self) -> float:
        """Flight time plus battery changes: how long it takes to count its aisles."""
        return self.plan.est_flight_time_s + self.plan.battery_swaps_s


@dataclass
class FleetPlan:
    vehicles: list[VehiclePlan]
    bins_planned: int
    wall_clock_s: float  # first take-off to last landing, battery changes and holds included
    # closest approach of two vehicles on the time lines, either up to timing_tolerance_s early or
    # late over the first legs (inf with one)
    min_separation_m: float
    closest: tuple[int, int, float] | None  # (vehicle, vehicle, time s) of that approach
    warnings: list[str] = field(default_factory=list)
    timing_tolerance_s: float = 0.0
    tolerance_window_s: float = 0.0

    @property
    def bins_per_wall_clock_hour(self) -> float:
        return self.bins_planned / (self.wall_clock_s / 3600.0) if self.wall_clock_s > 0 else 0.0

    @property
    def flight_time_s(self) -> float:
        return sum(v.plan.est_flight_time_s for v in self.vehicles)


def split_aisles(cost_s: dict[str, float], n: int) -> list[list[str]]:
    """Aisles dealt to ``n`` vehicles, longest first to the least loaded (ties: the lower
    vehicle); each vehicle's aisles in site order. Vehicles past the number of aisles get none."""
    order = list(cost_s)
    load = [0.0] * n
    out: list[list[str]] = [[] for _ in range(n)]
    for a in sorted(order, key=lambda a: (-cost_s[a], order.index(a))):
        k = min(range(n), key=lambda i: (load[i], i))
        out[k].append(a)
        load[k] += cost_s[a]
    return [sorted(x, key=order.index) for x in out]


def mission_timeline(site: Site, mission: Mission, opts: PlanOptions = PlanOptions(), *,
                     sample_s: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """(T,) seconds and (T,3) site positions of a mission flown as ArduCopter flies it, with the
    planner's time model (``flight.planner.leg_s``, the same ``opts``): ``arm_to_climb_s`` on the
    pad, each straight leg as long as the slower of its horizontal part (at the mission's speed,
    ``change_speed``) and its vertical part, ``settle_s`` at the end of each pass (the first
    waypoint after the pass's ``gimbal`` item, as ``flight.planner`` writes a pass); a LAND flies
    to its place, if it names one, and comes down at ``land_m_s`` (the planner's sorties LAND on
    their pad); an RTL climbs to the mission's top, flies home, loiters ``rtl_loiter_s`` and lands
    (ArduCopter would come down at the nearest of home and the rally points; a mission from
    elsewhere that ends in an RTL is timed as if home). The whole line lasts the planner's
    ``est_flight_time_s`` for the sortie; along a leg the position is interpolated straight."""
    home = site.origin.geodetic_to_site(mission.home[0], mission.home[1], mission.home[2])
    pos = np.array([home[0], home[1], 0.0])
    speed = opts.max_speed_m_s
    top = max((it.rel_alt_m for it in mission.items if it.kind in ("waypoint", "takeoff")), default=1.0)
    legs: list[tuple[np.ndarray, float]] = [(pos, opts.arm_to_climb_s)]  # (target, seconds to reach it)

    def to(target: np.ndarray, seconds: float | None = None) -> None:
        nonlocal pos
        if seconds is None:
            seconds = leg_s(opts, float(np.linalg.norm(target[:2] - pos[:2])), float(target[2] - pos[2]), speed)
        legs.append((target, seconds))
        pos = target

    in_pass = False
    for it in mission.items:
        if it.kind == "change_speed" and it.speed_m_s:
            speed = float(it.speed_m_s)
        elif it.kind == "gimbal":
            in_pass = True
        elif it.kind == "takeoff":
            to(np.array([pos[0], pos[1], float(it.rel_alt_m or 1.0)]))
        elif it.kind == "waypoint":
            p = site.origin.geodetic_to_site(it.lat_deg, it.lon_deg, site.origin.alt_m)
            to(np.array([p[0], p[1], float(it.rel_alt_m)]))
            if in_pass:
                to(pos, opts.settle_s)
                in_pass = False
        elif it.kind in ("rtl", "land"):
            if it.kind == "rtl":
                speed = opts.max_speed_m_s  # RTL flies home at WPNAV_SPEED
                to(np.array([pos[0], pos[1], max(top, pos[2])]))
                to(np.array([home[0], home[1], pos[2]]))
                to(pos, opts.rtl_loiter_s)
            elif it.lat_deg or it.lon_deg:  # a LAND at a place flies there first
                q = site.origin.geodetic_to_site(it.lat_deg, it.lon_deg, site.origin.alt_m)
                to(np.array([q[0], q[1], pos[2]]))
            to(np.array([pos[0], pos[1], 0.0]), pos[2] / opts.land_m_s)
    t_end = [0.0]
    for _, d in legs:
        t_end.append(t_end[-1] + d)
    pts = [np.array([home[0], home[1], 0.0])] + [p for p, _ in legs]
    t = np.arange(0.0, t_end[-1] + sample_s, sample_s)
    xyz = np.stack([np.interp(t, t_end, [p[i] for p in pts]) for i in range(3)], axis=1)
    return t, xyz


def vehicle_timeline(site: Site, missions: list[Mission], swap_s: float, opts: PlanOptions = PlanOptions(), *,
                     sample_s: float = 0.25):
    """A vehicle's sorties one after another, each battery change spent on its pad."""
    ts, ps = [], []
    t0 = 0.0
    for k, m in enumerate(missions):
        t, p = mission_timeline(site, m, opts, sample_s=sample_s)
        ts.append(t + t0)
        ps.append(p)
        t0 += float(t[-1]) + (swap_s if k + 1 < len(missions) else 0.0)
    return np.concatenate(ts), np.concatenate(ps)


def closest_approach(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], *,
                     sample_s: float = 0.25, tolerance_s: float = 0.0,
                     tolerant_until_s: float = float("inf")) -> tuple[float, float]:
    """(distance m, time s on ``a``'s line) of the closest approach of two time lines while both
    are airborne (or one is: a vehicle on its pad is a vehicle in the way). A vehicle whose time
    line has ended is on its pad, landed, and is left out. With ``tolerance_s`` ``b`` may fly up to
    that long earlier or later than its line says (in steps of ``sample_s``) until
    ``tolerant_until_s`` on ``a``'s line, and on time after: the closest of all."""
    ta, pa = a
    tb, pb = b
    best = (float("inf"), float("nan"))
    steps = int(np.floor(tolerance_s / sample_s + 1e-9))
    for k in range(-steps, steps + 1):
        s = k * sample_s
        lo, hi = max(ta[0], tb[0] + s), min(ta[-1], tb[-1] + s, ta[-1] if k == 0 else tolerant_until_s)
        if hi < lo:
            continue
        t = np.arange(lo, hi + 1e-9, sample_s)
        qa = np.stack([np.interp(t, ta, pa[:, i]) for i in range(3)], axis=1)
        qb = np.stack([np.interp(t - s, tb, pb[:, i]) for i in range(3)], axis=1)
        up = (qa[:, 2] > 0.05) | (qb[:, 2] > 0.05)
        if not up.any():
            continue
        d = np.linalg.norm(qa - qb, axis=1)
        d[~up] = np.inf
        j = int(np.argmin(d))
        if d[j] < best[0]:
            best = (float(d[j]), float(t[j]))
    return best


def on_pad_until(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A time line that starts at ``t[0]`` > 0 with the vehicle on its pad from 0 s: waiting for
    its start it is in the way of the others (a vehicle crossing a pad 4.2 m from a first pass was
    held there by the separation guard until the pads were clear)."""
    if t[0] <= 0:
        return t, p
    return np.concatenate([[0.0], t]), np.concatenate([p[:1], p])


def plan_fleet(site: Site, camera: CameraSpec, opts: PlanOptions = PlanOptions(),
               fleet: FleetOptions = FleetOptions()) -> FleetPlan:
    aisles = list(opts.aisles) or list(site.aisle_ids)
    n = fleet.drones
    warnings: list[str] = []
    if n > len(aisles):
        warnings.append(f"{n} vehicles for {len(aisles)} aisle(s): one vehicle per aisle at a time, "
                        f"so {n - len(aisles)} stay on the ground")
    cost = {}
    for a in aisles:
        r = plan(site, camera, replace(opts, aisles=(a,)))
        cost[a] = r.est_flight_time_s + r.battery_swaps_s
    parts = [p for p in split_aisles(cost, n) if p]
    x0, y0, x1, y1 = site.bounds_xy_m(margin_m=1.5)
    pads = [(x0 + 0.5 + k * fleet.pad_spacing_m, y0 + 0.5) for k in range(len(parts))]
    if pads and pads[-1][0] > x1 - 0.5:
        raise FlightError(f"{len(parts)} launch pads {fleet.pad_spacing_m:g} m apart do not fit along the site's "
                          f"{x1 - x0:.1f} m near edge; expected fewer --drones")
    # the pad nearest a vehicle's aisles goes to it: vehicles ordered by where their aisles are along x

    def centre_x(part):
        return float(np.mean([f.face_to_site([[f.length_m / 2, 0.0, 0.0]])[0][0]
                              for a in part for f in site.faces_of_aisle(a)]))

    parts.sort(key=centre_x)
    base = round(opts.transit_alt_m or min(site.spec.ceiling_m - 1.0, max(f.height_m for f in site.faces) + 1.0), 2)
    top_room = site.spec.ceiling_m - 0.5
    stacked = base + (len(parts) - 1) * fleet.altitude_step_m <= top_room
    if len(parts) > 1 and not stacked:
        warnings.append(f"the ceiling ({site.spec.ceiling_m:g} m) leaves no room for {len(parts)} transit altitudes "
                        f"{fleet.altitude_step_m:g} m apart over {base:g} m: the vehicles share one, kept apart in time")
    vehicles: list[VehiclePlan] = []
    lines = []
    closest: tuple[int, int, float] | None = None
    min_sep = float("inf")
    for k, part in enumerate(parts):
        alt = round(base + k * fleet.altitude_step_m, 2) if stacked else base
        r = plan(site, camera, replace(opts, aisles=tuple(part), home_m=pads[k], transit_alt_m=alt))
        t, p = vehicle_timeline(site, r.missions, opts.battery_swap_s, opts, sample_s=fleet.sample_s)
        start = 0.0
        while True:
            worst = min(((closest_approach(on_pad_until(t + start, p), lines[j], sample_s=fleet.sample_s,
                                           tolerance_s=fleet.timing_tolerance_s,
                                           tolerant_until_s=max(start, vehicles[j].start_s) + fleet.tolerance_window_s), j)
                         for j in range(len(lines))),
                        default=((float("inf"), float("nan")), -1), key=lambda x: x[0][0])
            if worst[0][0] >= fleet.min_separation_m or start >= fleet.max_hold_s:
                break
            start += fleet.slot_s
        if worst[0][0] < fleet.min_separation_m:
            warnings.append(f"vehicle {k + 1} comes within {worst[0][0]:.1f} m of vehicle {worst[1] + 1} even held back "
                            f"{start:.0f} s (either {fleet.timing_tolerance_s:g} s early or late over the first legs); "
                            f"expected at least {fleet.min_separation_m:g} m")
        if worst[0][0] < min_sep:  # every pair is checked once, as its later vehicle is placed
            min_sep, closest = worst[0][0], (worst[1] + 1, k + 1, worst[0][1])
        lines.append(on_pad_until(t + start, p))
        vehicles.append(VehiclePlan(k + 1, tuple(part), r, pads[k], alt, start))
    bins = len({b for v in vehicles for m in v.plan.missions for it in m.items for b in it.bin_ids})
    wall = max((v.start_s + v.busy_s for v in vehicles), default=0.0)
    return FleetPlan(vehicles, bins, wall, min_sep, closest, warnings, fleet.timing_tolerance_s, fleet.tolerance_window_s)


__all__ = ["FleetOptions", "FleetPlan", "VehiclePlan", "plan_fleet", "split_aisles", "mission_timeline",
           "vehicle_timeline", "closest_approach", "on_pad_until"]
