"""The audit chain checked and exported: ``verify`` walks every record of ``audit_records`` (its
hash over the previous hash and its own fields, the sequence unbroken, the head where the last
record is) and then holds today's rows up to the newest record that vouches for them: a flight's
counts, a reconciliation's discrepancies (status left out: reviews change it), each review action.
The first thing that does not hold is named, so an edit made with SQL behind the store's back is
found whichever table it touched.

The chain is written by ``reconciliation.audit.append`` inside the store's own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from operations.errors import OperationsError
from reconciliation import schema as S
from reconciliation.audit import GENESIS_HASH, AuditEntry, record_hash, rows_digest
from reconciliation.store import ResultsStore, counts_rows, discrepancy_rows


@dataclass(frozen=True)
class ChainReport:
    n_records: int
    head_seq: int
    head_hash: str
    n_flights_checked: int
    n_reconciliations_checked: int
    n_reviews_checked: int


def entries(store: ResultsStore) -> list[AuditEntry]:
    t = S.audit_records
    with store.engine.connect() as c:
        rows = c.execute(select(t.c.seq, t.c.at, t.c.kind, t.c.subject, t.c.actor, t.c.payload, t.c.prev_hash, t.c.hash)
                         .order_by(t.c.seq)).all()
    return [AuditEntry(*r) for r in rows]


def _where(e: AuditEntry) -> str:
    return f"audit record seq {e.seq} ({e.kind} {e.subject})"


def check_chain(chain: list[AuditEntry], head: tuple[int, str] | None) -> None:
    """Raise OperationsError naming the first record whose link or hash does not hold."""
    prev = GENESIS_HASH
    for i, e in enumerate(chain, start=1):
        if e.seq != i:
            raise OperationsError(f"{_where(e)}: seq: found {e.seq} after {i - 1}; expected {i} (a record was removed)")
        if e.prev_hash != prev:
            raise OperationsError(f"{_where(e)}: prev_hash: {e.prev_hash[:16]}...; expected {prev[:16]}... "
                                  "(the record before it changed)")
        if record_hash(e.prev_hash, e.seq, e.at, e.kind, e.subject, e.actor, e.payload) != e.hash:
            raise OperationsError(f"{_where(e)}: hash: does not match its contents; expected the record as written "
                                  "(it was edited)")
        prev = e.hash
    if head is None:
        raise OperationsError("audit_head: missing; expected the chain's newest (seq, hash)")
    last = (chain[-1].seq, chain[-1].hash) if chain else (0, GENESIS_HASH)
    if tuple(head) != last:
        raise OperationsError(f"audit_head: seq {head[0]} hash {head[1][:16]}...; expected seq {last[0]} hash "
                              f"{last[1][:16]}... (the chain's end was cut or the head rewritten)")


def _check_tables(store: ResultsStore, chain: list[AuditEntry]) -> tuple[int, int, int]:
    counts, recs, reviews, started = {}, {}, {}, None
    for e in chain:  # the newest record of each subject vouches for it
        d = e.data()
        if e.kind == "counts":
            counts[d["flight_key"]] = (e, d)
        elif e.kind == "reconciliation":
            recs[int(d["reconciliation_id"])] = (e, d)
        elif e.kind == "review":
            for r in d["rows"]:
                reviews[int(r["id"])] = (e, r)
        elif e.kind == "chain_started" and started is None:
            started = d
    started = started or {}
    with store.engine.connect() as c:
        flights = {k: fid for fid, k in c.execute(select(S.flights.c.id, S.flights.c.flight_key))}
        for key, (e, d) in counts.items():
            fid = flights.get(key)
            if fid is None:
                raise OperationsError(f"flights: flight {key!r} is gone; expected it ({_where(e)} vouches for its counts)")
            o = S.observations
            rows = [dict(r._mapping) for r in c.execute(select(o.c.bin_id, o.c.sku, o.c.count, o.c.confidence)
                                                         .where(o.c.flight_id == fid))]
            now = counts_rows(rows)
            if now != d["counts"]:
                raise OperationsError(f"observations of flight {key!r}: {_first_difference(now, d['counts'])}; "
                                      f"expected what {_where(e)} vouches for (a count was edited)")
        for key, fid in flights.items():
            if key not in counts and key not in started.get("flights_before", []):
                raise OperationsError(f"flights: flight {key!r} (id {fid}) has no counts record in the audit chain; "
                                      "expected every flight stored through the store")
        for rid, (e, d) in recs.items():
            t = S.discrepancies
            rows = [dict(r._mapping) for r in c.execute(select(t.c.bin_id, t.c.sku, t.c.kind, t.c.erp_qty, t.c.counted_qty,
                                                               t.c.delta).where(t.c.reconciliation_id == rid))]
            if rows_digest(discrepancy_rows(rows)) != d["discrepancies_sha256"] or len(rows) != d["n_discrepancies"]:
                raise OperationsError(f"discrepancies of reconciliation {rid}: {len(rows)} rows that do not hash to "
                                      f"{d['discrepancies_sha256'][:16]}...; expected what {_where(e)} vouches for "
                                      "(a discrepancy was edited)")
        t = S.review_actions
        max_before = int(started.get("review_actions_max_id", 0))
        for r in c.execute(select(t).order_by(t.c.id)):
            m = dict(r._mapping)
            if m["id"] <= max_before:
                continue
            got = reviews.get(int(m["id"]))
            if got is None:
                raise OperationsError(f"review_actions row {m['id']}: not in the audit chain; expected every review "
                                      "recorded through the store")
            e, want = got
            for f in ("reconciliation_id", "discrepancy_key", "action", "adjusted_qty", "comment", "user", "role"):
                if m[f] != want[f]:
                    raise OperationsError(f"review_actions row {m['id']}: {f}: {m[f]!r}; expected {want[f]!r} as "
                                          f"{_where(e)} recorded it")
    return len(counts), len(recs), len(reviews)


def _first_difference(now: list[list], then: list[list]) -> str:
    a, b = {tuple(r[:2]): r for r in now}, {tuple(r[:2]): r for r in then}
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            if k not in a:
                return f"bin {k[0]} sku {k[1]!r}: missing (recorded count {b[k][2]})"
            if k not in b:
                return f"bin {k[0]} sku {k[1]!r}: count {a[k][2]} was never recorded"
            return f"bin {k[0]} sku {k[1]!r}: count {a[k][2]} confidence {a[k][3]} (recorded {b[k][2]}, {b[k][3]})"
    return f"{len(now)} rows (recorded {len(then)})"


def verify(store: ResultsStore) -> ChainReport:
    """Check the chain and the rows it vouches for; raise OperationsError naming the first break."""
    chain = entries(store)
    with store.engine.connect() as c:
        head = c.execute(select(S.audit_head.c.seq, S.audit_head.c.hash).where(S.audit_head.c.id == 1)).first()
    check_chain(chain, tuple(head) if head else None)
    nf, nr, nv = _check_tables(store, chain)
    last = chain[-1] if chain else None
    return ChainReport(len(chain), last.seq if last else 0, last.hash if last else GENESIS_HASH, nf, nr, nv)


def count_history(store: ResultsStore, bin_id: str) -> pd.DataFrame:
    """A bin's counts across flights as the chain recorded them (replaced counts included):
    seq, at, flight_key, sku, count, confidence."""
    out = []
    for e in entries(store):
        if e.kind == "counts":
            d = e.data()
            out += [{"seq": e.seq, "at": e.at, "flight_key": d["flight_key"], "sku": r[1], "count": r[2],
                     "confidence": r[3]} for r in d["counts"] if r[0] == bin_id]
    return pd.DataFrame(out, columns=["seq", "at", "flight_key", "sku", "count", "confidence"])


def export(store: ResultsStore, path: str | Path) -> ChainReport:
    """The auditor's workbook: a Head sheet (head seq and hash, verified), the Chain (every record),
    and today's Counts, Discrepancies and Reviews. Verifies first: a broken chain is not exported."""
    from openpyxl import Workbook

    rep = verify(store)
    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "Head"
    for k, v in [("head_seq", rep.head_seq), ("head_hash", rep.head_hash), ("records", rep.n_records),
                 ("verified", "yes"), ("store", store.url.split("@")[-1])]:
        ws.append([k, v])
    ws = wb.create_sheet("Chain")
    ws.append(["seq", "at", "kind", "subject", "actor", "payload", "prev_hash", "hash"])
    for e in entries(store):
        ws.append([e.seq, e.at, e.kind, e.subject, e.actor, e.payload[:32000], e.prev_hash, e.hash])
    with store.engine.connect() as c:
        o, f = S.observations, S.flights
        sheets = {
            "Counts": select(f.c.flight_key, o.c.bin_id, o.c.sku, o.c.count, o.c.confidence).join_from(o, f).order_by(f.c.id, o.c.bin_id),
            "Discrepancies": select(S.discrepancies.c.reconciliation_id, S.discrepancies.c.bin_id, S.discrepancies.c.sku,
                                    S.discrepancies.c.kind, S.discrepancies.c.erp_qty, S.discrepancies.c.counted_qty,
                                    S.discrepancies.c.delta, S.discrepancies.c.status).order_by(S.discrepancies.c.id),
            "Reviews": select(S.review_actions).order_by(S.review_actions.c.id),
        }
        for name, stmt in sheets.items():
            res = c.execute(stmt)
            ws = wb.create_sheet(name)
            ws.append(list(res.keys()))
            for r in res:
                ws.append([v.replace(tzinfo=None) if hasattr(v, "tzinfo") and v.tzinfo else v for v in r])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return rep


__all__ = ["ChainReport", "verify", "export", "entries", "check_chain", "count_history"]
