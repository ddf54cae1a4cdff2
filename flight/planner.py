"""Mission planning from a site and a camera: coverage passes along rack faces that respect the
label-reading physics (standoff from the smallest required label, speed from the blur limit,
passes from the vertical field of view), checked bin by bin, split into battery sorties.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from flight.errors import FlightError
from flight.mission import FenceCircle, FencePolygon, Mission, MissionItem, RallyPoint
from warehouse.camera import CameraSpec
from warehouse.light import ExposurePlan, lux_needed, plan_exposure
from warehouse.site import Face, LocationLabel, Site

STANDOFF_MARGIN = 0.8  # fly at 80% of the physical limit: labels keep 25% more pixels than the minimum
MIN_FRAMES_PER_BIN = 3
MIN_ALT_M = 0.3  # ground effect and prop wash below this


@dataclass(frozen=True, kw_only=True)
class PlanOptions:
    aisles: tuple[str, ...] = ()
    product_module_mm: float = 3.0  # product-label QR module (the site file knows location labels only)
    product_symbology: str = "qr"
    max_speed_m_s: float = 1.5
    # how ArduCopter moves in AUTO, for the flight time (stock defaults of ArduCopter V4.8.0-dev's
    # AC_WPNav, mode_land and mode_rtl; the last two measured on SITL flights: docs/benchmarks.md, Planning)
    accel_m_s2: float = 2.5  # WPNAV_ACC
    climb_m_s: float = 2.5  # WPNAV_SPD_UP
    descent_m_s: float = 1.5  # WPNAV_SPD_DN
    accel_z_m_s2: float = 1.0  # WPNAV_ACC_Z
    land_m_s: float = 0.5  # LAND_SPD_MS: every landing indoors is below LAND_ALT_LOW_M (10 m)
    rtl_loiter_s: float = 5.0  # RTL_LOIT_TIME above home before the descent
    arm_to_climb_s: float = 4.0  # arming, AUTO and the motors spinning up (SITL: 4.1 s)
    settle_s: float = 1.0  # at a pass's end (SITL: passes took 0.0-1.3 s longer than the trapezoid)
    overlap: float = 0.2
    endurance_s: float = 1200.0
    reserve_frac: float = 0.25
    safety_margin_m: float = 0.6
    home_m: tuple[float, float] | None = None
    transit_alt_m: float | None = None
    lux: float | None = None  # light on the faces; default: the site file's light_lux (None: fixed exposure)
    min_speed_m_s: float = 0.3  # the exposure program slows down no further (warehouse.light)
    allow_dark: bool = False  # fly a store too dark to count anyway (its counts will go to recount)
    battery_swap_s: float = 180.0  # on the ground between sorties: land, swap the pack, checklist, take off


@dataclass(frozen=True)
class Pass:
    face_id: str  # the face the pass is laid out on (u, v and the standoff in its coordinates)
    aisle_id: str
    v_m: float  # height of the camera
    u_from_m: float
    u_to_m: float
    bin_ids: tuple[str, ...]
    other_face_id: str = ""  # a left and right camera pair: the facing face, seen by the other camera

    @property
    def face_ids(self) -> tuple[str, ...]:
        return (self.face_id, self.other_face_id) if self.other_face_id else (self.face_id,)


@dataclass
class PlanResult:
    missions: list[Mission]
    passes: list[Pass]
    standoff_m: float
    speed_m_s: float
    passes_per_face: dict[str, int]
    min_frames_per_bin: int
    est_flight_time_s: float
    bins_planned: int
    warnings: list[str] = field(default_factory=list)
    path_xy_m: list[np.ndarray] = field(default_factory=list)
    exposure: ExposurePlan | None = None  # the exposure program's choice, when the light is known
    time_s: dict[str, float] = field(default_factory=dict)  # where the flight time goes (sums to est_flight_time_s)
    battery_swaps_s: float = 0.0  # on the ground between sorties (wall clock, not flight time)
    standoff_by_aisle: dict[str, float] = field(default_factory=dict)  # a camera pair: half the aisle where it flies its middle

    @property
    def exposure_s(self) -> float | None:
        return self.exposure.exposure_s if self.exposure else None

    @property
    def bins_per_flight_hour(self) -> float:
        return self.bins_planned / (self.est_flight_time_s / 3600.0) if self.est_flight_time_s > 0 else 0.0


def aisle_gap_m(site: Site, aisle_id: str) -> float | None:
    faces = site.faces_of_aisle(aisle_id)
    if len(faces) < 2:
        spec = next(a for a in site.spec.aisles if a.id == aisle_id)
        return spec.width_m
    a, b = faces[0], faces[1]
    return float(abs(b.site_to_face(a.face_to_site([[a.length_m / 2, 0, 0]]))[0][2]))


def label_standoff_m(camera: CameraSpec, labels: list[tuple[float, str]]) -> float:
    """``STANDOFF_MARGIN`` x the largest distance at which every (module_mm, symbology) label still
    has >= 3 px per module (2-D) or >= 2 px per bar (1-D)."""
    return STANDOFF_MARGIN * min(camera.max_standoff_m(module_mm=m, symbology=s) for m, s in labels)


def pair_aisle(site: Site, camera: CameraSpec, opts: PlanOptions, aisle_id: str) -> bool:
    """Whether a left and right camera pair scans both faces of the aisle in one pass down its
    middle: two faces facing each other, parallel, and half the gap no farther than the labels
    allow (``label_standoff_m``) nor closer than the safety margin."""
    return camera.is_pair and len(site.faces_of_aisle(aisle_id)) == 2 and not _pair_refusal(site, camera, opts, aisle_id)


def _pair_refusal(site: Site, camera: CameraSpec, opts: PlanOptions, aisle_id: str) -> str:
    """Why a camera pair cannot fly down the middle of a two-faced aisle ('' where it can)."""
    a, b = site.faces_of_aisle(aisle_id)
    if float(np.dot(a.normal_site, b.normal_site)) > -0.999:
        return "its two faces are not parallel"
    lab = site.spec.location_label
    d = label_standoff_m(camera, [(lab.module_mm, lab.symbology), (opts.product_module_mm, opts.product_symbology)])
    half = aisle_gap_m(site, aisle_id) / 2
    if half > d + 1e-9:
        return f"its middle is {half:.2f} m from each face, the labels need <= {d:.2f} m"
    if half < opts.safety_margin_m:
        return f"its middle is {half:.2f} m from each face, closer than the {opts.safety_margin_m:.2f} m safety margin"
    return ""


def standoff_m(site: Site, camera: CameraSpec, opts: PlanOptions, aisle_id: str, warnings: list[str]) -> float:
    """Largest distance at which every required label still resolves, capped by the aisle; for a
    camera pair flying down the aisle's middle (``pair_aisle``), half the aisle."""
    if pair_aisle(site, camera, opts, aisle_id):
        return float(aisle_gap_m(site, aisle_id) / 2)
    lab = site.spec.location_label
    d = label_standoff_m(camera, [(lab.module_mm, lab.symbology), (opts.product_module_mm, opts.product_symbology)])
    if camera.is_pair and len(site.faces_of_aisle(aisle_id)) == 2:
        warnings.append(f"aisle {aisle_id}: {_pair_refusal(site, camera, opts, aisle_id)}: the camera pair scans one "
                        "face at a time")
    gap = aisle_gap_m(site, aisle_id)
    if gap is not None and d > gap - opts.safety_margin_m:
        cap = gap - opts.safety_margin_m
        warnings.append(f"aisle {aisle_id}: the labels allow {d:.2f} m but the aisle only {cap:.2f} m; flying at {cap:.2f} m")
        d = cap
    if d <= 0.2:
        raise FlightError(f"aisle {aisle_id}: no safe standoff (labels need <= {d:.2f} m); check the camera and label sizes")
    return float(d)


def label_half_m(label: LocationLabel) -> float:
    """Half the side of a location label: a QR v1 symbol (21 modules) with its quiet zone, 25 modules."""
    return label.module_mm / 1000 * 25 / 2


def frames_per_bin(face: Face, v_m: float, d_m: float, camera: CameraSpec, speed_m_s: float) -> dict[str, int]:
    """Frames of a pass along ``face`` at height ``v_m`` that hold each bin's location label whole."""
    hfov, vfov = (math.radians(a) for a in camera.fov_deg())
    half_w, half_h = d_m * math.tan(hfov / 2), d_m * math.tan(vfov / 2)
    step = speed_m_s / camera.fps
    us = np.arange(-0.5, face.length_m + 0.5, step)
    out = {}
    for b in face.bins:
        cu, cv = b.label.center_uv_m
        s = label_half_m(b.label)
        inside_v = (cv - s >= v_m - half_h) and (cv + s <= v_m + half_h)
        if not inside_v:
            continue
        out[b.bin_id] = int(np.sum((cu - s >= us - half_w) & (cu + s <= us + half_w)))
    return out


TOP_MARGIN_M = 0.05  # the top pass sees this far above the highest bin's top
LABEL_MARGIN_M = 0.05  # altitude wander a label row seen from two passes must tolerate on each


def _even(a: float, b: float, gap: float) -> list[float]:
    """Fewest evenly spaced heights from ``a`` to ``b`` (both included) no more than ``gap`` apart."""
    if b - a <= 1e-9:
        return [a]
    n = max(1, math.ceil((b - a) / gap - 1e-9))
    return [a + i * (b - a) / n for i in range(n + 1)]


def pass_heights(face: Face, half_view_m: float, cover_m: float) -> list[float]:
    """Pass heights for one face: the lowest pass's view reaches the floor (flown no lower than
    ``MIN_ALT_M``), the highest one's the bins' top (+ ``TOP_MARGIN_M``), neighbours are at most
    ``cover_m`` apart (the view height less the overlap), and one row of location labels is whole
    in two passes with ``LABEL_MARGIN_M`` to spare on each, so a camera clock error can be told
    from drift. The fewest passes that do all of this; among those, the smallest largest gap."""
    top = max([b.v1_m for b in face.bins] + [face.height_m])
    lo = max(cover_m / 2, MIN_ALT_M)
    hi = max(lo, top + TOP_MARGIN_M - half_view_m)
    rows: dict[float, float] = {}  # label row height -> how far from it a pass still holds it whole
    for b in face.bins:
        v = round(b.label.center_uv_m[1], 3)
        rows[v] = min(rows.get(v, half_view_m), half_view_m - label_half_m(b.label) - LABEL_MARGIN_M)

    def twice(vs: list[float]) -> bool:
        return any(sum(abs(v - x) <= r for x in vs) >= 2 for v, r in rows.items())

    base = _even(lo, hi, cover_m)
    if not rows or twice(base):
        return base
    best: tuple | None = None
    for v, reach in sorted(rows.items()):
        for x in np.linspace(min(reach, cover_m / 2), min(0.1, reach), 8):
            under, over = v - x, v + x  # the pair of passes that both hold row v
            if x <= 0 or under < MIN_ALT_M:
                continue
            below = _even(lo, under, cover_m)[:-1] if under > lo else []
            above = _even(over, hi, cover_m)[1:] if over < hi else []
            vs = below + [under, over] + above
            key = (len(vs), max(np.diff(vs), default=0.0))
            if best is None or key < best[0]:
                best = (key, vs)
    return best[1] if best is not None else base


def _heading_deg(site: Site, vec_site: np.ndarray) -> float:
    """Compass heading of a site-frame horizontal vector."""
    h = math.radians(site.origin.heading_deg)
    east = vec_site[0] * math.sin(h) - vec_site[1] * math.cos(h)
    north = vec_site[0] * math.cos(h) + vec_site[1] * math.sin(h)
    return math.degrees(math.atan2(east, north)) % 360


def plan(site: Site, camera: CameraSpec, opts: PlanOptions = PlanOptions()) -> PlanResult:
    aisles = opts.aisles or tuple(site.aisle_ids)
    warnings: list[str] = []
    passes: list[Pass] = []
    per_face: dict[str, int] = {}
    seen: dict[str, int] = {}
    twice: set[str] = set()  # bins whose location label is seen from two passes
    d_by_aisle = {a: standoff_m(site, camera, opts, a, warnings) for a in aisles}
    d_min = min(d_by_aisle.values())
    speed = min(opts.max_speed_m_s, camera.max_speed_m_s(d_min))
    exposure = _exposure(site, camera, opts, d_min, warnings)
    if exposure is not None:
        speed = exposure.speed_m_s
    for a in aisles:
        d = d_by_aisle[a]
        if pair_aisle(site, camera, opts, a):
            passes += _pair_passes(site, camera, opts, a, d, speed, per_face, seen, twice)
            continue
        for k, face in enumerate(site.faces_of_aisle(a)):
            half_view = d * math.tan(math.radians(camera.fov_deg()[1]) / 2)
            cover = 2 * half_view * (1 - opts.overlap)
            vs = pass_heights(face, half_view, cover)
            counts: dict[str, int] = {}
            _add_label_heights(face, vs, counts, d, camera, speed)
            if min(vs) < MIN_ALT_M:
                raise FlightError(f"{face.face_id}: the lowest labels need a pass at {min(vs):.2f} m, below the "
                                  f"{MIN_ALT_M} m minimum height; fly further away or use larger labels")
            vs.sort()
            per_face[face.face_id] = len(vs)
            twice |= _seen_twice(face, vs, d, camera, speed)
            for i, v in enumerate(vs):
                forward = (i + k) % 2 == 0
                u0, u1 = (-0.5, face.length_m + 0.5) if forward else (face.length_m + 0.5, -0.5)
                bins = tuple(b.bin_id for b in face.bins if abs(b.label.center_uv_m[1] - v) < half_view)
                passes.append(Pass(face.face_id, a, float(v), u0, u1, bins))
            seen.update(counts)
    if passes and not twice:
        # adjacent passes are flown in opposite directions; a camera clock error moves a label one
        # way on one and the other way on the next, which is how fusion tells it from drift
        warnings.append("no location label is seen from two passes: without RTK the camera clock offset cannot be "
                        "told from drift (give it to rackscan fuse with --clock-offset-s)")
    min_frames = min(seen.values()) if seen else 0
    if min_frames < MIN_FRAMES_PER_BIN and seen:
        # slow down until every bin gets its frames
        speed *= min_frames / MIN_FRAMES_PER_BIN if min_frames else 0.5
        warnings.append(f"speed lowered to {speed:.2f} m/s so every bin is seen in {MIN_FRAMES_PER_BIN} frames")
        min_frames = MIN_FRAMES_PER_BIN
    return _build_missions(site, camera, opts, passes, d_by_aisle, speed, per_face, min_frames, warnings, exposure,
                           chain_at_face=True)


def _add_label_heights(face: Face, vs: list[float], counts: dict[str, int], d: float, camera: CameraSpec,
                       speed: float) -> None:
    """Every level's label must fall whole inside one pass: ``counts`` gets each bin's most frames
    from the heights ``vs``, and the label height of a bin no height holds is added to ``vs`` (unless
    a height is within 5 cm of it)."""
    for v in list(vs):
        for bid, c in frames_per_bin(face, v, d, camera, speed).items():
            counts[bid] = max(counts.get(bid, 0), c)
    for b in [b for b in face.bins if b.bin_id not in counts]:
        v = b.label.center_uv_m[1]
        if all(abs(v - x) > 0.05 for x in vs):
            vs.append(v)
        for bid, c in frames_per_bin(face, v, d, camera, speed).items():
            counts[bid] = max(counts.get(bid, 0), c)


def _seen_twice(face: Face, vs: list[float], d: float, camera: CameraSpec, speed: float) -> set[str]:
    """The bins of ``face`` whose location label is whole in the views of two heights of ``vs``."""
    return {bid for bid, n in Counter(b for v in vs for b in frames_per_bin(face, v, d, camera, speed)).items() if n >= 2}


def _pair_passes(site: Site, camera: CameraSpec, opts: PlanOptions, aisle_id: str, d: float, speed: float,
                 per_face: dict[str, int], seen: dict[str, int], twice: set[str]) -> list[Pass]:
    """Passes down the middle of an aisle for a left and right camera pair: each height serves both
    faces (the heights of the face that needs more passes, plus any label row the other face's
    heights miss), laid out on the first face and spanning both faces' length."""
    fa, fb = site.faces_of_aisle(aisle_id)
    half_view = d * math.tan(math.radians(camera.fov_deg()[1]) / 2)
    cover = 2 * half_view * (1 - opts.overlap)
    va, vb = pass_heights(fa, half_view, cover), pass_heights(fb, half_view, cover)
    vs = list(va if len(va) >= len(vb) else vb)
    counts: dict[str, int] = {}
    for face in (fa, fb):
        _add_label_heights(face, vs, counts, d, camera, speed)
    if min(vs) < MIN_ALT_M:
        raise FlightError(f"aisle {aisle_id}: the lowest labels need a pass at {min(vs):.2f} m, below the "
                          f"{MIN_ALT_M} m minimum height; fly further away or use larger labels")
    vs.sort()
    for face in (fa, fb):
        per_face[face.face_id] = len(vs)
        twice |= _seen_twice(face, vs, d, camera, speed)
    seen.update(counts)
    # both faces' ends in the first face's u
    ub = fa.site_to_face(fb.face_to_site(np.array([[0.0, 0.0, 0.0], [fb.length_m, 0.0, 0.0]])))[:, 0]
    lo, hi = min(0.0, float(ub.min())) - 0.5, max(fa.length_m, float(ub.max())) + 0.5
    out = []
    for i, v in enumerate(vs):
        u0, u1 = (lo, hi) if i % 2 == 0 else (hi, lo)
        bins = tuple(b.bin_id for f in (fa, fb) for b in f.bins if abs(b.label.center_uv_m[1] - v) < half_view)
        out.append(Pass(fa.face_id, aisle_id, float(v), u0, u1, bins, other_face_id=fb.face_id))
    return out


def pass_heading_deg(site: Site, camera: CameraSpec, p: Pass) -> float:
    """The vehicle's heading along pass ``p``: a camera pair looks along the aisle's first face (its
    cameras see the two faces left and right, both ways along the aisle: a multirotor flies back
    without turning round); one camera faces the face (turned by its mount's yaw)."""
    f = site.face(p.face_id)
    if p.other_face_id:
        return _heading_deg(site, f.T_site_face[:3, 0])
    mount = camera.mounts_yaw_deg[-1]  # a pair scanning one face at a time looks with its right camera
    return (_heading_deg(site, -f.normal_site) - mount) % 360


def _exposure(site: Site, camera: CameraSpec, opts: PlanOptions, d_m: float, warnings: list[str]) -> ExposurePlan | None:
    """The exposure program's choice for the site's light (warehouse.light); refuses a store too dark to count."""
    lux = opts.lux if opts.lux is not None else site.spec.light_lux
    if lux is None:
        return None
    ex = plan_exposure(camera, lux, d_m, min_speed_m_s=opts.min_speed_m_s, max_speed_m_s=opts.max_speed_m_s)
    if ex.verdict == "too_dark":
        need = lux_needed(camera, d_m, min_speed_m_s=opts.min_speed_m_s)
        msg = (f"light: {lux:g} lux on the faces is too dark to count with camera {camera.name!r} ({ex.describe()}); "
               f"expected at least {need:.0f} lux: light the aisles, fit lights to the camera (light_lux_at_1m), "
               "or fly anyway with --allow-dark (its counts go to recount)")
        if not opts.allow_dark:
            raise FlightError(msg)
        warnings.append(msg)
    elif ex.verdict == "dark":
        warnings.append(f"light: {ex.describe()}: a dim store, so slower passes and noisier frames")
    return ex


def move_s(d_m: float, v_m_s: float, a_m_s2: float) -> float:
    """Seconds to move ``d_m`` from rest to rest at up to ``v_m_s``, speeding up and slowing down at
    ``a_m_s2`` (a trapezoid, or a triangle when the move is too short to reach the speed)."""
    d = abs(float(d_m))
    if d <= 0.0:
        return 0.0
    if d >= v_m_s * v_m_s / a_m_s2:
        return d / v_m_s + v_m_s / a_m_s2
    return 2.0 * math.sqrt(d / a_m_s2)


def leg_s(opts: PlanOptions, d_xy_m: float, d_up_m: float, v_m_s: float) -> float:
    """One straight leg between waypoints: the slower of its horizontal part (at ``v_m_s``) and its
    vertical part (climbing or descending at the vehicle's rates), as ArduCopter flies a 3-D line."""
    vz = opts.climb_m_s if d_up_m > 0 else opts.descent_m_s
    return max(move_s(d_xy_m, v_m_s, opts.accel_m_s2), move_s(d_up_m, vz, opts.accel_z_m_s2))


def _build_missions(site, camera, opts, passes, d_by_aisle, speed, per_face, min_frames, warnings,
                    exposure: ExposurePlan | None, *, chain_at_face: bool = False) -> PlanResult:
    """Missions flying ``passes`` in order, split into battery sorties. Each pass is reached from the
    transit altitude and left to it; ``chain_at_face``: the next pass on the same face is reached
    straight along the face at the standoff (the aisle between the racks is clear: passes one above
    another would otherwise spend much of their time climbing to the transit altitude and back; the
    full mission and the recounts both chain). A chained pass has no aisle entry of its own, so
    ``flight.mission.resume_from`` reaches it from straight above its start."""
    transit = round(opts.transit_alt_m or min(site.spec.ceiling_m - 1.0, max(f.height_m for f in site.faces) + 1.0), 2)
    x0, y0, x1, y1 = site.bounds_xy_m(margin_m=1.5)
    home_xy = np.array(opts.home_m if opts.home_m else (x0 + 0.5, y0 + 0.5))

    def geo(p):
        lat, lon, _ = site.origin.site_to_geodetic(np.array([p[0], p[1], 0.0]))
        return float(lat), float(lon)

    usable = opts.endurance_s * (1 - opts.reserve_frac)
    cruise = opts.max_speed_m_s
    # take-off: armed, climb to 1 m, then to the transit altitude; landing: on the pad, down at LAND_SPD
    takeoff = opts.arm_to_climb_s + leg_s(opts, 0.0, 1.0, cruise) + leg_s(opts, 0.0, transit - 1.0, cruise)
    landing = transit / opts.land_m_s
    split = {"takeoff and landing": 0.0, "transit and climbs": 0.0, "passes (scanning)": 0.0, "turns and settling": 0.0}

    def home_from(b) -> float:  # the last pass's end: up to the transit altitude, then home
        return leg_s(opts, 0.0, transit - b[2], cruise) + leg_s(opts, float(np.linalg.norm(b[:2] - home_xy)), 0.0, cruise)

    def close_sortie(b) -> None:
        split["transit and climbs"] += home_from(b)
        split["takeoff and landing"] += takeoff + landing

    sorties: list[list] = [[]]
    t_sortie = takeoff
    path_xy: list[np.ndarray] = []
    pos = home_xy.copy()
    prev = None  # the pass flown last in this sortie, and where it ended (site xyz)
    for p in passes:
        f = site.face(p.face_id)
        d = d_by_aisle[p.aisle_id]
        a = f.face_to_site([[p.u_from_m, p.v_m, d]])[0]
        b = f.face_to_site([[p.u_to_m, p.v_m, d]])[0]
        length = float(np.linalg.norm(b - a))

        def reach_s(chained: bool) -> float:
            if chained:  # along the face from the last pass's end, at the standoff
                return leg_s(opts, float(np.linalg.norm(a[:2] - prev[1][:2])), float(a[2] - prev[1][2]), cruise)
            up = leg_s(opts, 0.0, transit - prev[1][2], cruise) if prev is not None else 0.0  # out of the last aisle
            return up + leg_s(opts, float(np.linalg.norm(a[:2] - pos)), 0.0, cruise) + leg_s(opts, 0.0, p.v_m - transit, cruise)

        chained = chain_at_face and prev is not None and prev[0].face_id == p.face_id
        reach = reach_s(chained)
        t_pass = move_s(length, speed, opts.accel_m_s2) + opts.settle_s
        back = home_from(b) + landing
        if sorties[-1] and t_sortie + reach + t_pass + back > usable:
            close_sortie(prev[1])
            sorties.append([])
            t_sortie = takeoff
            pos = home_xy.copy()
            prev = None
            chained = False
            reach = reach_s(False)
        if takeoff + reach + t_pass + back > usable:
            raise FlightError(f"pass along {p.face_id} at {p.v_m:.2f} m takes {takeoff + reach + t_pass + back:.0f} s "
                              f"with the take-off and return; the battery gives {usable:.0f} s usable (--endurance-s, "
                              "--reserve-frac)")
        sorties[-1].append((p, a, b, d, chained))
        t_sortie += reach + t_pass
        split["transit and climbs"] += reach
        split["passes (scanning)"] += length / speed
        split["turns and settling"] += t_pass - length / speed
        pos = b[:2]
        prev = (p, b)
        path_xy.append(np.array([a[:2], b[:2]]))
    if prev is not None:
        close_sortie(prev[1])
    missions = []
    for si, group in enumerate(sorties):
        items = [MissionItem(kind="takeoff", lat_deg=geo(home_xy)[0], lon_deg=geo(home_xy)[1], rel_alt_m=1.0),
                 MissionItem(kind="change_speed", speed_m_s=opts.max_speed_m_s),
                 MissionItem(kind="waypoint", lat_deg=geo(home_xy)[0], lon_deg=geo(home_xy)[1], rel_alt_m=transit)]
        for n, (p, a, b, d, chained) in enumerate(group):
            f = site.face(p.face_id)
            yaw = pass_heading_deg(site, camera, p)
            if not chained:
                aisle_entry = f.face_to_site([[p.u_from_m, transit, d]])[0]
                # the heading at the face: CONDITION_YAW, held through the pass's waypoints (the runner
                # sets WP_YAW_BEHAVIOR 0; ArduCopter keeps no yaw on a waypoint)
                items += [MissionItem(kind="set_yaw", yaw_deg=yaw),
                          MissionItem(kind="waypoint", lat_deg=geo(aisle_entry)[0], lon_deg=geo(aisle_entry)[1], rel_alt_m=transit)]
            items += [MissionItem(kind="waypoint", lat_deg=geo(a)[0], lon_deg=geo(a)[1], rel_alt_m=round(p.v_m, 2)),
                      MissionItem(kind="gimbal", gimbal_pitch_deg=0.0),
                      MissionItem(kind="change_speed", speed_m_s=round(speed, 3)),
                      MissionItem(kind="waypoint", lat_deg=geo(b)[0], lon_deg=geo(b)[1], rel_alt_m=round(p.v_m, 2),
                                  bin_ids=p.bin_ids),
                      MissionItem(kind="change_speed", speed_m_s=opts.max_speed_m_s)]
            if n + 1 < len(group) and group[n + 1][4]:
                continue  # the next pass is reached along the face
            aisle_exit = f.face_to_site([[p.u_to_m, transit, d]])[0]
            items.append(MissionItem(kind="waypoint", lat_deg=geo(aisle_exit)[0], lon_deg=geo(aisle_exit)[1], rel_alt_m=transit))
        # home to the pad and LAND there: an RTL would come down at the nearest rally point, at the
        # end of the aisle just flown (RALLY_INCL_HOME), not on the pad the battery is changed on and
        # the fleet plan counts the vehicle at (simulated vehicles did, 2026-12-07)
        items += [MissionItem(kind="waypoint", lat_deg=geo(home_xy)[0], lon_deg=geo(home_xy)[1], rel_alt_m=transit),
                  MissionItem(kind="land", lat_deg=geo(home_xy)[0], lon_deg=geo(home_xy)[1])]
        fence = [FencePolygon(inclusion=True, vertices_deg=tuple(geo(p) for p in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]))]
        for z in site.spec.no_fly_zones:
            fence.append(FencePolygon(inclusion=False, vertices_deg=tuple(geo(p) for p in z.polygon_m)))
        rally = []
        for aid in {p.aisle_id for p, *_ in group}:
            f0 = site.faces_of_aisle(aid)[0]
            d = d_by_aisle[aid]
            for u in (-1.0, f0.length_m + 1.0):
                q = f0.face_to_site([[u, 0.0, d]])[0]
                # whole metres: ArduPilot stores a rally point's altitude as an int16 of metres
                rally.append(RallyPoint(lat_deg=geo(q)[0], lon_deg=geo(q)[1], rel_alt_m=2.0))
        bins = sorted({b for p, *_ in group for b in p.bin_ids})
        meta = {"site_name": site.spec.name, "sortie": si + 1, "n_sorties": len(sorties), "camera": camera.name,
                "standoff_m": round(min(d_by_aisle.values()), 3), "speed_m_s": round(speed, 3),
                "bins_planned": len(bins), "home_m": [float(home_xy[0]), float(home_xy[1])]}
        if exposure is not None:
            meta.update(lux=round(exposure.lux, 1), exposure_s=round(exposure.exposure_s, 6), gain=round(exposure.gain, 3))
        missions.append(Mission(home=(*geo(home_xy), site.origin.alt_m), items=tuple(items), fence=tuple(fence),
                                rally=tuple(sorted(rally, key=lambda r: (r.lat_deg, r.lon_deg))), meta=meta))
    bins_planned = len({b.bin_id for a in d_by_aisle for f in site.faces_of_aisle(a) for b in f.bins})
    return PlanResult(missions, passes, min(d_by_aisle.values()), speed, per_face, min_frames, sum(split.values()),
                      bins_planned, warnings, path_xy, exposure, time_s=split,
                      battery_swaps_s=opts.battery_swap_s * (len(sorties) - 1), standoff_by_aisle=dict(d_by_aisle))


__all__ = ["PlanOptions", "PlanResult", "plan", "pass_heights", "pass_heading_deg", "pair_aisle", "FenceCircle"]
