"""flight.watch: which signal each vehicle report raises, when, and the status a flight ends with."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flight.failsafe import Action, Signal
from flight.runner import VehicleState
from flight.watch import ACCEL, AHRS, GEOFENCE, MAG, FlightStatus, SignalMonitor, Thresholds, status_for

TH = Thresholds(low_v=10.5, low_pct=30.0, critical_pct=15.0, voltage_sustain_s=7.0, pct_sustain_s=2.0,
                sensor_sustain_s=1.0, ekf_thresh=0.8, required_fix=6)
OK = VehicleState(mode="AUTO", armed=True, landed_state=2, ekf_flags=0x3FF & ~0x80, ekf_seen=True, fix_type=6,
                  battery_pct=80.0, voltage_v=12.4, sensors_present=MAG | ACCEL | GEOFENCE | AHRS,
                  sensors_enabled=MAG | ACCEL | GEOFENCE | AHRS, sensors_health=MAG | ACCEL | GEOFENCE | AHRS)


def _run(state: VehicleState, times: list[float], *, flying: bool = True) -> list[tuple[float, Signal, bool]]:
    mon = SignalMonitor(TH)
    out = []
    for t in times:
        out += [(t, d.signal, d.from_vehicle) for d in mon.update(state, t, flying=flying)]
    return out


@pytest.mark.parametrize("case, change, first", [
    ("healthy", {}, None),
    ("ArduCopter's battery message", {"statustexts": ["Battery 1 is low 10.00V used 131 mAh"]}, (0.0, Signal.BATTERY_LOW, True)),
    ("... critical", {"statustexts": ["Battery 1 is critical 9.80V used 200 mAh"]}, (0.0, Signal.BATTERY_CRITICAL, True)),
    ("fence message", {"statustexts": ["Polygon fence breached"]}, (0.0, Signal.FENCE_BREACH, True)),
    ("EKF message", {"statustexts": ["EKF variance"]}, (0.0, Signal.EKF_UNHEALTHY, True)),
    ("GCS failsafe message", {"statustexts": ["GCS Failsafe"]}, (0.0, Signal.LINK_LOST, True)),
    ("GCS failsafe cleared is no signal", {"statustexts": ["GCS Failsafe Cleared"]}, None),
    ("voltage under BATT_LOW_VOLT, after BATT_LOW_TIMER + 2 s", {"voltage_v": 10.0}, (7.0, Signal.BATTERY_LOW, False)),
    ("voltage under critical still only counts as low", {"voltage_v": 9.0}, (7.0, Signal.BATTERY_LOW, False)),
    ("capacity under the low share, after 2 s", {"battery_pct": 25.0}, (2.0, Signal.BATTERY_LOW, False)),
    ("capacity under the critical share", {"battery_pct": 10.0}, (2.0, Signal.BATTERY_CRITICAL, False)),
    ("compass unhealthy, after 1 s", {"sensors_health": ACCEL | GEOFENCE | AHRS}, (1.0, Signal.SENSOR_UNHEALTHY, False)),
    ("a sensor not enabled does not count", {"sensors_health": ACCEL | GEOFENCE | AHRS, "sensors_enabled": ACCEL}, None),
    ("EKF without a horizontal position, after 2 s", {"ekf_flags": 0x01 | 0x80}, (2.0, Signal.EKF_UNHEALTHY, False)),
    ("EKF velocity and position variances over FS_EKF_THRESH", {"ekf_variances": (0.9, 0.9, 0.1, 0.1)},
     (2.0, Signal.EKF_UNHEALTHY, False)),
    ("one EKF variance over the threshold is not enough", {"ekf_variances": (0.1, 0.9, 0.1, 0.1)}, None),
    ("FENCE_STATUS breach", {"fence_breached": 1}, (0.0, Signal.FENCE_BREACH, True)),
    ("geofence unhealthy in SYS_STATUS", {"sensors_health": MAG | ACCEL | AHRS}, (0.0, Signal.FENCE_BREACH, True)),
    ("fix under the required one", {"fix_type": 3}, (0.0, Signal.FIX_LOST, False)),
])
def test_each_report_raises_its_signal_once_when_it_has_lasted(case, change, first):
    got = _run(replace(OK, **change), [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 6.9, 7.0, 8.0, 20.0])
    assert (got[0] if got else None) == first, (case, got)
    assert len([g for g in got if g[1] == (first[1] if first else None)]) <= 1  # once while it lasts


def test_on_the_ground_only_the_vehicles_messages_count():
    state = replace(OK, voltage_v=9.0, fix_type=0, statustexts=["Battery 1 is low 9.00V used 1 mAh"])
    assert [s for _, s, _ in _run(state, [0.0, 10.0], flying=False)] == [Signal.BATTERY_LOW]


def test_a_condition_that_clears_and_comes_back_is_a_new_signal():
    mon = SignalMonitor(TH)
    bad, good = replace(OK, fix_type=3), OK
    seen = [[d.signal for d in mon.update(s, t, flying=True)] for t, s in enumerate([bad, bad, good, bad])]
    assert seen == [[Signal.FIX_LOST], [], [], [Signal.FIX_LOST]]


@pytest.mark.parametrize("signal, action, status", [
    (Signal.BATTERY_LOW, Action.RTL, FlightStatus.RTL_BATTERY),
    (Signal.BATTERY_CRITICAL, Action.LAND, FlightStatus.LAND_BATTERY),
    (Signal.FIX_LOST, Action.HOLD, FlightStatus.RTL_RTK),
    (Signal.EKF_UNHEALTHY, Action.LAND, FlightStatus.LAND_EKF),
    (Signal.SENSOR_UNHEALTHY, Action.LAND, FlightStatus.LAND_SENSOR),
    (Signal.FENCE_BREACH, Action.RTL, FlightStatus.RTL_FENCE),
    (Signal.LINK_LOST, Action.RTL, FlightStatus.RTL_LINK),
    (Signal.UNCOMMANDED_MODE, Action.RTL, FlightStatus.FAILSAFE),
    (Signal.UNCOMMANDED_MODE, Action.REPORT, FlightStatus.TAKEN_OVER),
])
def test_the_status_names_the_signal_and_what_was_done(signal, action, status):
    assert status_for(signal, action) == status
