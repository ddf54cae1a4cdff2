"""Register a face's passes to one another on the tires they both saw.

The label drift correction (``drift.py``) and the clock estimate (``clock.py``) lean on the location
labels read. In a dim store few are: on dev 10346 (43 lux) the passes of one face were left 0.086 m
apart along it, the sign turning with the way each pass was flown. A tire that no frame saw whole is
then a lower piece from one pass and an upper piece from the next that share a third of their
width, and counts twice.

Two passes flown at neighbouring heights see a band of the face in common: the tires there, or their
pieces, have the same left and right edges in both. ``pass_shifts_u`` finds, for each pair of passes
on a face, the one shift along the face that lines up most of their boxes (a vote over the
displacement of every pair of boxes alike in width that share some height), and solves the passes'
corrections from those shifts by least squares. A row of like tires repeats every tire width, so one
row alone would vote for several shifts; a pass holds many rows of many sizes, and only the true
shift lines up all of them (a vote is taken only when its peak has ``min_votes`` boxes and twice the
votes of any other peak).

Most of such a shift, on the dev worlds, was the camera's clock: where few labels are read, their
offset estimate can be 0.08-0.22 s off (dev 10266, 10272, 10346, 10353), and a camera whose frames
are placed ``e`` late along a pass flown at ``v`` sees every box ``v e`` along its way, so passes
flown back and forth are ``2 v e`` apart. ``clock_error_s`` reads ``e`` off the shifts and their
passes' speeds: on the dev worlds it placed the clock within 0.02 s of the truth, the labels alone
within 0.22 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slam_fusion.core.fuse import Sighting, TireTrack, group_sightings

MAX_SHIFT_M = 0.15  # passes further apart than this are not looked for (their tires do not merge anyway)
VOTE_TOL_M = 0.02  # boxes of one tire, lined up, within this along the face
MIN_VOTES = 6  # dev worlds 10263-10358: 4 let a pair of passes of 10288 be placed 0.064 m apart on 4 tires


@dataclass(frozen=True)
class PassShift:
    """Pass ``b`` seen ``shift_m`` along the face from pass ``a`` (b's boxes minus a's), on ``votes`` boxes."""

    face_id: str
    a: int
    b: int
    shift_m: float
    votes: int


def _edges_seen(t: TireTrack) -> bool:
    return t.edges_real[0] >= 0.5 and t.edges_real[1] >= 0.5 and len(t.frames) >= 2


def pair_shift(ta: list[TireTrack], tb: list[TireTrack], *, max_shift_m: float = MAX_SHIFT_M,
               tol_m: float = VOTE_TOL_M, min_votes: int = MIN_VOTES, same_width: float = 0.2,
               min_common_m: float = 0.02) -> tuple[float, int] | None:
    """The shift along the face of ``tb``'s boxes from ``ta``'s (one pass's tracks each), and how
    many of ``tb``'s boxes vote for it; None where no shift stands out. A box of ``tb`` votes for the
    displacements to every box of ``ta`` alike in width (within ``same_width``) that shares at least
    ``min_common_m`` of height with it; each box counts once per candidate shift."""
    d_by_b: list[np.ndarray] = []
    for b in tb:
        ds = [b.u_m - a.u_m for a in ta
              if min(a.v1_m, b.v1_m) - max(a.v0_m, b.v0_m) >= min_common_m
              and abs(a.w_m - b.w_m) <= same_width * max(a.w_m, b.w_m) and abs(b.u_m - a.u_m) <= max_shift_m + tol_m]
        if ds:
            d_by_b.append(np.array(ds))
    if len(d_by_b) < min_votes:
        return None
    grid = np.arange(-max_shift_m, max_shift_m + 1e-9, tol_m / 4)
    votes = np.array([sum(bool(np.any(np.abs(d - s) <= tol_m)) for d in d_by_b) for s in grid])
    best = int(np.argmax(votes))
    # the runner-up: the best vote away from the peak's own slope
    away = np.abs(grid - grid[best]) > 2 * tol_m
    second = int(votes[away].max()) if away.any() else 0
    if votes[best] < min_votes or votes[best] < 2 * second:
        return None
    near = np.concatenate([d[np.abs(d - grid[best]) <= tol_m] for d in d_by_b])
    return float(np.median(near)), int(votes[best])


def pass_shifts_u(sightings: list[Sighting], pass_of: dict[int, int], *, min_overlap: float = 0.35,
                  **kw) -> list[PassShift]:
    """The shift between every two passes of a face that saw tires in common (``pair_shift``)."""
    groups: dict[tuple[str, int], list[Sighting]] = {}
    for s in sightings:
        if s.frame_idx in pass_of:
            groups.setdefault((s.face_id, pass_of[s.frame_idx]), []).append(s)
    tracks = {k: [t for t in group_sightings(v, min_overlap=min_overlap) if _edges_seen(t)] for k, v in groups.items()}
    out = []
    keys = sorted(tracks)
    for i, (fa, pa) in enumerate(keys):
        for fb, pb in keys[i + 1:]:
            if fb != fa:
                continue
            r = pair_shift(tracks[fa, pa], tracks[fb, pb], **kw)
            if r is not None:
                out.append(PassShift(fa, pa, pb, *r))
    return out


def clock_error_s(shifts: Sequence[PassShift], speed_u_m_s: dict[tuple[str, int], float], *,
                  min_pairs: int = 2, min_dv_m_s: float = 0.2) -> float | None:
    """The camera clock's error ``e`` (seconds; the offset used minus the true one) that explains
    the shifts between passes flown at different speeds along the face (``speed_u_m_s``: (face,
    pass) -> the pass's mean speed along the face's u axis): each shift is ``(v_b - v_a) e`` plus
    what drift left, solved by least squares weighted by votes over the pairs whose speeds differ by
    ``min_dv_m_s`` or more; None with fewer than ``min_pairs`` of them."""
    num = den = 0.0
    n = 0
    for s in shifts:
        va, vb = speed_u_m_s.get((s.face_id, s.a)), speed_u_m_s.get((s.face_id, s.b))
        if va is None or vb is None or abs(vb - va) < min_dv_m_s:
            continue
        num += s.votes * s.shift_m * (vb - va)
        den += s.votes * (vb - va) ** 2
        n += 1
    return num / den if n >= min_pairs else None


def pass_corrections_u(shifts: Sequence[PassShift]) -> dict[tuple[str, int], float]:
    """(face, pass) -> the shift along the face to add to that pass's boxes so that every measured
    pair lines up (least squares, each pair weighted by its votes), with the passes of each connected
    group of a face shifted by zero on average (the labels placed them so, on the whole)."""
    out: dict[tuple[str, int], float] = {}
    for face in sorted({s.face_id for s in shifts}):
        rows = [s for s in shifts if s.face_id == face]
        # connected groups of passes
        parent: dict[int, int] = {}

        def root(p: int) -> int:
            while parent.setdefault(p, p) != p:
                p = parent[p]
            return p

        for s in rows:
            parent[root(s.a)] = root(s.b)
        comps: dict[int, list[int]] = {}
        for p in sorted(parent):
            comps.setdefault(root(p), []).append(p)
        for members in comps.values():
            idx = {p: i for i, p in enumerate(members)}
            sub = [s for s in rows if s.a in idx]
            A = np.zeros((len(sub) + 1, len(members)))
            y = np.zeros(len(sub) + 1)
            for r, s in enumerate(sub):
                w = np.sqrt(s.votes)
                # (b + c_b) - (a + c_a) = 0  ->  c_b - c_a = -shift
                A[r, idx[s.b]], A[r, idx[s.a]], y[r] = w, -w, -w * s.shift_m
            A[-1, :] = 1.0  # mean zero
            c = np.linalg.lstsq(A, y, rcond=None)[0]
            out.update({(face, p): float(c[idx[p]]) for p in members})
    return out
