"""Tire size codes (ISO metric, e.g. ``205/55R16``) and the physical size they imply."""

from __future__ import annotations

import re
from dataclasses import dataclass

from datasets.errors import DatasetError

_SIZE = re.compile(r"^(?P<width>\d{3})/(?P<aspect>\d{2})\s?Z?R(?P<rim>\d{2}(?:\.5)?)$")


@dataclass(frozen=True, kw_only=True)
class TireSize:
    code: str
    width_mm: float
    aspect_pct: float
    rim_in: float

    @property
    def outer_diameter_mm(self) -> float:
        """rim * 25.4 + 2 * sidewall height (DESIGN.md): 205/55R16 -> 631.9 mm."""
        return self.rim_in * 25.4 + 2 * self.width_mm * self.aspect_pct / 100.0

    @property
    def rim_diameter_mm(self) -> float:
        return self.rim_in * 25.4


def parse_size(code: str) -> TireSize:
    m = _SIZE.match(code.strip().upper())
    if not m:
        raise DatasetError(f"tire size {code!r}: expected a metric size code like '205/55R16'")
    return TireSize(code=code.strip().upper(), width_mm=float(m["width"]),
                    aspect_pct=float(m["aspect"]), rim_in=float(m["rim"]))
