"""The simulated ArduCopter over real MAVLink on loopback UDP."""

import os
import time

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
    """A minimal GCS-side upload answering MISSION_REQUEST and MISSION_REQUEST_INT."""
    gcs.mav.mission_count_send(1, 1, len(items), mission_type)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        m = gcs.recv_match(type=["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], blocking=True, timeout=0.5)
        if m is None:
            continue
        if m.get_type() == "MISSION_ACK" and m.mission_type == mission_type:
            return m.type
        if m.get_type() != "MISSION_ACK" and m.mission_type == mission_type:
            it = items[m.seq]
            gcs.mav.mission_item_int_send(1, 1, it.seq, it.frame, it.command, it.current, it.autocontinue, it.param1,
                                          it.param2, it.param3, it.param4, it.x, it.y, it.z, it.mission_type)
    raise AssertionError("upload timed out")


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
            MissionItem(kind="waypoint", lat_deg=lat + 10 / 111_000, lon_deg=lon, rel_alt_m=2.0, yaw_deg=90.0),
            MissionItem(kind="land"),
        ))
        plan = mission_to_mavlink(m)
        assert _upload(gcs, list(plan.mission), 0) == 0
        veh.wait_for(lambda s: s.mission_count == len(plan.mission) and s.ekf_ok, 20)
        for _ in range(20):  # commands may be dropped: repeat until the state shows it
            if veh.snapshot().mode == "GUIDED":
                break
            gcs.mav.command_long_send(1, 1, 176, 0, 1, 4, 0, 0, 0, 0, 0)
            time.sleep(0.1)
        for _ in range(20):
            if veh.snapshot().armed:
                break
            gcs.mav.command_long_send(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0)
            time.sleep(0.1)
        for _ in range(20):
            if not veh.snapshot().landed:
                break
            gcs.mav.command_long_send(1, 1, 22, 0, 0, 0, 0, 0, 0, 0, 2.0)
            time.sleep(0.1)
        for _ in range(20):
            if veh.snapshot().mode == "AUTO":
                break
            gcs.mav.command_long_send(1, 1, 176, 0, 1, 3, 0, 0, 0, 0, 0)
            time.sleep(0.1)
        s = veh.wait_for(lambda s: not s.armed and s.landed and s.north_m > 9.0, 30)
        assert abs(s.north_m - 10.0) < 0.5 and s.up_m == 0.0 and s.gimbal_pitch_deg == -10.0
        assert "Land complete" in s.statustexts
    finally:
        veh.stop()
        gcs.close()
