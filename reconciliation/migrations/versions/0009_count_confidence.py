"""Each observation's count confidence (the count alone right, SKU aside): a bin the ERP lists empty
that holds goods whose labels were not read is judged on it (``reconciliation.diff``).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("observations")}
    if "count_confidence" not in cols:  # 0001 creates today's tables whole; older stores need the column
        with op.batch_alter_table("observations") as b:
            b.add_column(sa.Column("count_confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations") as b:
        b.drop_column("count_confidence")
