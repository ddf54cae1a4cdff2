"""The dashboard package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class DashboardError(RackscanError):
    """Bad input or a failed operation in the dashboard's configuration or access."""
