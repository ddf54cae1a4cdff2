"""Each observation's distinct serialised labels of its GTIN read in the bin (a floor on the tires of
its SKU there): a bin sent to recount that shows more of them than the ERP lists is ``over``
(``reconciliation.diff``, reason ``labels_over_erp``).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("observations")}
    if "n_serials" not in cols:  # 0001 creates today's tables whole; older stores need the column
        with op.batch_alter_table("observations") as b:
            b.add_column(sa.Column("n_serials", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations") as b:
        b.drop_column("n_serials")
