"""Campaigns: a site count made of many flights.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from reconciliation.schema import campaign_flights, campaigns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for t in (campaigns, campaign_flights):  # 0001 creates today's tables whole; older stores need them
        t.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for t in (campaign_flights, campaigns):
        t.drop(bind, checkfirst=True)
