"""Which catalogue SKU a bin's tires are by their size alone, where no label of theirs was read.

A tire's size is moulded on its sidewall, and the boxes counted on a face measure it: a standing
tire's box is its section wide and its outer diameter tall, a lying tire's the other way round. The
catalogue gives each SKU's section and diameter (``read_catalogue_maps``). Where exactly one SKU of
the catalogue fits the bin's measured size, and every other SKU fits clearly worse, the goods are
that SKU (fusion's reason ``sku_by_size``); where two SKUs' sizes are too close to tell apart (two
brands of one size, or 265/70R17 and LT265/75R16, 1 mm apart), the SKU stays unread, and fusion keeps
every SKU the size fits (``SizeMatch.fits``, the observation's ``size_fits``): the ERP's SKU for the
bin, where it is one of them, names the goods in reconciliation (``reconciliation.diff.name_by_erp``).

The measurement's bias and spread were measured on dev worlds 10419-10460 of the tire-stores
family (849 bins holding tires, the counted boxes against the true size), the margins chosen there
and checked on dev 10461-10502 (821 bins): 287 and 384 bins decided, 1 wrong in each (docs/worlds.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# median of (measured / true - 1) for (diameter, section), by how the tires lie (dev 10419-10460)
SIZE_BIAS = {"standing": (-0.033, 0.007), "lying": (-0.003, 0.029)}
# the measured share's spread (one sigma) for (diameter, section): about 1.5 of the dev's robust spread
SIZE_SIGMA = (0.025, 0.05)
SIZE_MAX_Z = 3.0  # the best SKU's size lies within this many sigmas of the measured
SIZE_MIN_GAP = 2.0  # ... and the next SKU's at least this many sigmas further


@dataclass(frozen=True)
class SizeMatch:
    """The SKU a bin's tires measure as (``sku`` "" where none is sure), how far in sigmas the
    best and the next SKU's sizes lie from the measured one (``inf`` where there is none), and every
    SKU whose size lies within ``max_z`` sigmas of it, nearest first (``fits``)."""

    sku: str
    z: float
    next_z: float
    standing: bool
    diameter_m: float
    section_m: float
    fits: tuple[str, ...] = ()


def sku_by_size(boxes_wh_m: list[tuple[float, float]], section_of: dict[str, float], diameter_of: dict[str, float], *,
                max_z: float = SIZE_MAX_Z, min_gap: float = SIZE_MIN_GAP) -> SizeMatch:
    """The catalogue SKU (``section_of``, ``diameter_of``: SKU -> metres) whose size the boxes
    counted in one bin (``boxes_wh_m``: width and height on the face, metres) measure, the median
    of the boxes; "" where no SKU's size lies within ``max_z`` sigmas or the next lies within
    ``min_gap`` sigmas of the best. ``fits``: the SKUs within ``max_z`` sigmas, sure or not."""
    skus = sorted(s for s in section_of if s in diameter_of and section_of[s] > 0 and diameter_of[s] > 0)
    wh = np.asarray(boxes_wh_m, dtype=float).reshape(-1, 2)
    if not skus or not len(wh) or not np.all(np.isfinite(wh)) or np.any(wh <= 0):
        return SizeMatch("", float("inf"), float("inf"), False, float("nan"), float("nan"))
    w, h = float(np.median(wh[:, 0])), float(np.median(wh[:, 1]))
    standing = h > w
    d_m, s_m = (h, w) if standing else (w, h)
    bd, bs = SIZE_BIAS["standing" if standing else "lying"]
    sd, ss = SIZE_SIGMA
    z = sorted((float(np.hypot((d_m / diameter_of[s] - 1 - bd) / sd, (s_m / section_of[s] - 1 - bs) / ss)), s)
               for s in skus)
    best, next_z = z[0], (z[1][0] if len(z) > 1 else float("inf"))
    sure = best[0] <= max_z and next_z - best[0] >= min_gap
    fits = tuple(sku for zz, sku in z if zz <= max_z)
    return SizeMatch(best[1] if sure else "", best[0], next_z, standing, d_m, s_m, fits)
