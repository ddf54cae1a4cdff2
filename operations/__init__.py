"""Operations and maintenance: the fleet registry (airframes, batteries, cameras), the flight log
with figures from each flight's telemetry, maintenance rules and what is due, pre-flight
checklists and overrides, the tamper-evident audit chain, and the savings report.

Imports warehouse, flight and reconciliation's store; the dashboard and the CLI import it. The
records live in the results store (``reconciliation.schema``, migration 0004); the procedure an
operator follows is in ``docs/operations/``.
"""
