"""The imports package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class ImportsError(RackscanError):
    """A real log, video, photo folder or calibration set that cannot be read, or does not fit."""
