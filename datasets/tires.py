"""Tire size codes (``warehouse.tires``, where fusion reads them too), with this package's error."""

from __future__ import annotations

from datasets.errors import DatasetError
from warehouse.errors import SiteError
from warehouse.tires import EXPECTED, NUMERIC_ASPECT_PCT, TireSize
from warehouse.tires import parse_size as _parse_size

__all__ = ["EXPECTED", "NUMERIC_ASPECT_PCT", "TireSize", "parse_size"]


def parse_size(code: str) -> TireSize:
    """``warehouse.tires.parse_size``, raising ``DatasetError``."""
    try:
        return _parse_size(code)
    except SiteError as exc:
        raise DatasetError(str(exc)) from None
