"""A flight's figures from logs other than our own bundles: an ArduPilot DataFlash log with BAT and
ARM messages (written with the imports' DataFlash writer, read back by pymavlink), and a real 2013
APM telemetry log whose vehicle had no current sensor (no energy, no cycles: unknown, not zero)."""

from pathlib import Path

import pytest

from imports.dataflash_writer import TYPES, DataFlashWriter
from operations.errors import OperationsError
from operations.fleet import add_item, log_flight
from operations.telemetry import flight_figures
from reconciliation.store import ResultsStore

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"
# as ArduCopter 4.x logs them
BAT = (71, "QBfffffcfBB", "TimeUS,Inst,Volt,VoltR,Curr,CurrTot,EnrgTot,Temp,Res,RemPct,H")
ARM = (72, "QbIBB", "TimeUS,ArmState,ArmChecks,Forced,Method")


def _dataflash(path: Path, *, amps=20.0, r_ohm=0.015, cells=3, cap_mah=3300.0) -> Path:
    """10 s idle at 0.5 A, 300 s armed at ``amps``, 20 s idle after: a pack as the simulated one."""
    with open(path, "wb") as f:
        w = DataFlashWriter(f, {**TYPES, "BAT": BAT, "ARM": ARM})
        used = 0.0
        for k in range(0, 3301):
            t = k * 0.1
            armed = 10.0 <= t < 310.0
            i = amps if armed else 0.5
            rest = cells * (3.5 + 0.7 * max(0.0, 1 - used / cap_mah))
            if k in (100, 3100):
                w.write("ARM", t * 1e6, 1 if k == 100 else 0, 0, 0, 0)
            w.write("BAT", t * 1e6, 0, rest - r_ohm * i, rest, i, used, 0.0, 25, r_ohm, 100, 1)
            used += i * 0.1 / 3.6
    return path


def test_dataflash_battery_log(tmp_path):
    f = flight_figures(_dataflash(tmp_path / "00000042.BIN"))
    assert f.source == "dataflash" and f.armed_s == pytest.approx(300.0, abs=0.2)
    assert f.consumed_mah == pytest.approx(300 * 20 / 3.6 + 20 * 0.5 / 3.6 + 10 * 0.5 / 3.6, rel=0.01)
    assert f.peak_current_a == pytest.approx(20.0)
    assert f.resistance_mohm == pytest.approx(15.0, rel=0.05)
    assert f.resting_v_start == pytest.approx(12.6, abs=0.01)
    assert f.cycles(3300.0) == pytest.approx(f.consumed_mah / 3300.0)
    # capacity from the resting voltages before and after: the rated 3300 mAh, within the cell curve's error
    assert f.capacity_estimate_mah(3) == pytest.approx(3300.0, rel=0.05)


def test_real_apm_tlog_without_a_current_sensor(tmp_path):
    f = flight_figures(LOGS / "apm-2013-10-13-18-31-24.tlog")
    assert f.armed_s == pytest.approx(347.4, abs=0.5) and 0 < f.airborne_s < f.armed_s
    assert f.min_voltage_v == pytest.approx(11.025, abs=0.01)
    assert f.consumed_mah is None and f.energy_wh is None and f.cycles(3300) == 0.0
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    add_item(store, "airframe", "APM-1", autopilot_id="sysid 1")
    add_item(store, "airframe", "APM-2", autopilot_id="sysid 7")
    add_item(store, "battery", "B-1", cells=3, capacity_mah=2200)
    row = log_flight(store, LOGS / "apm-2013-10-13-18-31-24.tlog", airframe="APM-1", battery="B-1", camera=None,
                     operator="nick")
    assert row["flight_key"] == "apm-2013-10-13-18-31-24" and row["consumed_mah"] is None
    with pytest.raises(OperationsError, match="already in the flight log"):
        log_flight(store, LOGS / "apm-2013-10-13-18-31-24.tlog", airframe="APM-1", battery="B-1", camera=None,
                   operator="nick")
    with pytest.raises(OperationsError, match=r"autopilot sysid 1; expected airframe APM-2's sysid 7"):
        log_flight(store, LOGS / "apm-2013-10-13-18-31-24.tlog", airframe="APM-2", battery="B-1", camera=None,
                   operator="nick", flight_key="again")


def test_logs_without_a_battery_are_one_line(tmp_path):
    with pytest.raises(OperationsError, match=r"solo-log171-trimmed.bin: no battery messages \(BAT or CURR\)"):
        flight_figures(LOGS / "solo-log171-trimmed.bin")
    with pytest.raises(OperationsError, match="no such telemetry log"):
        flight_figures(tmp_path / "missing.tlog")
