"""Each observation's range of counts its evidence allows (``count_lo``, ``count_hi``; NULL ``count_hi``:
no upper bound): a bin sent to recount whose whole range lies off the ERP's quantity is short or over
(``reconciliation.diff``, reason ``range_off_erp``).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("observations")}
    missing = [name for name in ("count_lo", "count_hi") if name not in cols]
    if missing:  # 0001 creates today's tables whole; older stores need the columns
        with op.batch_alter_table("observations") as b:
            for name in missing:
                b.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations") as b:
        b.drop_column("count_hi")
        b.drop_column("count_lo")
