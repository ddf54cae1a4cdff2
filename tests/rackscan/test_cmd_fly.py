"""`rackscan fly`: the planned mission of one aisle, flown over UDP against the simulated vehicle
(started from ArduCopter's default parameters) with the synthetic virtual camera recording; the
failsafe profile set before arming; an interrupted flight resumed as a mission of its own; and
the one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from datasets.world import build_world
from flight.bundle import Bundle
from flight.planfile import write_plan
from flight.planner import PlanOptions, plan
from flight.sim import Faults, SimConfig, SimVehicle, free_udp_port
from tests.helpers import leg_telemetry, low_fixes_away_from

REPO = Path(__file__).resolve().parents[2]
RACKSCAN = str(REPO / ".venv/bin/rackscan")
SCENARIO = REPO / "datasets" / "scenarios" / "default.yaml"


@pytest.fixture(scope="module")
def a01(tmp_path_factory):
    world = build_world(SCENARIO)
    p = plan(world.site, world.camera, PlanOptions(aisles=("A01",)))
    return world, p.missions[0], write_plan(p.missions[0], tmp_path_factory.mktemp("plan") / "mission.plan")


def _fly(mission, plan_file, record, cfg_kw: dict, *extra):
    home = mission.home
    port = free_udp_port()
    cfg = SimConfig(speedup=25, ekf_ready_s=2.0, home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2], **cfg_kw)
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{port}", "--record",
                            str(record), *extra], capture_output=True, text=True, timeout=600)
        return r, veh.snapshot()
    finally:
        veh.stop()


def test_fly_planned_aisle_with_the_virtual_camera(tmp_path, a01):
    world, mission, plan_file = a01
    r, snap = _fly(mission, plan_file, tmp_path / "bundle", {}, "--camera", "synthetic", "--scenario", str(SCENARIO))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((tmp_path / "bundle" / "flight_result.json").read_text())
    assert res["status"] == "complete" and res["disarmed_on_ground"] and res["failsafes"] == [], res
    assert not snap.armed and snap.landed
    # the failsafe parameters were set on the vehicle before it armed, and recorded
    fs = json.loads((tmp_path / "bundle" / "failsafe.json").read_text())
    got = {p["name"]: (p["before"], p["now"]) for p in fs["params"]}
    assert fs["profile"] == "warehouse" and fs["battery_cells"] == 3
    assert got["FS_GCS_ENABLE"] == (0, 1) and got["BATT_FS_LOW_ACT"] == (0, 2) and got["FENCE_ENABLE"] == (0, 1)
    top = max(it.rel_alt_m for it in mission.items if it.kind == "waypoint")
    assert got["RTL_ALT_M"] == (15, pytest.approx(top)) and snap.params["RTL_ALT_M"] == pytest.approx(top)
    b = Bundle(tmp_path / "bundle")
    assert b.meta.status == "complete" and len(b) > 5
    img = b.read_frame(len(b) // 2)
    assert img.shape == (world.camera.image_height_px, world.camera.image_width_px, 3)
    assert b.site().spec.name == world.site.spec.name and b.T_body_camera.shape == (4, 4)
    assert sum(1 for _ in b.iter_mavlink(["ATTITUDE"])) > 20


def test_fly_errors_are_one_line(tmp_path, a01):
    _, mission, plan_file = a01
    bad = tmp_path / "bad.plan"
    bad.write_text("{not json")
    profile = tmp_path / "fs.yaml"
    profile.write_text("name: p\nbattery: {low_v_per_cell: 9}\n")
    for args in (["fly", str(bad), "--record", str(tmp_path / "b1")],
                 ["fly", str(REPO / "nope.plan"), "--record", str(tmp_path / "b2")],
                 ["fly", str(plan_file), "--record", str(tmp_path / "b4"), "--failsafe-profile", str(profile)]):
        r = subprocess.run([RACKSCAN, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and r.stderr.strip().startswith("error:") and "\n" not in r.stderr.strip(), r.stderr
    assert "fs.yaml:2: battery.low_v_per_cell" in r.stderr
    r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{free_udp_port()}", "--record",
                        str(tmp_path / "b3"), "--heartbeat-timeout-s", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "no vehicle heartbeat within 1 s" in r.stderr
    url = f"sqlite:///{tmp_path / 'l.db'}"
    for args, msg in ((["--live"], "--live: expected --live-db URL too"),
                      (["--live-db", url, "--live", "--resume"], "--live with --resume: a continued flight is counted offline"),
                      (["--live-db", url, "--live", "--erp", str(tmp_path / "none.csv")], "none.csv: not a file"),
                      (["--live-db", url, "--live", "--erp", str(bad)], "bad.plan")):
        r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--record", str(tmp_path / "b5"), *args], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 1 and msg in r.stderr and "\n" not in r.stderr.strip(), r.stderr
    # one real device cannot be a left and right pair
    pair = REPO / "flight" / "cameras" / "inspection-4k-wide-pair.yaml"
    r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--record", str(tmp_path / "b6"), "--camera", "opencv:0",
                        "--camera-file", str(pair)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "a left and right pair, and --camera opencv:0 is one device" in r.stderr, r.stderr
    assert "\n" not in r.stderr.strip() and not (tmp_path / "b6").exists()


def test_a_vehicle_without_a_battery_monitor_is_refused_before_arming(tmp_path, a01):
    _, mission, plan_file = a01
    r, snap = _fly(mission, plan_file, tmp_path / "bundle", {"params": {"BATT_MONITOR": 0}})
    err = r.stderr.strip()
    assert r.returncode == 1 and "refusing to arm: failsafe profile 'warehouse': BATT_MONITOR is 0; expected >= 1" in err, err
    assert "\n" not in err and not snap.armed and snap.sim_time_s > 0



def test_low_battery_rtl_then_fly_resume_reflies_the_pass_facing_the_rack_at_its_speed(tmp_path, a01):
    _, mission, plan_file = a01
    r, snap = _fly(mission, plan_file, tmp_path / "bundle", {"faults": Faults(battery_voltage_at_s=100.0,
                                                                               battery_voltage_v=10.0)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    first = json.loads((tmp_path / "bundle" / "flight_result.json").read_text())
    assert first["status"] == "rtl_battery" and first["resume_seq"] and first["disarmed_on_ground"], first
    assert first["failsafes"][0]["signal"] == "battery_low" and first["failsafes"][0]["by"] == "vehicle"
    assert "--resume" in r.stdout and not snap.armed
    # a fresh battery: `--resume` builds the rest as a mission of its own and records it beside
    r2, snap2 = _fly(mission, plan_file, tmp_path / "bundle", {}, "--resume")
    assert r2.returncode == 0, r2.stdout[-3000:] + r2.stderr[-3000:]
    rest = json.loads((tmp_path / "bundle.resume1" / "flight_result.json").read_text())
    assert rest["status"] == "complete" and rest["disarmed_on_ground"] and not snap2.armed
    extra = Bundle(tmp_path / "bundle.resume1").meta.extra
    assert extra["resumed_after_seq"] == first["last_reached_plan_seq"] and extra["resume_of"].endswith("bundle")
    # the interrupted pass, flown again: facing the rack (its CONDITION_YAW) at the pass's speed
    seq_map = extra["seq_map"]
    items = mission.items
    leg = next(i for i in range(first["last_reached_plan_seq"], len(items)) if items[i].bin_ids)  # plan index
    k = seq_map.index(leg + 1)  # its seq in the continuation
    yaw, speed = leg_telemetry(tmp_path / "bundle.resume1", k)
    # the face's heading (a pass after a face's first is chained at the face: no CONDITION_YAW of its own)
    want_yaw = next(it.yaw_deg for it in reversed(items[:leg]) if it.kind == "set_yaw")
    want_speed = items[leg - 1].speed_m_s
    # down to the pass's start from straight above it at the transit altitude, never on a slant through the racks
    start = items[leg - 3]
    transit = max(it.rel_alt_m for it in items if it.kind == "waypoint")
    assert start.kind == "waypoint" and start.rel_alt_m < transit - 1.0
    assert low_fixes_away_from(tmp_path / "bundle.resume1", k, transit - 1.0, mission.home[:2],
                               (start.lat_deg, start.lon_deg)) == []
    assert len(yaw) > 10 and abs((np.median(yaw) - want_yaw + 180) % 360 - 180) < 5.0, (np.median(yaw), want_yaw)
    assert len(speed) > 10 and abs(np.median(speed) - want_speed) < 0.2 and max(speed) < want_speed + 0.3, \
        (np.median(speed), max(speed), want_speed)
    # nothing left to resume: a one-line error
    r3 = subprocess.run([RACKSCAN, "fly", str(plan_file), "--record", str(tmp_path / "bundle"), "--resume"],
                        capture_output=True, text=True, timeout=60)
    assert r3.returncode == 1 and "nothing to resume" in r3.stderr and "\n" not in r3.stderr.strip(), r3.stderr


def test_a_recount_is_flown_pass_after_pass_at_the_face(tmp_path):
    """`rackscan plan --bins` chains a face's passes at the face (no climb to transit between them):
    the simulated vehicle flies such a mission to the end, and between the first pass and the last
    its recorded height stays at the face's pass heights, never back up at the transit altitude."""
    from flight.recount import plan_recount

    world = build_world(SCENARIO)
    face = world.site.faces_of_aisle("A01")[0]
    ids = [b.bin_id for b in face.bins if b.level == 1][:3]
    rp = plan_recount(world.site, world.camera, ids)
    mission = rp.missions[0]
    transit = max(it.rel_alt_m for it in mission.items if it.kind == "waypoint")
    assert len(rp.passes) >= 3 and {p.face_id for p in rp.passes} == {face.face_id}
    assert sum(1 for it in mission.items if it.kind == "waypoint" and it.rel_alt_m == transit) == 4  # over home out and back; in, out
    plan_file = write_plan(mission, tmp_path / "recount.plan")
    r, snap = _fly(mission, plan_file, tmp_path / "bundle", {})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert json.loads((tmp_path / "bundle" / "flight_result.json").read_text())["status"] == "complete"
    assert not snap.armed and snap.landed
    alt = np.array([m.relative_alt / 1000 for _, m in Bundle(tmp_path / "bundle").iter_mavlink(["GLOBAL_POSITION_INT"])])
    lo, hi = min(p.v_m for p in rp.passes), max(p.v_m for p in rp.passes)
    first = int(np.argmax(np.abs(alt - lo) < 0.15))  # down at the face, at the first (lowest) pass
    leave = first + int(np.argmax(alt[first:] > hi + 0.5))  # above the highest pass: climbing out
    out = leave + int(np.argmax(alt[leave:] > transit - 0.3))  # at transit, leaving the aisle
    assert alt[first] == pytest.approx(lo, abs=0.15) and first < leave < out
    assert alt[first:leave].max() > hi - 0.15  # every pass height flown before climbing out, once
    assert alt[leave:out + 1].min() > hi + 0.3 and hi + 0.5 < transit - 0.5


def test_a_camera_pair_flies_down_the_aisle_middle_and_records_both_cameras(tmp_path):
    """A left and right camera pair: the vehicle flies the passes down the aisle's middle, heading
    along it, and the virtual camera records both cameras' pictures of each instant in one bundle."""
    from flight.planner import pass_heading_deg
    from tests.helpers import PAIR_GAP_M, pair_scenario

    scen = pair_scenario(tmp_path)
    world = build_world(scen)
    p = plan(world.site, world.camera, PlanOptions(aisles=("A01",)))
    assert all(ps.other_face_id for ps in p.passes)
    plan_file = write_plan(p.missions[0], tmp_path / "pair.plan")
    r, snap = _fly(p.missions[0], plan_file, tmp_path / "bundle", {}, "--camera", "synthetic", "--scenario", str(scen))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert not snap.armed and snap.landed
    b = Bundle(tmp_path / "bundle")
    cams = np.array([f.camera for f in b.frames])
    assert b.T_body_cameras.shape == (2, 4, 4) and len(b) > 10
    assert (cams[0::2] == 0).all() and (cams[1::2] == 1).all()  # each instant: left, then right
    np.testing.assert_array_equal(b.frame_times_ns[0::2], b.frame_times_ns[1::2])
    # along the passes: in the aisle's middle, heading along it
    fa = world.site.face(p.passes[0].face_id)
    heading = pass_heading_deg(world.site, world.camera, p.passes[0])
    lo, hi = min(ps.v_m for ps in p.passes), max(ps.v_m for ps in p.passes)
    mid, yaw = [], []
    for _, m in b.iter_mavlink(["GLOBAL_POSITION_INT"]):
        q = fa.site_to_face(world.site.origin.geodetic_to_site(m.lat / 1e7, m.lon / 1e7, world.site.origin.alt_m)[None])[0]
        if 0.5 < q[0] < fa.length_m - 0.5 and 0.2 < q[2] < PAIR_GAP_M - 0.2 and lo - 0.1 < m.relative_alt / 1000 < hi + 0.1:
            mid.append(q[2])
            yaw.append(m.hdg / 100)
    assert len(mid) > 20
    assert np.median(mid) == pytest.approx(PAIR_GAP_M / 2, abs=0.1)
    assert np.median(np.abs((np.array(yaw) - heading + 180) % 360 - 180)) < 5
