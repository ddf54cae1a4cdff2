"""The mission runner against the simulated ArduCopter over real MAVLink on loopback UDP: full
missions, each fault with the failsafe the profile sets, what happens when a failsafe parameter is
left at ArduCopter's default, and what the operator sees when something is wrong."""

from __future__ import annotations

import time

import numpy as np
import pytest

from flight.bundle import Bundle, BundleWriter, FlightMeta
from flight.errors import FlightError
from flight.failsafe import load_failsafe_profile
from flight.mission import FencePolygon, Mission, MissionItem, RallyPoint, mission_to_mavlink, resume_from
from flight.recorder import FlightRecorder, VehiclePose
from flight.results import CommandError, CommandResult
from flight.runner import MissionRunner, RunnerOptions
from flight.sim import Faults, SimConfig, SimVehicle, free_udp_port

D = 1 / 111_000  # degrees of latitude per metre
PROFILE = load_failsafe_profile()


def _mission(cfg: SimConfig, length_m: float = 90.0, last_m: float | None = None) -> Mission:
    """Take off, face east, three legs north (the last to ``last_m`` when given), land; a fence
    from 50 m south to 150 m north, a rally point 5 m north-east of home."""
    lat, lon = cfg.home_lat_deg, cfg.home_lon_deg
    ends = [length_m / 3, 2 * length_m / 3, last_m if last_m is not None else length_m]
    legs = [MissionItem(kind="set_yaw", yaw_deg=90.0)]
    legs += [MissionItem(kind="waypoint", lat_deg=lat + n * D, lon_deg=lon, rel_alt_m=2.0, bin_ids=(f"B{k}",))
             for k, n in enumerate(ends, start=1)]
    box = ((lat - 50 * D, lon - 50 * D), (lat + 150 * D, lon - 50 * D), (lat + 150 * D, lon + 50 * D), (lat - 50 * D, lon + 50 * D))
    return Mission(home=(lat, lon, cfg.home_alt_m),
                   items=(MissionItem(kind="takeoff", rel_alt_m=2.0), MissionItem(kind="change_speed", speed_m_s=3.0),
                          *legs, MissionItem(kind="land")),
                   fence=(FencePolygon(inclusion=True, vertices_deg=box),),
                   rally=(RallyPoint(lat_deg=lat + 5 * D, lon_deg=lon + 5 * D, rel_alt_m=3.0),))


def _fly(faults: Faults, *, options: RunnerOptions | None = None, tmp_path=None, speedup: float = 20.0,
         request_int: bool = False, last_m: float | None = None, sim: dict | None = None, mission: Mission | None = None):
    cfg = SimConfig(speedup=speedup, ekf_ready_s=2.0, seed=3, faults=faults, mission_request_int=request_int, **(sim or {}))
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    plan = mission_to_mavlink(mission or _mission(cfg, last_m=last_m))
    rec = runner = None
    try:
        writer = BundleWriter(tmp_path / "bundle", FlightMeta(flight_id="t", site_name="s"), fsync_every=2)
        runner = MissionRunner(f"udpin:127.0.0.1:{port}", options)

        def pose():
            s = runner.state
            return VehiclePose(lat_deg=s.lat_deg, lon_deg=s.lon_deg, alt_amsl_m=s.alt_amsl_m, rel_alt_m=s.rel_alt_m,
                               roll_rad=s.roll_rad, pitch_rad=s.pitch_rad, yaw_rad=s.yaw_rad)

        def camera(p):  # a tiny frame whose pixels carry the pose: enough to prove frames follow the flight
            img = np.zeros((48, 64, 3), np.uint8)
            img[..., 0] = int(min(255, p.rel_alt_m * 50))
            return img

        rec = FlightRecorder(writer, camera=camera, fps=20.0, pose=pose,
                             airborne=lambda: runner.state.armed and (runner.state.landed_state == 2 or runner.state.rel_alt_m > 0.2))
        runner._tlog = rec.tlog
        runner.connect()
        rec.start()
        runner.request_streams()
        runner.preflight()
        runner.upload_and_verify(plan)
        out = runner.fly(plan, takeoff_alt_m=2.0)
        return out, veh.snapshot(), rec, runner
    finally:
        if runner is not None:
            runner.close()
        if rec is not None:
            rec.stop("test")
        veh.stop()


def _lines(out) -> list[tuple[str, str, str]]:
    return [(e.signal.value, e.action.value, e.by) for e in out.failsafes]


# where it ends: "rally" (RTL to the rally point), "far" (the mission's end), "here" (landed where the fault came)
@pytest.mark.parametrize("case, faults, kw, status, ends, line", [
    ("clean", Faults(), {}, "complete", "far", None),
    # at speedup 8, as the link cuts: Copter disarms 10 s after arming on the ground, 0.5 s of wall time
    # at speedup 20, less than one lost takeoff's retry (0.7 s); a loaded machine then ran out of tries
    ("10% packets dropped each way", Faults(drop_pct=10.0), {"speedup": 8.0}, "complete", "far", None),
    ("battery low by voltage (SIM_BATT_VOLTAGE 10.0 on 3S) -> vehicle RTL",
     Faults(battery_voltage_at_s=24.0, battery_voltage_v=10.0), {}, "rtl_battery", "rally", ("battery_low", "RTL", "vehicle")),
    ("battery critical by voltage (9.5 V) -> vehicle LAND where it is",
     Faults(battery_voltage_at_s=24.0, battery_voltage_v=9.5), {}, "land_battery", "here", ("battery_critical", "LAND", "vehicle")),
    ("battery low, then critical, by mAh (of a 500 mAh BATT_CAPACITY) -> vehicle RTL, then LAND",
     Faults(), {"sim": {"hover_current_a": 45.0, "params": {"BATT_CAPACITY": 500}}}, "land_battery", "any",
     [("battery_low", "RTL", "vehicle"), ("battery_critical", "LAND", "vehicle")]),
    ("RTK lost -> hold -> RTL", Faults(rtk_loss_at_s=24.0), {}, "rtl_rtk", "rally", ("fix_lost", "HOLD", "runner")),
    ("RTK lost briefly (3 s, under the 5 s hold) -> hold -> continue", Faults(rtk_loss_at_s=24.0, rtk_restore_after_s=3.0), {}, "complete", "far", None),
    ("GPS gone (SIM_GPS1_ENABLE 0) -> EKF failsafe LAND", Faults(rtk_loss_at_s=24.0, rtk_loss_fix=0),
     {"options": RunnerOptions(required_fix=0)}, "land_ekf", "here", ("ekf_unhealthy", "LAND", "vehicle")),
    ("mission out of the fence -> Polygon fence breached -> vehicle RTL", Faults(), {"last_m": 170.0}, "rtl_fence",
     "rally", ("fence_breach", "RTL", "vehicle")),
    ("compass unhealthy in SYS_STATUS -> runner LAND", Faults(sensor_fail_at_s=24.0), {}, "land_sensor", "here",
     ("sensor_unhealthy", "LAND", "runner")),
    ("a pilot switches to LOITER, then LAND -> the runner does not fight", Faults(pilot_modes=((24.0, "LOITER"), (60.0, "LAND"))),
     {}, "taken_over", "here", [("uncommanded_mode", "REPORT", "vehicle"), ("uncommanded_mode", "LAND", "vehicle")]),
    # link cuts fly at speedup 8: the vehicle's GCS failsafe also waits 2.25 s of wall time (18
    # vehicle seconds there), which the mission outlasts; the cut (3.75 s of wall time) is shorter
    # than the runner is told to wait before it calls the link lost, so what it sees is the
    # vehicle switching to RTL by itself
    ("link cut 30 s -> vehicle's GCS failsafe RTL", Faults(link_cut_at_s=8.0, link_cut_s=30.0),
     {"speedup": 8.0, "options": RunnerOptions(link_lost_s=6.0)}, "failsafe", "rally", ("uncommanded_mode", "RTL", "vehicle")),
])
def test_full_mission_with_fault_ends_disarmed_and_recorded(tmp_path, case, faults, kw, status, ends, line):
    out, veh, rec, runner = _fly(faults, tmp_path=tmp_path, **kw)
    assert out.status.value == status, (case, out.events)
    assert out.disarmed_on_ground and not veh.armed and veh.landed, case
    for want in [line] if isinstance(line, tuple) else line or []:
        assert want in _lines(out), (case, _lines(out))
    if ends == "rally":
        assert abs(veh.north_m - 5.0) < 0.6 and abs(veh.east_m - 5.0) < 0.6, (case, veh)
    elif ends == "here":
        assert 10.0 < veh.north_m < 85.0 and abs(veh.east_m) < 1.0, (case, veh)  # on the track, short of its end
    elif ends == "far":
        assert veh.north_m > 85.0 and out.resume_seq is None
    if ends != "far":
        assert out.resume_seq is not None and out.resume_seq >= 2
    # the profile's parameters are on the vehicle, each confirmed
    rec_params = {p.name: p.now for p in runner.failsafe_record.params}
    assert rec_params["FS_GCS_ENABLE"] == 1 and rec_params["BATT_FS_LOW_ACT"] == 2 and rec_params["FENCE_ENABLE"] == 1
    assert veh.params["BATT_LOW_VOLT"] == pytest.approx(10.5) and veh.params["RTL_ALT_M"] == pytest.approx(2.0)
    b = Bundle(tmp_path / "bundle")  # the bundle holds every frame captured, and the telemetry
    assert len(b) == rec.frames > 5
    assert all(b.read_frame(i).shape == (48, 64, 3) for i in range(len(b)))
    assert sum(1 for _ in b.iter_mavlink(["GLOBAL_POSITION_INT"])) > 10


def _without(name: str) -> RunnerOptions:
    return RunnerOptions(failsafe=PROFILE.model_copy(update={"params": {k: v for k, v in PROFILE.params.items() if k != name}}))


@pytest.mark.parametrize("left_default, faults, kw, what_happens", [
    # ArduCopter's FS_GCS_ENABLE 0: the vehicle flies the mission on without its ground station
    ("FS_GCS_ENABLE", Faults(link_cut_at_s=8.0, link_cut_s=30.0), {"speedup": 8.0}, "flies on"),
    # BATT_FS_LOW_ACT 0: the vehicle only warns; the runner's own voltage watch brings it back
    ("BATT_FS_LOW_ACT", Faults(battery_voltage_at_s=24.0, battery_voltage_v=10.0), {}, "runner RTL"),
    # FENCE_ENABLE 0: the uploaded fence is ignored and the vehicle leaves it
    ("FENCE_ENABLE", Faults(), {"last_m": 170.0}, "flies on"),
])
def test_each_failsafe_parameter_left_at_arducopters_default_shows(tmp_path, left_default, faults, kw, what_happens):
    out, veh, _, runner = _fly(faults, tmp_path=tmp_path, options=_without(left_default), **kw)
    assert veh.params[left_default] == 0  # ArduCopter's default, untouched
    assert out.disarmed_on_ground and not veh.armed
    if what_happens == "flies on":
        assert out.status.value == "complete" and veh.north_m > 85.0, (out.status, out.events)
    else:
        assert out.status.value == "rtl_battery" and ("battery_low", "RTL", "runner") in _lines(out), _lines(out)
        assert abs(veh.north_m - 5.0) < 0.6


def test_a_vehicle_that_asks_with_mission_request_int_gets_its_items(tmp_path):
    out, veh, _, _ = _fly(Faults(drop_pct=5.0), tmp_path=tmp_path, request_int=True)
    assert out.status.value == "complete" and not veh.armed and veh.landed and veh.north_m > 85.0


def test_link_cut_for_good_the_vehicle_returns_and_lands_by_itself(tmp_path):
    cfg = SimConfig(speedup=8.0, ekf_ready_s=2.0, seed=3, faults=Faults(link_cut_at_s=8.0, link_cut_s=None))
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        plan = mission_to_mavlink(_mission(cfg))
        r = MissionRunner(f"udpin:127.0.0.1:{port}", RunnerOptions(link_giveup_s=6.0)).connect()
        r.request_streams()
        r.preflight()
        r.upload_and_verify(plan)
        out = r.fly(plan, takeoff_alt_m=2.0)
        r.close()
        s = veh.wait_for(lambda s: not s.armed and s.landed, 30)
    finally:
        veh.stop()
    assert out.status.value == "link_lost" and out.resume_seq is not None
    assert ("link_lost", "REPORT", "runner") in _lines(out)
    assert abs(s.north_m - 5.0) < 0.6 and abs(s.east_m - 5.0) < 0.6
    assert "GCS Failsafe" in s.statustexts


def test_refused_arm_is_one_clear_error(tmp_path):
    """A typed outcome (as MAVSDK's ActionError): the command, the MAV_RESULT and the vehicle's reason."""
    with pytest.raises(CommandError, match=r"vehicle refused arming \(COMPONENT_ARM_DISARM: FAILED, try 1; "
                                           r"vehicle GUIDED, disarmed, .*\): Arm: Throttle too high") as err:
        _fly(Faults(refuse_arm_reason="Throttle too high"), tmp_path=tmp_path)
    assert err.value.command == 400 and err.value.result is CommandResult.FAILED and err.value.result.refused
    assert err.value.reason == "Arm: Throttle too high" and "\n" not in str(err.value)


@pytest.mark.parametrize("sim_params, message", [
    ({"BATT_MONITOR": 0}, "BATT_LOW_VOLT is unknown to the vehicle \\(battery monitor off\\?\\)"),
    ({"BATT_CAPACITY": 0}, "BATT_CAPACITY is 0; expected >= 500"),
])
def test_a_failsafe_that_cannot_be_set_refuses_the_flight_before_arming(tmp_path, sim_params, message):
    with pytest.raises(FlightError, match=f"refusing to arm: failsafe profile 'warehouse': .*{message}"):
        _fly(Faults(), tmp_path=tmp_path, sim={"params": sim_params})


@pytest.mark.parametrize("lost, ready", [
    (3, True),   # the first requests lost on a lossy link: asked again until each group's message comes
    (99, False),  # a vehicle that never answers: preflight names the missing EKF report, not "flags 0x0"
])
def test_stream_requests_lost_on_the_way_up_are_sent_again(lost, ready):
    cfg = SimConfig(speedup=20, ekf_ready_s=1.0, faults=Faults(lost_stream_requests=lost))
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        r = MissionRunner(f"udpin:127.0.0.1:{port}", RunnerOptions(ready_timeout_s=2.0, stream_wait_s=0.3)).connect()
        r.request_streams()
        if ready:
            r.preflight()
            assert {"SYS_STATUS", "GLOBAL_POSITION_INT", "ATTITUDE", "VFR_HUD", "EKF_STATUS_REPORT"} <= r.state.kinds_seen
        else:
            with pytest.raises(FlightError, match=r"no EKF_STATUS_REPORT from the vehicle"):
                r.preflight()
            assert any("EKF_STATUS_REPORT" in e and "6 times" in e for e in r.events)
        r.close()
    finally:
        veh.stop()


def test_rtk_required_but_only_3d_fix_is_refused_before_takeoff(tmp_path):
    cfg = SimConfig(speedup=20, ekf_ready_s=1.0, gps_fix=3)
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        r = MissionRunner(f"udpin:127.0.0.1:{port}", RunnerOptions(ready_timeout_s=2.0)).connect()
        r.request_streams()
        with pytest.raises(FlightError, match="GPS fix type 3 below the required 6"):
            r.preflight()
        r.close()
    finally:
        veh.stop()


def test_unreachable_link_is_one_clear_error():
    with pytest.raises(FlightError, match="no vehicle heartbeat within 1 s"):
        MissionRunner(f"udpin:127.0.0.1:{free_udp_port()}", RunnerOptions(heartbeat_timeout_s=1.0)).connect()


def test_signing_required_refuses_an_unsigned_vehicle():
    cfg = SimConfig(speedup=20)
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        with pytest.raises(FlightError, match="unsigned MAVLink and signing is required"):
            MissionRunner(f"udpin:127.0.0.1:{port}", RunnerOptions(signing_key=b"k" * 32, require_signing=True, heartbeat_timeout_s=2.0)).connect()
    finally:
        veh.stop()


def test_battery_rtl_then_the_continuation_reflies_the_interrupted_leg(tmp_path):
    out, veh, _, _ = _fly(Faults(battery_voltage_at_s=24.0, battery_voltage_v=10.0), tmp_path=tmp_path)
    assert out.status.value == "rtl_battery" and out.resume_seq is not None
    # a fresh battery: the continuation is its own mission, from the interrupted leg's start
    cfg = SimConfig(speedup=20, ekf_ready_s=2.0, seed=4)
    mission = _mission(cfg)
    rest = resume_from(mission, out.last_reached_seq)
    assert rest.meta["resumed_after_seq"] == out.last_reached_seq
    port = free_udp_port()
    veh2 = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        plan = mission_to_mavlink(rest)
        r = MissionRunner(f"udpin:127.0.0.1:{port}").connect()
        r.request_streams()
        r.preflight()
        r.upload_and_verify(plan)
        out2 = r.fly(plan, takeoff_alt_m=2.0)
        r.close()
        s = veh2.snapshot()
    finally:
        veh2.stop()
    assert out2.status.value == "complete" and not s.armed and s.landed and s.north_m > 85.0
    # every leg the first flight did not finish was flown, in the plan's numbering
    flown = {rest.meta["seq_map"][q] for q in r.state.reached if q < len(rest.meta["seq_map"])}
    legs = {i + 1 for i, it in enumerate(mission.items) if it.bin_ids}
    assert legs - set(range(1, out.last_reached_seq + 1)) <= flown



def test_a_sudden_voltage_drop_is_taken_for_sag_with_batt_fs_voltsrc_1(tmp_path):
    """ArduPilot's sag compensation learns the drop as resistance (update_resistance_estimate): the
    vehicle's own voltage failsafe never comes (as measured on SITL), and the runner's raw-voltage
    watch is what brings it back."""
    params = {**PROFILE.params, "BATT_FS_VOLTSRC": PROFILE.params["BATT_FS_VOLTSRC"].model_copy(update={"set": 1})}
    out, veh, _, _ = _fly(Faults(battery_voltage_at_s=24.0, battery_voltage_v=10.0), tmp_path=tmp_path,
                          options=RunnerOptions(failsafe=PROFILE.model_copy(update={"params": params})))
    assert veh.params["BATT_FS_VOLTSRC"] == 1
    assert not any(t.startswith("Battery 1 is low") for t in veh.statustexts)
    assert out.status.value == "rtl_battery" and ("battery_low", "RTL", "runner") in _lines(out)
    assert abs(veh.north_m - 5.0) < 0.6 and out.disarmed_on_ground
