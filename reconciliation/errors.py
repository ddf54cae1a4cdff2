"""The reconciliation package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class ReconciliationError(RackscanError):
    """Bad input or a failed operation in ERP files, the results store or reports."""
