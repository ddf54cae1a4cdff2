"""The datasets package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class DatasetError(RackscanError):
    """Bad input or a failed operation in a scenario, synthetic data or benchmark data set."""
