"""How many frames each provisional bin was fused from (``live_bins.frames_fused``): what
``rackscan bench live --replay`` fuses again.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cols = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("live_bins")}
    if "frames_fused" not in cols:  # 0001 creates today's tables whole; older stores need the column
        with op.batch_alter_table("live_bins") as b:
            b.add_column(sa.Column("frames_fused", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("live_bins") as b:
        b.drop_column("frames_fused")
