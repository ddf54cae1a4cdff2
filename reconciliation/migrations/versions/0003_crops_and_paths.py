"""The evidence crop of each observation, and the corrected flight path.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from reconciliation.schema import flight_paths

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    cols = {c["name"] for c in sa.inspect(bind).get_columns("observations")}
    if "evidence_crop_path" not in cols:  # 0001 creates today's tables whole; older stores need the column
        with op.batch_alter_table("observations") as b:
            b.add_column(sa.Column("evidence_crop_path", sa.Text(), nullable=False, server_default=""))
    flight_paths.create(bind, checkfirst=True)


def downgrade() -> None:
    flight_paths.drop(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("observations") as b:
        b.drop_column("evidence_crop_path")
