"""flight.failsafe: the profile file, and the parameter values a flight needs from it (pure)."""

from __future__ import annotations

import pytest

from flight.errors import FlightError
from flight.failsafe import cells_from_voltage, load_failsafe_profile, mission_top_m, param_targets
from flight.mission import Mission, MissionItem, mission_to_mavlink


def _plan(top_m: float = 3.5):
    return mission_to_mavlink(Mission(home=(10.0, 106.0, 10.0), items=(
        MissionItem(kind="takeoff", rel_alt_m=1.0),
        MissionItem(kind="waypoint", lat_deg=10.0001, lon_deg=106.0, rel_alt_m=top_m),
        MissionItem(kind="waypoint", lat_deg=10.0002, lon_deg=106.0, rel_alt_m=0.8, bin_ids=("A",)),
        MissionItem(kind="rtl"))))


@pytest.mark.parametrize("volts, cells", [(12.6, 3), (11.1, 3), (16.8, 4), (14.8, 4), (25.2, 6), (22.2, 6), (4.2, 1)])
def test_cell_count_from_the_resting_voltage(volts, cells):
    assert cells_from_voltage(volts) == cells


@pytest.mark.parametrize("volts, capacity, want", [
    (12.6, 3300, {"BATT_LOW_VOLT": 10.5, "BATT_CRT_VOLT": 9.9, "BATT_LOW_MAH": 990, "BATT_CRT_MAH": 495}),
    (16.6, 5000, {"BATT_LOW_VOLT": 14.0, "BATT_CRT_VOLT": 13.2, "BATT_LOW_MAH": 1500, "BATT_CRT_MAH": 750}),
    (12.6, None, {"BATT_LOW_VOLT": 10.5, "BATT_CRT_VOLT": 9.9}),  # no capacity known: no mAh thresholds
])
def test_the_warehouse_profile_sets_battery_thresholds_for_the_pack(volts, capacity, want):
    got = {t.name: t.value for t in param_targets(load_failsafe_profile(), _plan(), battery_v=volts, capacity_mah=capacity)}
    assert {k: got.get(k) for k in ("BATT_LOW_VOLT", "BATT_CRT_VOLT", "BATT_LOW_MAH", "BATT_CRT_MAH") if k in got} == want
    assert ("BATT_LOW_MAH" in got) == (capacity is not None)


def test_rtl_and_fence_altitudes_follow_the_missions_transit_altitude():
    targets = param_targets(load_failsafe_profile(), _plan(3.5), battery_v=12.6, capacity_mah=3300)
    got = {t.name: t for t in targets}
    assert mission_top_m(_plan(3.5)) == 3.5
    assert got["RTL_ALT_M"].value == 3.5 and got["FENCE_ALT_MAX"].value == 4.0
    assert got["FS_GCS_ENABLE"].value == 1 and got["BATT_FS_LOW_ACT"].value == 2 and got["FENCE_ENABLE"].value == 1
    # the checks come first: a failed one explains the parameters that follow it
    assert [t.name for t in targets[:2]] == ["BATT_MONITOR", "BATT_CAPACITY"] and targets[0].value is None
    assert targets[1].ok(3300) and not targets[1].ok(0) and targets[1].wanted() == ">= 500"


@pytest.mark.parametrize("text, message", [
    ("name: p\nbattery: {low_v_per_cell: 9}\n", "p.yaml:2: battery.low_v_per_cell: "),
    ("name: p\nbatery: {}\n", "p.yaml:2: batery: "),
    ("name: p\nparams:\n  FS_GCS_ENABLE: {why: x}\n", "p.yaml: params.FS_GCS_ENABLE.set: missing"),
    ("name: p\nrequire:\n  BATT_MONITOR: {set: 1}\n", "p.yaml: require.BATT_MONITOR: expected min: and/or max:"),
    ("name: p\nparams:\n  fs_gcs: {set: 1}\n", "is not an ArduPilot parameter name"),
    ("name: p\nbattery: {low_v_per_cell: 3.4, critical_v_per_cell: 3.5}\n", "expected critical < low"),
    ("name: p\npolicy: {battery_low: FLY_ON}\n", "p.yaml:2: policy.battery_low: "),
    ("- a list\n", "top level is list"),
])
def test_a_bad_profile_is_one_line_naming_file_and_field(tmp_path, text, message):
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(FlightError) as e:
        load_failsafe_profile(p)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
