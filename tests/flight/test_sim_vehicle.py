"""The simulated ArduCopter over real MAVLink on loopback UDP."""

import os
import time

import pytest

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil  # noqa: E402

from flight.sim import Faults, SimConfig, SimVehicle  # noqa: E402


def _gcs_and_vehicle(cfg):
    gcs = mavutil.mavlink_connection("udpin:127.0.0.1:0", source_system=255, source_component=190, dialect="ardupilotmega")
    port = gcs.port.getsockname()[1]
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    return gcs, veh


def _recv(gcs, kind, timeout_s=5.0, cond=lambda m: True):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        m = gcs.recv_match(type=kind, blocking=True, timeout=0.2)
        if m is not None and cond(m):
            return m
    return None


def test_heartbeat_streams_off_until_requested_and_refused_arm():
    gcs, veh = _gcs_and_vehicle(SimConfig(speedup=10, ekf_ready_s=3.0, faults=Faults(refuse_arm_reason="Throttle too high")))
    try:
        hb = _recv(gcs, "HEARTBEAT")
        assert hb is not None and hb.type == 2 and hb.autopilot == 3 and hb.custom_mode == 0
        assert _recv(gcs, "GLOBAL_POSITION_INT", 1.0) is None  # little telemetry until asked
        gcs.mav.request_data_stream_send(1, 1, 0, 4, 1)
        assert _recv(gcs, "GLOBAL_POSITION_INT", 3.0) is not None
        ekf = _recv(gcs, "EKF_STATUS_REPORT", 5.0, lambda m: m.flags & 0x10 and not m.flags & 0x80)
        assert ekf is not None
        gcs.mav.command_long_send(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0)
        got = {}
        end = time.monotonic() + 3.0
        while time.monotonic() < end and len(got) < 2:
            m = gcs.recv_match(type=["COMMAND_ACK", "STATUSTEXT"], blocking=True, timeout=0.2)
            if m is not None and (m.get_type() == "COMMAND_ACK" and m.command == 400 or m.get_type() == "STATUSTEXT" and m.text.startswith("Arm:")):
                got[m.get_type()] = m
        assert got["COMMAND_ACK"].result == 4  # MAV_RESULT_FAILED
        assert got["STATUSTEXT"].text == "Arm: Throttle too high"
        assert not veh.snapshot().armed
    finally:
        veh.stop()
        gcs.close()


def _upload(gcs, items, mission_type, timeout_s=20.0):
    """A minimal GCS-side upload answering MISSION_REQUEST and MISSION_REQUEST_INT; with packet
    loss, the count is sent again until the vehicle asks, and the last item again until the vehicle
    asks for the next or acknowledges (its MISSION_ACK may be the packet that was lost)."""
    def send(it):
        gcs.mav.mission_item_int_send(1, 1, it.seq, it.frame, it.command, it.current, it.autocontinue, it.param1,
                                      it.param2, it.param3, it.param4, it.x, it.y, it.z, it.mission_type)

    gcs.mav.mission_count_send(1, 1, len(items), mission_type)
    end = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < end:
        m = gcs.recv_match(type=["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], blocking=True, timeout=0.5)
        if m is None:
            if last is None:
                gcs.mav.mission_count_send(1, 1, len(items), mission_type)
            else:
                send(last)
            continue
        if m.get_type() == "MISSION_ACK" and m.mission_type == mission_type:
            return m.type
        if m.get_type() != "MISSION_ACK" and m.mission_type == mission_type:
            last = items[m.seq]
            send(last)
    raise AssertionError("upload timed out")


def _guided_arm_takeoff_auto(gcs, veh, alt_m: float = 2.0):
    """GUIDED, arm, take off to ``alt_m``, AUTO: each COMMAND_LONG repeated until the vehicle's
    state shows it (commands may be dropped)."""
    for cmd, args, done in ((176, (1, 4), lambda s: s.mode == "GUIDED"), (400, (1, 0), lambda s: s.armed),
                            (22, (0, 0, 0, 0, 0, 0, alt_m), lambda s: not s.landed),
                            (176, (1, 3), lambda s: s.mode == "AUTO")):
        for _ in range(20):
            if done(veh.snapshot()):
                break
            gcs.mav.command_long_send(1, 1, cmd, 0, *args, *([0] * (7 - len(args))))
            time.sleep(0.1)


def test_full_mission_with_packet_drop_ends_disarmed_on_the_ground():
    from flight.mission import Mission, MissionItem, mission_to_mavlink

    cfg = SimConfig(speedup=20, ekf_ready_s=2.0, faults=Faults(drop_pct=10.0), seed=3)
    gcs, veh = _gcs_and_vehicle(cfg)
    try:
        assert _recv(gcs, "HEARTBEAT") is not None
        lat, lon = cfg.home_lat_deg, cfg.home_lon_deg
        m = Mission(home=(lat, lon, cfg.home_alt_m), items=(
            MissionItem(kind="takeoff", rel_alt_m=2.0),
            MissionItem(kind="change_speed", speed_m_s=3.0),
            MissionItem(kind="gimbal", gimbal_pitch_deg=-10.0),
            MissionItem(kind="set_yaw", yaw_deg=90.0),
            MissionItem(kind="waypoint", lat_deg=lat + 10 / 111_000, lon_deg=lon, rel_alt_m=2.0),
            MissionItem(kind="land"),
        ))
        plan = mission_to_mavlink(m)
        assert _upload(gcs, list(plan.mission), 0) == 0
        veh.wait_for(lambda s: s.mission_count == len(plan.mission) and s.ekf_ok, 20)
        _guided_arm_takeoff_auto(gcs, veh)
        s = veh.wait_for(lambda s: not s.armed and s.landed and s.north_m > 9.0, 30)
        assert abs(s.north_m - 10.0) < 0.5 and s.up_m == 0.0 and s.gimbal_pitch_deg == -10.0
        assert "Land complete" in s.statustexts
    finally:
        veh.stop()
        gcs.close()


def _download(gcs, n, mission_type=0):
    out = []
    for seq in range(n):
        gcs.mav.mission_request_int_send(1, 1, seq, mission_type)
        m = _recv(gcs, "MISSION_ITEM_INT", 3.0, lambda m: m.seq == seq)
        assert m is not None, seq
        out.append(m)
    return out


def test_the_vehicle_keeps_items_as_arducopter_does():
    """What ArduCopter 4.7 SITL sent back (measured): a waypoint's yaw and params 2-3 dropped, its
    delay in whole seconds, a land's param4 as its loiter direction (+1), relative-alt frame 3."""
    from dataclasses import replace

    from flight.mission import NAV_LAND, NAV_WAYPOINT, MissionItem, Mission, mission_to_mavlink, same_stored

    cfg = SimConfig(speedup=10, ekf_ready_s=1.0)
    gcs, veh = _gcs_and_vehicle(cfg)
    try:
        assert _recv(gcs, "HEARTBEAT") is not None
        lat, lon = cfg.home_lat_deg, cfg.home_lon_deg
        plan = mission_to_mavlink(Mission(home=(lat, lon, cfg.home_alt_m), items=(
            MissionItem(kind="takeoff", rel_alt_m=2.0),
            MissionItem(kind="set_yaw", yaw_deg=90.0),
            MissionItem(kind="waypoint", lat_deg=lat + 1e-4, lon_deg=lon, rel_alt_m=2.345, hold_s=2.0),
            MissionItem(kind="land"))))
        sent = list(plan.mission)
        sent[3] = replace(sent[3], param4=float("nan"))  # as a GCS leaving the yaw unchanged would send
        assert _upload(gcs, sent, 0) == 0
        back = _download(gcs, len(sent))
        wp, land = back[3], back[4]
        assert (wp.command, wp.frame, wp.param1, wp.param4) == (NAV_WAYPOINT, 3, 2.0, 0.0)
        assert (land.command, land.param4) == (NAV_LAND, 1.0)
        assert all(same_stored(a, b) for a, b in zip(plan.mission[1:], back[1:]))
        # a half-second delay does not survive: the verify sees it
        assert not same_stored(replace(plan.mission[3], param1=2.5), wp)
    finally:
        veh.stop()
        gcs.close()


def _fly_heading(wp_yaw_behavior):
    """Take off, CONDITION_YAW 90 (east), then fly 30 m north in AUTO; the headings seen on the leg."""
    from flight.mission import Mission, MissionItem, mission_to_mavlink

    cfg = SimConfig(speedup=20, ekf_ready_s=1.0, seed=1)
    gcs, veh = _gcs_and_vehicle(cfg)
    try:
        assert _recv(gcs, "HEARTBEAT") is not None
        if wp_yaw_behavior is not None:
            gcs.mav.param_set_send(1, 1, b"WP_YAW_BEHAVIOR", float(wp_yaw_behavior), 2)
            pv = _recv(gcs, "PARAM_VALUE", 3.0)
            assert pv is not None and pv.param_value == wp_yaw_behavior
        lat, lon = cfg.home_lat_deg, cfg.home_lon_deg
        plan = mission_to_mavlink(Mission(home=(lat, lon, cfg.home_alt_m), items=(
            MissionItem(kind="takeoff", rel_alt_m=2.0), MissionItem(kind="set_yaw", yaw_deg=90.0),
            MissionItem(kind="waypoint", lat_deg=lat + 30 / 111_000, lon_deg=lon, rel_alt_m=2.0),
            MissionItem(kind="land"))))
        assert _upload(gcs, list(plan.mission), 0) == 0
        veh.wait_for(lambda s: s.ekf_ok, 20)
        _guided_arm_takeoff_auto(gcs, veh)
        seen = []
        end = time.monotonic() + 30
        while time.monotonic() < end:
            s = veh.snapshot()
            if 8.0 < s.north_m < 25.0:
                seen.append(s.yaw_deg)
            if s.north_m > 29.0 or (s.landed and s.north_m > 5):
                break
            time.sleep(0.05)
        return seen
    finally:
        veh.stop()
        gcs.close()


def test_a_condition_yaw_holds_through_waypoints_only_with_wp_yaw_behavior_0():
    """ArduCopter: a waypoint's start turns the copter to face the next waypoint (WP_YAW_BEHAVIOR 2,
    the default) even after a CONDITION_YAW; with WP_YAW_BEHAVIOR 0 the CONDITION_YAW heading holds."""
    import numpy as np

    default = _fly_heading(None)
    held = _fly_heading(0)
    assert default and held
    assert np.median(np.abs((np.array(default) + 180) % 360 - 180)) < 10  # faces north, the next waypoint
    assert np.median(np.abs(np.array(held) - 90)) < 10  # faces east, as commanded


def test_the_vehicle_starts_from_arducopters_defaults_and_says_so_over_mavlink():
    """PARAM_REQUEST_READ answers ArduCopter's own defaults; a name it does not have gets
    PARAM_ERROR DOES_NOT_EXIST (as ArduCopter 4.7's GCS_Param); the BATT_ group hides while
    BATT_MONITOR is 0."""
    import pytest

    from flight.errors import FlightError

    gcs, veh = _gcs_and_vehicle(SimConfig(speedup=10))
    try:
        assert _recv(gcs, "HEARTBEAT") is not None
        got = {}
        for name in ("FS_GCS_ENABLE", "BATT_FS_LOW_ACT", "FENCE_ENABLE", "RTL_ALT_M", "WP_YAW_BEHAVIOR", "BATT_LOW_VOLT"):
            gcs.mav.param_request_read_send(1, 1, name.encode(), -1)
            m = _recv(gcs, "PARAM_VALUE", 3.0, lambda m, n=name: m.param_id == n)
            got[name] = m.param_value
        assert got == {"FS_GCS_ENABLE": 0, "BATT_FS_LOW_ACT": 0, "FENCE_ENABLE": 0, "RTL_ALT_M": 15,
                       "WP_YAW_BEHAVIOR": 2, "BATT_LOW_VOLT": 10.5}
        gcs.mav.param_request_read_send(1, 1, b"RTL_ALT", -1)
        err = _recv(gcs, "PARAM_ERROR", 3.0)
        assert err is not None and err.param_id == "RTL_ALT" and err.error == 1  # MAV_PARAM_ERROR_DOES_NOT_EXIST
    finally:
        veh.stop()
        gcs.close()
    gcs, veh = _gcs_and_vehicle(SimConfig(speedup=10, params={"BATT_MONITOR": 0}))
    try:
        assert _recv(gcs, "HEARTBEAT") is not None
        gcs.mav.param_request_read_send(1, 1, b"BATT_LOW_VOLT", -1)
        assert _recv(gcs, "PARAM_ERROR", 3.0) is not None
    finally:
        veh.stop()
        gcs.close()
    with pytest.raises(FlightError, match="SimConfig.params: 'NOT_A_PARAM' is not a parameter"):
        SimVehicle("udpout:127.0.0.1:9", SimConfig(params={"NOT_A_PARAM": 1}))


def test_an_estimate_that_drifts_indoors_and_simstate_says_where_the_vehicle_is():
    """drift_m_per_min: while armed the reported position (GLOBAL_POSITION_INT) walks away from
    the true one at that rate, as odometry's does; SIMSTATE, as SITL's, carries the true one."""
    import math

    cfg = SimConfig(speedup=20, ekf_ready_s=1.0, seed=5, drift_m_per_min=3.0)
    gcs, veh = _gcs_and_vehicle(cfg)
    try:
        assert _recv(gcs, "HEARTBEAT") is not None
        for stream in (mavutil.mavlink.MAV_DATA_STREAM_POSITION, mavutil.mavlink.MAV_DATA_STREAM_EXTRA1):
            gcs.mav.request_data_stream_send(1, 1, stream, 10, 1)
        veh.wait_for(lambda s: s.ekf_ok, 20)

        def gap_m():  # reported minus true, in metres (the newest GLOBAL_POSITION_INT and SIMSTATE)
            while gcs.recv_match(blocking=False) is not None:  # what queued up while we waited is old
                pass
            g = _recv(gcs, "GLOBAL_POSITION_INT")
            t = _recv(gcs, "SIMSTATE")
            dn = (g.lat - t.lat) / 1e7 * 111_320.0
            de = (g.lon - t.lng) / 1e7 * 111_320.0 * math.cos(math.radians(cfg.home_lat_deg))
            return math.hypot(dn, de), veh.snapshot().sim_time_s

        on_ground, _ = gap_m()
        assert on_ground < 0.1  # no drift before arming (the estimate's noise only)
        _guided_arm_takeoff_auto(gcs, veh)
        gap0, t0 = gap_m()
        time.sleep(1.5)  # 30 s of vehicle time at speedup 20
        gap1, t1 = gap_m()
        assert t1 - t0 > 20 and gap1 - gap0 == pytest.approx(3.0 * (t1 - t0) / 60.0, abs=0.3)
    finally:
        veh.stop()
        gcs.close()
