"""The fleet registry and flight log in the results store: airframes, batteries and cameras by
serial; every flight linked to the airframe, battery and camera that flew it, with the figures from
its own telemetry (``operations.telemetry``); maintenance done; pre-flight checklist confirmations;
overrides. Hours, cycles and what is due are computed from these rows, never stored. Every write
appends a record to the audit chain in the same transaction.

``preflight`` is the gate ``rackscan fly --airframe --battery`` runs before it connects: the items
exist and are not retired, no maintenance rule that blocks flight is overdue, and the operator
confirmed the checklist for this airframe and battery recently; otherwise it refuses, unless an
override reason is given, which is recorded with the problems it overrode.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import func, insert, select, update

from operations.errors import OperationsError
from operations.rules import ITEM_KINDS, Checklist, MaintenanceRules, Rule
from operations.telemetry import FlightFigures, finite, flight_figures
from reconciliation import audit
from reconciliation import schema as S
from reconciliation.store import ResultsStore

TABLES = {"airframe": S.airframes, "battery": S.batteries, "camera": S.cameras}
STATUS_ORDER = {"overdue": 0, "due_soon": 1, "ok": 2}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return None if t is None else (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc))


# -- the registry --------------------------------------------------------------------------
def add_item(store: ResultsStore, kind: str, serial: str, *, by: str = "", **fields) -> int:
    """Register an airframe, battery or camera; one-line error for a known serial or a bad field."""
    if kind not in ITEM_KINDS:
        raise OperationsError(f"item kind {kind!r}; expected one of {list(ITEM_KINDS)}")
    serial = serial.strip()
    if not serial or len(serial) > 64:
        raise OperationsError(f"--serial {serial!r}: expected 1 to 64 characters")
    t = TABLES[kind]
    if kind == "battery":
        if not fields.get("cells") or int(fields["cells"]) < 1:
            raise OperationsError(f"battery {serial}: --cells: {fields.get('cells')}; expected the pack's cell count (e.g. 3 for 3S)")
        if not fields.get("capacity_mah") or float(fields["capacity_mah"]) <= 0:
            raise OperationsError(f"battery {serial}: --capacity-mah: {fields.get('capacity_mah')}; expected the rated capacity in mAh")
    known = set(t.c.keys())
    bad = sorted(k for k, v in fields.items() if k not in known and v is not None)
    if bad:
        raise OperationsError(f"{kind} {serial}: {bad[0]}: not a field of a {kind}; expected one of "
                              f"{sorted(known - {'id', 'serial', 'added_at', 'retired_at'})}")
    vals = {k: v for k, v in fields.items() if v is not None}
    with store.engine.begin() as c:
        if c.execute(select(t.c.id).where(t.c.serial == serial)).first():
            raise OperationsError(f"{kind} {serial}: already registered; expected a new serial")
        iid = c.execute(insert(t).values(serial=serial, added_at=now_utc(), **vals)).inserted_primary_key[0]
        audit.append(c, "fleet", subject=f"{kind} {serial}", actor=by, payload={"action": "add", "kind": kind,
                                                                               "serial": serial, **vals})
    return int(iid)


def retire_item(store: ResultsStore, kind: str, serial: str, *, by: str = "", reason: str = "") -> None:
    t = TABLES[kind]
    with store.engine.begin() as c:
        got = c.execute(update(t).where((t.c.serial == serial) & t.c.retired_at.is_(None)).values(retired_at=now_utc()))
        if got.rowcount != 1:
            raise OperationsError(f"{kind} {serial}: not registered or already retired; expected a serial of `rackscan fleet list`")
        audit.append(c, "fleet", subject=f"{kind} {serial}", actor=by, payload={"action": "retire", "reason": reason})


def item_row(store: ResultsStore, kind: str, serial: str, conn=None) -> dict:
    t = TABLES[kind]
    stmt = select(t).where(t.c.serial == serial)
    if conn is None:
        with store.engine.connect() as c:
            row = c.execute(stmt).mappings().first()
    else:
        row = conn.execute(stmt).mappings().first()
    if row is None:
        raise OperationsError(f"{kind} {serial}: not registered; expected a serial added with `rackscan fleet add {kind}`")
    return dict(row)


def flight_log(store: ResultsStore) -> pd.DataFrame:
    """Every logged flight with its airframe, battery and camera serials, newest first."""
    fl, a, b, cam = S.flight_log, S.airframes, S.batteries, S.cameras
    o = S.overrides
    stmt = (select(fl, a.c.serial.label("airframe"), b.c.serial.label("battery"), cam.c.serial.label("camera"),
                   o.c.reason.label("override_reason"))
            .join_from(fl, a, fl.c.airframe_id == a.c.id).join(b, fl.c.battery_id == b.c.id)
            .outerjoin(cam, fl.c.camera_id == cam.c.id).outerjoin(o, fl.c.override_id == o.c.id)
            .order_by(fl.c.logged_at.desc(), fl.c.id.desc()))
    with store.engine.connect() as c:
        df = pd.DataFrame(c.execute(stmt).mappings().all())
    if df.empty:
        return pd.DataFrame(columns=[*S.flight_log.c.keys(), "airframe", "battery", "camera", "override_reason"])
    return df


def _events(store: ResultsStore) -> pd.DataFrame:
    with store.engine.connect() as c:
        df = pd.DataFrame(c.execute(select(S.maintenance_events)).mappings().all())
    return df if not df.empty else pd.DataFrame(columns=S.maintenance_events.c.keys())


def fleet_table(store: ResultsStore, kind: str) -> pd.DataFrame:
    """The registered items of a kind with their totals: airframes (flights, hours), batteries
    (flights, cycles, latest capacity estimate in % of rated), cameras (flights, days since calibration)."""
    t = TABLES[kind]
    with store.engine.connect() as c:
        items = pd.DataFrame(c.execute(select(t).order_by(t.c.serial)).mappings().all())
    if items.empty:
        return pd.DataFrame(columns=[*t.c.keys(), "flights", "hours", "cycles"])
    log = flight_log(store)
    col = {"airframe": "airframe_id", "battery": "battery_id", "camera": "camera_id"}[kind]
    per = log.groupby(col) if not log.empty else None
    flights = per.size() if per is not None else pd.Series(dtype=int)
    hours = per["airborne_s"].sum() / 3600.0 if per is not None else pd.Series(dtype=float)
    items["flights"] = items["id"].map(flights).fillna(0).astype(int)
    items["hours"] = items["id"].map(hours).fillna(0.0)
    if kind == "airframe":
        items["hours"] = items["hours"] + items["hours_before_h"]
    if kind == "battery":
        cycles = per["cycles"].sum() if per is not None else pd.Series(dtype=float)
        items["cycles"] = items["id"].map(cycles).fillna(0.0) + items["cycles_before"]
        items["capacity_pct"] = [capacity_pct(log, r) for r in items.itertuples()]
    return items


def capacity_pct(log: pd.DataFrame, battery) -> float | None:
    """The battery's capacity now, % of rated: the median estimate of its last 5 flights that drew
    enough charge to tell (``FlightFigures.capacity_estimate_mah``)."""
    if log.empty:
        return None
    rows = log[log.battery_id == battery.id].sort_values("logged_at")
    est = []
    for r in rows.itertuples():
        f = FlightFigures(source=r.source, started_utc="", armed_s=0, airborne_s=0, energy_wh=None,
                          consumed_mah=finite(r.consumed_mah), min_voltage_v=None, peak_current_a=None,
                          resting_v_start=finite(r.resting_v_start), resting_v_end=finite(r.resting_v_end), sag_v=None,
                          resistance_mohm=None, autopilot_id="", n_samples=0)
        e = f.capacity_estimate_mah(int(battery.cells))
        if e:
            est.append(e)
    if not est:
        return None
    last = sorted(est[-5:])
    return 100.0 * last[len(last) // 2] / float(battery.capacity_mah)


# -- maintenance -------------------------------------------------------------------------
@dataclass(frozen=True)
class Due:
    kind: str
    serial: str
    rule: str
    text: str
    status: str  # ok | due_soon | overdue
    used: float
    limit: float
    unit: str  # h | cycles | days | %
    blocks_flight: bool

    def line(self) -> str:
        if self.unit == "%":
            return f"{self.kind} {self.serial}: {self.rule}: capacity {self.used:.0f}% of rated, limit {self.limit:.0f}% ({self.text})"
        return f"{self.kind} {self.serial}: {self.rule}: {self.used:.1f} of {self.limit:g} {self.unit} ({self.text})"


def record_service(store: ResultsStore, kind: str, serial: str, task: str, *, by: str, notes: str = "",
                   rules: MaintenanceRules | None = None, at: dt.datetime | None = None) -> int:
    """Record maintenance done (a rule's id); the rule's counter starts again from here."""
    if rules is not None and task not in {r.id for r in rules.rules if r.item == kind}:
        raise OperationsError(f"--task {task!r}: not a {kind} rule; expected one of "
                              f"{sorted(r.id for r in rules.rules if r.item == kind)}")
    if not by.strip():
        raise OperationsError("--by: empty; expected the name of who did the maintenance")
    at = at or now_utc()
    with store.engine.begin() as c:
        item = item_row(store, kind, serial, c)
        eid = c.execute(insert(S.maintenance_events).values(item_kind=kind, item_id=item["id"], task=task, done_at=at,
                                                            by=by, notes=notes)).inserted_primary_key[0]
        if kind == "camera" and task == "camera_calibration":
            c.execute(update(S.cameras).where(S.cameras.c.id == item["id"]).values(calibrated_at=at))
        audit.append(c, "maintenance", subject=f"{kind} {serial}", actor=by, payload={"task": task, "at": at,
                                                                                     "notes": notes})
    return int(eid)


def due(store: ResultsStore, rules: MaintenanceRules, *, now: dt.datetime | None = None,
        kinds: tuple[str, ...] = ITEM_KINDS) -> list[Due]:
    """Every rule for every active item: how much of its interval is used; worst first."""
    now = now or now_utc()
    log, ev = flight_log(store), _events(store)
    out: list[Due] = []
    for kind in kinds:
        t = TABLES[kind]
        with store.engine.connect() as c:
            items = [dict(r) for r in c.execute(select(t).where(t.c.retired_at.is_(None))).mappings()]
        col = f"{kind}_id"
        for item in items:
            mine = log[log[col] == item["id"]] if not log.empty else log
            for rule in (r for r in rules.rules if r.item == kind):
                out.append(_due_one(kind, item, rule, mine, ev, now, rules.due_soon_frac))
    return sorted(out, key=lambda d: (STATUS_ORDER[d.status], d.kind, d.serial, d.rule))


def _due_one(kind: str, item: dict, rule: Rule, flights: pd.DataFrame, ev: pd.DataFrame, now: dt.datetime,
             soon: float) -> Due:
    key, limit = rule.limit
    done = ev[(ev.item_kind == kind) & (ev.item_id == item["id"]) & (ev.task == rule.id)] if not ev.empty else ev
    since = _aware(max(done.done_at)) if len(done) else None
    if since is not None and not flights.empty:
        after = flights[[(_aware(t) > since) for t in flights.logged_at]]
    else:
        after = flights
    if key == "every_hours":
        # intervals run from the last service, or from registration (an item is inspected when it
        # is registered): hours and cycles from before then count towards retirement only
        used = (float(after.airborne_s.sum()) if len(after) else 0.0) / 3600.0
        unit = "h"
    elif key in ("every_cycles", "retire_at_cycles"):
        src = after if key == "every_cycles" else flights
        used = float(src.cycles.sum()) if len(src) else 0.0
        used += item.get("cycles_before", 0.0) if key == "retire_at_cycles" else 0.0
        unit = "cycles"
    elif key == "every_days":
        start = since or (_aware(item.get("calibrated_at")) if kind == "camera" and item.get("calibrated_at") else None)
        start = start or _aware(item["added_at"])
        if kind == "camera" and rule.id == "camera_calibration" and since is None and not item.get("calibrated_at"):
            used = limit  # never calibrated: due now
        else:
            used = (now - start).total_seconds() / 86400.0
        unit = "days"
    else:  # min_capacity_pct
        pct = capacity_pct(flights.assign(battery_id=item["id"]) if len(flights) else flights,
                           _Bat(item["id"], item["cells"], item["capacity_mah"]))
        status = "ok" if pct is None or pct >= limit else "overdue"
        if pct is not None and status == "ok" and pct < limit / soon:
            status = "due_soon"
        return Due(kind, item["serial"], rule.id, rule.text, status, pct if pct is not None else float("nan"), limit,
                   "%", rule.blocks_flight)
    status = "overdue" if used >= limit else ("due_soon" if used >= soon * limit else "ok")
    return Due(kind, item["serial"], rule.id, rule.text, status, used, limit, unit, rule.blocks_flight)


@dataclass(frozen=True)
class _Bat:
    id: int
    cells: int
    capacity_mah: float


# -- checklist, overrides, the gate ------------------------------------------------------
def confirm_checklist(store: ResultsStore, checklist: Checklist, *, operator: str, airframe: str, battery: str,
                      answers: dict[str, bool], at: dt.datetime | None = None) -> int:
    """Record the operator's confirmation of every `confirm` item; refuses when one was not confirmed."""
    if not operator.strip():
        raise OperationsError("--operator: empty; expected the operator's name")
    missing = [i.id for i in checklist.to_confirm if not answers.get(i.id)]
    if missing:
        raise OperationsError(f"checklist {checklist.name}: {missing[0]}: not confirmed "
                              f"({next(i.text for i in checklist.items if i.id == missing[0])}); expected every item "
                              "confirmed before flight")
    at = at or now_utc()
    items = [{"id": i.id, "kind": i.kind, "text": i.text, "result": "confirmed" if i.kind == "confirm" else f"checked by {i.by}"}
             for i in checklist.items]
    with store.engine.begin() as c:
        a, b = item_row(store, "airframe", airframe, c), item_row(store, "battery", battery, c)
        cid = c.execute(insert(S.checklist_confirmations).values(
            checklist=checklist.name, operator=operator, airframe_id=a["id"], battery_id=b["id"], confirmed_at=at,
            valid_until=at + dt.timedelta(minutes=checklist.valid_minutes), items=items)).inserted_primary_key[0]
        audit.append(c, "checklist", subject=f"airframe {airframe} battery {battery}", actor=operator,
                     payload={"checklist": checklist.name, "at": at, "items": items})
    return int(cid)


@dataclass
class Gate:
    """What ``preflight`` found: the problems (empty: clear to fly), warnings (due soon), and the
    ids that the flight log links to."""

    airframe_id: int
    battery_id: int
    camera_id: int | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checklist_id: int | None = None
    override_id: int | None = None


def preflight(store: ResultsStore, rules: MaintenanceRules, *, airframe: str, battery: str, camera: str | None,
              operator: str, override: str | None = None, flight_key: str = "",
              now: dt.datetime | None = None) -> Gate:
    """Check before flight; raise OperationsError (one line, every problem) unless ``override``
    gives a reason, which is then recorded with the problems it overrode."""
    now = now or now_utc()
    if not operator.strip():
        raise OperationsError("--operator: empty; expected the operator's name (it is recorded with the flight)")
    a, b = item_row(store, "airframe", airframe), item_row(store, "battery", battery)
    cam = item_row(store, "camera", camera) if camera else None
    gate = Gate(a["id"], b["id"], cam["id"] if cam else None)
    for kind, row in (("airframe", a), ("battery", b), ("camera", cam)):
        if row is not None and row["retired_at"] is not None:
            gate.problems.append(f"{kind} {row['serial']}: retired")
    mine = {("airframe", airframe), ("battery", battery)} | ({("camera", camera)} if camera else set())
    for d in due(store, rules, now=now):
        if (d.kind, d.serial) not in mine:
            continue
        if d.status == "overdue" and d.blocks_flight and d.kind != "camera":
            gate.problems.append(f"overdue: {d.line()}")
        elif d.status != "ok":
            gate.warnings.append(f"{d.status.replace('_', ' ')}: {d.line()}")
    c = S.checklist_confirmations
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.c.id, c.c.valid_until).where(
            (c.c.airframe_id == a["id"]) & (c.c.battery_id == b["id"]) & (c.c.operator == operator))
            .order_by(c.c.id.desc()).limit(1)).first()
    if rows is None or _aware(rows[1]) < now:
        gate.problems.append(f"checklist: not confirmed by {operator} for airframe {airframe} and battery {battery} "
                             "in its validity window (rackscan fleet checklist)")
    else:
        gate.checklist_id = int(rows[0])
    if gate.problems and not (override or "").strip():
        raise OperationsError(f"refusing to fly: {'; '.join(gate.problems)}; expected these fixed, or --override REASON "
                              "(recorded)")
    if gate.problems:
        with store.engine.begin() as conn:
            gate.override_id = int(conn.execute(insert(S.overrides).values(
                at=now, operator=operator, reason=override.strip(), problems=gate.problems, flight_key=flight_key,
                airframe_id=a["id"], battery_id=b["id"])).inserted_primary_key[0])
            audit.append(conn, "override", subject=flight_key or f"airframe {airframe}", actor=operator,
                         payload={"reason": override.strip(), "problems": gate.problems, "airframe": airframe,
                                  "battery": battery})
    return gate


# -- the flight log ------------------------------------------------------------------------
def _result(bundle: Path) -> tuple[str, str]:
    p = bundle / "flight_result.json"
    if not p.exists():
        return "", ""
    try:
        r = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OperationsError(f"{p}: unreadable ({exc}); expected the flight_result.json rackscan fly writes") from None
    fs = "; ".join(f"{f.get('signal')}->{f.get('action')} by {f.get('by')}" for f in r.get("failsafes", []))
    return str(r.get("status", "")), fs


def log_flight(store: ResultsStore, log: str | Path, *, airframe: str, battery: str, camera: str | None,
               operator: str, gate: Gate | None = None, flight_key: str | None = None) -> dict:
    """Log one flight: its figures from the telemetry in ``log`` (a bundle, a .tlog or a DataFlash
    .bin), linked to the items that flew it; returns the row written."""
    p = Path(log)
    fig = flight_figures(p)
    status, failsafes, key = "", "", flight_key
    if p.is_dir():
        status, failsafes = _result(p)
        if key is None:
            from flight.bundle import Bundle

            key = Bundle(p).meta.flight_id or p.name
    key = key or p.stem
    if not operator.strip():
        raise OperationsError("--operator: empty; expected the operator's name")
    with store.engine.begin() as c:
        a, b = item_row(store, "airframe", airframe, c), item_row(store, "battery", battery, c)
        cam = item_row(store, "camera", camera, c) if camera else None
        if c.execute(select(S.flight_log.c.id).where(S.flight_log.c.flight_key == key)).first():
            raise OperationsError(f"flight {key}: already in the flight log; expected each flight logged once")
        if fig.autopilot_id and a["autopilot_id"] and fig.autopilot_id != a["autopilot_id"]:
            raise OperationsError(f"{p}: autopilot {fig.autopilot_id}; expected airframe {airframe}'s "
                                  f"{a['autopilot_id']} (wrong airframe, or its autopilot was replaced)")
        row = dict(flight_key=key, bundle_path=str(p.resolve()), airframe_id=a["id"], battery_id=b["id"],
                   camera_id=cam["id"] if cam else None, operator=operator, started_utc=fig.started_utc, status=status,
                   failsafes=failsafes, armed_s=fig.armed_s, airborne_s=fig.airborne_s, energy_wh=finite(fig.energy_wh),
                   consumed_mah=finite(fig.consumed_mah), min_voltage_v=finite(fig.min_voltage_v),
                   peak_current_a=finite(fig.peak_current_a), resting_v_start=finite(fig.resting_v_start),
                   resting_v_end=finite(fig.resting_v_end), sag_v=finite(fig.sag_v),
                   resistance_mohm=finite(fig.resistance_mohm), cycles=fig.cycles(float(b["capacity_mah"])),
                   autopilot_id=fig.autopilot_id, source=fig.source,
                   checklist_id=gate.checklist_id if gate else None, override_id=gate.override_id if gate else None,
                   logged_at=now_utc())
        row["id"] = int(c.execute(insert(S.flight_log).values(**row)).inserted_primary_key[0])
        if gate and gate.override_id:
            c.execute(update(S.overrides).where(S.overrides.c.id == gate.override_id).values(flight_key=key))
        audit.append(c, "flight", subject=key, actor=operator, payload={
            **{k: v for k, v in row.items() if k not in ("logged_at",)}, "airframe": airframe, "battery": battery,
            "camera": camera or ""})
    return row


def overrides(store: ResultsStore) -> pd.DataFrame:
    with store.engine.connect() as c:
        df = pd.DataFrame(c.execute(select(S.overrides).order_by(S.overrides.c.id.desc())).mappings().all())
    return df if not df.empty else pd.DataFrame(columns=S.overrides.c.keys())


def counts(store: ResultsStore) -> dict[str, int]:
    with store.engine.connect() as c:
        return {k: int(c.execute(select(func.count()).select_from(t)).scalar()) for k, t in TABLES.items()}


__all__ = ["add_item", "retire_item", "item_row", "fleet_table", "flight_log", "due", "Due", "record_service",
           "confirm_checklist", "preflight", "Gate", "log_flight", "overrides", "capacity_pct"]
