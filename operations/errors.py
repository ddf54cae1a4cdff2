"""The operations package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class OperationsError(RackscanError):
    """Bad input or a refused operation in the fleet registry, flight log, maintenance rules,
    checklists, overrides, the audit chain or the savings report."""
