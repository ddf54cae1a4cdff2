"""`rackscan fly --fleet`: the default site split between two vehicles by `rackscan plan --drones 2`
and flown at once over MAVLink against two simulated vehicles (system ids 1 and 2, one link each);
a crossed or wrong link refused before anything arms; an operator's Ctrl-C brings every vehicle down; and
`rackscan bench fleet` end to end with battery changes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from flight.bundle import Bundle
from flight.fleet_fly import load_fleet
from flight.planfile import read_plan
from flight.sim import SimConfig, SimVehicle, free_udp_port
from rackscan.cli import main
from tests.conftest import REPO

RACKSCAN = str(REPO / ".venv/bin/rackscan")
SITE = REPO / "datasets" / "scenarios" / "default_site.yaml"
SCENARIO = REPO / "datasets" / "scenarios" / "default.yaml"


@pytest.fixture(scope="module")
def fleet_yaml(tmp_path_factory):
    d = tmp_path_factory.mktemp("fleet")
    r = subprocess.run([RACKSCAN, "plan", str(SITE), "--drones", "2", "--out", str(d / "m.plan")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rackscan fly --fleet" in r.stdout
    assert "either vehicle up to 5 s early or late over the first 60 s" in " ".join(r.stdout.split())
    doc = yaml.safe_load((d / "fleet.yaml").read_text())
    assert (doc["timing_tolerance_s"], doc["tolerance_window_s"]) == (5.0, 60.0) and doc["min_separation_m"] >= 3.0
    return d / "fleet.yaml"


def _sims(fleet_yaml: Path, sysids: dict[int, int], speedup: float = 25):
    """A simulated vehicle on each vehicle's pad, with the system id given per vehicle."""
    man = load_fleet(fleet_yaml)
    sims, links = [], []
    for v in man.vehicles:
        home = read_plan(v.missions[0]).home
        port = free_udp_port()
        sims.append(SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(
            speedup=speedup, ekf_ready_s=2.0, home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2],
            sysid=sysids[v.vehicle])).start())
        links += ["--link", f"{v.vehicle}=udpin:127.0.0.1:{port}"]
    return sims, links


def test_fly_fleet_flies_both_vehicles_at_once_and_records_a_bundle_each(tmp_path, fleet_yaml):
    sims, links = _sims(fleet_yaml, {1: 1, 2: 2})
    try:
        r = subprocess.run([RACKSCAN, "fly", "--fleet", str(fleet_yaml), "--record", str(tmp_path / "night1"), *links,
                            "--time-scale", "25"],  # the plan's start hold in vehicle seconds, as the simulators run
                           capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    finally:
        for s in sims:
            s.stop()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    tl = json.loads((tmp_path / "night1" / "fleet_timeline.json").read_text())
    assert [(s["vehicle"], s["sysid"], s["status"]) for s in tl["sorties"]] == [(1, 1, "complete"), (2, 2, "complete")]
    v1, v2 = (s for s in tl["sorties"])
    assert v1["start_ns"] < v2["end_ns"] and v2["start_ns"] < v1["end_ns"]  # in the air together
    assert tl["min_separation_m"] >= 3.0 and not tl["warnings"]
    for k, s in ((1, v1), (2, v2)):
        b = Bundle(s["record"])
        assert Path(s["record"]).name == f"night1-v{k}" and b.meta.status == "complete"
        senders = {m.get_srcSystem() for _, m in b.iter_mavlink(["HEARTBEAT"]) if m.type != 6}
        assert senders == {k}  # each bundle holds its own vehicle's link only
    for snap in (s.snapshot() for s in sims):
        assert snap.landed and not snap.armed
    out = " ".join(r.stdout.split())
    assert re.search(r"fleet complete: [0-9.]+ min wall clock, 0 battery change\(s\); closest approach in the telemetry "
                     r"[0-9.]+ m \(vehicles 1 and 2", out)


@pytest.mark.parametrize("args,fragment", [
    (["--fleet", "FLEET", "m.plan"], "--fleet with PLAN_FILE: a fleet flies the missions its fleet.yaml names"),
    (["m.plan", "--time-scale", "10"], "--time-scale 10: only with --fleet"),
])
def test_fly_options_that_do_not_go_together_are_one_line(tmp_path, capsys, fleet_yaml, args, fragment):
    args = [str(fleet_yaml) if a == "FLEET" else a for a in args]
    assert main(["fly", *args, "--record", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("sysids, bad", [
    ({1: 2, 2: 1}, {1: "the vehicle there is system 2; expected system 1", 2: "the vehicle there is system 1; expected system 2"}),
    # vehicle 1's own link is good and it would start 20 s before vehicle 2: it stays on the ground too
    ({1: 1, 2: 3}, {2: "the vehicle there is system 3; expected system 2"}),
    # vehicle 2 is off: nothing answers on its link
    ({1: 1, 2: 2}, {2: "no vehicle heartbeat within 2 s"}),
], ids=["crossed", "the later vehicle's wrong", "the later vehicle's off"])
def test_a_bad_link_keeps_every_vehicle_on_the_ground(tmp_path, fleet_yaml, sysids, bad):
    sims, links = _sims(fleet_yaml, sysids)
    if "heartbeat" in bad.get(2, ""):
        links[-1] = f"2=udpin:127.0.0.1:{free_udp_port()}"  # vehicle 2's link (the last) to a port nothing sends to
    try:
        cmd = [RACKSCAN, "fly", "--fleet", str(fleet_yaml), "--record", str(tmp_path / "x"), *links,
               "--heartbeat-timeout-s", "2", "--time-scale", "25"]  # vehicle 2's 20 s start hold as the simulators run
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
        # the same command again (the operator has not fixed it yet): refused on the links again, not
        # on the --record folder the refusal left its time line in
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
        snaps = [s.snapshot() for s in sims]
    finally:
        for s in sims:
            s.stop()
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    last = (r.stdout + r.stderr).strip().splitlines()[-1]
    assert last.startswith(f"error: --fleet {fleet_yaml}: nothing flew; link check: vehicle"), last
    assert all(f"vehicle {k}: --connect " in last and why in last for k, why in bad.items()), last
    assert again.returncode == 1 and (again.stdout + again.stderr).strip().splitlines()[-1] == last
    tl = json.loads((tmp_path / "x" / "fleet_timeline.json").read_text())
    assert tl["refused"].startswith("link check: ") and [s["status"] for s in tl["sorties"]] == ["not flown", "not flown"]
    for s in tl["sorties"]:
        assert (bad[s["vehicle"]] in s["detail"]) if s["vehicle"] in bad else s["detail"] == "another vehicle's link failed its check"
    assert all(not s.armed and s.up_m < 0.1 for s in snaps)


def test_ctrl_c_brings_every_airborne_vehicle_down(tmp_path, fleet_yaml):
    sims, links = _sims(fleet_yaml, {1: 1, 2: 2}, speedup=10)
    try:
        p = subprocess.Popen([RACKSCAN, "fly", "--fleet", str(fleet_yaml), "--record", str(tmp_path / "y"), *links,
                              "--time-scale", "10"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(s.snapshot().up_m > 2.0 for s in sims):
            time.sleep(0.2)
        assert all(s.snapshot().up_m > 2.0 for s in sims), "both vehicles should be flying"
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=300)
        snaps = [s.snapshot() for s in sims]
    finally:
        for s in sims:
            s.stop()
    assert p.returncode == 1, out[:2000] + "\n...\n" + out[-3000:]
    tl = json.loads((tmp_path / "y" / "fleet_timeline.json").read_text())
    assert tl["stopped"] and [s["status"] for s in tl["sorties"]] == ["aborted", "aborted"], (tl["sorties"], out[-4000:])
    assert all(s.landed and not s.armed for s in snaps)
    assert "stopped by the operator" in " ".join(out.split())


def test_bench_fleet_prints_throughput_separation_and_battery_changes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["bench", "fleet", str(SCENARIO), "--drones", "2", "--camera", "none", "--speedup", "25",
                 "--endurance-s", "300", "--out", str(tmp_path / "run")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "rackscan bench fleet: default.yaml, 2 vehicles, 96 bins" in out
    assert re.search(r"bins per flight hour \(per drone-hour airborne\) │ \d+ │", out)
    assert re.search(r"bins per wall-clock hour │ \d+ │", out)
    swaps = re.search(r"battery changes │ (\d+) │", out)
    assert swaps and int(swaps.group(1)) >= 2  # each vehicle's aisle takes more than one sortie on a 300 s pack
    sep = re.search(r"closest approach in the telemetry │ ([0-9.]+) m", out)
    assert sep and float(sep.group(1)) > 0
    tl = json.loads((tmp_path / "run" / "fleet" / "fleet_timeline.json").read_text())
    assert all(s["status"] == "complete" for s in tl["sorties"]) and {s["vehicle"] for s in tl["sorties"]} == {1, 2}
    assert len(tl["swaps"]) == len(tl["sorties"]) - 2 == int(swaps.group(1))
    assert main(["bench", "fleet", str(SCENARIO), "--grid", "8x8"]) == 1
    assert "--grid: a generated site has no stock to render; expected --camera none" in capsys.readouterr().err
