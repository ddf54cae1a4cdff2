"""``rackscan fleet``: the fleet registry (add, list, retire), maintenance (due, service), the
pre-flight checklist confirmation, and logging a flight's figures from its telemetry."""

from __future__ import annotations

from pathlib import Path

import typer

DB = "sqlite:///results.db"
DB_HELP = "results store URL (SQLite file or PostgreSQL)"
RULES_HELP = "maintenance rules YAML (default: the shipped operations/defaults/maintenance.yaml)"


def _table(title: str, df, cols: list[str]):
    from rich.table import Table

    t = Table(title=title)
    for c in cols:
        t.add_column(c)
    for r in df[cols].itertuples(index=False):
        t.add_row(*["" if v is None or v != v else (f"{v:.2f}" if isinstance(v, float) else str(v)) for v in r])
    return t


def register(app: typer.Typer) -> None:
    fleet_app = typer.Typer(help="Fleet registry, flight log, maintenance and the pre-flight checklist.",
                            no_args_is_help=True)

    @fleet_app.command("add")
    def add_cmd(
        kind: str = typer.Argument(..., help="airframe, battery or camera"),
        serial: str = typer.Argument(..., help="the item's serial number (as on its label)"),
        model: str = typer.Option("", "--model", help="make and model"),
        cells: int = typer.Option(None, "--cells", help="battery: cell count (3 for 3S)"),
        capacity_mah: float = typer.Option(None, "--capacity-mah", help="battery: rated capacity, mAh"),
        cycles_before: float = typer.Option(None, "--cycles-before", help="battery: cycles it had before registration"),
        hours_before_h: float = typer.Option(None, "--hours-before-h", help="airframe: hours flown before registration"),
        autopilot_id: str = typer.Option(None, "--autopilot-id", help="airframe: the autopilot's id as the flight log shows it (e.g. 'sysid 1'); a flight logged from another autopilot is refused"),
        camera_file: str = typer.Option(None, "--camera-file", help="camera: its calibration YAML"),
        notes: str = typer.Option("", "--notes"),
        by: str = typer.Option("", "--by", help="who registers it"),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Register an airframe, battery or camera by its serial."""
        from operations.errors import OperationsError
        from operations.fleet import add_item
        from reconciliation.store import ResultsStore

        fields = dict(model=model, notes=notes)
        per_kind = {"battery": dict(cells=cells, capacity_mah=capacity_mah, cycles_before=cycles_before),
                    "airframe": dict(hours_before_h=hours_before_h, autopilot_id=autopilot_id),
                    "camera": dict(camera_file=camera_file)}
        if kind not in per_kind:
            raise OperationsError(f"kind {kind!r}; expected airframe, battery or camera")
        for k, fs in per_kind.items():
            for name, v in fs.items():
                if v is not None and k != kind:
                    opt = "--" + name.replace("_", "-")
                    plural = {"battery": "batteries", "airframe": "airframes", "camera": "cameras"}[k]
                    raise OperationsError(f"{opt}: applies to {plural} only; expected no {opt} when adding {kind} {serial}")
        fields.update({k: v for k, v in per_kind[kind].items() if v is not None})
        add_item(ResultsStore(db), kind, serial, by=by, **fields)
        typer.echo(f"registered {kind} {serial}")

    @fleet_app.command("retire")
    def retire_cmd(kind: str = typer.Argument(...), serial: str = typer.Argument(...),
                   reason: str = typer.Option(..., "--reason"), by: str = typer.Option("", "--by"),
                   db: str = typer.Option(DB, "--db", help=DB_HELP)) -> None:
        """Take an item out of service (it stays in the log)."""
        from operations.fleet import retire_item
        from reconciliation.store import ResultsStore

        retire_item(ResultsStore(db), kind, serial, by=by, reason=reason)
        typer.echo(f"retired {kind} {serial}")

    @fleet_app.command("list")
    def list_cmd(db: str = typer.Option(DB, "--db", help=DB_HELP),
                 flights: int = typer.Option(10, "--flights", help="also show this many latest flights (0: none)")) -> None:
        """Airframes (flights, hours), batteries (flights, cycles, capacity), cameras, and the latest flights."""
        from rich.console import Console

        from operations.fleet import fleet_table, flight_log
        from reconciliation.store import ResultsStore

        store, con = ResultsStore(db), Console()
        a = fleet_table(store, "airframe")
        con.print(_table("airframes", a, ["serial", "model", "flights", "hours", "retired_at"]))
        b = fleet_table(store, "battery")
        con.print(_table("batteries", b, ["serial", "model", "cells", "capacity_mah", "flights", "cycles",
                                          *(["capacity_pct"] if "capacity_pct" in b else []), "retired_at"]))
        con.print(_table("cameras", fleet_table(store, "camera"), ["serial", "model", "flights", "calibrated_at", "retired_at"]))
        if flights:
            log = flight_log(store).head(flights)
            log = log.assign(airborne_min=log.airborne_s / 60.0)
            con.print(_table("latest flights", log, ["flight_key", "operator", "airframe", "battery", "status",
                                                     "airborne_min", "consumed_mah", "min_voltage_v", "cycles"]))

    @fleet_app.command("due")
    def due_cmd(db: str = typer.Option(DB, "--db", help=DB_HELP), rules: Path = typer.Option(None, "--rules", help=RULES_HELP),
                all_items: bool = typer.Option(False, "--all", help="also list what is not due")) -> None:
        """What maintenance is overdue or due soon, per item and rule."""
        from rich.console import Console

        from operations.fleet import due
        from operations.rules import load_rules
        from reconciliation.store import ResultsStore

        ds = [d for d in due(ResultsStore(db), load_rules(rules)) if all_items or d.status != "ok"]
        con = Console()
        if not ds:
            con.print("nothing due")
        for d in ds:
            con.print(f"{d.status:8s} {d.line()}", markup=False, highlight=False)

    @fleet_app.command("service")
    def service_cmd(
        kind: str = typer.Argument(..., help="airframe, battery or camera"),
        serial: str = typer.Argument(...),
        task: str = typer.Option(..., "--task", help="the maintenance rule done (its id in the rules file, e.g. propellers)"),
        by: str = typer.Option(..., "--by", help="who did it"),
        notes: str = typer.Option("", "--notes"),
        rules: Path = typer.Option(None, "--rules", help=RULES_HELP),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Record maintenance done; the rule's counter starts again."""
        from operations.fleet import record_service
        from operations.rules import load_rules
        from reconciliation.store import ResultsStore

        record_service(ResultsStore(db), kind, serial, task, by=by, notes=notes, rules=load_rules(rules))
        typer.echo(f"recorded {task} on {kind} {serial} by {by}")

    @fleet_app.command("checklist")
    def checklist_cmd(
        airframe: str = typer.Option(..., "--airframe", help="airframe serial"),
        battery: str = typer.Option(..., "--battery", help="battery serial"),
        operator: str = typer.Option(..., "--operator", help="your name (recorded)"),
        checklist: Path = typer.Option(None, "--checklist", help="checklist YAML (default: the shipped pre-flight checklist)"),
        all_confirmed: bool = typer.Option(False, "--all-confirmed", help="I checked every item on the printed list (no questions asked)"),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Go through the pre-flight checklist and record the confirmation (name and time)."""
        from operations.fleet import confirm_checklist
        from operations.rules import load_checklist
        from reconciliation.store import ResultsStore

        cl = load_checklist(checklist)
        store = ResultsStore(db)
        answers = {}
        for i in cl.items:
            if i.kind == "check":
                typer.echo(f"  [auto] {i.text} (checked by {i.by})")
            elif all_confirmed:
                typer.echo(f"  [x] {i.text}")
                answers[i.id] = True
            else:
                answers[i.id] = typer.confirm(f"  {i.text}?", default=False)
                if not answers[i.id]:
                    break
        cid = confirm_checklist(store, cl, operator=operator, airframe=airframe, battery=battery, answers=answers)
        typer.echo(f"checklist {cl.name} confirmed by {operator} (record {cid}), valid {cl.valid_minutes:g} min")

    @fleet_app.command("log")
    def log_cmd(
        log: Path = typer.Argument(..., help="a flight bundle, a MAVLink .tlog or an ArduPilot DataFlash .bin"),
        airframe: str = typer.Option(..., "--airframe"),
        battery: str = typer.Option(..., "--battery"),
        camera: str = typer.Option(None, "--camera-serial", help="camera serial"),
        operator: str = typer.Option(..., "--operator"),
        flight_key: str = typer.Option(None, "--flight-key", help="the flight's key (default: the bundle's flight id, or the log's file name)"),
        db: str = typer.Option(DB, "--db", help=DB_HELP),
    ) -> None:
        """Log a flight flown without `rackscan fly --airframe` (an imported or hand-flown one)."""
        from operations.fleet import log_flight
        from reconciliation.store import ResultsStore

        row = log_flight(ResultsStore(db), log, airframe=airframe, battery=battery, camera=camera, operator=operator,
                         flight_key=flight_key)
        typer.echo(flight_line(row))

    app.add_typer(fleet_app, name="fleet")


def flight_line(row: dict) -> str:
    def f(v, fmt):
        return "?" if v is None else format(v, fmt)

    return (f"logged flight {row['flight_key']}: {row['airborne_s'] / 60:.1f} min in the air, "
            f"{f(row['consumed_mah'], '.0f')} mAh, {row['cycles']:.3f} cycles, min {f(row['min_voltage_v'], '.2f')} V, "
            f"peak {f(row['peak_current_a'], '.1f')} A")
