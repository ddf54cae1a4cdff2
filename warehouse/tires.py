"""Tire size codes and the physical size they imply (the catalogue's ``size`` column: datasets draws
tires from it, fusion checks a stack's height against it).

Three spellings are read (with an optional service description such as ``91V`` or ``121/118R``
after them, which does not change the size):

- ISO metric, passenger and light truck: ``205/55R16``, ``205/55 ZR16``, ``P215/65R15``,
  ``LT265/75R16``, ``195/70R15C``, and truck sizes with half-inch rims, ``295/80R22.5``;
- numeric (conventional truck and light-truck sizes), section width in inches: ``7.50R16``,
  ``11R22.5``, ``8.25-16``; their section height is taken from tire tables: 1.04 of the width
  on whole-inch rims (7.50R16 is 805 mm tall: 406.4 + 2 x 1.04 x 190.5 = 803 mm), 0.86 on the
  tubeless half-inch truck rims (11R22.5 is 1054 mm: 571.5 + 2 x 0.86 x 279.4 = 1052 mm);
- flotation: ``31x10.50R15`` (overall diameter x section width, inches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from warehouse.errors import SiteError

_SERVICE = r"(?:\s*\d{2,3}(?:/\d{2,3})?\s?[A-Z]{1,2})?"
_METRIC = re.compile(r"^(?P<prefix>P|LT|ST|T)?(?P<width>\d{3})/(?P<aspect>\d{2,3})\s?Z?(?:R|D|B|-)\s?"
                     r"(?P<rim>\d{2}(?:\.5)?)(?P<suffix>C|LT)?" + _SERVICE + "$")
_NUMERIC = re.compile(r"^(?P<width_in>\d{1,2}(?:\.\d{2})?)\s?(?:R|D|-)\s?(?P<rim>\d{2}(?:\.5)?)(?P<suffix>LT|C)?" + _SERVICE + "$")
_FLOTATION = re.compile(r"^(?P<od_in>\d{2}(?:\.\d)?)[X](?P<width_in>\d{1,2}\.\d{2})\s?(?:R|D|-)\s?"
                        r"(?P<rim>\d{2}(?:\.5)?)(?P<suffix>LT)?" + _SERVICE + "$")
NUMERIC_ASPECT_PCT = {"whole": 104.0, "half": 86.0}  # section height / width of numeric sizes, by rim
EXPECTED = "expected a size code like '205/55R16', 'LT265/75R16', '295/80R22.5', '7.50R16' or '31x10.50R15'"


@dataclass(frozen=True, kw_only=True)
class TireSize:
    code: str
    width_mm: float
    aspect_pct: float
    rim_in: float
    use: str = "passenger"  # passenger | light_truck | truck

    @property
    def outer_diameter_mm(self) -> float:
        """rim * 25.4 + 2 * sidewall height (DESIGN.md): 205/55R16 -> 631.9 mm."""
        return self.rim_in * 25.4 + 2 * self.width_mm * self.aspect_pct / 100.0

    @property
    def rim_diameter_mm(self) -> float:
        return self.rim_in * 25.4


def _use(prefix: str | None, suffix: str | None, rim_in: float) -> str:
    if rim_in % 1:
        return "truck"  # half-inch rims (17.5, 19.5, 22.5) are truck and bus sizes
    if prefix in ("LT", "ST") or suffix in ("LT", "C"):
        return "light_truck"
    return "passenger"


def parse_size(code: str) -> TireSize:
    text = " ".join(code.strip().upper().split())
    if m := _METRIC.match(text):
        width, rim = float(m["width"]), float(m["rim"])
        return TireSize(code=text, width_mm=width, aspect_pct=float(m["aspect"]), rim_in=rim,
                        use=_use(m["prefix"], m["suffix"], rim))
    if m := _FLOTATION.match(text):
        od_mm, width, rim = float(m["od_in"]) * 25.4, float(m["width_in"]) * 25.4, float(m["rim"])
        if od_mm <= rim * 25.4:
            raise SiteError(f"tire size {code!r}: overall diameter {m['od_in']} in is not above the rim's {m['rim']} in; {EXPECTED}")
        return TireSize(code=text, width_mm=width, aspect_pct=100.0 * (od_mm - rim * 25.4) / 2 / width, rim_in=rim,
                        use="light_truck")
    if m := _NUMERIC.match(text):
        width, rim = float(m["width_in"]) * 25.4, float(m["rim"])
        if not 4.0 <= float(m["width_in"]) <= 24.0:
            raise SiteError(f"tire size {code!r}: section width {m['width_in']} in is not a tire's; {EXPECTED}")
        return TireSize(code=text, width_mm=width, aspect_pct=NUMERIC_ASPECT_PCT["half" if rim % 1 else "whole"], rim_in=rim,
                        use="truck" if rim % 1 or rim >= 20 else "light_truck")
    raise SiteError(f"tire size {code!r}: {EXPECTED}")
