"""Access events of the dashboard: sign-ins, failures, lockouts, unlocks, denied actions.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from reconciliation.schema import access_events

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0001 creates every table of the metadata it imports, so a new store already has this one
    access_events.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    access_events.drop(op.get_bind(), checkfirst=True)
