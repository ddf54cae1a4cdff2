"""Targeted recounts: the shortest mission over only the listed bins.

The full plan of the bins' aisles gives the standoff, speed, exposure and pass heights (so a
recounted bin is seen exactly as a full flight sees it); of its passes only those whose view
reaches a listed bin are kept, each cut to the listed bins' span along the face plus the camera's
half view and a run-up on either side, and flown face by face in alternating directions, one
pass after the next straight along the face (no climb to the transit altitude between them).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from flight.errors import FlightError
from flight.planner import Pass, PlanOptions, PlanResult, _build_missions, plan, standoff_m
from warehouse.camera import CameraSpec
from warehouse.site import Site

RUN_UP_M = 0.5  # before the first listed bin enters the view, and after the last leaves it


def read_bin_list(path: str | Path, site: Site) -> list[str]:
    """Bin ids from a text file (one per line, ``#`` comments) or a CSV with a ``bin_id`` column
    (the dashboard's export, discrepancies.csv); each must be a bin of the site."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlightError(f"{path}: cannot read the bin list ({type(exc).__name__}); expected a text or CSV file") from None
    lines = text.splitlines()
    col = None
    if lines and "," in lines[0]:
        header = [h.strip() for h in lines[0].split(",")]
        if "bin_id" not in header:
            raise FlightError(f"{path}:1: CSV header {header}; expected a bin_id column")
        col = header.index("bin_id")
        lines = [""] + lines[1:]
    known = {b.bin_id for b in site.bins}
    out: list[str] = []
    for i, line in enumerate(lines, start=1):
        if i == 1 and col is not None:
            continue
        cell = line.split(",")[col].strip() if col is not None and line.strip() else line.split("#")[0].strip()
        if not cell:
            continue
        if cell not in known:
            raise FlightError(f"{path}:{i}: bin {cell!r} is not on site {site.spec.name!r}; expected a bin id such as "
                              f"{site.bins[0].bin_id!r}")
        if cell not in out:
            out.append(cell)
    if not out:
        raise FlightError(f"{path}: no bin ids; expected one per line or a bin_id column")
    return out


def _u_on(site: Site, face, b) -> tuple[float, float]:
    """Bin ``b``'s extent along ``face`` (its own face's u, or the facing face's mapped onto it)."""
    if b.face_id == face.face_id:
        return (b.u0_m, b.u1_m)
    own = site.face(b.face_id)
    u = face.site_to_face(own.face_to_site(np.array([[b.u0_m, 0.0, 0.0], [b.u1_m, 0.0, 0.0]])))[:, 0]
    return (float(u.min()), float(u.max()))


def plan_recount(site: Site, camera: CameraSpec, bin_ids: list[str], opts: PlanOptions = PlanOptions()) -> PlanResult:
    """A mission over only ``bin_ids`` (its ``bins_planned`` counts them)."""
    if not bin_ids:
        raise FlightError("recount: no bins given; expected at least one bin id")
    targets = [site.bin(b) for b in dict.fromkeys(bin_ids)]
    aisles = tuple(a for a in site.aisle_ids if any(t.aisle_id == a for t in targets))
    o = replace(opts, aisles=aisles)
    full = plan(site, camera, o)
    warnings = [w for w in full.warnings if "no location label is seen from two passes" not in w]
    d_by_aisle = {a: standoff_m(site, camera, o, a, []) for a in aisles}
    hfov, vfov = (math.radians(x) / 2 for x in camera.fov_deg())
    by_face: dict[str, list] = {}
    for t in targets:
        by_face.setdefault(t.face_id, []).append(t)
    passes: list[Pass] = []
    per_face: dict[str, int] = {}
    for p in full.passes:  # the full plan's order: aisles, faces, heights
        want = [t for fid in p.face_ids for t in by_face.get(fid, [])]
        if not want:
            continue
        d = d_by_aisle[p.aisle_id]
        half_v, half_u = d * math.tan(vfov), d * math.tan(hfov)
        seen = [t for t in want if t.v0_m - half_v < p.v_m < t.v1_m + half_v]
        if not seen:
            continue
        face = site.face(p.face_id)
        u_of = {t.bin_id: _u_on(site, face, t) for t in seen}  # a pair's other face in this face's u
        lo = max(min(p.u_from_m, p.u_to_m), min(u0 for u0, _ in u_of.values()) - half_u - RUN_UP_M)
        hi = min(max(p.u_from_m, p.u_to_m), max(u1 for _, u1 in u_of.values()) + half_u + RUN_UP_M)
        k = per_face.get(p.face_id, 0)
        u0, u1 = (lo, hi) if k % 2 == 0 else (hi, lo)  # back and forth along the face: no empty return leg
        in_span = tuple(b for b in p.bin_ids if lo + half_u <= sum(_u_on(site, face, site.bin(b))) / 2 <= hi - half_u)
        passes.append(replace(p, u_from_m=u0, u_to_m=u1, bin_ids=in_span or tuple(t.bin_id for t in seen)))
        per_face[p.face_id] = k + 1
    res = _build_missions(site, camera, o, passes, d_by_aisle, full.speed_m_s, per_face, full.min_frames_per_bin,
                          warnings, full.exposure, chain_at_face=True)
    res.bins_planned = len(targets)
    for m in res.missions:
        m.meta.update(recount_bins=len(targets))
    return res


__all__ = ["plan_recount", "read_bin_list", "RUN_UP_M"]
