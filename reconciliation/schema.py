"""Tables of the results store (SQLAlchemy Core). Alembic migrations create them."""

from __future__ import annotations

from sqlalchemy import (JSON, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

metadata = MetaData()

sites = Table(
    "sites", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("site_sha256", String(64), nullable=False, unique=True),
    Column("site_yaml", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

flights = Table(
    "flights", metadata,
    Column("id", Integer, primary_key=True),
    Column("flight_key", String(200), nullable=False, unique=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=True),
    Column("bundle_path", Text, nullable=False, default=""),
    Column("started_utc", String(40), nullable=False, default=""),
    Column("n_frames", Integer, nullable=False, default=0),
    Column("flight_time_s", Float, nullable=True),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

observations = Table(
    "observations", metadata,
    Column("id", Integer, primary_key=True),
    Column("flight_id", Integer, ForeignKey("flights.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("bin_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False, default=""),
    Column("gtin", String(20), nullable=False, default=""),
    Column("count", Integer, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("n_views", Integer, nullable=False, default=0),
    Column("evidence_path", Text, nullable=False, default=""),
    Column("evidence_crop_path", Text, nullable=False, default=""),  # the bin cut out of that frame
    Column("reason", Text, nullable=False, default=""),
)

# the corrected path fusion counted with (a few samples a second), for the Flights page
flight_paths = Table(
    "flight_paths", metadata,
    Column("id", Integer, primary_key=True),
    Column("flight_id", Integer, ForeignKey("flights.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("t_s", Float, nullable=False),  # since the first sample
    Column("x_m", Float, nullable=False),
    Column("y_m", Float, nullable=False),
    Column("z_m", Float, nullable=False),
    Column("speed_m_s", Float, nullable=False),
)

erp_snapshots = Table(
    "erp_snapshots", metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("source_file", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("n_rows", Integer, nullable=False),
)

erp_rows = Table(
    "erp_rows", metadata,
    Column("id", Integer, primary_key=True),
    Column("snapshot_id", Integer, ForeignKey("erp_snapshots.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("bin_id", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("lot", String(64), nullable=False, default=""),
    Column("unit_price", Float, nullable=True),
)

reconciliations = Table(
    "reconciliations", metadata,
    Column("id", Integer, primary_key=True),
    Column("flight_id", Integer, ForeignKey("flights.id", ondelete="CASCADE"), nullable=False),
    Column("snapshot_id", Integer, ForeignKey("erp_snapshots.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("params", JSON, nullable=False),
    Column("summary", JSON, nullable=False),
    UniqueConstraint("flight_id", "snapshot_id", name="uq_reconciliation_flight_snapshot"),
)

discrepancies = Table(
    "discrepancies", metadata,
    Column("id", Integer, primary_key=True),
    Column("reconciliation_id", Integer, ForeignKey("reconciliations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("bin_id", String(64), nullable=False),
    Column("aisle", String(32), nullable=False, default=""),
    Column("sku", String(64), nullable=False, default=""),
    Column("kind", String(32), nullable=False),
    Column("erp_qty", Integer, nullable=False),
    Column("counted_qty", Integer, nullable=False),
    Column("delta", Integer, nullable=False),
    Column("paired_bin_id", String(64), nullable=False, default=""),
    Column("confidence", Float, nullable=False),
    Column("evidence_path", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("unit_price", Float, nullable=True),
    Column("status", String(32), nullable=False, default="open"),
)

review_actions = Table(
    "review_actions", metadata,
    Column("id", Integer, primary_key=True),
    Column("reconciliation_id", Integer, ForeignKey("reconciliations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("discrepancy_key", String(200), nullable=False),  # bin_id|sku|kind survives a re-run
    Column("action", String(32), nullable=False),  # accepted | recount_ordered | adjusted
    Column("adjusted_qty", Integer, nullable=True),
    Column("comment", Text, nullable=False, default=""),
    Column("user", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Who signed in to the dashboard, who failed, who was refused an action (the sign-in throttle reads it).
access_events = Table(
    "access_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", String(32), nullable=False),  # see reconciliation.store.ACCESS_EVENTS
    Column("user", String(100), nullable=False, default=""),
    Column("client", String(100), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_access_events_user_id", "user", "id"),
    Index("ix_access_events_client_at", "client", "at"),
)
