"""The fleet: registry, maintenance rules and what is due, the pre-flight gate of `rackscan fly`
(an overdue battery or an unconfirmed checklist refuses the flight; --override flies and is
recorded), and a simulated flight's hours and cycles from its own telemetry."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from datasets.world import build_world
from flight.planfile import write_plan
from flight.planner import PlanOptions, plan
from flight.sim import SimConfig, SimVehicle, free_udp_port
from operations.audit import verify
from operations.errors import OperationsError
from operations.fleet import add_item, due, fleet_table, flight_log, preflight, record_service
from operations.rules import load_checklist, load_rules
from operations.telemetry import flight_figures
from rackscan.cli import main
from reconciliation import schema as S
from reconciliation.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
RACKSCAN = str(REPO / ".venv/bin/rackscan")
SCENARIO = REPO / "datasets" / "scenarios" / "default.yaml"


def _fleet(db: str, *, battery_cycles_before: float = 0) -> None:
    for args in (["airframe", "AF-1", "--model", "quad 450"],
                 ["battery", "B-1", "--cells", "3", "--capacity-mah", "3300", "--cycles-before", str(battery_cycles_before)],
                 ["camera", "CAM-1", "--model", "inspection-1080p"]):
        assert main(["fleet", "add", *args, "--db", db]) == 0


def test_shipped_rules_and_checklist_load_and_bad_ones_name_the_line(tmp_path):
    rules = load_rules()
    assert {r.id for r in rules.rules} >= {"battery_retire_cycles", "propellers", "motor_inspection", "camera_calibration"}
    assert len(load_checklist().to_confirm) >= 5
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - id: props\n    item: airframe\n    every_hours: 20\n    every_days: 3\n")
    with pytest.raises(OperationsError, match=r"rules.yaml:2: rules\[0\]: 2 limits given"):
        load_rules(bad)
    bad.write_text("rules:\n  - id: props\n    item: airframe\n    every_cycles: 20\n")
    with pytest.raises(OperationsError, match="every_cycles: applies to batteries only"):
        load_rules(bad)


def test_due_and_service(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    _fleet(db, battery_cycles_before=275)
    store = ResultsStore(db)
    ds = {(d.serial, d.rule): d for d in due(store, load_rules())}
    assert ds[("B-1", "battery_retire_cycles")].status == "due_soon"  # 275 of 300
    assert ds[("B-1", "battery_inspection")].status == "ok"  # intervals run from registration
    assert ds[("CAM-1", "camera_calibration")].status == "overdue"  # never calibrated
    assert ds[("AF-1", "propellers")].status == "ok"
    assert main(["fleet", "due", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "overdue  camera CAM-1: camera_calibration" in out and "due_soon battery B-1: battery_retire_cycles" in out
    assert main(["fleet", "service", "camera", "CAM-1", "--task", "camera_calibration", "--by", "tech", "--db", db]) == 0
    ds = {(d.serial, d.rule): d for d in due(store, load_rules())}
    assert ds[("CAM-1", "camera_calibration")].status == "ok"
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert {(d.serial, d.rule): d for d in due(store, load_rules(), now=later)}[("AF-1", "frame_inspection")].status == "overdue"
    # one-line errors
    assert main(["fleet", "service", "camera", "CAM-1", "--task", "propellers", "--by", "tech", "--db", db]) == 1
    assert main(["fleet", "add", "battery", "B-1", "--cells", "3", "--capacity-mah", "3300", "--db", db]) == 1
    assert main(["fleet", "add", "battery", "B-2", "--db", db]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("error: ") for e in err)
    assert "not a camera rule" in err[0] and "already registered" in err[1] and "--cells" in err[2]
    verify(store)  # every fleet write is on the audit chain


def test_overdue_battery_or_unconfirmed_checklist_refuses_the_flight(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    _fleet(db, battery_cycles_before=310)
    store = ResultsStore(db)
    plan_file = tmp_path / "nope.plan"  # the gate refuses before the plan is even read
    fleet = ["--airframe", "AF-1", "--battery", "B-1", "--operator", "minh", "--db", db]
    r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--record", str(tmp_path / "b"), *fleet],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "refusing to fly: overdue: battery B-1: battery_retire_cycles: 310.0 of 300 cycles" in r.stderr
    assert "checklist: not confirmed by minh" in r.stderr and not (tmp_path / "b").exists()
    # the checklist confirmed: the battery alone still refuses
    assert main(["fleet", "checklist", "--airframe", "AF-1", "--battery", "B-1", "--operator", "minh", "--all-confirmed",
                 "--db", db]) == 0
    with pytest.raises(OperationsError, match=r"refusing to fly: overdue: battery B-1: battery_retire_cycles[^;]*; expected"):
        preflight(store, load_rules(), airframe="AF-1", battery="B-1", camera=None, operator="minh")
    # a confirmation is the operator's own and lasts its window only
    with pytest.raises(OperationsError, match="checklist: not confirmed by lan"):
        preflight(store, load_rules(), airframe="AF-1", battery="B-1", camera=None, operator="lan", override="")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=61)
    with pytest.raises(OperationsError, match="checklist: not confirmed by minh"):
        preflight(store, load_rules(), airframe="AF-1", battery="B-1", camera=None, operator="minh", now=later)
    # a fresh battery passes
    assert main(["fleet", "add", "battery", "B-2", "--cells", "3", "--capacity-mah", "3300", "--db", db]) == 0
    assert main(["fleet", "checklist", "--airframe", "AF-1", "--battery", "B-2", "--operator", "minh", "--all-confirmed",
                 "--db", db]) == 0
    gate = preflight(store, load_rules(), airframe="AF-1", battery="B-2", camera=None, operator="minh")
    assert not gate.problems and gate.checklist_id and gate.override_id is None


@pytest.fixture(scope="module")
def a01(tmp_path_factory):
    world = build_world(SCENARIO)
    p = plan(world.site, world.camera, PlanOptions(aisles=("A01",)))
    return p.missions[0], write_plan(p.missions[0], tmp_path_factory.mktemp("plan") / "mission.plan")


def test_sim_flight_logged_with_hours_and_cycles_from_its_telemetry_and_the_override_recorded(tmp_path, a01):
    mission, plan_file = a01
    db = f"sqlite:///{tmp_path / 'r.db'}"
    _fleet(db, battery_cycles_before=310)  # overdue: only --override flies it
    assert main(["fleet", "checklist", "--airframe", "AF-1", "--battery", "B-1", "--operator", "minh", "--all-confirmed",
                 "--db", db]) == 0
    home, port = mission.home, free_udp_port()
    cfg = SimConfig(speedup=25, ekf_ready_s=2.0, home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2])
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        r = subprocess.run([RACKSCAN, "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{port}", "--record",
                            str(tmp_path / "night1"), "--airframe", "AF-1", "--battery", "B-1", "--camera-serial", "CAM-1",
                            "--operator", "minh", "--override", "last flight before the new packs arrive", "--db", db],
                           capture_output=True, text=True, timeout=600)
    finally:
        veh.stop()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "overridden (last flight before the new packs arrive): overdue: battery B-1" in r.stdout
    assert "logged flight night1" in r.stdout
    store = ResultsStore(db)
    log = flight_log(store)
    assert len(log) == 1
    row = log.iloc[0]
    assert (row.airframe, row.battery, row.camera, row.operator, row.status) == ("AF-1", "B-1", "CAM-1", "minh", "complete")
    assert row.override_reason == "last flight before the new packs arrive" and row.checklist_id
    # the figures follow the simulated pack: mAh counted by its monitor, drawn at its current over time
    assert row.consumed_mah == pytest.approx(veh.battery.consumed_mah, abs=0.02 * veh.battery.consumed_mah + 2)
    assert row.cycles == pytest.approx(row.consumed_mah / 3300.0)
    mean_a = row.consumed_mah * 3.6 / row.armed_s
    assert cfg.hover_current_a * 0.8 < mean_a < cfg.hover_current_a * 1.6, mean_a
    assert 0 < row.airborne_s <= row.armed_s and row.airborne_s > 0.7 * row.armed_s
    fig = flight_figures(tmp_path / "night1")
    assert fig.energy_wh == pytest.approx(row.energy_wh) and fig.energy_wh > 0
    assert fig.resting_v_start == pytest.approx(cfg.battery_cells * 4.2, abs=0.05)
    assert fig.sag_v > 0 and fig.resistance_mohm == pytest.approx(1000 * cfg.battery_resistance_ohm, rel=0.1)
    # hours and cycles add up per item
    af = fleet_table(store, "airframe").set_index("serial")
    assert af.loc["AF-1", "hours"] == pytest.approx(row.airborne_s / 3600.0) and af.loc["AF-1", "flights"] == 1
    bat = fleet_table(store, "battery").set_index("serial")
    assert bat.loc["B-1", "cycles"] == pytest.approx(310 + row.cycles)
    with store.engine.connect() as c:
        ov = c.execute(select(S.overrides)).mappings().one()
    assert ov["flight_key"] == "night1" and ov["operator"] == "minh" and "battery_retire_cycles" in ov["problems"][0]
    rep = verify(store)
    kinds = [e.kind for e in __import__("operations.audit", fromlist=["entries"]).entries(store)]
    assert {"fleet", "checklist", "override", "flight"} <= set(kinds) and rep.n_records == len(kinds)


from tests.reconciliation.conftest import postgres_url  # noqa: E402,F401 - the throwaway server fixture


@pytest.mark.postgres
def test_fleet_on_postgresql(postgres_url, tmp_path):  # noqa: F811
    import uuid

    from sqlalchemy import create_engine, text

    name = f"fleet_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    db = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    _fleet(db, battery_cycles_before=310)
    store = ResultsStore(db)
    assert main(["fleet", "checklist", "--airframe", "AF-1", "--battery", "B-1", "--operator", "minh", "--all-confirmed",
                 "--db", db]) == 0
    with pytest.raises(OperationsError, match="refusing to fly: overdue: battery B-1: battery_retire_cycles"):
        preflight(store, load_rules(), airframe="AF-1", battery="B-1", camera=None, operator="minh")
    gate = preflight(store, load_rules(), airframe="AF-1", battery="B-1", camera=None, operator="minh", override="test")
    assert gate.override_id and gate.checklist_id
    record_service(store, "airframe", "AF-1", "propellers", by="tech")
    assert {d.rule for d in due(store, load_rules()) if d.status == "overdue"} == {"battery_retire_cycles", "camera_calibration"}
    assert verify(store).n_records >= 6
    store.engine.dispose()


def test_checklist_asks_each_item_and_a_no_records_nothing(tmp_path):
    from typer.testing import CliRunner

    from rackscan.cli import app

    db = f"sqlite:///{tmp_path / 'r.db'}"
    _fleet(db)
    n = len(load_checklist().to_confirm)
    args = ["fleet", "checklist", "--airframe", "AF-1", "--battery", "B-1", "--operator", "minh", "--db", db]
    r = CliRunner().invoke(app, args, input="y\ny\nn\n")
    assert r.exit_code != 0 and "not confirmed" in str(r.exception)
    with ResultsStore(db).engine.connect() as c:
        assert c.execute(select(S.checklist_confirmations)).first() is None
    r = CliRunner().invoke(app, args, input="y\n" * n)
    assert r.exit_code == 0, r.output
    assert r.output.count("[y/N]") == n and "confirmed by minh" in r.output


def _sim_fly(mission, plan_file, record, db, battery, *extra, faults=None):
    from flight.sim import Faults

    home, port = mission.home, free_udp_port()
    cfg = SimConfig(speedup=25, ekf_ready_s=2.0, home_lat_deg=home[0], home_lon_deg=home[1], home_alt_m=home[2],
                    faults=faults or Faults())
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", cfg).start()
    try:
        return subprocess.run([RACKSCAN, "fly", str(plan_file), "--connect", f"udpin:127.0.0.1:{port}", "--record",
                               str(record), "--airframe", "AF-1", "--battery", battery, "--operator", "minh", "--db", db,
                               *extra], capture_output=True, text=True, timeout=600)
    finally:
        veh.stop()


def test_a_flight_cut_short_by_its_battery_and_resumed_on_another_is_logged_per_battery(tmp_path, a01):
    from flight.sim import Faults
    from operations.savings import flight_seconds

    mission, plan_file = a01
    db = f"sqlite:///{tmp_path / 'r.db'}"
    _fleet(db)
    assert main(["fleet", "add", "battery", "B-2", "--cells", "3", "--capacity-mah", "3300", "--db", db]) == 0
    for b in ("B-1", "B-2"):
        assert main(["fleet", "checklist", "--airframe", "AF-1", "--battery", b, "--operator", "minh", "--all-confirmed",
                     "--db", db]) == 0
    r = _sim_fly(mission, plan_file, tmp_path / "r1", db, "B-1", faults=Faults(battery_voltage_at_s=60.0, battery_voltage_v=10.0))
    assert r.returncode == 0 and "--resume" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    r = _sim_fly(mission, plan_file, tmp_path / "r1", db, "B-2", "--resume")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    log = flight_log(ResultsStore(db)).set_index("flight_key")
    first, rest = log.loc["r1"], log.loc["r1.resume1"]
    assert (first.battery, first.status, rest.battery, rest.status) == ("B-1", "rtl_battery", "B-2", "complete")
    assert first.failsafes.startswith("battery_low->RTL by vehicle") and first.min_voltage_v == pytest.approx(10.0, abs=0.01)
    assert flight_seconds(ResultsStore(db))["r1"] == pytest.approx(first.airborne_s + rest.airborne_s)
