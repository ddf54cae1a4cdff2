"""Small helpers shared by tests: edit nested YAML-like data in place; read a flown leg from a bundle;
the default scenario with a narrowed aisle for a left and right camera pair."""

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


def low_fixes_away_from(bundle, seq: int, below_rel_alt_m: float, home_deg: tuple[float, float],
                        target_deg: tuple[float, float], *, clear_m: float = 3.0) -> list[tuple[float, float]]:
    """Fixes of a recorded flight before MISSION_CURRENT reached ``seq``, lower than
    ``below_rel_alt_m`` and more than ``clear_m`` from both home and ``target_deg``: (metres from
    the target, relative altitude). Empty when every descent below that height was over home or
    straight down onto the target."""
    from flight.bundle import Bundle

    out, cur = [], -1
    k = 111_320.0 * math.cos(math.radians(target_deg[0]))

    def dist(lat, lon, ref):
        return math.hypot((lat - ref[0]) * 111_320.0, (lon - ref[1]) * k)

    for _, m in Bundle(bundle).iter_mavlink(["MISSION_CURRENT", "GLOBAL_POSITION_INT"]):
        if m.get_type() == "MISSION_CURRENT":
            cur = m.seq
            if cur >= seq:
                break
        elif (m.lat or m.lon) and m.relative_alt / 1000 < below_rel_alt_m:  # 0, 0: no position yet
            lat, lon = m.lat / 1e7, m.lon / 1e7
            if dist(lat, lon, home_deg) > clear_m and dist(lat, lon, target_deg) > clear_m:
                out.append((round(dist(lat, lon, target_deg), 2), m.relative_alt / 1000))
    return out


CROSSING_HEADING = {1: 180.0, 2: 270.0}  # each vehicle turns to look across its way (as at a rack face)


def crossing_fleet(folder, *, speed_m_s: float | None = None, wait_at_crossing_s: float = 0.0,
                   start_s: dict | None = None):
    """A fleet.yaml in ``folder`` for two vehicles whose straight legs cross at one point at the same
    time: vehicle 1 west to east, vehicle 2 south to north, 14 m either side, both at 4 m, both
    landing at the far end. ``speed_m_s`` sets both speeds (DO_CHANGE_SPEED); with
    ``wait_at_crossing_s`` vehicle 2 stops over the crossing that long (a waypoint's delay), so
    vehicle 1 meets it there whatever their start times; ``start_s`` holds a vehicle back."""
    from pathlib import Path

    import yaml

    from flight.mission import Mission, MissionItem
    from flight.planfile import write_plan
    from warehouse.geodetic import GeoOrigin

    folder = Path(folder)
    o = GeoOrigin(lat_deg=10.7769, lon_deg=106.7009, alt_m=10.0)

    def geo(x, y):
        lat, lon, _ = o.site_to_geodetic([x, y, 0.0])
        return float(lat), float(lon)

    doc = {"site": "crossing", "required_separation_m": 3.0, "battery_swap_s": 0, "vehicles": []}
    for k, (start, end) in ((1, ((-14, 0), (14, 0))), (2, ((0, -14), (0, 14)))):
        home = (*geo(*start), 10.0)
        items = [MissionItem(kind="takeoff", lat_deg=home[0], lon_deg=home[1], rel_alt_m=4.0),
                 MissionItem(kind="waypoint", lat_deg=home[0], lon_deg=home[1], rel_alt_m=4.0)]
        if speed_m_s:
            items.append(MissionItem(kind="change_speed", speed_m_s=speed_m_s))
        items.append(MissionItem(kind="set_yaw", yaw_deg=CROSSING_HEADING[k]))  # the holds must not lose it
        if k == 2 and wait_at_crossing_s:
            items.append(MissionItem(kind="waypoint", lat_deg=geo(0, 0)[0], lon_deg=geo(0, 0)[1], rel_alt_m=4.0,
                                     hold_s=wait_at_crossing_s))
        items += [MissionItem(kind="waypoint", lat_deg=geo(*end)[0], lon_deg=geo(*end)[1], rel_alt_m=4.0),
                  MissionItem(kind="land", lat_deg=geo(*end)[0], lon_deg=geo(*end)[1])]
        write_plan(Mission(home=home, items=tuple(items), meta={"site_name": "crossing"}), folder / f"x.v{k}.plan")
        doc["vehicles"].append({"vehicle": k, "sysid": k, "missions": [f"x.v{k}.plan"],
                                "start_s": float((start_s or {}).get(k, 0.0))})
    (folder / "fleet.yaml").write_text(yaml.safe_dump(doc))
    return folder / "fleet.yaml"


PAIR_GAP_M = 2.8  # aisle A01 narrowed so that its middle (1.4 m) is within the 1080p camera's 1.49 m


def pair_scenario(root, mounts_yaw_deg=(-90.0, 90.0)):
    """The default scenario's camera at ``mounts_yaw_deg`` on the default site with aisle A01
    narrowed to ``PAIR_GAP_M`` (R02 moved towards R01), written under ``root``; its path."""
    from pathlib import Path

    import yaml

    scen_dir = Path(__file__).resolve().parents[1] / "datasets" / "scenarios"
    site = yaml.safe_load((scen_dir / "default_site.yaml").read_text())
    r01 = next(r for r in site["racks"] if r["id"] == "R01")
    r02 = next(r for r in site["racks"] if r["id"] == "R02")
    r02["start_m"] = [r02["start_m"][0], r01["start_m"][1] + r01["depth_m"] + PAIR_GAP_M]
    (Path(root) / "site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
    scen = yaml.safe_load((scen_dir / "default.yaml").read_text())
    scen.update(name="default-pair-narrow", site=str(Path(root) / "site.yaml"))
    scen["camera"]["mounts_yaw_deg"] = list(mounts_yaw_deg)
    path = Path(root) / f"scenario-{len(mounts_yaw_deg)}.yaml"
    path.write_text(yaml.safe_dump(scen, sort_keys=False))
    return path
