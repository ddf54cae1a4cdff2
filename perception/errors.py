"""The perception package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class PerceptionError(RackscanError):
    """Bad input or a failed operation in frames, models or decoding."""
