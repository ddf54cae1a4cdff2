"""Each observation's catalogue SKUs its goods' measured size fits (``size_fits``, ";"-joined, nearest
first; NULL: before 0012, no size known): goods no label of which was read, stored by a flight and
reconciled later (a campaign, an ERP uploaded on the dashboard), are named by the ERP's SKU where
their size fits it, as a flight reconciled at once is (``reconciliation.diff.name_by_erp``).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("observations")}
    if "size_fits" not in cols:  # 0001 creates today's tables whole; older stores need the column
        with op.batch_alter_table("observations") as b:
            b.add_column(sa.Column("size_fits", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations") as b:
        b.drop_column("size_fits")
