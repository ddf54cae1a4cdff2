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
