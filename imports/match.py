"""Frames of a camera's clock matched to the autopilot's camera-trigger messages.

The offset between the two clocks is where the differences trigger - frame pile up (a histogram
of every pair's difference, refined by the median of the pairs near its peak); each frame then
takes the nearest trigger within a tolerance, one to one. With ten pairs or more a line through
them also gives the camera clock's rate error. Frames without a trigger are moved by that line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class TriggerMatch:
    offset_ns: int  # trigger (log clock) - frame (camera clock) at the first frame
    drift_ppm: float  # how fast the camera's clock runs against the log's (parts per million; > 0: fast)
    pairs: np.ndarray  # (M,2) int: frame index, trigger index
    residual_ms_median: float
    residual_ms_max: float
    unmatched_frames: int
    unmatched_triggers: int
    tolerance_ms: float

    def to_log_clock(self, frame_t_ns: np.ndarray, t0_ns: int) -> np.ndarray:
        t = np.asarray(frame_t_ns, np.int64)
        return t + self.offset_ns - np.round((t - t0_ns) * self.drift_ppm * 1e-6).astype(np.int64)


def match_triggers(frame_t_ns: np.ndarray, trig_t_ns: np.ndarray, *, max_offset_s: float = 15 * 3600.0,
                   max_pairs: int = 400_000) -> TriggerMatch | None:
    """Match frames to triggers; None when fewer than 3 frames find a trigger."""
    f = np.asarray(frame_t_ns, np.int64)
    g = np.asarray(trig_t_ns, np.int64)
    if len(f) < 3 or len(g) < 3:
        return None
    steps = np.diff(f)
    step = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1e9
    tol = float(np.clip(0.3 * step, 5e6, 1e8))
    # every pair's difference (a sample of frames when there are many)
    fi = np.linspace(0, len(f) - 1, min(len(f), max(3, max_pairs // len(g)))).astype(int)
    d = (g[None, :] - f[fi, None]).ravel()
    d = d[np.abs(d) <= max_offset_s * 1e9]
    if not len(d):
        return None
    bins = np.floor(d / tol).astype(np.int64)
    vals, counts = np.unique(bins, return_counts=True)
    # the peak with its neighbours (an offset on a bin edge splits its pairs in two)
    idx = {v: k for k, v in enumerate(vals)}
    score = np.array([counts[k] + counts[idx[v - 1]] if v - 1 in idx else counts[k] for k, v in enumerate(vals)])
    best = vals[int(np.argmax(score))]
    near = d[(bins >= best - 1) & (bins <= best)]
    off = float(np.median(near))
    pairs, resid = _pairs(f, g, off, 0.0, tol)
    if len(pairs) < 3:
        return None
    drift = 0.0
    if len(pairs) >= 10:
        x = (f[pairs[:, 0]] - f[0]).astype(float)
        y = (g[pairs[:, 1]] - f[pairs[:, 0]]).astype(float)
        b, a = np.polyfit(x, y, 1)
        off, drift = float(a), float(-b * 1e6)
        pairs, resid = _pairs(f, g, off, drift, tol)
    r = np.abs(resid) / 1e6
    return TriggerMatch(offset_ns=int(round(off)), drift_ppm=drift, pairs=pairs, residual_ms_median=float(np.median(r)),
                        residual_ms_max=float(np.max(r)), unmatched_frames=len(f) - len(pairs),
                        unmatched_triggers=len(g) - len(pairs), tolerance_ms=tol / 1e6)


def _pairs(f: np.ndarray, g: np.ndarray, off: float, drift_ppm: float, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest pairs within ``tol`` of frames moved onto the log clock."""
    moved = f + off - (f - f[0]) * drift_ppm * 1e-6
    j = np.clip(np.searchsorted(g, moved), 0, len(g) - 1)
    jm = np.clip(j - 1, 0, len(g) - 1)
    j = np.where(np.abs(g[jm] - moved) < np.abs(g[j] - moved), jm, j)
    err = g[j] - moved
    cand = [(abs(float(e)), i, int(jj), float(e)) for i, (jj, e) in enumerate(zip(j, err)) if abs(e) <= tol]
    cand.sort()
    used_f, used_g, out = set(), set(), []
    for _, i, jj, e in cand:
        if i in used_f or jj in used_g:
            continue
        used_f.add(i)
        used_g.add(jj)
        out.append((i, jj, e))
    out.sort()
    if not out:
        return np.zeros((0, 2), int), np.zeros(0)
    return np.array([(i, jj) for i, jj, _ in out], int), np.array([e for _, _, e in out])
