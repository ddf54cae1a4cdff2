"""The audit chain's links: how a record is written and hashed (the store appends one in the same
transaction as every count, reconciliation, review and access event it stores; ``operations``
appends its own and verifies the chain).

A record is (seq, at, kind, subject, actor, payload) with ``payload`` canonical JSON (sorted keys,
no spaces, no NaN); its hash is SHA-256 over the previous record's hash and those fields, so an
edit anywhere breaks every hash after it. ``audit_head`` holds the newest (seq, hash): appending
first updates that one row, which serialises writers on SQLite and PostgreSQL alike (the row
lock is held to the end of the writer's transaction), so two writers can never fork the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from reconciliation import schema as S
from reconciliation.errors import ReconciliationError

GENESIS_HASH = "0" * 64
KINDS = ("chain_started", "counts", "reconciliation", "review", "access", "fleet", "maintenance", "checklist",
         "override", "flight", "campaign")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    kind: str
    subject: str
    actor: str
    payload: str  # canonical JSON
    prev_hash: str
    hash: str

    def data(self) -> Any:
        return json.loads(self.payload)


def _clean(obj: Any) -> Any:
    """JSON-ready: NaN and infinities become None, tuples lists, datetimes ISO strings, numpy scalars Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def canonical(payload: Any) -> str:
    return json.dumps(_clean(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_hash(prev_hash: str, seq: int, at: str, kind: str, subject: str, actor: str, payload: str) -> str:
    text = "\n".join((prev_hash, str(int(seq)), at, kind, subject, actor, payload))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def append(conn: Connection, kind: str, *, subject: str = "", actor: str = "", payload: Any = None,
           at: str | None = None) -> AuditEntry:
    """Append one record inside the caller's transaction and return it."""
    if kind not in KINDS:
        raise ReconciliationError(f"audit record kind {kind!r}; expected one of {list(KINDS)}")
    h = S.audit_head
    # take the head's row lock first: a second writer waits here until this transaction ends
    got = conn.execute(update(h).where(h.c.id == 1).values(seq=h.c.seq + 1))
    if got.rowcount != 1:
        raise ReconciliationError("audit_head: missing; expected the row the store's migration 0004 writes")
    seq, head_hash = conn.execute(select(h.c.seq, h.c.hash).where(h.c.id == 1)).one()
    at = at or now_iso()
    body = canonical(payload if payload is not None else {})
    digest = record_hash(head_hash, seq, at, kind, subject[:200], actor[:100], body)
    conn.execute(insert(S.audit_records).values(seq=seq, at=at, kind=kind, subject=subject[:200], actor=actor[:100],
                                                payload=body, prev_hash=head_hash, hash=digest))
    conn.execute(update(h).where(h.c.id == 1).values(hash=digest))
    return AuditEntry(seq, at, kind, subject[:200], actor[:100], body, head_hash, digest)


def rows_digest(rows: list[list[Any]]) -> str:
    """SHA-256 of rows (sorted), for records that vouch for a table's rows without copying them."""
    return hashlib.sha256(canonical(sorted(_clean(rows), key=canonical)).encode("utf-8")).hexdigest()


__all__ = ["AuditEntry", "append", "canonical", "record_hash", "rows_digest", "GENESIS_HASH", "KINDS", "now_iso"]
