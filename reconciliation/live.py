"""Live flights in the results store: what ``rackscan fly --live-db`` writes while it flies
(``flight.live.LiveFeed`` through ``StoreLiveSink``) and the dashboard's Live page reads.

The store is the only channel between the flight and the dashboard, so any number of viewers, on
SQLite or PostgreSQL, watch the same flight. ``live_progress`` is pure: which passes are done,
how many of the flight's bins they covered, and how stale the last word from the vehicle is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import PurePath

import pandas as pd
from sqlalchemy import func, insert, select, update

from reconciliation import schema as S
from reconciliation.errors import ReconciliationError
from reconciliation.store import ResultsStore

SAMPLE_FIELDS = ("t_s", "x_m", "y_m", "alt_m", "yaw_deg", "battery_pct", "voltage_v", "mode", "armed", "fix_type",
                 "mission_seq", "link_age_s")
LINK_LOST_S = 3.0  # no word from the vehicle (or from the ground station) for longer: the link is shown lost


def as_utc(t) -> pd.Timestamp:
    """A store time as a UTC timestamp (SQLite hands datetimes back without their zone)."""
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def begin_live(store: ResultsStore, flight_key: str, *, site_name: str, site_yaml: str,
               plan: list[tuple[int, list[str]]], n_items: int) -> int:
    """A new live flight (its site stored as any flight's is); returns its id."""
    site_id = store.upsert_site(site_name or flight_key, site_yaml) if site_yaml else None
    with store.engine.begin() as c:
        return int(c.execute(insert(S.live_flights).values(
            flight_key=flight_key, site_id=site_id, plan=[[int(q), list(b)] for q, b in plan], n_items=int(n_items),
            started_at=_now(), status="flying")).inserted_primary_key[0])


def add_samples(store: ResultsStore, live_id: int, samples: list) -> None:
    rows = []
    at = _now()
    for s in samples:
        d = asdict(s) if is_dataclass(s) else dict(s)
        rows.append({"live_flight_id": live_id, "at": at, **{k: d[k] for k in SAMPLE_FIELDS}})
        rows[-1]["armed"] = int(bool(rows[-1]["armed"]))
    if rows:
        with store.engine.begin() as c:
            c.execute(insert(S.live_samples), rows)


def end_live(store: ResultsStore, live_id: int, status: str) -> None:
    with store.engine.begin() as c:
        c.execute(update(S.live_flights).where(S.live_flights.c.id == live_id).values(ended_at=_now(), status=status))


def live_flights(store: ResultsStore) -> pd.DataFrame:
    """Every live flight, newest first, with its sample count."""
    lf, ls = S.live_flights, S.live_samples
    n = select(ls.c.live_flight_id, func.count().label("samples")).group_by(ls.c.live_flight_id).subquery()
    stmt = (select(lf.c.id, lf.c.flight_key, lf.c.started_at, lf.c.ended_at, lf.c.status, func.coalesce(n.c.samples, 0).label("samples"))
            .select_from(lf.outerjoin(n, n.c.live_flight_id == lf.c.id)).order_by(lf.c.id.desc()))
    with store.engine.connect() as c:
        return pd.DataFrame(c.execute(stmt).mappings().all(),
                            columns=["id", "flight_key", "started_at", "ended_at", "status", "samples"])


def live_flight(store: ResultsStore, live_id: int) -> dict:
    with store.engine.connect() as c:
        row = c.execute(select(S.live_flights).where(S.live_flights.c.id == live_id)).mappings().first()
        if row is None:
            raise ReconciliationError(f"no live flight with id {live_id}")
        out = dict(row)
        out["site_yaml"] = (c.execute(select(S.sites.c.site_yaml).where(S.sites.c.id == row["site_id"])).scalar()
                            if row["site_id"] else None)
    return out


def live_samples(store: ResultsStore, live_id: int, *, after_id: int = 0) -> pd.DataFrame:
    """The flight's samples after ``after_id`` (a viewer asks only for what is new)."""
    t = S.live_samples
    stmt = select(t).where((t.c.live_flight_id == live_id) & (t.c.id > after_id)).order_by(t.c.id)
    with store.engine.connect() as c:
        return pd.DataFrame(c.execute(stmt).mappings().all(), columns=[col.name for col in t.columns])


@dataclass(frozen=True)
class LiveProgress:
    passes_done: int  # passes flown (of those the live plan lists: each with the bins its camera sees)
    passes_total: int
    bins_done: int  # bins of the passes flown (a bin seen by several passes is done after its last)
    bins_total: int
    seq: int  # the mission item flown to
    n_items: int
    link: str  # "ok", "lost" (the vehicle silent) or "no word" (nothing new in the store)
    silent_s: float  # how long that has lasted
    eta_s: float | None  # at the pace so far, when the last pass will be done


def last_pass_of(plan) -> dict[str, int]:
    """Each bin's last pass (the mission seq of the last pass that sees it): it is flown once the
    vehicle flies to an item after that one."""
    last: dict[str, int] = {}
    for q, bs in plan:
        for b in bs:
            last[b] = max(last.get(b, 0), int(q))
    return last


def live_progress(flight: dict, samples: pd.DataFrame, *, now: dt.datetime | None = None) -> LiveProgress:
    """Where a live flight stands from its plan and samples (pure)."""
    plan = [(int(q), list(b)) for q, b in flight["plan"]]
    last_of = last_pass_of(plan)
    seq = int(samples["mission_seq"].iloc[-1]) if len(samples) else 0
    ended = flight.get("ended_at") is not None
    done_seq = (lambda q: True) if ended and flight.get("status") == "complete" else (lambda q: q < seq)
    passes_done = sum(1 for q, _ in plan if done_seq(q))
    bins_done = sum(1 for b, q in last_of.items() if done_seq(q))
    now = now or _now()
    link, silent = "ok", 0.0
    if len(samples):
        last = samples.iloc[-1]
        at = as_utc(last["at"])
        since_write = max(0.0, (pd.Timestamp(now) - at).total_seconds())
        if not ended and since_write > LINK_LOST_S:
            link, silent = "no word", since_write
        elif float(last["link_age_s"]) > LINK_LOST_S:
            link, silent = "lost", float(last["link_age_s"]) + (0.0 if ended else since_write)
    eta = None
    if len(samples) and 0 < passes_done < len(plan) and not ended:
        t = float(samples["t_s"].iloc[-1])
        first_pass_t = samples.loc[samples["mission_seq"] >= min(q for q, _ in plan), "t_s"]
        t0 = float(first_pass_t.iloc[0]) if len(first_pass_t) else 0.0
        eta = (t - t0) / passes_done * (len(plan) - passes_done)
    return LiveProgress(passes_done, len(plan), bins_done, len(last_of), seq, int(flight["n_items"]), link, silent, eta)


LIVE_BIN_COLUMNS = ["bin_id", "count", "sku", "confidence", "erp_qty", "kind", "written_at", "latency_s",
                    "frames_fused"]


def find_live_flight(store: ResultsStore, flight_key: str) -> int | None:
    """The newest live flight recorded under ``flight_key`` (the bundle's folder name)."""
    t = S.live_flights
    with store.engine.connect() as c:
        return c.execute(select(t.c.id).where(t.c.flight_key == flight_key).order_by(t.c.id.desc())).scalar()


def write_live_bins(store: ResultsStore, live_id: int, rows: list[dict]) -> None:
    """Provisional bins (``LIVE_BIN_COLUMNS`` less written_at), written once each."""
    at = _now()
    if rows:
        with store.engine.begin() as c:
            c.execute(insert(S.live_bins), [{"live_flight_id": live_id, "written_at": at, **r} for r in rows])


def live_bins(store: ResultsStore, live_id: int) -> pd.DataFrame:
    t = S.live_bins
    stmt = select(*[t.c[k] for k in LIVE_BIN_COLUMNS]).where(t.c.live_flight_id == live_id).order_by(t.c.id)
    with store.engine.connect() as c:
        return pd.DataFrame(c.execute(stmt).mappings().all(), columns=LIVE_BIN_COLUMNS)


def pass_end_at(samples: pd.DataFrame, seq: int):
    """When the vehicle was first seen flying to an item after ``seq`` (the pass ending at ``seq``
    done), or None."""
    after = samples.loc[samples["mission_seq"] > seq, "at"]
    return after.iloc[0] if len(after) else None


@dataclass(frozen=True)
class OfflinePass:
    """The offline pass over a landed live flight: the flight it was stored as and, per bin the
    live count wrote, the provisional and the final count."""

    flight_id: int
    flight_key: str
    imported_at: dt.datetime
    bins: pd.DataFrame  # bin_id, provisional, final, changed


def offline_pass(store: ResultsStore, live_id: int) -> OfflinePass | None:
    """The newest flight stored by ``rackscan process`` from this live flight's bundle (a bundle
    folder of the live flight's name, imported after the live flight started), with each
    provisional bin's final count beside it; None until that pass has run."""
    fl = live_flight(store, live_id)
    key = str(fl["flight_key"])
    t = S.flights
    started = as_utc(fl["started_at"])
    with store.engine.connect() as c:
        rows = c.execute(select(t.c.id, t.c.flight_key, t.c.bundle_path, t.c.imported_at)
                         .where(t.c.bundle_path.like(f"%{key}")).order_by(t.c.id.desc())).all()
        hit = next((r for r in rows if PurePath(r.bundle_path).name == key and as_utc(r.imported_at) >= started), None)
        if hit is None:
            return None
        o = S.observations
        final = pd.DataFrame(c.execute(select(o.c.bin_id, func.sum(o.c.count).label("final"))
                                       .where(o.c.flight_id == hit.id).group_by(o.c.bin_id)).all(), columns=["bin_id", "final"])
    prov = live_bins(store, live_id)[["bin_id", "count"]].rename(columns={"count": "provisional"})
    out = prov.merge(final, on="bin_id", how="left")
    out["final"] = out["final"].fillna(0).astype(int)
    out["changed"] = out["final"] != out["provisional"].astype(int)
    return OfflinePass(int(hit.id), str(hit.flight_key), hit.imported_at, out)


class StoreLiveSink:
    """``flight.live.LiveSink`` on the results store: one live flight per ``begin``."""

    def __init__(self, url: str) -> None:
        self.store = ResultsStore(url)
        self.live_id: int | None = None

    def begin(self, *, flight_key: str, site_name: str, site_yaml: str, plan, n_items: int) -> None:
        self.live_id = begin_live(self.store, flight_key, site_name=site_name, site_yaml=site_yaml, plan=plan,
                                  n_items=n_items)

    def add(self, samples: list) -> None:
        if self.live_id is not None:
            add_samples(self.store, self.live_id, samples)

    def end(self, status: str) -> None:
        if self.live_id is not None:
            end_live(self.store, self.live_id, status)


__all__ = ["as_utc", "OfflinePass", "offline_pass", "last_pass_of", "find_live_flight", "write_live_bins", "live_bins", "pass_end_at", "LIVE_BIN_COLUMNS", "begin_live", "add_samples", "end_live", "live_flights", "live_flight", "live_samples", "live_progress",
           "LiveProgress", "StoreLiveSink", "LINK_LOST_S"]
