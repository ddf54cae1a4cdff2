"""Missions as frozen keyword-only data, and the one pure function that turns them into MAVLink.

``mission_to_mavlink`` gives the exact MISSION_ITEM_INT fields the mission protocol uploads for
the mission (type 0; item 0 is the home slot, as ArduPilot keeps it), the geofence (type 1:
5001/5002 polygon vertices, 5003/5004 circles) and the rally points (type 2: 5100);
``mavlink_to_mission`` is its inverse, used to verify a download.

ArduCopter keeps only some fields of each item (``STORED_PARAMS``): a NAV_WAYPOINT keeps its
delay (whole seconds) but not its yaw, so the heading along a pass is a CONDITION_YAW item
(``set_yaw``) flown with WP_YAW_BEHAVIOR 0 (the runner sets it); a downloaded NAV_LAND has param4
+-1 (its loiter direction) whatever was sent. A waypoint therefore carries no yaw here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from flight.errors import FlightError

# MAV_CMD / MAV_FRAME numbers (common.xml)
NAV_WAYPOINT, NAV_RETURN_TO_LAUNCH, NAV_LAND, NAV_TAKEOFF = 16, 20, 21, 22
CONDITION_YAW, DO_CHANGE_SPEED, DO_MOUNT_CONTROL = 115, 178, 205
FENCE_POLYGON_INCLUSION, FENCE_POLYGON_EXCLUSION, FENCE_CIRCLE_INCLUSION, FENCE_CIRCLE_EXCLUSION = 5001, 5002, 5003, 5004
RALLY_POINT = 5100
FRAME_GLOBAL, FRAME_MISSION, FRAME_GLOBAL_RELATIVE_ALT_INT = 0, 2, 6
FRAME_GLOBAL_INT = 5
MISSION_TYPE_MISSION, MISSION_TYPE_FENCE, MISSION_TYPE_RALLY = 0, 1, 2
KINDS = ("takeoff", "waypoint", "change_speed", "set_yaw", "gimbal", "land", "rtl")


@dataclass(frozen=True, kw_only=True)
class MissionItem:
    kind: str
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    rel_alt_m: float = 0.0
    yaw_deg: float | None = None  # set_yaw: the CONDITION_YAW heading (a waypoint has none: ArduCopter drops it)
    speed_m_s: float | None = None  # change_speed
    hold_s: float = 0.0
    gimbal_pitch_deg: float | None = None  # gimbal
    bin_ids: tuple[str, ...] = ()  # bins this leg covers (resume points)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FlightError(f"mission item kind {self.kind!r}; expected one of {list(KINDS)}")
        if self.kind == "waypoint" and self.yaw_deg is not None:
            raise FlightError("a waypoint's yaw_deg is dropped by ArduCopter (NAV_WAYPOINT keeps no yaw); put a "
                              "set_yaw item (CONDITION_YAW) before it")


@dataclass(frozen=True, kw_only=True)
class FencePolygon:
    inclusion: bool
    vertices_deg: tuple[tuple[float, float], ...]  # (lat, lon)


@dataclass(frozen=True, kw_only=True)
class FenceCircle:
    inclusion: bool
    center_deg: tuple[float, float]
    radius_m: float


@dataclass(frozen=True, kw_only=True)
class RallyPoint:
    lat_deg: float
    lon_deg: float
    rel_alt_m: float


@dataclass(frozen=True, kw_only=True)
class Mission:
    home: tuple[float, float, float]  # lat, lon, alt (AMSL m)
    items: tuple[MissionItem, ...]
    fence: tuple[FencePolygon | FenceCircle, ...] = ()
    rally: tuple[RallyPoint, ...] = ()
    meta: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class MavItem:
    """Exactly the fields of MISSION_ITEM_INT."""

    seq: int
    frame: int
    command: int
    current: int
    autocontinue: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int
    y: int
    z: float
    mission_type: int


@dataclass(frozen=True, kw_only=True)
class MavlinkPlan:
    mission: tuple[MavItem, ...]
    fence: tuple[MavItem, ...]
    rally: tuple[MavItem, ...]


# The params ArduCopter stores (and downloads back) per MAV_CMD; x, y, z are kept for NAV items.
STORED_PARAMS: dict[int, tuple[int, ...]] = {
    NAV_WAYPOINT: (1,), NAV_TAKEOFF: (1,), NAV_LAND: (1,), NAV_RETURN_TO_LAUNCH: (),
    DO_CHANGE_SPEED: (1, 2, 3), CONDITION_YAW: (1, 2, 3, 4), DO_MOUNT_CONTROL: (1, 2, 3),
}
NAV_COMMANDS = {NAV_WAYPOINT, NAV_TAKEOFF, NAV_LAND, NAV_RETURN_TO_LAUNCH}


def _f32(a: float, b: float) -> bool:
    """Equal as the float32 the wire carries (NaN equals NaN: 'unchanged' in a MAVLink param)."""
    fa, fb = struct.unpack("<ff", struct.pack("<ff", float(a), float(b)))
    return (fa != fa and fb != fb) or abs(fa - fb) <= 1e-6 * max(1.0, abs(fa))


def same_stored(sent, back) -> bool:
    """Whether a downloaded item (``MavItem`` or MISSION_ITEM_INT) holds what was sent, on the
    fields ArduCopter keeps for its command (``STORED_PARAMS``; altitudes cut to the whole
    centimetre it stores them in)."""
    if sent.command != back.command:
        return False
    keep = STORED_PARAMS.get(sent.command, (1, 2, 3, 4))
    if sent.command in NAV_COMMANDS or sent.command not in STORED_PARAMS:
        if sent.x != back.x or sent.y != back.y or not -0.0001 <= float(sent.z) - float(back.z) < 0.0101:
            return False
    return all(_f32(getattr(sent, f"param{k}"), getattr(back, f"param{k}")) for k in keep)


def _e7(deg: float) -> int:
    return int(round(deg * 1e7))


def _item(seq, frame, command, p=(0.0, 0.0, 0.0, 0.0), lat=0.0, lon=0.0, z=0.0, mtype=0) -> MavItem:
    return MavItem(seq=seq, frame=frame, command=command, current=0, autocontinue=1, param1=float(p[0]),
                   param2=float(p[1]), param3=float(p[2]), param4=float(p[3]), x=_e7(lat), y=_e7(lon), z=float(z),
                   mission_type=mtype)


def mission_to_mavlink(m: Mission) -> MavlinkPlan:
    """The MISSION_ITEM_INT lists the mission protocol uploads (pure function)."""
    items = [_item(0, FRAME_GLOBAL_INT, NAV_WAYPOINT, lat=m.home[0], lon=m.home[1], z=m.home[2])]  # home slot
    for it in m.items:
        seq = len(items)
        rel = FRAME_GLOBAL_RELATIVE_ALT_INT
        if it.kind == "takeoff":
            items.append(_item(seq, rel, NAV_TAKEOFF, lat=it.lat_deg, lon=it.lon_deg, z=it.rel_alt_m))
        elif it.kind == "waypoint":
            items.append(_item(seq, rel, NAV_WAYPOINT, (it.hold_s, 0.0, 0.0, 0.0), it.lat_deg, it.lon_deg, it.rel_alt_m))
        elif it.kind == "change_speed":
            items.append(_item(seq, FRAME_MISSION, DO_CHANGE_SPEED, (1.0, it.speed_m_s or 0.0, -1.0, 0.0)))
        elif it.kind == "set_yaw":
            items.append(_item(seq, FRAME_MISSION, CONDITION_YAW, (it.yaw_deg or 0.0, 0.0, 0.0, 0.0)))
        elif it.kind == "gimbal":
            # DO_MOUNT_CONTROL: pitch, roll, yaw (deg), ..., mode 2 = MAV_MOUNT_MODE_MAVLINK_TARGETING (in z)
            items.append(_item(seq, FRAME_MISSION, DO_MOUNT_CONTROL, (it.gimbal_pitch_deg or 0.0, 0.0, 0.0, 0.0), z=2))
        elif it.kind == "land":
            items.append(_item(seq, rel, NAV_LAND, lat=it.lat_deg, lon=it.lon_deg))
        elif it.kind == "rtl":
            items.append(_item(seq, FRAME_MISSION, NAV_RETURN_TO_LAUNCH))
    fence: list[MavItem] = []
    for f in m.fence:
        if isinstance(f, FencePolygon):
            cmd = FENCE_POLYGON_INCLUSION if f.inclusion else FENCE_POLYGON_EXCLUSION
            for lat, lon in f.vertices_deg:
                fence.append(_item(len(fence), FRAME_GLOBAL_INT, cmd, (len(f.vertices_deg), 0, 0, 0), lat, lon, 0, MISSION_TYPE_FENCE))
        else:
            cmd = FENCE_CIRCLE_INCLUSION if f.inclusion else FENCE_CIRCLE_EXCLUSION
            fence.append(_item(len(fence), FRAME_GLOBAL_INT, cmd, (f.radius_m, 0, 0, 0), *f.center_deg, 0, MISSION_TYPE_FENCE))
    rally = [_item(i, FRAME_GLOBAL_RELATIVE_ALT_INT, RALLY_POINT, lat=r.lat_deg, lon=r.lon_deg, z=r.rel_alt_m,
                   mtype=MISSION_TYPE_RALLY) for i, r in enumerate(m.rally)]
    return MavlinkPlan(mission=tuple(items), fence=tuple(fence), rally=tuple(rally))


def mavlink_to_mission(plan: MavlinkPlan, *, bin_ids: dict[int, tuple[str, ...]] | None = None) -> Mission:
    """Inverse of :func:`mission_to_mavlink` (bin ids are not in MAVLink: pass them by seq)."""
    if not plan.mission:
        raise FlightError("a mission needs at least the home item (seq 0)")
    h = plan.mission[0]
    items = []
    for it in plan.mission[1:]:
        lat, lon = it.x / 1e7, it.y / 1e7
        bins = (bin_ids or {}).get(it.seq, ())
        if it.command == NAV_TAKEOFF:
            items.append(MissionItem(kind="takeoff", lat_deg=lat, lon_deg=lon, rel_alt_m=it.z, bin_ids=bins))
        elif it.command == NAV_WAYPOINT:  # param4 (yaw) is not ArduCopter's: ignored
            items.append(MissionItem(kind="waypoint", lat_deg=lat, lon_deg=lon, rel_alt_m=it.z, hold_s=it.param1, bin_ids=bins))
        elif it.command == DO_CHANGE_SPEED:
            items.append(MissionItem(kind="change_speed", speed_m_s=it.param2))
        elif it.command == CONDITION_YAW:
            items.append(MissionItem(kind="set_yaw", yaw_deg=it.param1))
        elif it.command == DO_MOUNT_CONTROL:
            items.append(MissionItem(kind="gimbal", gimbal_pitch_deg=it.param1))
        elif it.command == NAV_LAND:
            items.append(MissionItem(kind="land", lat_deg=lat, lon_deg=lon))
        elif it.command == NAV_RETURN_TO_LAUNCH:
            items.append(MissionItem(kind="rtl"))
        else:
            raise FlightError(f"mission item {it.seq}: command {it.command} is not one rackscan plans")
    fence: list = []
    i = 0
    fitems = list(plan.fence)
    while i < len(fitems):
        f = fitems[i]
        if f.command in (FENCE_POLYGON_INCLUSION, FENCE_POLYGON_EXCLUSION):
            n = int(f.param1)
            verts = tuple((v.x / 1e7, v.y / 1e7) for v in fitems[i : i + n])
            fence.append(FencePolygon(inclusion=f.command == FENCE_POLYGON_INCLUSION, vertices_deg=verts))
            i += max(n, 1)
        else:
            fence.append(FenceCircle(inclusion=f.command == FENCE_CIRCLE_INCLUSION, center_deg=(f.x / 1e7, f.y / 1e7), radius_m=f.param1))
            i += 1
    rally = tuple(RallyPoint(lat_deg=r.x / 1e7, lon_deg=r.y / 1e7, rel_alt_m=r.z) for r in plan.rally)
    return Mission(home=(h.x / 1e7, h.y / 1e7, h.z), items=tuple(items), fence=tuple(fence), rally=rally)


def resume_from(m: Mission, last_done_seq: int) -> Mission:
    """The continuation of ``m`` after an interruption, as a mission of its own, flown from its
    start (ArduCopter skips every DO item before a DO_SET_MISSION_CURRENT target, so resuming the
    full mission mid-way would fly the pass without its CONDITION_YAW and DO_CHANGE_SPEED).

    ``last_done_seq`` is the last item reached (MAVLink seq; seq 1 = ``items[0]``). The first leg
    that covers bins and was not finished is flown again from its start, and from the CONDITION_YAW
    that opens its pass when no other bin leg lies between; before it come the takeoff, the climb
    to the transit altitude over home, and the speed, gimbal and heading in force at that point.
    ``meta["seq_map"][k]`` is the seq in ``m`` of the continuation's item k (0: home)."""
    items = m.items
    done = max(0, min(int(last_done_seq), len(items)))
    target = next((i for i in range(done, len(items)) if items[i].kind == "waypoint" and items[i].bin_ids), None)
    if target is None:
        raise FlightError(f"resume after item {last_done_seq}: every leg that covers bins was flown; nothing to resume")
    leg_start = next((i for i in range(target - 1, -1, -1) if items[i].kind in ("waypoint", "takeoff")), target)
    start = leg_start
    yaw = next((i for i in range(leg_start, -1, -1) if items[i].kind == "set_yaw"), None)
    if yaw is not None and not any(it.kind == "waypoint" and it.bin_ids for it in items[yaw:leg_start]):
        start = yaw
    head = [0] if items and items[0].kind == "takeoff" and start > 0 else []
    climb = next((i for i in range(1, len(items)) if items[i].kind == "waypoint"), None)
    climb = climb if climb is not None and climb < start and not items[climb].bin_ids else None
    last: dict[str, int] = {}
    for i in range(start):
        if items[i].kind in ("change_speed", "gimbal", "set_yaw"):
            last[items[i].kind] = i
    order = head + sorted(last.values()) + ([climb] if climb is not None else []) + list(range(start, len(items)))
    order = [i for i in order if i not in head[1:]]
    meta = {**m.meta, "resumed_after_seq": int(last_done_seq), "resume_start_seq": start + 1,
            "seq_map": [0] + [i + 1 for i in order]}
    return Mission(home=m.home, items=tuple(items[i] for i in order), fence=m.fence, rally=m.rally, meta=meta)
