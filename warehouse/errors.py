"""The root of rackscan's error types.

Every package defines one subclass (``SiteError`` here, ``FlightError`` in ``flight`` ...).
Messages say what the input must look like and where it was wrong (file, line/row, field), so
the CLI can print them as one line and exit 1.
"""

from __future__ import annotations


class RackscanError(Exception):
    """Root of every error rackscan raises for bad input or a failed operation."""


class SiteError(RackscanError):
    """A site file, or a query against the site model, is invalid."""
