"""Small helpers shared by tests: edit nested YAML-like data in place; read a flown leg from a bundle."""

import math

DELETE = object()


def set_path(d, path, value):
    """Set (or, with ``DELETE``, remove) the item at ``path`` (keys and indexes) in nested data."""
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    if value is DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return d


def leg_telemetry(bundle, seq: int) -> tuple[list[float], list[float]]:
    """Headings (deg) and ground speeds (m/s) of a recorded flight while MISSION_CURRENT was ``seq``."""
    from flight.bundle import Bundle

    yaw, speed, cur = [], [], -1
    for _, m in Bundle(bundle).iter_mavlink(["MISSION_CURRENT", "ATTITUDE", "VFR_HUD"]):
        kind = m.get_type()
        if kind == "MISSION_CURRENT":
            cur = m.seq
        elif cur == seq and kind == "ATTITUDE":
            yaw.append(math.degrees(m.yaw) % 360.0)
        elif cur == seq and kind == "VFR_HUD":
            speed.append(m.groundspeed)
    return yaw, speed
