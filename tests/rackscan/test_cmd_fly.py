"""`rackscan fly`: the planned mission of one aisle, flown over UDP against the simulated vehicle
with the synthetic virtual camera recording; and its one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from datasets.world import build_world
from flight.bundle import Bundle
from flight.planfile import write_plan
from flight.planner import PlanOptions, plan
from flight.sim import SimConfig, SimVehicle, free_udp_port

REPO = Path(__file__).resolve().parents[2]
RACKSCAN = str(REPO / ".venv/bin/rackscan")
SCENARIO = REPO / "datasets" / "scenarios" / "default.yaml"


def test_fly_planned_aisle_with_the_virtual_camera(tmp_path):
    world = build_world(SCENARIO)
    p = plan(world.site, world.camera, PlanOptions(aisles=("A01",)))
    plan_file = write_plan(p.missions[0], tmp_path / "mission.plan")
    home = p.missions[0].home
    port = free_udp_port()
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(speedup=25, ekf_ready_s=2.0, home_lat_deg=home[0],
                                                            home_lon_deg=home[1], home_alt_m=home[2])).start()
    try:
        r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{port}", "--record",
                            str(tmp_path / "bundle"), "--camera", "synthetic", "--scenario", str(SCENARIO)],
                           capture_output=True, text=True, timeout=600)
        snap = veh.snapshot()
    finally:
        veh.stop()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((tmp_path / "bundle" / "flight_result.json").read_text())
    assert res["status"] == "complete" and res["disarmed_on_ground"], res
    assert not snap.armed and snap.landed
    b = Bundle(tmp_path / "bundle")
    assert b.meta.status == "complete" and len(b) > 5
    img = b.read_frame(len(b) // 2)
    assert img.shape == (world.camera.image_height_px, world.camera.image_width_px, 3)
    assert b.site().spec.name == world.site.spec.name and b.T_body_camera.shape == (4, 4)
    assert sum(1 for _ in b.iter_mavlink(["ATTITUDE"])) > 20


def test_fly_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.plan"
    bad.write_text("{not json")
    for args in (["fly", str(bad), "--record", str(tmp_path / "b1")],
                 ["fly", str(REPO / "nope.plan"), "--record", str(tmp_path / "b2")]):
        r = subprocess.run([RACKSCAN, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and r.stderr.strip().startswith("error:") and "\n" not in r.stderr.strip(), r.stderr
    world = build_world(SCENARIO)
    plan_file = write_plan(plan(world.site, world.camera, PlanOptions(aisles=("A01",))).missions[0], tmp_path / "m.plan")
    r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{free_udp_port()}", "--record",
                        str(tmp_path / "b3"), "--heartbeat-timeout-s", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no vehicle heartbeat within 1 s" in r.stderr


def test_low_battery_rtl_then_fly_resume_continues_from_the_last_bin(tmp_path):
    from flight.sim import Faults

    world = build_world(SCENARIO)
    p = plan(world.site, world.camera, PlanOptions(aisles=("A01",)))
    plan_file = write_plan(p.missions[0], tmp_path / "mission.plan")
    home = p.missions[0].home
    base = dict(speedup=25, ekf_ready_s=2.0, home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2])

    def fly(cfg, *extra):
        port = free_udp_port()
        veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
        try:
            r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{port}", "--record",
                                str(tmp_path / "bundle"), *extra], capture_output=True, text=True, timeout=600)
            return r, veh.snapshot()
        finally:
            veh.stop()

    r, snap = fly(SimConfig(**base, faults=Faults(battery_sag_at_s=40.0, battery_sag_to_pct=22.0)))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    first = json.loads((tmp_path / "bundle" / "flight_result.json").read_text())
    assert first["status"] == "rtl_battery" and first["resume_seq"] and first["disarmed_on_ground"], first
    assert "--resume" in r.stdout and not snap.armed
    # a fresh battery: `--resume` picks the interrupted bundle and records the rest beside it
    r2, snap2 = fly(SimConfig(**base), "--resume")
    assert r2.returncode == 0, r2.stdout[-3000:] + r2.stderr[-3000:]
    rest = json.loads((tmp_path / "bundle.resume1" / "flight_result.json").read_text())
    assert rest["status"] == "complete" and rest["disarmed_on_ground"] and not snap2.armed
    assert Bundle(tmp_path / "bundle.resume1").meta.extra["start_seq"] == first["resume_seq"]
    # nothing left to resume: a one-line error
    r3 = subprocess.run([RACKSCAN, "fly", str(plan_file), "--record", str(tmp_path / "bundle"), "--resume"],
                        capture_output=True, text=True, timeout=60)
    assert r3.returncode == 1 and "nothing to resume" in r3.stderr and "\n" not in r3.stderr.strip(), r3.stderr
