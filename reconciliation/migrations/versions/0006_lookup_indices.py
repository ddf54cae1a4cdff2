"""Composite indices for the lookups the dashboard makes at scale: a bin's discrepancies,
observations and ERP rows, and the Discrepancies page's aisle and kind filters.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from reconciliation.schema import discrepancies, erp_rows, observations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NEW = ("ix_observations_flight_bin", "ix_erp_rows_snapshot_bin", "ix_discrepancies_rec_bin",
       "ix_discrepancies_rec_aisle_kind")


def _indices():
    return [ix for t in (observations, erp_rows, discrepancies) for ix in t.indexes if ix.name in NEW]


def upgrade() -> None:
    bind = op.get_bind()
    for ix in _indices():  # 0001 creates today's tables whole, these with them; older stores need them
        ix.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for ix in _indices():
        ix.drop(bind, checkfirst=True)
