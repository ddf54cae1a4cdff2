"""The slam_fusion package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class FusionError(RackscanError):
    """Bad input or a failed operation in poses, time association or fusion."""
