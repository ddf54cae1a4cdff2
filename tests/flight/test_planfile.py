"""QGroundControl plans made or edited outside rackscan: real sample plans from MAVSDK's test data
and a plan in QGroundControl's format with every command rackscan flies load, upload, verify and
fly against the simulated ArduCopter; complex items and wrong version fields are refused in one
line naming the file and the item or field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flight.errors import FlightError
from flight.mission import COMMAND_NAMES, mission_to_mavlink, stored_key
from flight.planfile import read_plan, write_plan
from flight.sim import Faults
from tests.flight.test_runner import _fly

PLANS = Path(__file__).resolve().parents[1] / "data" / "plans"
ALL_COMMANDS = PLANS / "qgc-copter-commands.plan"
MAVSDK_SAMPLE = PLANS / "mavsdk-qgroundcontrol_sample.plan"


@pytest.mark.parametrize("name, kinds", [
    # MAVSDK's QGroundControl sample: the takeoff keeps its (plane-only) pitch 15, so it stays a raw NAV_TAKEOFF
    ("mavsdk-qgroundcontrol_sample.plan", [("command", 22), ("waypoint", None), ("command", 2000), ("waypoint", None),
                                           ("waypoint", None), ("rtl", None)]),
    ("mavsdk-qgroundcontrol_sample_with_digicam_control.plan", [("command", 203)]),
])
def test_real_qgroundcontrol_plans_load(name, kinds):
    m = read_plan(PLANS / name)
    assert [(it.kind, it.command) for it in m.items] == kinds


def test_every_command_rackscan_flies_survives_the_file_and_the_wire(tmp_path):
    m = read_plan(ALL_COMMANDS)
    mav = mission_to_mavlink(m)
    written = json.loads(ALL_COMMANDS.read_text())["mission"]["items"]
    assert [it.command for it in mav.mission[1:]] == [it["command"] for it in written]
    # all but LOITER_UNLIM (it would never end the flight) and RTL (MAVSDK's sample ends with it)
    assert {it["command"] for it in written} == set(COMMAND_NAMES) - {17, 20}
    assert mav.mission[20].param1 == 6  # DO_JUMP's doJumpId 6 is sequence number 6
    assert (mav.mission[13].x, mav.mission[13].y) == (1, 0)  # DIGICAM_CONTROL's shoot command, not a latitude
    back = mission_to_mavlink(read_plan(write_plan(m, tmp_path / "again.plan")))
    assert [stored_key(a) for a in back.mission[1:]] == [stored_key(b) for b in mav.mission[1:]]


def test_a_qgroundcontrol_plan_with_every_command_flies_against_the_simulated_arducopter(tmp_path):
    m = read_plan(ALL_COMMANDS)
    out, veh, rec, runner = _fly(Faults(), tmp_path=tmp_path, mission=m, speedup=20.0)
    assert out.status.value == "complete", out.events
    assert out.disarmed_on_ground and veh.landed and abs(veh.north_m) < 0.6 and abs(veh.east_m) < 0.6
    ran = [cmd for _, cmd in veh.mission_log]
    assert set(ran) == {it["command"] for it in json.loads(ALL_COMMANDS.read_text())["mission"]["items"]}
    seqs = [seq for seq, _ in veh.mission_log]
    assert seqs.count(6) == 2 and seqs.count(20) == 2 and seqs.count(21) == 1  # DO_JUMP: the loop flown twice, once jumped
    assert veh.gimbal_pitch_deg == -90.0


def test_mavsdks_qgroundcontrol_sample_flies_at_its_own_home(tmp_path):
    m = read_plan(MAVSDK_SAMPLE)
    home = {"home_lat_deg": m.home[0], "home_lon_deg": m.home[1], "home_alt_m": m.home[2]}
    out, veh, rec, runner = _fly(Faults(), tmp_path=tmp_path, mission=m, speedup=40.0, sim=home)
    assert out.status.value == "complete", out.events
    assert out.disarmed_on_ground and abs(veh.north_m) < 1.0 and abs(veh.east_m) < 1.0  # RTL home
    assert (3, 2000) in veh.mission_log  # IMAGE_START_CAPTURE ran


@pytest.mark.parametrize("name, message", [
    ("mavsdk-qgroundcontrol_sample_with_survey_wrong_version.plan",
     "mission.items[1]: a ComplexItem (survey) cannot be flown here; open the plan in QGroundControl, select the item "
     "and use \"Convert to simple waypoints\""),
    ("mavsdk-qgroundcontrol_sample_with_structured_scan.plan", "mission.items[1]: a ComplexItem (StructureScan)"),
    ("mavsdk-qgroundcontrol_sample_wrong_overall_version.plan", ": version: 42; expected 1"),
    ("mavsdk-qgroundcontrol_sample_wrong_mission_version.plan", ": mission.version: 7; expected 2"),
])
def test_real_plans_qgroundcontrol_would_not_fly_are_refused_in_one_line(name, message):
    with pytest.raises(FlightError) as e:
        read_plan(PLANS / name)
    text = str(e.value)
    assert text.startswith(str(PLANS / name)) and message in text and "\n" not in text


def _edit(d: dict, path: str, value) -> None:
    *head, last = path.split(".")
    for k in head:
        d = d[int(k)] if isinstance(d, list) else d[k]
    if value is KeyError:
        del d[last]
    else:
        d[last] = value


@pytest.mark.parametrize("path, value, message", [
    ("version", 2, "version: 2; expected 1"),
    ("version", KeyError, "version: missing; expected 1"),
    ("version", True, "version: True; expected 1"),
    ("mission.version", 1, "mission.version: 1; expected 2"),
    ("geoFence.version", 1, "geoFence.version: 1 (QGroundControl's old fence format, which it ignores); expected 2"),
    ("rallyPoints.version", 3, "rallyPoints.version: 3; expected 2"),
    ("mission.items.0.type", "ComplexItem", "mission.items[0]: a ComplexItem (unknown) cannot be flown here"),
    ("mission.items.2.command", 183, "mission.items[2].command: 183 (DO_SET_SERVO) is not a command rackscan flies"),
    ("mission.items.2.frame", 7, "mission.items[2].frame: 7; expected 3 (relative to home)"),
    ("mission.items.9.params", [None, 30, 1, 0, 0, 0, 0], "mission.items[9].params[0]: null (NaN) in CONDITION_YAW"),
    ("mission.items.19.params", [99, 1, 0, 0, 0, 0, 0], "mission.items[19].params[0]: DO_JUMP to doJumpId 99"),
])
def test_wrong_fields_are_refused_naming_the_file_and_the_field(tmp_path, path, value, message):
    d = json.loads(ALL_COMMANDS.read_text())
    _edit(d, path, value)
    p = tmp_path / "edited.plan"
    p.write_text(json.dumps(d))
    with pytest.raises(FlightError) as e:
        read_plan(p)
    assert str(e.value).startswith(f"{p}: ") and message in str(e.value) and "\n" not in str(e.value)


def test_ground_station_and_optional_objects_are_not_required(tmp_path):
    d = json.loads(ALL_COMMANDS.read_text())
    del d["groundStation"], d["geoFence"], d["rallyPoints"]
    p = tmp_path / "bare.plan"
    p.write_text(json.dumps(d))
    assert len(read_plan(p).items) == 22


def test_fly_takes_the_qgroundcontrol_file_as_rackscan_fly_does(tmp_path):
    """The path of ``rackscan fly PLAN``: flight.session.fly reads the file, uploads, verifies and records."""
    from flight.session import FlyRequest, fly
    from flight.sim import SimConfig, SimVehicle, free_udp_port

    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(speedup=20, ekf_ready_s=2.0)).start()
    try:
        out = fly(FlyRequest(plan_file=ALL_COMMANDS, record=tmp_path / "bundle", connect=f"udpin:127.0.0.1:{port}"))
        snap = veh.snapshot()
    finally:
        veh.stop()
    assert out.status == "complete" and out.outcome.disarmed_on_ground, out.events
    assert (3, 206) in snap.mission_log and (14, 2000) in snap.mission_log
    rtl_alt = {p.name: p.now for p in out.failsafe.params}["RTL_ALT_M"]
    assert rtl_alt == pytest.approx(3.0)  # the plan's highest NAV item, relative to home
    assert json.loads((tmp_path / "bundle" / "flight_result.json").read_text())["status"] == "complete"
