"""The mission runner against the simulated ArduCopter over real MAVLink on loopback UDP: full
missions, each fault, and what the operator sees when something is wrong."""

from __future__ import annotations

import time

import numpy as np
import pytest

from flight.bundle import Bundle, BundleWriter, FlightMeta
from flight.errors import FlightError
from flight.mission import FencePolygon, Mission, MissionItem, RallyPoint, mission_to_mavlink
from flight.recorder import FlightRecorder, VehiclePose
from flight.runner import MissionRunner, RunnerOptions
from flight.sim import Faults, SimConfig, SimVehicle, free_udp_port

D = 1 / 111_000  # degrees of latitude per metre


def _mission(cfg: SimConfig, length_m: float = 90.0) -> Mission:
    lat, lon = cfg.home_lat_deg, cfg.home_lon_deg
    legs = [MissionItem(kind="set_yaw", yaw_deg=90.0)]
    legs += [MissionItem(kind="waypoint", lat_deg=lat + k * length_m / 3 * D, lon_deg=lon, rel_alt_m=2.0,
                         bin_ids=(f"B{k}",)) for k in (1, 2, 3)]
    box = ((lat - 50 * D, lon - 50 * D), (lat + 150 * D, lon - 50 * D), (lat + 150 * D, lon + 50 * D), (lat - 50 * D, lon + 50 * D))
    return Mission(home=(lat, lon, cfg.home_alt_m),
                   items=(MissionItem(kind="takeoff", rel_alt_m=2.0), MissionItem(kind="change_speed", speed_m_s=3.0),
                          *legs, MissionItem(kind="land")),
                   fence=(FencePolygon(inclusion=True, vertices_deg=box),),
                   rally=(RallyPoint(lat_deg=lat + 5 * D, lon_deg=lon + 5 * D, rel_alt_m=3.0),))


def _fly(faults: Faults, *, options: RunnerOptions = RunnerOptions(), tmp_path=None, speedup: float = 20.0,
         request_int: bool = False):
    cfg = SimConfig(speedup=speedup, ekf_ready_s=2.0, seed=3, faults=faults, mission_request_int=request_int)
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    plan = mission_to_mavlink(_mission(cfg))
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
        return out, veh.snapshot(), rec
    finally:
        if rec is not None:
            rec.stop("test")
        if runner is not None:
            runner.close()
        veh.stop()


@pytest.mark.parametrize("case, faults, status, at_rally", [
    ("clean", Faults(), "complete", False),
    ("10% packets dropped each way", Faults(drop_pct=10.0), "complete", False),
    ("battery sag -> RTL, resume point", Faults(battery_sag_at_s=24.0, battery_sag_to_pct=22.0), "rtl_battery", True),
    ("RTK lost -> hold -> RTL", Faults(rtk_loss_at_s=24.0), "rtl_rtk", True),
    ("RTK lost briefly -> hold -> continue", Faults(rtk_loss_at_s=24.0, rtk_restore_after_s=30.0), "complete", False),
    ("link cut 30 s -> vehicle's GCS failsafe RTL", Faults(link_cut_at_s=24.0, link_cut_s=30.0), "failsafe", True),
])
def test_full_mission_with_fault_ends_disarmed_and_recorded(tmp_path, case, faults, status, at_rally):
    # link cuts fly at speedup 8: the vehicle's GCS failsafe also waits 2.25 s of wall time (18
    # vehicle seconds there), which the mission outlasts; the cut (3.75 s of wall time) is shorter
    # than the runner is told to wait before it calls the link lost, so what it sees is the
    # vehicle switching to RTL by itself
    cut = faults.link_cut_at_s is not None
    out, veh, rec = _fly(faults, tmp_path=tmp_path, speedup=8.0 if cut else 20.0,
                         options=RunnerOptions(link_lost_s=6.0) if cut else RunnerOptions())
    assert out.status == status, (case, out.events)
    assert out.disarmed_on_ground and not veh.armed and veh.landed, case
    if at_rally:
        assert abs(veh.north_m - 5.0) < 0.6 and abs(veh.east_m - 5.0) < 0.6, (case, veh)
        assert out.resume_seq is not None and out.resume_seq >= 2
    else:
        assert veh.north_m > 85.0 and out.resume_seq is None
    b = Bundle(tmp_path / "bundle")  # the bundle holds every frame captured, and the telemetry
    assert len(b) == rec.frames > 5
    assert all(b.read_frame(i).shape == (48, 64, 3) for i in range(len(b)))
    assert sum(1 for _ in b.iter_mavlink(["GLOBAL_POSITION_INT"])) > 10


def test_a_vehicle_that_asks_with_mission_request_int_gets_its_items(tmp_path):
    out, veh, _ = _fly(Faults(drop_pct=5.0), tmp_path=tmp_path, request_int=True)
    assert out.status == "complete" and not veh.armed and veh.landed and veh.north_m > 85.0


def test_link_cut_for_good_leaves_the_vehicle_at_the_rally_point(tmp_path):
    out, veh, _ = _fly(Faults(link_cut_at_s=24.0, link_cut_s=None), tmp_path=tmp_path, speedup=8.0,
                       options=RunnerOptions(link_giveup_s=6.0))
    assert out.status == "link_lost" and out.resume_seq is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (veh.armed or not veh.landed):
        time.sleep(0.2)
    assert not veh.armed and veh.landed and abs(veh.north_m - 5.0) < 0.6


def test_refused_arm_is_one_clear_error(tmp_path):
    with pytest.raises(FlightError, match="vehicle refused arming .*: Arm: Throttle too high"):
        _fly(Faults(refuse_arm_reason="Throttle too high"), tmp_path=tmp_path)


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


def test_battery_rtl_then_resume_flies_the_rest(tmp_path):
    out, veh, _ = _fly(Faults(battery_sag_at_s=24.0, battery_sag_to_pct=22.0), tmp_path=tmp_path)
    assert out.status == "rtl_battery" and out.resume_seq is not None
    # a fresh battery: the same mission from the resume point
    cfg = SimConfig(speedup=20, ekf_ready_s=2.0, seed=4)
    port = free_udp_port()
    veh2 = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        plan = mission_to_mavlink(_mission(cfg))
        r = MissionRunner(f"udpin:127.0.0.1:{port}").connect()
        r.request_streams()
        r.preflight()
        r.upload_and_verify(plan)
        out2 = r.fly(plan, takeoff_alt_m=2.0, start_seq=out.resume_seq)
        r.close()
        s = veh2.snapshot()
    finally:
        veh2.stop()
    assert out2.status == "complete" and min(r.state.reached) >= out.resume_seq
    assert not s.armed and s.landed and s.north_m > 85.0
