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
    Column("count_confidence", Float, nullable=True),  # the count alone right (NULL: before 0009; confidence serves)
    Column("n_serials", Integer, nullable=True),  # distinct serialised labels of its GTIN read in the bin (NULL: before 0010)
    # the counts its evidence allows (NULL count_lo: before 0011, any count; NULL count_hi: no upper bound)
    Column("count_lo", Integer, nullable=True),
    Column("count_hi", Integer, nullable=True),
    # catalogue SKUs the goods' measured size fits, ";"-joined (goods unread; NULL: before 0012, no size known)
    Column("size_fits", Text, nullable=True),
    Index("ix_observations_flight_bin", "flight_id", "bin_id"),  # a bin's observations (the rack view, campaigns)
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
    Index("ix_erp_rows_snapshot_bin", "snapshot_id", "bin_id"),
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
    Index("ix_discrepancies_rec_bin", "reconciliation_id", "bin_id"),  # a bin's detail
    Index("ix_discrepancies_rec_aisle_kind", "reconciliation_id", "aisle", "kind"),  # the Discrepancies page's filters
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

# -- operations (operations/ reads and writes these; reconciliation only appends to the audit chain) --
# The fleet registry: every airframe, battery and camera by its serial. Hours, cycles and what is due
# are computed from the flight log and the maintenance records, not stored.
airframes = Table(
    "airframes", metadata,
    Column("id", Integer, primary_key=True),
    Column("serial", String(64), nullable=False, unique=True),
    Column("model", String(200), nullable=False, default=""),
    Column("autopilot_id", String(64), nullable=False, default=""),  # AUTOPILOT_VERSION uid as logged
    Column("hours_before_h", Float, nullable=False, default=0.0),  # flown before it was registered
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Column("notes", Text, nullable=False, default=""),
)

batteries = Table(
    "batteries", metadata,
    Column("id", Integer, primary_key=True),
    Column("serial", String(64), nullable=False, unique=True),
    Column("model", String(200), nullable=False, default=""),
    Column("cells", Integer, nullable=False),
    Column("capacity_mah", Float, nullable=False),  # rated
    Column("cycles_before", Float, nullable=False, default=0.0),  # cycled before it was registered
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Column("notes", Text, nullable=False, default=""),
)

cameras = Table(
    "cameras", metadata,
    Column("id", Integer, primary_key=True),
    Column("serial", String(64), nullable=False, unique=True),
    Column("model", String(200), nullable=False, default=""),
    Column("camera_file", Text, nullable=False, default=""),  # its calibration YAML (rackscan calibrate)
    Column("calibrated_at", DateTime(timezone=True), nullable=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Column("notes", Text, nullable=False, default=""),
)

# one row per flight: which airframe, battery and camera flew, who flew it, how it ended, and the
# figures from its telemetry (BATTERY_STATUS / SYS_STATUS, or DataFlash BAT)
flight_log = Table(
    "flight_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("flight_key", String(200), nullable=False, unique=True),  # flights.flight_key once reconciled
    Column("bundle_path", Text, nullable=False, default=""),
    Column("airframe_id", Integer, ForeignKey("airframes.id"), nullable=False, index=True),
    Column("battery_id", Integer, ForeignKey("batteries.id"), nullable=False, index=True),
    Column("camera_id", Integer, ForeignKey("cameras.id"), nullable=True),
    Column("operator", String(100), nullable=False),
    Column("started_utc", String(40), nullable=False, default=""),
    Column("status", String(32), nullable=False, default=""),  # flight_result.json status
    Column("failsafes", Text, nullable=False, default=""),  # "signal->action by who; ..."
    Column("armed_s", Float, nullable=False, default=0.0),
    Column("airborne_s", Float, nullable=False, default=0.0),
    Column("energy_wh", Float, nullable=True),
    Column("consumed_mah", Float, nullable=True),
    Column("min_voltage_v", Float, nullable=True),
    Column("peak_current_a", Float, nullable=True),
    Column("resting_v_start", Float, nullable=True),
    Column("resting_v_end", Float, nullable=True),
    Column("sag_v", Float, nullable=True),  # resting voltage before arming - lowest voltage in flight
    Column("resistance_mohm", Float, nullable=True),
    Column("cycles", Float, nullable=False, default=0.0),  # consumed / rated capacity
    Column("autopilot_id", String(64), nullable=False, default=""),
    Column("source", String(32), nullable=False, default="tlog"),  # tlog | dataflash
    Column("checklist_id", Integer, ForeignKey("checklist_confirmations.id"), nullable=True),
    Column("override_id", Integer, ForeignKey("overrides.id"), nullable=True),
    Column("logged_at", DateTime(timezone=True), nullable=False),
)

maintenance_events = Table(
    "maintenance_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("item_kind", String(16), nullable=False),  # airframe | battery | camera
    Column("item_id", Integer, nullable=False),
    Column("task", String(64), nullable=False),  # a maintenance rule's id
    Column("done_at", DateTime(timezone=True), nullable=False),
    Column("by", String(100), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Index("ix_maintenance_item", "item_kind", "item_id", "task"),
)

checklist_confirmations = Table(
    "checklist_confirmations", metadata,
    Column("id", Integer, primary_key=True),
    Column("checklist", String(100), nullable=False),
    Column("operator", String(100), nullable=False),
    Column("airframe_id", Integer, ForeignKey("airframes.id"), nullable=False),
    Column("battery_id", Integer, ForeignKey("batteries.id"), nullable=False),
    Column("confirmed_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("items", JSON, nullable=False),  # [{id, text, kind, result}]
)

overrides = Table(
    "overrides", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("operator", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("problems", JSON, nullable=False),  # what was overridden, one line each
    Column("flight_key", String(200), nullable=False, default=""),
    Column("airframe_id", Integer, ForeignKey("airframes.id"), nullable=True),
    Column("battery_id", Integer, ForeignKey("batteries.id"), nullable=True),
)

# The tamper-evident audit chain: append-only (triggers refuse UPDATE and DELETE), each record
# carrying the hash of the one before (reconciliation.audit); audit_head is its newest link.
audit_records = Table(
    "audit_records", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),  # ISO 8601 UTC, hashed as written
    Column("kind", String(32), nullable=False),
    Column("subject", String(200), nullable=False, default=""),
    Column("actor", String(100), nullable=False, default=""),
    Column("payload", Text, nullable=False),  # canonical JSON, hashed as written
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_audit_kind_subject", "kind", "subject"),
)

audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# A campaign: one site count made of many flights (nights, drones, recount flights). Each bin's
# latest trusted observation among its flights wins (reconciliation.campaign).
campaigns = Table(
    "campaigns", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100), nullable=False, default=""),
    Column("min_confidence", Float, nullable=False),  # an observation under it is not trusted
    Column("stale_after_days", Float, nullable=False),  # a trusted count older than this is stale
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("reconciliation_id", Integer, ForeignKey("reconciliations.id", ondelete="SET NULL"), nullable=True),
)

campaign_flights = Table(
    "campaign_flights", metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("flight_id", Integer, ForeignKey("flights.id", ondelete="CASCADE"), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(100), nullable=False, default=""),
    UniqueConstraint("campaign_id", "flight_id", name="uq_campaign_flight"),
)

# A flight as it happens (`rackscan fly --live-db`; flight.live): what the Live page draws. The
# store is the only channel between the flight and the dashboard.
live_flights = Table(
    "live_flights", metadata,
    Column("id", Integer, primary_key=True),
    Column("flight_key", String(200), nullable=False, index=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=True),
    Column("plan", JSON, nullable=False),  # [[mission seq, [bin ids]], ...]: the items that end a pass
    Column("n_items", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("status", String(32), nullable=False),  # flying, then how the flight ended (complete, rtl_battery, ...)
)

live_samples = Table(
    "live_samples", metadata,
    Column("id", Integer, primary_key=True),
    Column("live_flight_id", Integer, ForeignKey("live_flights.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),  # when the store received it
    Column("t_s", Float, nullable=False),  # since the feed started
    Column("x_m", Float, nullable=True),
    Column("y_m", Float, nullable=True),
    Column("alt_m", Float, nullable=False),
    Column("yaw_deg", Float, nullable=False),
    Column("battery_pct", Float, nullable=False),
    Column("voltage_v", Float, nullable=False),
    Column("mode", String(32), nullable=False),
    Column("armed", Integer, nullable=False),
    Column("fix_type", Integer, nullable=False),
    Column("mission_seq", Integer, nullable=False),
    Column("link_age_s", Float, nullable=False),
    Index("ix_live_samples_flight_id", "live_flight_id", "id"),
)

# What live counting (`rackscan fly --live`) made of each bin once every pass that sees it was flown:
# provisional, until the offline pass over the landed flight replaces it.
live_bins = Table(
    "live_bins", metadata,
    Column("id", Integer, primary_key=True),
    Column("live_flight_id", Integer, ForeignKey("live_flights.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("bin_id", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("sku", String(200), nullable=False, default=""),
    Column("confidence", Float, nullable=False),
    Column("erp_qty", Integer, nullable=True),  # None: no ERP given
    Column("kind", String(32), nullable=False),  # the worst discrepancy kind, match, or counted (no ERP)
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("latency_s", Float, nullable=True),  # from the end of the bin's last pass to this row
    # frames processed when the bin was fused (its count came from the flight's first K frames):
    # what `rackscan bench live --replay` fuses again; None in rows from before revision 0008
    Column("frames_fused", Integer, nullable=True),
)
