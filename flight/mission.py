"""Missions as frozen keyword-only data, and the one pure function that turns them into MAVLink.

``mission_to_mavlink`` gives the exact MISSION_ITEM_INT fields the mission protocol uploads for
the mission (type 0; item 0 is the home slot, as ArduPilot keeps it), the geofence (type 1:
5001/5002 polygon vertices, 5003/5004 circles) and the rally points (type 2: 5100);
``mavlink_to_mission`` is its inverse, used to verify a download.

ArduCopter keeps only some fields of each item; ``as_stored`` is that rule, used by the simulated
vehicle to store items and by the runner to verify a download: a NAV_WAYPOINT keeps its delay
(whole seconds) but not its yaw, so the heading along a pass is a CONDITION_YAW item (``set_yaw``)
flown with WP_YAW_BEHAVIOR 0 (the runner sets it); a downloaded NAV_LAND has param4 +-1 (its
loiter direction) whatever was sent. A waypoint therefore carries no yaw here.

The planner's items are typed (``KINDS``); a plan made or edited in QGroundControl may hold any
command of ``COMMAND_NAMES`` (loiters, spline waypoints, delays, DO_JUMP, ROI, camera and video),
carried as kind "command" with its command, frame, params and location as written
(``mission_item``: an item stays typed only when the typed form gives ArduCopter the same item).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field, replace

from flight.errors import FlightError

# MAV_CMD / MAV_FRAME numbers (common.xml)
NAV_WAYPOINT, NAV_RETURN_TO_LAUNCH, NAV_LAND, NAV_TAKEOFF = 16, 20, 21, 22
NAV_LOITER_UNLIM, NAV_LOITER_TURNS, NAV_LOITER_TIME, NAV_SPLINE_WAYPOINT, NAV_DELAY = 17, 18, 19, 82, 93
CONDITION_DELAY, CONDITION_YAW, DO_JUMP, DO_CHANGE_SPEED = 112, 115, 177, 178
DO_SET_ROI_LOCATION, DO_SET_ROI_NONE, DO_SET_ROI, DO_DIGICAM_CONTROL = 195, 197, 201, 203
DO_MOUNT_CONTROL, DO_SET_CAM_TRIGG_DIST, DO_GIMBAL_MANAGER_PITCHYAW = 205, 206, 1000
IMAGE_START_CAPTURE, IMAGE_STOP_CAPTURE, VIDEO_START_CAPTURE, VIDEO_STOP_CAPTURE = 2000, 2001, 2500, 2501
FENCE_POLYGON_INCLUSION, FENCE_POLYGON_EXCLUSION, FENCE_CIRCLE_INCLUSION, FENCE_CIRCLE_EXCLUSION = 5001, 5002, 5003, 5004
RALLY_POINT = 5100
FRAME_GLOBAL, FRAME_MISSION, FRAME_GLOBAL_RELATIVE_ALT, FRAME_GLOBAL_INT, FRAME_GLOBAL_RELATIVE_ALT_INT = 0, 2, 3, 5, 6
FRAME_GLOBAL_TERRAIN_ALT, FRAME_GLOBAL_TERRAIN_ALT_INT = 10, 11
MISSION_TYPE_MISSION, MISSION_TYPE_FENCE, MISSION_TYPE_RALLY = 0, 1, 2
KINDS = ("takeoff", "waypoint", "change_speed", "set_yaw", "gimbal", "land", "rtl", "command")
# The mission commands rackscan flies (those ArduCopter runs in AUTO that move the vehicle, wait, jump,
# set speed or heading, point the camera or gimbal, or run the camera); kind "command" carries any of
# them as QGroundControl wrote it. Others (servos, relays, mode changes, parachute...) are refused.
COMMAND_NAMES = {
    NAV_WAYPOINT: "NAV_WAYPOINT", NAV_LOITER_UNLIM: "NAV_LOITER_UNLIM", NAV_LOITER_TURNS: "NAV_LOITER_TURNS",
    NAV_LOITER_TIME: "NAV_LOITER_TIME", NAV_RETURN_TO_LAUNCH: "NAV_RETURN_TO_LAUNCH", NAV_LAND: "NAV_LAND",
    NAV_TAKEOFF: "NAV_TAKEOFF", NAV_SPLINE_WAYPOINT: "NAV_SPLINE_WAYPOINT", NAV_DELAY: "NAV_DELAY",
    CONDITION_DELAY: "CONDITION_DELAY", CONDITION_YAW: "CONDITION_YAW", DO_JUMP: "DO_JUMP",
    DO_CHANGE_SPEED: "DO_CHANGE_SPEED", DO_SET_ROI_LOCATION: "DO_SET_ROI_LOCATION", DO_SET_ROI_NONE: "DO_SET_ROI_NONE",
    DO_SET_ROI: "DO_SET_ROI", DO_DIGICAM_CONTROL: "DO_DIGICAM_CONTROL", DO_MOUNT_CONTROL: "DO_MOUNT_CONTROL",
    DO_SET_CAM_TRIGG_DIST: "DO_SET_CAM_TRIGG_DIST", DO_GIMBAL_MANAGER_PITCHYAW: "DO_GIMBAL_MANAGER_PITCHYAW",
    IMAGE_START_CAPTURE: "IMAGE_START_CAPTURE", IMAGE_STOP_CAPTURE: "IMAGE_STOP_CAPTURE",
    VIDEO_START_CAPTURE: "VIDEO_START_CAPTURE", VIDEO_STOP_CAPTURE: "VIDEO_STOP_CAPTURE",
}
# commands whose x and y are not a position: QGroundControl writes them plainly (AP_Mission's exceptions)
XY_NOT_POSITION = frozenset({DO_DIGICAM_CONTROL, DO_GIMBAL_MANAGER_PITCHYAW})


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
    # kind "command": any command of COMMAND_NAMES as written, in its wire frame (MAV_FRAME, the _INT
    # one for a position); lat_deg/lon_deg as above and alt_m, z in that frame (metres); ``xy`` the
    # raw x, y of a command whose x, y are not a position (XY_NOT_POSITION)
    command: int | None = None
    frame: int | None = None
    params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    alt_m: float = 0.0
    xy: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FlightError(f"mission item kind {self.kind!r}; expected one of {list(KINDS)}")
        if self.kind == "command" and self.command not in COMMAND_NAMES:
            raise FlightError(f"mission item command {self.command}: not one rackscan flies; expected one of "
                              f"{sorted(COMMAND_NAMES)}")
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

    @classmethod
    def from_message(cls, m) -> "MavItem":
        """A MISSION_ITEM_INT message (x, y in degE7) as a MavItem."""
        return cls(seq=int(m.seq), frame=int(m.frame), command=int(m.command), current=int(m.current),
                   autocontinue=int(m.autocontinue), param1=float(m.param1), param2=float(m.param2),
                   param3=float(m.param3), param4=float(m.param4), x=int(m.x), y=int(m.y), z=float(m.z),
                   mission_type=int(getattr(m, "mission_type", 0)))


@dataclass(frozen=True, kw_only=True)
class MavlinkPlan:
    mission: tuple[MavItem, ...]
    fence: tuple[MavItem, ...]
    rally: tuple[MavItem, ...]


# What AP_Mission keeps of each param, per MAV_CMD (AP_Mission::mavlink_int_to_mission_cmd and back):
# "f" a float, "u16"/"u8"/"i8" an integer of that width (the float truncated, as C converts it),
# "dir" a loiter direction (-1 when negative, else +1), None dropped (0 when downloaded).
# "sradius" a loiter radius kept as uint16 with its sign as the direction, "ccw" +-1 from the sign
# (< 0: -1; NaN: +1), "flag" 1 when > 0 else 0; "turns" and "tradius" NAV_LOITER_TURNS' packed byte
# pair (``_loiter_turns``). The loiter, spline, delay, jump, ROI, camera and video rules were read
# from AP_Mission.cpp/.h (ArduPilot 46ae785, 2026-02) and measured on that SITL (test_sitl.py's probe).
_PARAM_KINDS: dict[int, tuple[str | None, str | None, str | None, str | None]] = {
    NAV_WAYPOINT: ("u16", None, None, None),  # Copter: the delay in whole seconds; no yaw, no radii
    NAV_TAKEOFF: ("u16", None, None, None),
    NAV_LAND: ("u16", None, None, "dir"),
    NAV_RETURN_TO_LAUNCH: (None, None, None, None),
    NAV_LOITER_UNLIM: (None, None, "sradius", None),  # radius (a multicopter ignores it), direction
    NAV_LOITER_TURNS: ("turns", None, "tradius", "flag"),  # turns, radius (uint8 each), xtrack
    NAV_LOITER_TIME: ("u16", None, "ccw", "flag"),  # seconds, direction, xtrack
    NAV_SPLINE_WAYPOINT: ("u16", None, None, None),  # delay in whole seconds
    NAV_DELAY: ("f", "i8", "i8", "i8"),  # seconds (-1: until the UTC time), hour, minute, second
    CONDITION_DELAY: ("f", None, None, None),
    CONDITION_YAW: ("f", "f", "i8", "u8"),  # angle, rate, direction, relative
    DO_JUMP: ("u16", "i16", None, None),  # target seq, repeat count (-1 forever)
    DO_CHANGE_SPEED: ("u8", "f", "f", None),  # speed type, m/s, throttle %
    DO_SET_ROI_LOCATION: ("u16", None, None, None),  # gimbal device id; the location
    DO_SET_ROI_NONE: ("u16", None, None, None),
    DO_SET_ROI: ("u16", None, None, None),  # ROI mode; the location
    DO_DIGICAM_CONTROL: ("u8", "u8", "i8", "u8"),  # session, zoom pos, zoom step, focus lock; shoot, id in x, y (uint8)
    DO_MOUNT_CONTROL: ("f", "f", "f", None),  # pitch, roll, yaw; z comes back as mode 2 (MAVLINK_TARGETING)
    DO_SET_CAM_TRIGG_DIST: ("f", None, "u8", None),  # metres, -, trigger once now
    DO_GIMBAL_MANAGER_PITCHYAW: ("i8", "i16", "i8", "i8"),  # whole degrees (and deg/s); flags in x, gimbal in z
    IMAGE_START_CAPTURE: ("u8", "f", "u16", "u16"),  # instance, interval s, total images, first sequence number
    IMAGE_STOP_CAPTURE: ("u16", None, None, None),
    VIDEO_START_CAPTURE: ("u8", None, None, None),  # stream id
    VIDEO_STOP_CAPTURE: ("u8", None, None, None),
}
# Commands AP_Mission keeps a location for (AP_Mission::stored_in_location, those rackscan flies)
LOCATION_COMMANDS = frozenset({NAV_WAYPOINT, NAV_TAKEOFF, NAV_LAND, NAV_LOITER_UNLIM, NAV_LOITER_TURNS, NAV_LOITER_TIME,
                               NAV_SPLINE_WAYPOINT, DO_SET_ROI_LOCATION, DO_SET_ROI})
NAV_COMMANDS = {NAV_WAYPOINT, NAV_TAKEOFF, NAV_LAND, NAV_RETURN_TO_LAUNCH, NAV_LOITER_UNLIM, NAV_LOITER_TURNS,
                NAV_LOITER_TIME, NAV_SPLINE_WAYPOINT, NAV_DELAY}
# frames an item comes back in: ArduCopter keeps only "relative to home" or not (or terrain)
_STORED_FRAME = {FRAME_GLOBAL: FRAME_GLOBAL, FRAME_GLOBAL_INT: FRAME_GLOBAL, FRAME_MISSION: FRAME_GLOBAL,
                 FRAME_GLOBAL_RELATIVE_ALT: FRAME_GLOBAL_RELATIVE_ALT,
                 FRAME_GLOBAL_RELATIVE_ALT_INT: FRAME_GLOBAL_RELATIVE_ALT,
                 FRAME_GLOBAL_TERRAIN_ALT: FRAME_GLOBAL_TERRAIN_ALT, FRAME_GLOBAL_TERRAIN_ALT_INT: FRAME_GLOBAL_TERRAIN_ALT}
_INT_RANGE = {"u16": (0, 65535), "u8": (0, 255), "i8": (-128, 127), "i16": (-32768, 32767),
              "i32": (-2**31, 2**31 - 1), "u32": (0, 2**32 - 1)}
FENCE_POLYGONS = (FENCE_POLYGON_INCLUSION, FENCE_POLYGON_EXCLUSION)


def f32(x: float) -> float:
    """``x`` as the float32 MAVLink carries and ArduPilot computes in (NaN stays NaN)."""
    x = float(x)
    if x != x:
        return x
    return struct.unpack("<f", struct.pack("<f", max(-3.4028234663852886e38, min(3.4028234663852886e38, x))))[0]


def _int(x: float, kind: str) -> float:
    """A float param kept in an integer field: truncated toward zero (C's conversion), clamped to the field."""
    lo, hi = _INT_RANGE[kind]
    x = float(x)
    if x != x:
        return 0.0
    return float(max(lo, min(hi, math.trunc(f32(x)))))


def _param(x: float, kind: str | None) -> float:
    if kind is None:
        return 0.0
    if kind == "f":
        return f32(x)
    if kind == "dir":  # NaN leaves the default (clockwise): AP_Mission skips it
        return -1.0 if x == x and f32(x) <= -1.1920929e-07 else 1.0
    if kind == "ccw":
        return -1.0 if f32(x) < 0 else 1.0
    if kind == "flag":
        return 1.0 if f32(x) > 0 else 0.0
    if kind == "sradius":
        return math.copysign(_int(abs(f32(x)), "u16"), -1.0 if f32(x) < 0 else 1.0)
    if kind in ("turns", "tradius"):
        return 0.0  # packed together: _loiter_turns
    return _int(x, kind)


def _loiter_turns(p1: float, p3: float) -> tuple[float, float]:
    """NAV_LOITER_TURNS as AP_Mission packs it: turns in a byte (a fraction of one turn in 256ths),
    the radius in a byte (above 255 m in tens of metres), its sign the direction."""
    t = f32(p1)
    t = 0.0 if t != t or t < 0 else t
    turns = math.trunc(min(255.0, t * 256.0)) / 256.0 if 0 < t < 1 else float(math.trunc(min(255.0, t)))
    r = abs(f32(p3)) if p3 == p3 else 0.0
    radius = float(math.trunc(r)) if r <= 255 else math.trunc(min(255.0, f32(r * 0.1))) * 10.0
    return turns, (-radius if f32(p3) < 0 else radius)


def _stored_alt_m(z: float) -> float:
    """AP_Mission's altitude: ``packet.z * 100.0f`` kept as int32 centimetres, sent back as ``alt * 0.01f``."""
    cm = _int(f32(f32(z) * 100.0), "i32")
    return f32(f32(cm) * f32(0.01))


def as_stored(item: MavItem) -> MavItem:
    """What ArduCopter keeps of ``item`` and gives back when the item is downloaded (MISSION_ITEM_INT),
    the one storage rule of rackscan: the simulated vehicle stores items with it, and the runner's
    verification (``same_stored``) compares a download with it.

    Mission (AP_Mission): per command only some params survive (``_PARAM_KINDS``: a waypoint keeps its
    delay in whole seconds and no yaw, a land's param4 comes back as its loiter direction +-1,
    CONDITION_YAW's direction and relative flag are small integers); a location is kept for
    NAV_WAYPOINT/TAKEOFF/LAND only, its altitude in whole centimetres (cut, in float32 arithmetic), in
    the non-INT frame (relative to home or not); every other item comes back with frame 0 and no
    x, y, z (DO_MOUNT_CONTROL: z 2). Fence (AC_PolyFence_loader): vertex count (uint8) or circle radius, lat/lon, frame 0, no z.
    Rally (AP_Rally): lat/lon and a whole-metre altitude (int16) in the non-INT frame. ``current`` is
    0 (the vehicle sets it for its current item), ``autocontinue`` 1 for mission items, 0 otherwise.
    A command rackscan does not plan keeps its params (as float32) and location as sent."""
    if item.mission_type == MISSION_TYPE_RALLY:
        return MavItem(seq=item.seq, frame=_STORED_FRAME.get(item.frame, item.frame), command=item.command, current=0,
                       autocontinue=0, param1=0.0, param2=0.0, param3=0.0, param4=0.0, x=item.x, y=item.y,
                       z=_int(item.z, "i16"), mission_type=item.mission_type)
    if item.mission_type == MISSION_TYPE_FENCE:
        p1 = _int(item.param1, "u8") if item.command in FENCE_POLYGONS else f32(item.param1)
        return MavItem(seq=item.seq, frame=FRAME_GLOBAL, command=item.command, current=0, autocontinue=0, param1=p1,
                       param2=0.0, param3=0.0, param4=0.0, x=item.x, y=item.y, z=0.0, mission_type=item.mission_type)
    kinds = _PARAM_KINDS.get(item.command)
    raw = (item.param1, item.param2, item.param3, item.param4)
    params = tuple(_param(v, k) for v, k in zip(raw, kinds)) if kinds else tuple(f32(v) for v in raw)
    if item.command == NAV_LOITER_TURNS:
        turns, radius = _loiter_turns(item.param1, item.param3)
        params = (turns, 0.0, radius, params[3])
    if item.command in LOCATION_COMMANDS or kinds is None:
        frame, x, y, z = _STORED_FRAME.get(item.frame, item.frame), item.x, item.y, _stored_alt_m(item.z)
    elif item.command == DO_GIMBAL_MANAGER_PITCHYAW:  # flags (uint8) in x, gimbal id (uint8) in z
        frame, x, y, z = FRAME_GLOBAL, int(item.x) & 0xFF, 0, _int(item.z, "u8")
    elif item.command == DO_DIGICAM_CONTROL:  # shooting command and command id (uint8 each) in x, y
        frame, x, y, z = FRAME_GLOBAL, int(item.x) & 0xFF, int(item.y) & 0xFF, 0.0
    elif item.command == DO_MOUNT_CONTROL:
        frame, x, y, z = FRAME_GLOBAL, 0, 0, 2.0
    else:
        frame, x, y, z = FRAME_GLOBAL, 0, 0, 0.0
    return MavItem(seq=item.seq, frame=frame, command=item.command, current=0, autocontinue=1, param1=params[0],
                   param2=params[1], param3=params[2], param4=params[3], x=x, y=y, z=z,
                   mission_type=item.mission_type)


def _same_f32(a: float, b: float) -> bool:
    """Equal as the float32 the wire carries (NaN equals NaN: 'unchanged' in a MAVLink param)."""
    fa, fb = f32(a), f32(b)
    return (fa != fa and fb != fb) or abs(fa - fb) <= 1e-6 * max(1.0, abs(fa))


def _kinds(item: MavItem) -> tuple[str | None, ...]:
    if item.mission_type == MISSION_TYPE_RALLY:
        return (None, None, None, None)
    if item.mission_type == MISSION_TYPE_FENCE:
        return ("u8" if item.command in FENCE_POLYGONS else "f", None, None, None)
    return _PARAM_KINDS.get(item.command, ("f", "f", "f", "f"))


def stored_differences(sent: MavItem, back) -> list[str]:
    """What makes the vehicle's copy ``back`` (a downloaded ``MavItem`` or MISSION_ITEM_INT) not hold
    what was sent, one phrase each: a field that is not ``as_stored(sent)``, or a value ArduCopter keeps
    but cannot keep exactly (a half-second delay in a whole-second field, an altitude finer than its
    centimetre, a rally altitude that is not whole metres). Empty when the vehicle holds the item."""
    want = as_stored(sent)
    out = [f"{name} {int(getattr(back, name))}, expected {getattr(want, name)}" for name in ("command", "frame", "x", "y")
           if int(getattr(back, name)) != getattr(want, name)]
    out += [f"{name} {float(getattr(back, name)):g}, expected {getattr(want, name):g}"
            for name in ("param1", "param2", "param3", "param4", "z") if not _same_f32(getattr(want, name), getattr(back, name))]
    raw = (sent.param1, sent.param2, sent.param3, sent.param4)
    for i, kind in enumerate(_kinds(sent)):
        if kind in _INT_RANGE and not _same_f32(raw[i], getattr(want, f"param{i + 1}")):
            out.append(f"param{i + 1} {raw[i]:g} is kept as {getattr(want, f'param{i + 1}'):g} (a whole number)")
    keeps_z = sent.mission_type == MISSION_TYPE_RALLY or (sent.mission_type == MISSION_TYPE_MISSION and (
        sent.command in LOCATION_COMMANDS or sent.command not in _PARAM_KINDS))
    if keeps_z and not -0.0001 <= float(sent.z) - want.z < 0.0101:
        out.append(f"z {sent.z:g} m is kept as {want.z:g} m")
    return out


def same_stored(sent: MavItem, back) -> bool:
    """Whether the vehicle's copy ``back`` holds what was sent (``stored_differences`` is empty)."""
    return not stored_differences(sent, back)


def _e7(deg: float) -> int:
    return int(round(deg * 1e7))


def _item(seq, frame, command, p=(0.0, 0.0, 0.0, 0.0), lat=0.0, lon=0.0, z=0.0, mtype=0) -> MavItem:
    return MavItem(seq=seq, frame=frame, command=command, current=0, autocontinue=1, param1=float(p[0]),
                   param2=float(p[1]), param3=float(p[2]), param4=float(p[3]), x=_e7(lat), y=_e7(lon), z=float(z),
                   mission_type=mtype)


def _mav_item(it: MissionItem, seq: int) -> MavItem:
    """The MISSION_ITEM_INT of one mission item at ``seq``."""
    rel = FRAME_GLOBAL_RELATIVE_ALT_INT
    if it.kind == "takeoff":
        return _item(seq, rel, NAV_TAKEOFF, lat=it.lat_deg, lon=it.lon_deg, z=it.rel_alt_m)
    if it.kind == "waypoint":
        return _item(seq, rel, NAV_WAYPOINT, (it.hold_s, 0.0, 0.0, 0.0), it.lat_deg, it.lon_deg, it.rel_alt_m)
    if it.kind == "change_speed":
        return _item(seq, FRAME_MISSION, DO_CHANGE_SPEED, (1.0, it.speed_m_s or 0.0, -1.0, 0.0))
    if it.kind == "set_yaw":
        return _item(seq, FRAME_MISSION, CONDITION_YAW, (it.yaw_deg or 0.0, 0.0, 0.0, 0.0))
    if it.kind == "gimbal":
        # DO_MOUNT_CONTROL: pitch, roll, yaw (deg), ..., mode 2 = MAV_MOUNT_MODE_MAVLINK_TARGETING (in z)
        return _item(seq, FRAME_MISSION, DO_MOUNT_CONTROL, (it.gimbal_pitch_deg or 0.0, 0.0, 0.0, 0.0), z=2)
    if it.kind == "land":
        return _item(seq, rel, NAV_LAND, lat=it.lat_deg, lon=it.lon_deg)
    if it.kind == "rtl":
        return _item(seq, FRAME_MISSION, NAV_RETURN_TO_LAUNCH)
    # "command": as written
    frame = FRAME_MISSION if it.frame is None else it.frame
    if it.command in XY_NOT_POSITION:
        return replace(_item(seq, frame, it.command, it.params, z=it.alt_m), x=int(it.xy[0]), y=int(it.xy[1]))
    return _item(seq, frame, it.command, it.params, it.lat_deg, it.lon_deg, it.alt_m)


def mission_to_mavlink(m: Mission) -> MavlinkPlan:
    """The MISSION_ITEM_INT lists the mission protocol uploads (pure function)."""
    items = [_item(0, FRAME_GLOBAL_INT, NAV_WAYPOINT, lat=m.home[0], lon=m.home[1], z=m.home[2])]  # home slot
    for it in m.items:
        items.append(_mav_item(it, len(items)))
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


def _typed(it: MavItem, bins: tuple[str, ...]) -> MissionItem | None:
    lat, lon = it.x / 1e7, it.y / 1e7
    if it.command == NAV_TAKEOFF:
        return MissionItem(kind="takeoff", lat_deg=lat, lon_deg=lon, rel_alt_m=it.z, bin_ids=bins)
    if it.command == NAV_WAYPOINT:  # param4 (yaw) is not ArduCopter's: ignored
        return MissionItem(kind="waypoint", lat_deg=lat, lon_deg=lon, rel_alt_m=it.z, hold_s=it.param1, bin_ids=bins)
    if it.command == DO_CHANGE_SPEED:
        return MissionItem(kind="change_speed", speed_m_s=it.param2)
    if it.command == CONDITION_YAW:
        return MissionItem(kind="set_yaw", yaw_deg=it.param1)
    if it.command == DO_MOUNT_CONTROL:
        return MissionItem(kind="gimbal", gimbal_pitch_deg=it.param1)
    if it.command == NAV_LAND:
        return MissionItem(kind="land", lat_deg=lat, lon_deg=lon)
    if it.command == NAV_RETURN_TO_LAUNCH:
        return MissionItem(kind="rtl")
    return None


def mission_item(it: MavItem, *, bins: tuple[str, ...] = ()) -> MissionItem:
    """One MISSION_ITEM_INT as a mission item: a typed kind (waypoint, set_yaw, ...) when that kind
    gives ArduCopter exactly the same item back (``as_stored``), else kind "command" keeping the
    command, frame, params and location as written (a waypoint in AMSL, a speed change of another
    type, a loiter, a camera command). FlightError for a command rackscan does not fly."""
    if it.command not in COMMAND_NAMES:
        raise FlightError(f"mission item {it.seq}: command {it.command} ({command_name(it.command)}) is not one "
                          f"rackscan flies; expected one of {', '.join(f'{n} {c}' for c, n in sorted(COMMAND_NAMES.items()))}")
    typed = _typed(it, bins)
    if typed is not None and stored_key(_mav_item(typed, it.seq)) == stored_key(it):
        return typed
    xy = (int(it.x), int(it.y)) if it.command in XY_NOT_POSITION else (0, 0)
    lat, lon = (0.0, 0.0) if it.command in XY_NOT_POSITION else (it.x / 1e7, it.y / 1e7)
    return MissionItem(kind="command", command=it.command, frame=it.frame, params=(it.param1, it.param2, it.param3, it.param4),
                       lat_deg=lat, lon_deg=lon, alt_m=it.z, xy=xy, bin_ids=bins)


def stored_key(it: MavItem) -> tuple:
    """What ArduCopter keeps of ``it`` as a comparable tuple (NaN as None)."""
    s = as_stored(it)
    return tuple(None if isinstance(v, float) and v != v else v for v in
                 (s.command, s.frame, s.param1, s.param2, s.param3, s.param4, s.x, s.y, s.z))


def command_name(command: int) -> str:
    """MAV_CMD_... name of ``command`` (pymavlink's table), or "unknown"."""
    if command in COMMAND_NAMES:
        return COMMAND_NAMES[command]
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    e = mavlink.enums["MAV_CMD"].get(int(command))
    return e.name.removeprefix("MAV_CMD_") if e is not None else "unknown"


def mavlink_to_mission(plan: MavlinkPlan, *, bin_ids: dict[int, tuple[str, ...]] | None = None) -> Mission:
    """Inverse of :func:`mission_to_mavlink` (bin ids are not in MAVLink: pass them by seq)."""
    if not plan.mission:
        raise FlightError("a mission needs at least the home item (seq 0)")
    h = plan.mission[0]
    items = []
    for it in plan.mission[1:]:
        items.append(mission_item(it, bins=(bin_ids or {}).get(it.seq, ())))
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
    to the transit altitude over home, and the speed, gimbal and heading in force at that point; a
    pass with no aisle entry of its own (chained at the face) is reached from straight above its start.
    ``meta["seq_map"][k]`` is the seq in ``m`` of the continuation's item k (0: home)."""
    items = m.items
    if any(it.kind == "command" and it.command == DO_JUMP for it in items):
        raise FlightError(f"resume after item {last_done_seq}: the plan has a DO_JUMP, whose target and count "
                          "cannot be carried into a continuation; fly the rest as a plan of its own")
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
    out = [items[i] for i in order]
    seq_map = [0] + [i + 1 for i in order]
    s = items[start]
    if (climb is not None and s.kind == "waypoint" and s.rel_alt_m is not None and items[climb].rel_alt_m is not None
            and s.rel_alt_m < items[climb].rel_alt_m - 0.05):
        # a pass chained at the face (reached along it from the last one, with no aisle entry of its
        # own): come down to its start from straight above at the transit altitude; a straight line
        # from the climb over home would slant down through the racks
        k = order.index(start)
        out.insert(k, MissionItem(kind="waypoint", lat_deg=s.lat_deg, lon_deg=s.lon_deg, rel_alt_m=items[climb].rel_alt_m))
        seq_map.insert(k + 1, start)  # the plan's item before the start
    meta = {**m.meta, "resumed_after_seq": int(last_done_seq), "resume_start_seq": start + 1, "seq_map": seq_map}
    return Mission(home=m.home, items=tuple(out), fence=m.fence, rally=m.rally, meta=meta)
