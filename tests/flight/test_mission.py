"""Missions: to MAVLink and back, and to a QGroundControl .plan file and back."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.errors import FlightError
from flight.mission import (FenceCircle, FencePolygon, Mission, MissionItem, RallyPoint, mavlink_to_mission,
                            mission_to_mavlink)
from flight.planfile import read_plan, write_plan

lat = st.floats(-80, 80).map(lambda x: round(x, 7))
lon = st.floats(-179, 179).map(lambda x: round(x, 7))
alt = st.floats(0.5, 20).map(lambda x: round(x, 3))


@st.composite
def missions(draw):
    items = [MissionItem(kind="takeoff", lat_deg=draw(lat), lon_deg=draw(lon), rel_alt_m=draw(alt))]
    for _ in range(draw(st.integers(0, 6))):
        k = draw(st.sampled_from(["waypoint", "change_speed", "set_yaw", "gimbal"]))
        if k == "waypoint":
            items.append(MissionItem(kind=k, lat_deg=draw(lat), lon_deg=draw(lon), rel_alt_m=draw(alt),
                                     hold_s=draw(st.sampled_from([0.0, 1.0])),
                                     bin_ids=tuple(draw(st.lists(st.sampled_from(["A01-B01-L1-P1", "A01-B03-L2-P2"]), max_size=2)))))
        elif k == "change_speed":
            items.append(MissionItem(kind=k, speed_m_s=draw(st.floats(0.2, 3).map(lambda x: round(x, 3)))))
        elif k == "set_yaw":
            items.append(MissionItem(kind=k, yaw_deg=draw(st.floats(0, 359).map(lambda x: round(x, 2)))))
        else:
            items.append(MissionItem(kind=k, gimbal_pitch_deg=draw(st.floats(-90, 20).map(lambda x: round(x, 2)))))
    items.append(MissionItem(kind=draw(st.sampled_from(["rtl", "land"])), lat_deg=0.0, lon_deg=0.0))
    fence = (FencePolygon(inclusion=True, vertices_deg=((draw(lat), draw(lon)), (draw(lat), draw(lon)), (draw(lat), draw(lon)))),
             FenceCircle(inclusion=False, center_deg=(draw(lat), draw(lon)), radius_m=2.5))
    rally = (RallyPoint(lat_deg=draw(lat), lon_deg=draw(lon), rel_alt_m=draw(alt)),)
    return Mission(home=(draw(lat), draw(lon), 9.0), items=tuple(items), fence=fence, rally=rally)


def _same(a: Mission, b: Mission):
    assert a.home == pytest.approx(b.home)
    assert len(a.items) == len(b.items)
    for x, y in zip(a.items, b.items):
        assert x.kind == y.kind
        for f in ("lat_deg", "lon_deg", "rel_alt_m", "speed_m_s", "gimbal_pitch_deg", "hold_s"):
            vx, vy = getattr(x, f), getattr(y, f)
            if x.kind in ("rtl",) and f in ("lat_deg", "lon_deg"):
                continue
            assert (vx is None and vy in (None, 0.0)) or vx == pytest.approx(vy, abs=1e-6), (f, vx, vy)
        if x.kind in ("waypoint", "set_yaw"):
            assert (x.yaw_deg is None and y.yaw_deg is None) or x.yaw_deg == pytest.approx(y.yaw_deg)
    assert a.fence == b.fence
    assert a.rally == b.rally


@settings(max_examples=60, deadline=None)
@given(missions())
def test_mavlink_round_trip(m):
    mav = mission_to_mavlink(m)
    assert [i.seq for i in mav.mission] == list(range(len(mav.mission)))
    assert mav.mission[0].command == 16  # item 0 is the home slot
    bins = {i + 1: it.bin_ids for i, it in enumerate(m.items) if it.bin_ids}
    _same(m, mavlink_to_mission(mav, bin_ids=bins))


@settings(max_examples=40, deadline=None)
@given(missions())
def test_plan_file_round_trip(tmp_path_factory, m):
    p = tmp_path_factory.mktemp("p") / "m.plan"
    write_plan(m, p)
    back = read_plan(p)
    _same(m, back)
    assert [it.bin_ids for it in back.items] == [it.bin_ids for it in m.items]


def test_plan_json_is_qgroundcontrol_shaped(tmp_path):
    m = Mission(home=(10.8, 106.6, 9.0), items=(MissionItem(kind="takeoff", lat_deg=10.8, lon_deg=106.6, rel_alt_m=1.5),
                                                MissionItem(kind="rtl")))
    d = json.loads(write_plan(m, tmp_path / "m.plan").read_text())
    assert d["fileType"] == "Plan" and d["mission"]["firmwareType"] == 3 and d["mission"]["vehicleType"] == 2
    item = d["mission"]["items"][0]
    assert item["type"] == "SimpleItem" and item["command"] == 22 and item["frame"] == 3 and len(item["params"]) == 7
    assert d["geoFence"]["version"] == 2 and d["rallyPoints"]["version"] == 2


QGC_SAMPLE = {
    "fileType": "Plan", "groundStation": "QGroundControl", "version": 1,
    "geoFence": {"circles": [], "polygons": [{"inclusion": True, "polygon": [[47.39, 8.54], [47.39, 8.55], [47.40, 8.55]], "version": 1}], "version": 2},
    "mission": {"cruiseSpeed": 15, "firmwareType": 3, "hoverSpeed": 5, "plannedHomePosition": [47.3977, 8.5456, 488],
                "vehicleType": 2, "version": 2, "globalPlanAltitudeMode": 1,
                "items": [{"AMSLAltAboveTerrain": None, "Altitude": 50, "AltitudeMode": 1, "autoContinue": True, "command": 22,
                           "doJumpId": 1, "frame": 3, "params": [0, 0, 0, None, 47.3977, 8.5456, 50], "type": "SimpleItem"},
                          {"AMSLAltAboveTerrain": None, "Altitude": 50, "AltitudeMode": 1, "autoContinue": True, "command": 16,
                           "doJumpId": 2, "frame": 3, "params": [0, 0, 0, None, 47.3985, 8.5461, 50], "type": "SimpleItem"},
                          {"autoContinue": True, "command": 20, "doJumpId": 3, "frame": 2, "params": [0, 0, 0, 0, 0, 0, 0], "type": "SimpleItem"}]},
    "rallyPoints": {"points": [[47.398, 8.546, 30]], "version": 2},
}


def test_reads_a_plan_written_by_qgroundcontrol(tmp_path):
    p = tmp_path / "qgc.plan"
    p.write_text(json.dumps(QGC_SAMPLE))
    m = read_plan(p)
    assert [i.kind for i in m.items] == ["takeoff", "waypoint", "rtl"]
    assert m.items[1].lat_deg == pytest.approx(47.3985) and m.items[1].yaw_deg is None
    assert isinstance(m.fence[0], FencePolygon) and len(m.fence[0].vertices_deg) == 3
    assert m.rally[0].rel_alt_m == 30


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda d: d.update(fileType="Mission"), 'fileType: expected "Plan"'),
        (lambda d: d["mission"].pop("items"), "mission.items: required field is missing"),
        (lambda d: d["mission"]["items"][1].update(params=[1, 2]), "mission.items[1].params: expected 7 numbers"),
        (lambda d: d["mission"]["items"][0].update(type="ComplexItem"), "mission.items[0]: a ComplexItem (unknown) cannot be flown"),
        (lambda d: d["mission"].update(plannedHomePosition=[1]), "mission.plannedHomePosition: expected [lat, lon, alt]"),
        (lambda d: d["geoFence"]["polygons"][0].update(polygon=[[1, 2]]), "geoFence.polygons[0].polygon: expected at least 3"),
        (lambda d: d["mission"]["items"][1].update(command=183), "mission.items[1].command: 183 (DO_SET_SERVO) is not a command rackscan flies"),
    ],
)
def test_bad_plan_files(tmp_path, mutate, fragment):
    d = json.loads(json.dumps(QGC_SAMPLE))
    mutate(d)
    p = tmp_path / "bad.plan"
    p.write_text(json.dumps(d))
    with pytest.raises(FlightError) as e:
        read_plan(p)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_malformed_json_names_the_line(tmp_path):
    p = tmp_path / "m.plan"
    p.write_text('{\n  "fileType": "Plan",\n  oops\n}')
    with pytest.raises(FlightError, match=r"m.plan:3: malformed JSON"):
        read_plan(p)
