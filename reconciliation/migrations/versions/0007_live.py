"""Live flights: the samples `rackscan fly --live-db` writes while it flies and the bins live
counting makes provisional (the Live page).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from reconciliation.schema import live_bins, live_flights, live_samples

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for t in (live_flights, live_samples, live_bins):  # 0001 creates today's tables whole; older stores need them
        t.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for t in (live_bins, live_samples, live_flights):
        t.drop(bind, checkfirst=True)
