"""The flight package's error type (one per package, under rackscan's root)."""

from warehouse.errors import RackscanError


class FlightError(RackscanError):
    """Bad input or a failed operation in a mission, flight bundle, MAVLink link or vehicle."""
