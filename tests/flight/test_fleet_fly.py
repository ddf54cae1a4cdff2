"""``flight.fleet_fly``: the fleet file read and refused in one line, the links per vehicle, the
sortie folders, and the closest approach measured on recorded tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.errors import FlightError
from flight.fleet_fly import load_fleet, parse_links, sortie_record_dir, telemetry_separation


def _fleet(tmp_path: Path, **over) -> Path:
    for name in ("m.v1.plan", "m.v2.plan", "m.v2.s2.plan"):
        (tmp_path / name).write_text("{}")
    doc = {"site": "s", "required_separation_m": 3.0, "battery_swap_s": 120, "bins_planned": 10, "wall_clock_s": 60.0,
           "vehicles": [{"vehicle": 1, "sysid": 1, "aisles": ["A01"], "missions": ["m.v1.plan"], "start_s": 0.0},
                        {"vehicle": 2, "sysid": 2, "aisles": ["A02"], "missions": ["m.v2.plan", "m.v2.s2.plan"],
                         "start_s": 10}]}
    doc.update(over)
    p = tmp_path / "fleet.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_load_fleet_reads_what_plan_drones_writes(tmp_path):
    m = load_fleet(_fleet(tmp_path))
    assert [v.sysid for v in m.vehicles] == [1, 2] and m.battery_swap_s == 120.0 and m.required_separation_m == 3.0
    assert m.vehicles[1].missions == (tmp_path / "m.v2.plan", tmp_path / "m.v2.s2.plan") and m.vehicles[1].start_s == 10.0


V2 = {"vehicle": 2, "sysid": 2, "missions": ["m.v2.plan"], "start_s": 0}


@pytest.mark.parametrize("over, says", [
    ({"vehicles": []}, "vehicles: []; expected a list of one or more vehicles"),
    ({"vehicles": [{**V2, "sysid": 0}]}, "vehicles[0].sysid: 0; expected 1-255"),
    ({"vehicles": [V2, {**V2, "vehicle": 3}]}, "vehicles[1].sysid: 2 again; expected one system id per vehicle"),
    ({"vehicles": [{**V2, "missions": ["gone.plan"]}]}, "vehicles[0].missions[0]:"),
    ({"vehicles": [{**V2, "start_s": -5}]}, "vehicles[0].start_s: -5.0; expected >= 0"),
    ({"vehicles": [{**V2, "sysid": "two"}]}, "vehicles[0].sysid: 'two'; expected a MAVLink system id 1-255"),
    ({"vehicles": [{k: v for k, v in V2.items() if k != "missions"}]}, "vehicles[0].missions: missing"),
    ({"battery_swap_s": -1}, "battery_swap_s: -1; expected seconds >= 0"),
])
def test_a_bad_fleet_file_is_refused_in_one_line_naming_the_field(tmp_path, over, says):
    with pytest.raises(FlightError) as e:
        load_fleet(_fleet(tmp_path, **over))
    assert says in str(e.value) and str(tmp_path / "fleet.yaml") in str(e.value) and "\n" not in str(e.value)


def test_a_fleet_file_that_is_not_yaml_or_not_there(tmp_path):
    bad = tmp_path / "fleet.yaml"
    bad.write_text("vehicles: [\n  {vehicle: 1,\n")
    with pytest.raises(FlightError, match=r"fleet.yaml:\d+: not YAML"):
        load_fleet(bad)
    with pytest.raises(FlightError, match="fleet file not found"):
        load_fleet(tmp_path / "nope.yaml")


def test_links_default_ten_ports_apart_and_can_be_named(tmp_path):
    m = load_fleet(_fleet(tmp_path))
    assert parse_links([], m) == {1: "udpin:0.0.0.0:14550", 2: "udpin:0.0.0.0:14560"}
    assert parse_links(["2=tcp:127.0.0.1:5770"], m)[2] == "tcp:127.0.0.1:5770"
    for bad, says in (("2", "expected VEHICLE=ADDRESS"), ("7=udpin:0.0.0.0:1", "no vehicle 7"),
                      ("2=udpin:0.0.0.0:14550", "two vehicles on one address")):
        with pytest.raises(FlightError, match=says):
            parse_links([bad], m)


def test_sortie_folders_are_named_after_the_fleet_flight():
    assert sortie_record_dir(Path("runs/night1"), 2, 1) == Path("runs/night1/night1-v2")
    assert sortie_record_dir(Path("runs/night1"), 2, 3) == Path("runs/night1/night1-v2-s3")


@settings(max_examples=40, deadline=None)
@given(gap=st.floats(0.5, 30.0), z=st.floats(1.0, 8.0), shift=st.floats(0.0, 5.0))
def test_separation_of_two_parallel_tracks_is_their_gap(gap, z, shift):
    t = np.arange(0.0, 20.0, 0.1)
    a = np.stack([t, np.zeros_like(t), np.full_like(t, z)], axis=1)
    b = a + [0.0, gap, 0.0]
    d, who = telemetry_separation({1: (t, a), 2: (t + shift, b)})
    # b runs ``shift`` s late along x: the closest is the gap across and the lag along
    want = float(np.hypot(gap, shift))
    assert d == pytest.approx(want, abs=0.06) and who[:2] == (1, 2)


def test_separation_leaves_out_vehicles_on_the_ground_and_needs_two():
    t = np.arange(0.0, 10.0, 0.5)
    ground = np.zeros((len(t), 3))
    assert telemetry_separation({1: (t, ground), 2: (t, ground + [1.0, 0.0, 0.0])}) == (None, None)
    assert telemetry_separation({1: (t, ground)}) == (None, None)
