"""Operations: the fleet registry (airframes, batteries, cameras), the flight log, maintenance
records, pre-flight checklist confirmations, overrides, and the tamper-evident audit chain.

``audit_records`` and ``review_actions`` become append-only: triggers refuse UPDATE and DELETE on
SQLite and PostgreSQL. The chain starts with a record that names what the store held before it
(those rows are not vouched for).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from reconciliation import schema as S
from reconciliation.audit import GENESIS_HASH, append

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = (S.airframes, S.batteries, S.cameras, S.checklist_confirmations, S.overrides, S.flight_log,
          S.maintenance_events, S.audit_records, S.audit_head)
APPEND_ONLY = ("audit_records", "review_actions")


def _triggers(bind) -> None:
    if bind.dialect.name == "sqlite":
        for t in APPEND_ONLY:
            for op_name in ("UPDATE", "DELETE"):
                bind.execute(sa.text(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op_name.lower()} BEFORE {op_name} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"))
    elif bind.dialect.name == "postgresql":
        bind.execute(sa.text(
            "CREATE OR REPLACE FUNCTION rackscan_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"))
        for t in APPEND_ONLY:
            bind.execute(sa.text(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}"))
            bind.execute(sa.text(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                                 "FOR EACH ROW EXECUTE FUNCTION rackscan_append_only()"))


def upgrade() -> None:
    bind = op.get_bind()
    for t in TABLES:  # 0001 creates today's tables whole; older stores need them
        t.create(bind, checkfirst=True)
    _triggers(bind)
    if bind.execute(sa.select(S.audit_head.c.id)).first() is None:
        bind.execute(sa.insert(S.audit_head).values(id=1, seq=0, hash=GENESIS_HASH))
        flights = [r[0] for r in bind.execute(sa.select(S.flights.c.flight_key).order_by(S.flights.c.id))]
        max_review = bind.execute(sa.select(sa.func.max(S.review_actions.c.id))).scalar() or 0
        max_recon = bind.execute(sa.select(sa.func.max(S.reconciliations.c.id))).scalar() or 0
        append(bind, "chain_started", subject="results store", payload={
            "flights_before": flights, "review_actions_max_id": int(max_review),
            "reconciliations_max_id": int(max_recon)})


def downgrade() -> None:
    bind = op.get_bind()
    for t in APPEND_ONLY:
        if bind.dialect.name == "sqlite":
            for op_name in ("update", "delete"):
                bind.execute(sa.text(f"DROP TRIGGER IF EXISTS {t}_no_{op_name}"))
        elif bind.dialect.name == "postgresql":
            bind.execute(sa.text(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}"))
    for t in reversed(TABLES):
        t.drop(bind, checkfirst=True)
