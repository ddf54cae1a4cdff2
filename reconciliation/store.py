"""The results store: SQLite by default, any SQLAlchemy URL (PostgreSQL) by option.

Opening a store runs the Alembic migrations. Re-running a reconciliation of the same flight
against the same ERP snapshot replaces it (idempotent); review actions are keyed by
bin+SKU+kind so they stay attached and re-apply their status. Every count, reconciliation, review
and access event stored also appends a record to the audit chain in the same transaction
(``reconciliation.audit``; ``operations.audit`` verifies it), so what is replaced here stays on
record there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, delete, func, insert, select, update
from sqlalchemy.engine import Engine

from reconciliation import audit
from reconciliation import schema as S
from reconciliation.diff import ReconciliationResult, optional_int
from reconciliation.errors import ReconciliationError

REVIEW_ACTIONS = {"accepted": "accepted", "recount_ordered": "recount_ordered", "adjusted": "adjusted"}
ROLES = ("operator", "controller", "engineer")
# what the access log records (dashboard sign-ins and denied actions; the sign-in throttle reads them)
ACCESS_EVENTS = ("sign_in", "sign_in_failed", "sign_in_refused", "locked", "unlocked", "signed_out",
                 "session_expired", "denied", "user_changed")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _count_confidence(r) -> float | None:
    """An observation's count confidence (``count_confidence``), None where it has none."""
    v = getattr(r, "count_confidence", None)
    return None if v is None or v != v else float(v)  # NaN != NaN


def _optional_text(r, col: str) -> str | None:
    """An observation's optional text column (``size_fits``): None where the row has none (absent, NULL, NaN)."""
    v = getattr(r, col, None)
    return v if isinstance(v, str) else None


def counts_rows(recs: list[dict]) -> list[list]:
    """What the audit chain keeps of a flight's observations: [bin, sku, count, confidence] sorted."""
    return sorted([r["bin_id"], r["sku"], int(r["count"]), round(float(r["confidence"]), 6)] for r in recs)


def discrepancy_rows(recs: list[dict]) -> list[list]:
    """What a reconciliation record vouches for (its status changes with reviews, so it is left out)."""
    return [[r["bin_id"], r["sku"], r["kind"], int(r["erp_qty"]), int(r["counted_qty"]), int(r["delta"])] for r in recs]


def default_url(path: str | Path = "results.db") -> str:
    return f"sqlite:///{Path(path).resolve()}"


MIGRATION_LOCK_KEY = 0x7261636B  # PostgreSQL advisory lock held while a process migrates the store


@contextmanager
def _migration_lock(engine: Engine):
    """One process at a time brings a store up to date: two that open a new store together (the
    flight and its live counter, or a viewer) would otherwise both create its tables. A SQLite
    file is guarded by an exclusive lock on a file beside it (``results.db.lock``; SQLite's own
    locks do not cover pysqlite's DDL, which runs outside a transaction); PostgreSQL by an advisory
    lock taken in the migration's transaction (``migrate``)."""
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    if not db or db == ":memory:" or db.startswith("file:"):
        yield
        return
    import fcntl

    with open(f"{db}.lock", "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with _migration_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class ResultsStore:
    """The results database (see docs/CONTRACTS.md "Results store")."""

    def __init__(self, url: str) -> None:
        if "://" not in url:
            url = default_url(url)
        try:
            self.engine = create_engine(url, future=True)
            if url.startswith("sqlite"):
                from sqlalchemy import event

                @event.listens_for(self.engine, "connect")
                def _fk(dbapi_conn, _):  # noqa: ANN001
                    dbapi_conn.execute("PRAGMA foreign_keys=ON")
            migrate(self.engine)
        except ReconciliationError:
            raise
        except Exception as exc:  # noqa: BLE001 - driver errors become one line
            raise ReconciliationError(f"--db {url}: cannot open the results store ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
        self.url = url

    # -- writing ----------------------------------------------------------------------------
    def upsert_site(self, name: str, site_yaml: str) -> int:
        h = hashlib.sha256(site_yaml.encode()).hexdigest()
        with self.engine.begin() as c:
            row = c.execute(select(S.sites.c.id).where(S.sites.c.site_sha256 == h)).first()
            if row:
                return row[0]
            return c.execute(insert(S.sites).values(name=name, site_sha256=h, site_yaml=site_yaml, created_at=_now())).inserted_primary_key[0]

    def upsert_flight(self, flight_key: str, *, site_id: int | None, bundle_path: str = "", started_utc: str = "",
                      n_frames: int = 0, flight_time_s: float | None = None, observations: pd.DataFrame | None = None,
                      actor: str = "") -> int:
        with self.engine.begin() as c:
            row = c.execute(select(S.flights.c.id).where(S.flights.c.flight_key == flight_key)).first()
            vals = dict(site_id=site_id, bundle_path=str(bundle_path), started_utc=started_utc, n_frames=n_frames,
                        flight_time_s=flight_time_s, imported_at=_now())
            if row:
                fid = row[0]
                c.execute(update(S.flights).where(S.flights.c.id == fid).values(**vals))
            else:
                fid = c.execute(insert(S.flights).values(flight_key=flight_key, **vals)).inserted_primary_key[0]
            if observations is not None:
                c.execute(delete(S.observations).where(S.observations.c.flight_id == fid))
                recs = [{"flight_id": fid, "bin_id": r.bin_id, "sku": r.sku or "", "gtin": str(getattr(r, "gtin", "") or ""),
                         "count": int(r.count), "confidence": float(r.confidence), "n_views": int(getattr(r, "n_views", 0) or 0),
                         "evidence_path": str(getattr(r, "evidence_path", "") or ""),
                         "evidence_crop_path": str(getattr(r, "evidence_crop_path", "") or ""),
                         "reason": str(getattr(r, "reason", "") or ""), "count_confidence": _count_confidence(r),
                         "n_serials": optional_int(r, "n_serials"), "count_lo": optional_int(r, "count_lo"),
                         "count_hi": optional_int(r, "count_hi"), "size_fits": _optional_text(r, "size_fits")}
                        for r in observations.itertuples(index=False)]
                if recs:
                    c.execute(insert(S.observations), recs)
                audit.append(c, "counts", subject=flight_key, actor=actor, payload={
                    "flight_key": flight_key, "bundle_path": str(bundle_path), "n_frames": n_frames,
                    "flight_time_s": flight_time_s, "counts": counts_rows(recs)})
        return fid

    def import_erp_snapshot(self, snap) -> int:
        """Store an :class:`reconciliation.erp.ErpSnapshot` once (by content hash)."""
        with self.engine.begin() as c:
            row = c.execute(select(S.erp_snapshots.c.id).where(S.erp_snapshots.c.sha256 == snap.sha256)).first()
            if row:
                return row[0]
            sid = c.execute(insert(S.erp_snapshots).values(sha256=snap.sha256, source_file=snap.source, imported_at=_now(),
                                                            n_rows=len(snap.rows))).inserted_primary_key[0]
            recs = [{"snapshot_id": sid, "bin_id": r.bin_id, "sku": r.sku, "qty": int(r.qty), "description": r.description or "",
                     "lot": r.lot or "", "unit_price": None if r.unit_price is None or r.unit_price != r.unit_price else float(r.unit_price)}
                    for r in snap.rows.itertuples(index=False)]
            if recs:
                c.execute(insert(S.erp_rows), recs)
            return sid

    def import_erp_file(self, path: str | Path, mapping=None, *, site=None, duplicates: str = "sum") -> int:
        from reconciliation.erp import load_erp

        return self.import_erp_snapshot(load_erp(path, mapping, site=site, duplicates=duplicates))

    def save_flight_path(self, flight_id: int, path) -> int:
        """Replace a flight's corrected path (DataFrame t_s, x_m, y_m, z_m, speed_m_s); returns the samples stored."""
        with self.engine.begin() as c:
            c.execute(delete(S.flight_paths).where(S.flight_paths.c.flight_id == flight_id))
            recs = [{"flight_id": flight_id, "t_s": float(r.t_s), "x_m": float(r.x_m), "y_m": float(r.y_m),
                     "z_m": float(r.z_m), "speed_m_s": float(r.speed_m_s)} for r in path.itertuples()]
            if recs:
                c.execute(insert(S.flight_paths), recs)
        return len(recs)

    def flight_path(self, flight_id: int) -> pd.DataFrame:
        t = S.flight_paths
        return self._df(select(t.c.t_s, t.c.x_m, t.c.y_m, t.c.z_m, t.c.speed_m_s).where(t.c.flight_id == flight_id)
                        .order_by(t.c.t_s))

    def save_reconciliation(self, flight_id: int, snapshot_id: int, result: ReconciliationResult, params: dict,
                            aisle_of: dict[str, str] | None = None, actor: str = "") -> int:
        """Insert or replace the reconciliation of (flight, snapshot); re-apply review statuses.
        ``aisle_of``: bin id -> aisle, from the site (bin naming is the site's own)."""
        with self.engine.begin() as c:
            row = c.execute(select(S.reconciliations.c.id).where(
                (S.reconciliations.c.flight_id == flight_id) & (S.reconciliations.c.snapshot_id == snapshot_id))).first()
            vals = dict(created_at=_now(), params=params, summary=result.summary.as_dict())
            if row:
                rid = row[0]
                c.execute(update(S.reconciliations).where(S.reconciliations.c.id == rid).values(**vals))
                c.execute(delete(S.discrepancies).where(S.discrepancies.c.reconciliation_id == rid))
            else:
                rid = c.execute(insert(S.reconciliations).values(flight_id=flight_id, snapshot_id=snapshot_id, **vals)).inserted_primary_key[0]
            last = self._last_actions(c, rid)
            recs = []
            for r in result.discrepancies.itertuples(index=False):
                key = f"{r.bin_id}|{r.sku}|{r.kind}"
                status = "match" if r.kind == "match" else last.get(key, "open")
                recs.append({"reconciliation_id": rid, "bin_id": r.bin_id, "aisle": (aisle_of or {}).get(r.bin_id, ""), "sku": r.sku,
                             "kind": r.kind, "erp_qty": int(r.erp_qty), "counted_qty": int(r.counted_qty), "delta": int(r.delta),
                             "paired_bin_id": r.paired_bin_id or "", "confidence": float(r.confidence),
                             "evidence_path": r.evidence_path or "", "reason": r.reason or "",
                             "unit_price": None if r.unit_price is None or r.unit_price != r.unit_price else float(r.unit_price),
                             "status": status})
            if recs:
                c.execute(insert(S.discrepancies), recs)
            key = c.execute(select(S.flights.c.flight_key).where(S.flights.c.id == flight_id)).scalar_one()
            sha = c.execute(select(S.erp_snapshots.c.sha256).where(S.erp_snapshots.c.id == snapshot_id)).scalar_one()
            audit.append(c, "reconciliation", subject=f"{key}|{sha[:12]}", actor=actor, payload={
                "reconciliation_id": rid, "flight_key": key, "erp_sha256": sha, "params": params,
                "summary": result.summary.as_dict(), "n_discrepancies": len(recs),
                "discrepancies_sha256": audit.rows_digest(discrepancy_rows(recs))})
        return rid

    @staticmethod
    def _last_actions(c, rid: int) -> dict[str, str]:
        rows = c.execute(select(S.review_actions.c.discrepancy_key, S.review_actions.c.action)
                         .where(S.review_actions.c.reconciliation_id == rid).order_by(S.review_actions.c.id)).all()
        return {k: a for k, a in rows}

    def record_review(self, discrepancy_ids: list[int], action: str, user: str, role: str, comment: str = "",
                      adjusted_qty: int | None = None) -> int:
        """Record who accepted / ordered a recount / adjusted which discrepancies; returns the count."""
        if action not in REVIEW_ACTIONS:
            raise ReconciliationError(f"review action {action!r}; expected one of {sorted(REVIEW_ACTIONS)}")
        if role not in ROLES:
            raise ReconciliationError(f"role {role!r}; expected one of {list(ROLES)}")
        if role == "operator":
            raise ReconciliationError(f"user {user!r} has role operator; reviewing discrepancies needs controller or engineer")
        if action == "adjusted" and adjusted_qty is None:
            raise ReconciliationError("an adjustment needs the adjusted quantity")
        if not user:
            raise ReconciliationError("a review needs the reviewer's user name")
        ids = [int(i) for i in discrepancy_ids]
        with self.engine.begin() as c:
            rows = c.execute(select(S.discrepancies).where(S.discrepancies.c.id.in_(ids))).mappings().all()
            if len(rows) != len(set(ids)):
                found = {r["id"] for r in rows}
                raise ReconciliationError(f"unknown discrepancy id(s) {sorted(set(ids) - found)}")
            now = _now()
            written = []
            for r in rows:
                vals = dict(reconciliation_id=r["reconciliation_id"], discrepancy_key=f"{r['bin_id']}|{r['sku']}|{r['kind']}",
                            action=action, adjusted_qty=adjusted_qty, comment=comment, user=user, role=role)
                rid = c.execute(insert(S.review_actions).values(**vals, at=now)).inserted_primary_key[0]
                written.append({"id": int(rid), **vals})
            c.execute(update(S.discrepancies).where(S.discrepancies.c.id.in_(ids)).values(status=REVIEW_ACTIONS[action]))
            audit.append(c, "review", subject=",".join(sorted({str(r["reconciliation_id"]) for r in rows})), actor=user,
                         payload={"rows": written})
        return len(rows)

    def record_access(self, event: str, *, user: str = "", client: str = "", detail: str = "",
                      at: dt.datetime | None = None) -> None:
        """Append one access event (sign-in, failure, lockout, unlock, denied action)."""
        if event not in ACCESS_EVENTS:
            raise ReconciliationError(f"access event {event!r}; expected one of {list(ACCESS_EVENTS)}")
        at = at or _now()
        with self.engine.begin() as c:
            c.execute(insert(S.access_events).values(at=at, event=event, user=user[:100], client=client[:100],
                                                     detail=detail))
            audit.append(c, "access", subject=event, actor=user[:100], payload={"client": client[:100], "detail": detail,
                                                                              "at": at})

    def access_events(self, *, user: str | None = None, client: str | None = None, since: dt.datetime | None = None,
                      events: tuple[str, ...] | None = None, limit: int | None = None) -> pd.DataFrame:
        """Access events, newest first, filtered in SQL (columns id, at, event, user, client, detail)."""
        t = S.access_events
        stmt = select(t).order_by(t.c.id.desc())
        if user is not None:
            stmt = stmt.where(t.c.user == user)
        if client is not None:
            stmt = stmt.where(t.c.client == client)
        if since is not None:
            stmt = stmt.where(t.c.at >= since)
        if events:
            stmt = stmt.where(t.c.event.in_(list(events)))
        if limit is not None:
            stmt = stmt.limit(limit)
        df = self._df(stmt)
        if len(df):  # SQLite hands back naive datetimes; every time we store is UTC
            df["at"] = pd.to_datetime(df["at"], utc=True)
        return df

    # -- reading ----------------------------------------------------------------------------
    def _df(self, stmt) -> pd.DataFrame:
        with self.engine.connect() as c:
            res = c.execute(stmt)
            return pd.DataFrame(res.mappings().all(), columns=list(res.keys()))

    def list_flights(self) -> pd.DataFrame:
        recon_count = select(func.count(S.reconciliations.c.id)).where(S.reconciliations.c.flight_id == S.flights.c.id).scalar_subquery()
        return self._df(select(S.flights, S.sites.c.name.label("site_name"), recon_count.label("n_reconciliations"))
                        .select_from(S.flights.outerjoin(S.sites, S.flights.c.site_id == S.sites.c.id)).order_by(S.flights.c.id))

    def latest_reconciliation(self, flight_id: int | None = None) -> int | None:
        stmt = select(S.reconciliations.c.id).order_by(S.reconciliations.c.created_at.desc(), S.reconciliations.c.id.desc())
        if flight_id is not None:
            stmt = stmt.where(S.reconciliations.c.flight_id == flight_id)
        with self.engine.connect() as c:
            row = c.execute(stmt).first()
        return row[0] if row else None

    def reconciliation_summary(self, reconciliation_id: int) -> dict:
        with self.engine.connect() as c:
            row = c.execute(select(S.reconciliations, S.flights.c.flight_key, S.erp_snapshots.c.source_file)
                            .select_from(S.reconciliations.join(S.flights).join(S.erp_snapshots))
                            .where(S.reconciliations.c.id == reconciliation_id)).mappings().first()
            if row is None:
                raise ReconciliationError(f"no reconciliation with id {reconciliation_id}")
            status = dict(c.execute(select(S.discrepancies.c.status, func.count()).where(
                S.discrepancies.c.reconciliation_id == reconciliation_id).group_by(S.discrepancies.c.status)).all())
        return {"id": row["id"], "flight_key": row["flight_key"], "erp_file": row["source_file"],
                "created_at": row["created_at"], **row["summary"], "by_status": status, "params": row["params"]}

    def list_discrepancies(self, reconciliation_id: int, kinds=None, statuses=None, aisle=None,
                           include_matches: bool = False) -> pd.DataFrame:
        t = S.discrepancies
        stmt = select(t).where(t.c.reconciliation_id == reconciliation_id)
        if kinds:
            stmt = stmt.where(t.c.kind.in_(list(kinds)))
        elif not include_matches:
            stmt = stmt.where(t.c.kind != "match")
        if statuses:
            stmt = stmt.where(t.c.status.in_(list(statuses)))
        if aisle:
            stmt = stmt.where(t.c.aisle == aisle)
        return self._df(stmt.order_by(t.c.bin_id, t.c.sku))

    def bin_detail(self, reconciliation_id: int, bin_id: str) -> dict:
        with self.engine.connect() as c:
            rec = c.execute(select(S.reconciliations).where(S.reconciliations.c.id == reconciliation_id)).mappings().first()
            if rec is None:
                raise ReconciliationError(f"no reconciliation with id {reconciliation_id}")
            disc = c.execute(select(S.discrepancies).where((S.discrepancies.c.reconciliation_id == reconciliation_id)
                                                           & (S.discrepancies.c.bin_id == bin_id))).mappings().all()
            obs = c.execute(select(S.observations).where((S.observations.c.flight_id == rec["flight_id"])
                                                         & (S.observations.c.bin_id == bin_id))).mappings().all()
            erp = c.execute(select(S.erp_rows).where((S.erp_rows.c.snapshot_id == rec["snapshot_id"])
                                                     & (S.erp_rows.c.bin_id == bin_id))).mappings().all()
            bundle = c.execute(select(S.flights.c.bundle_path).where(S.flights.c.id == rec["flight_id"])).scalar()
        return {"bin_id": bin_id, "bundle_path": bundle, "discrepancies": [dict(d) for d in disc],
                "observations": [dict(o) for o in obs], "erp": [dict(e) for e in erp]}

    def flight_observations(self, flight_id: int) -> pd.DataFrame:
        return self._df(select(S.observations).where(S.observations.c.flight_id == flight_id).order_by(S.observations.c.bin_id))

    def flight_site_yaml(self, flight_id: int) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(S.sites.c.site_yaml).select_from(S.flights.join(S.sites))
                             .where(S.flights.c.id == flight_id)).scalar()

    def reconciliation_flight(self, reconciliation_id: int) -> dict:
        with self.engine.connect() as c:
            row = c.execute(select(S.flights).select_from(S.reconciliations.join(S.flights))
                            .where(S.reconciliations.c.id == reconciliation_id)).mappings().first()
        if row is None:
            raise ReconciliationError(f"no reconciliation with id {reconciliation_id}")
        return dict(row)

    def list_reconciliations(self) -> pd.DataFrame:
        return self._df(select(S.reconciliations.c.id, S.reconciliations.c.created_at, S.flights.c.flight_key,
                               S.erp_snapshots.c.source_file)
                        .select_from(S.reconciliations.join(S.flights).join(S.erp_snapshots))
                        .order_by(S.reconciliations.c.id.desc()))

    def recount_queue(self, reconciliation_id: int | None = None) -> list[str]:
        """Bins of a reconciliation (default: the latest) still to recount: a reviewer ordered a
        recount, or the count was too doubtful to judge and nobody has settled it."""
        rid = reconciliation_id if reconciliation_id is not None else self.latest_reconciliation()
        if rid is None:
            return []
        t = S.discrepancies
        stmt = (select(t.c.bin_id).distinct().where(t.c.reconciliation_id == rid)
                .where((t.c.status == "recount_ordered") | ((t.c.kind == "needs_recount") & (t.c.status == "open")))
                .order_by(t.c.bin_id))
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(stmt)]

    def list_reviews(self, reconciliation_id: int | None = None) -> pd.DataFrame:
        stmt = select(S.review_actions).order_by(S.review_actions.c.id)
        if reconciliation_id is not None:
            stmt = stmt.where(S.review_actions.c.reconciliation_id == reconciliation_id)
        return self._df(stmt)

    def trend(self) -> pd.DataFrame:
        with self.engine.connect() as c:
            rows = c.execute(select(S.reconciliations.c.id, S.reconciliations.c.created_at, S.reconciliations.c.summary,
                                    S.flights.c.flight_key).select_from(S.reconciliations.join(S.flights))
                             .order_by(S.reconciliations.c.created_at, S.reconciliations.c.id)).mappings().all()
        out = []
        for r in rows:
            s = r["summary"]
            out.append({"reconciliation_id": r["id"], "created_at": r["created_at"], "flight_key": r["flight_key"],
                        "bins_scanned": s["bins_scanned"], "coverage": s["coverage"], "matching_rate": s["matching_rate"],
                        **{f"n_{k}": v for k, v in s["by_kind"].items()}})
        return pd.DataFrame(out)
