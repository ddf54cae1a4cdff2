"""QGroundControl ``.plan`` files (JSON): mission, geofence and rally points.

QGroundControl and Mission Planner open them. Mission items are ``SimpleItem`` with the MAVLink
command, frame (3 = GLOBAL_RELATIVE_ALT in the file; the wire uses the _INT frame 6) and the
seven params ``[p1, p2, p3, p4, lat, lon, alt]`` (NaN written as null; a command whose x, y are
not a position, DO_DIGICAM_CONTROL's shooting command, keeps them as plain numbers). rackscan keeps
what QGC has no field for (bins per leg, the sortie's plan summary) under a top-level ``rackscan``
key, which QGC ignores.

A plan made or edited in QGroundControl flies when every item is a SimpleItem with a command of
``flight.mission.COMMAND_NAMES`` (navigation, loiter, delay, jump, speed, heading, ROI, gimbal and
camera commands ArduCopter runs in AUTO); a ComplexItem (survey, structure scan, corridor scan) is
refused with the advice to convert it to simple waypoints in QGroundControl. The version fields are
checked as QGroundControl loads a plan: fileType "Plan", version 1, mission.version 2,
geoFence.version 2, rallyPoints.version 2 (QGroundControl silently drops a version 1 fence; here it
is refused rather than flown without its fence); groundStation is not checked. ArduCopter refuses
NaN in any param but the yaw (param4) of a waypoint, takeoff or land, so a null there is refused
here, naming the item, before anything is uploaded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from flight.errors import FlightError
from flight.mission import (COMMAND_NAMES, FRAME_GLOBAL_INT, FRAME_GLOBAL_RELATIVE_ALT_INT, FRAME_GLOBAL_TERRAIN_ALT_INT,
                            DO_JUMP, NAV_LAND, NAV_TAKEOFF, NAV_WAYPOINT, XY_NOT_POSITION, FenceCircle, FencePolygon, MavItem,
                            MavlinkPlan, Mission, RallyPoint, command_name, mavlink_to_mission, mission_to_mavlink)

FILE_FRAME = {FRAME_GLOBAL_RELATIVE_ALT_INT: 3, FRAME_GLOBAL_INT: 0, FRAME_GLOBAL_TERRAIN_ALT_INT: 10}
WIRE_FRAME = {3: FRAME_GLOBAL_RELATIVE_ALT_INT, 0: FRAME_GLOBAL_INT, 2: 2, 10: FRAME_GLOBAL_TERRAIN_ALT_INT}
# the version fields QGroundControl checks when it loads a plan (PlanMasterController, MissionController,
# GeoFenceController, RallyPointController)
VERSIONS = (("version", 1), ("mission.version", 2), ("geoFence.version", 2), ("rallyPoints.version", 2))
NAN_ALLOWED = {NAV_WAYPOINT: {3}, NAV_LAND: {3}, NAV_TAKEOFF: {3}}  # AP_Mission::sanity_check_params


def _num(x):
    return None if isinstance(x, float) and math.isnan(x) else x


def plan_to_json(m: Mission) -> dict:
    mav = mission_to_mavlink(m)
    items = []
    for it in mav.mission[1:]:
        alt = it.z
        x, y = (it.x, it.y) if it.command in XY_NOT_POSITION else (it.x / 1e7, it.y / 1e7)
        items.append({"type": "SimpleItem", "command": it.command, "frame": FILE_FRAME.get(it.frame, it.frame),
                      "params": [_num(it.param1), _num(it.param2), _num(it.param3), _num(it.param4), x, y, alt],
                      "autoContinue": True, "doJumpId": it.seq, "AMSLAltAboveTerrain": None, "Altitude": alt,
                      "AltitudeMode": 1})
    polygons = [{"inclusion": f.inclusion, "polygon": [list(v) for v in f.vertices_deg], "version": 1}
                for f in m.fence if isinstance(f, FencePolygon)]
    circles = [{"inclusion": f.inclusion, "circle": {"center": list(f.center_deg), "radius": f.radius_m}, "version": 1}
               for f in m.fence if isinstance(f, FenceCircle)]
    bin_ids = {str(i + 1): list(it.bin_ids) for i, it in enumerate(m.items) if it.bin_ids}
    return {
        "fileType": "Plan", "version": 1, "groundStation": "QGroundControl",
        "mission": {"version": 2, "firmwareType": 3, "vehicleType": 2, "globalPlanAltitudeMode": 1,
                    "cruiseSpeed": m.meta.get("speed_m_s", 1.0), "hoverSpeed": m.meta.get("speed_m_s", 1.0),
                    "plannedHomePosition": list(m.home), "items": items},
        "geoFence": {"version": 2, "polygons": polygons, "circles": circles},
        "rallyPoints": {"version": 2, "points": [[r.lat_deg, r.lon_deg, r.rel_alt_m] for r in m.rally]},
        "rackscan": {"bin_ids": bin_ids, "meta": m.meta},
    }


def write_plan(m: Mission, path: str | Path) -> Path:
    p = Path(path)
    p.write_text(json.dumps(plan_to_json(m), indent=2), encoding="utf-8")
    return p


def _req(d, key, where, kind):
    if not isinstance(d, dict) or key not in d:
        raise FlightError(f"{where}.{key}: required field is missing; expected {kind}")
    return d[key]


def _check_versions(data: dict, where: str) -> None:
    """The version fields as QGroundControl checks them; geoFence and rallyPoints when present."""
    for name, want in VERSIONS:
        part, _, key = name.rpartition(".")
        obj = data.get(part) if part else data
        if obj is None and part in ("geoFence", "rallyPoints"):
            continue
        got = obj.get(key) if isinstance(obj, dict) else None
        if got != want or isinstance(got, bool):
            old = " (QGroundControl's old fence format, which it ignores)" if name == "geoFence.version" and got == 1 else ""
            raise FlightError(f"{where}: {name}: {'missing' if got is None else got}{old}; expected {want} "
                              "(a QGroundControl plan of this format)")


def read_plan(path: str | Path) -> Mission:
    """Read a QGroundControl .plan file; errors name the file and the JSON path."""
    p = Path(path)
    if not p.exists():
        raise FlightError(f"{p}: mission file not found (expected a QGroundControl .plan)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FlightError(f"{p}:{exc.lineno}: malformed JSON ({exc.msg}); expected a QGroundControl .plan") from None
    except UnicodeDecodeError:
        raise FlightError(f"{p}: not UTF-8 text; expected a QGroundControl .plan (JSON)") from None
    if not isinstance(data, dict) or data.get("fileType") != "Plan":
        raise FlightError(f"{p}: fileType: expected \"Plan\" (a QGroundControl .plan file)")
    where = str(p)
    mission = _req(data, "mission", where, "the mission object")
    _check_versions(data, where)
    home = _req(mission, "plannedHomePosition", f"{where}: mission", "[lat, lon, alt]")
    if not (isinstance(home, list) and len(home) == 3 and all(isinstance(x, (int, float)) for x in home)):
        raise FlightError(f"{where}: mission.plannedHomePosition: expected [lat, lon, alt] numbers")
    mav = [MavItem(seq=0, frame=FRAME_GLOBAL_INT, command=16, current=0, autocontinue=1, param1=0, param2=0, param3=0,
                   param4=0, x=round(home[0] * 1e7), y=round(home[1] * 1e7), z=float(home[2]), mission_type=0)]
    items = _req(mission, "items", f"{where}: mission", "a list of mission items")
    if not isinstance(items, list):
        raise FlightError(f"{where}: mission.items: expected a list of mission items")
    for i, it in enumerate(items):  # a ComplexItem first: converting it is the one thing to do
        if isinstance(it, dict) and it.get("type") == "ComplexItem":
            kind = it.get("complexItemType", "unknown")
            raise FlightError(f"{where}: mission.items[{i}]: a ComplexItem ({kind}) cannot be flown here; open the plan in "
                              "QGroundControl, select the item and use \"Convert to simple waypoints\", then save it")
    jump_ids = {it["doJumpId"]: i + 1 for i, it in enumerate(items) if isinstance(it, dict) and isinstance(it.get("doJumpId"), int)}
    for i, it in enumerate(items):
        loc = f"{where}: mission.items[{i}]"
        if not isinstance(it, dict):
            raise FlightError(f"{loc}: expected a SimpleItem object")
        if it.get("type") != "SimpleItem":
            raise FlightError(f"{loc}.type: {it.get('type')!r} is not supported; expected \"SimpleItem\"")
        params = _req(it, "params", loc, "7 numbers [p1, p2, p3, p4, lat, lon, alt]")
        if not (isinstance(params, list) and len(params) == 7 and all(x is None or isinstance(x, (int, float)) for x in params)):
            raise FlightError(f"{loc}.params: expected 7 numbers [p1, p2, p3, p4, lat, lon, alt]")
        cmd = _req(it, "command", loc, "a MAV_CMD number")
        frame = _req(it, "frame", loc, "a MAV_FRAME number")
        if not isinstance(cmd, int) or cmd not in COMMAND_NAMES:
            raise FlightError(f"{loc}.command: {cmd} ({command_name(cmd) if isinstance(cmd, int) else 'not a number'}) is "
                              "not a command rackscan flies; expected one of "
                              + ", ".join(f"{n} {c}" for c, n in sorted(COMMAND_NAMES.items())))
        if not isinstance(frame, int) or frame not in WIRE_FRAME:
            raise FlightError(f"{loc}.frame: {frame}; expected 3 (relative to home), 0 (AMSL), 10 (above terrain) "
                              "or 2 (no position)")
        bad = [k for k in range(4) if params[k] is None and k not in NAN_ALLOWED.get(cmd, ())]
        if bad:
            raise FlightError(f"{loc}.params[{bad[0]}]: null (NaN) in {COMMAND_NAMES[cmd]}, which ArduCopter refuses "
                              "(MAV_MISSION_INVALID_PARAM); expected a number")
        pv = [float("nan") if x is None else float(x) for x in params]
        if cmd == DO_JUMP:  # QGroundControl writes the target's doJumpId and uploads its sequence number
            if pv[0] not in jump_ids:
                raise FlightError(f"{loc}.params[0]: DO_JUMP to doJumpId {params[0]}, which no item has; expected the "
                                  "doJumpId of an item of this plan")
            pv[0] = float(jump_ids[pv[0]])
        if cmd in XY_NOT_POSITION:
            x, y = int(pv[4]) if pv[4] == pv[4] else 0, int(pv[5]) if pv[5] == pv[5] else 0
        else:
            x, y = (round(pv[4] * 1e7) if pv[4] == pv[4] else 0), (round(pv[5] * 1e7) if pv[5] == pv[5] else 0)
        mav.append(MavItem(seq=i + 1, frame=WIRE_FRAME[frame], command=cmd, current=0, autocontinue=1,
                           param1=pv[0], param2=pv[1], param3=pv[2], param4=pv[3], x=x, y=y,
                           z=pv[6] if pv[6] == pv[6] else 0.0, mission_type=0))
    fence_items = []
    gf = data.get("geoFence", {}) or {}
    for k, poly in enumerate(gf.get("polygons", []) or []):
        verts = _req(poly, "polygon", f"{where}: geoFence.polygons[{k}]", "a list of [lat, lon]")
        if not isinstance(verts, list) or len(verts) < 3:
            raise FlightError(f"{where}: geoFence.polygons[{k}].polygon: expected at least 3 [lat, lon] vertices")
        cmd = 5001 if poly.get("inclusion", True) else 5002
        for v in verts:
            fence_items.append(MavItem(seq=len(fence_items), frame=FRAME_GLOBAL_INT, command=cmd, current=0, autocontinue=1,
                                       param1=len(verts), param2=0, param3=0, param4=0, x=round(v[0] * 1e7),
                                       y=round(v[1] * 1e7), z=0.0, mission_type=1))
    for k, c in enumerate(gf.get("circles", []) or []):
        circ = _req(c, "circle", f"{where}: geoFence.circles[{k}]", "{center, radius}")
        cmd = 5003 if c.get("inclusion", True) else 5004
        fence_items.append(MavItem(seq=len(fence_items), frame=FRAME_GLOBAL_INT, command=cmd, current=0, autocontinue=1,
                                   param1=float(circ["radius"]), param2=0, param3=0, param4=0, x=round(circ["center"][0] * 1e7),
                                   y=round(circ["center"][1] * 1e7), z=0.0, mission_type=1))
    rally_items = []
    for k, pt in enumerate((data.get("rallyPoints", {}) or {}).get("points", []) or []):
        if not (isinstance(pt, list) and len(pt) == 3):
            raise FlightError(f"{where}: rallyPoints.points[{k}]: expected [lat, lon, alt]")
        rally_items.append(MavItem(seq=k, frame=FRAME_GLOBAL_RELATIVE_ALT_INT, command=5100, current=0, autocontinue=1,
                                   param1=0, param2=0, param3=0, param4=0, x=round(pt[0] * 1e7), y=round(pt[1] * 1e7),
                                   z=float(pt[2]), mission_type=2))
    extra = data.get("rackscan", {}) or {}
    bin_ids = {int(k): tuple(v) for k, v in (extra.get("bin_ids", {}) or {}).items()}
    m = mavlink_to_mission(MavlinkPlan(mission=tuple(mav), fence=tuple(fence_items), rally=tuple(rally_items)), bin_ids=bin_ids)
    return Mission(home=m.home, items=m.items, fence=m.fence, rally=m.rally, meta=extra.get("meta", {}) or {})


__all__ = ["read_plan", "write_plan", "plan_to_json", "RallyPoint"]
