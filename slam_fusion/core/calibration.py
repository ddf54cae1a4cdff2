"""Calibrating a bin observation's confidence: the fusion's raw score (views, support, read
agreement, flags; ``fuse_bin``) -> the probability that the bin's count and SKU are right.

``rackscan bench calibration`` measures how well the confidence matches the rate of right bins
(expected calibration error, Brier score) and, with ``--fit``, fits a map and compares it with the
raw score flight by flight (fit on the others, score on the held-out one). On the development
flights (datasets/scenarios/dev-*.yaml, 288 bins, 3 wrong) the raw score was the better
calibrated one held out (Brier 0.0049 against 0.0056 for the fitted map), so ``fuse_bin`` applies
no map by default; pass ``calibration=`` a fitted ``Calibration`` where labelled flights say so.

The map is fitted on flights with ground truth (``rackscan bench calibration --fit``): raw scores
are grouped in bands, each band's rate of right bins is smoothed (one right and one wrong bin
added, so a band of a few bins does not claim certainty) and made monotone (pool adjacent
violators, weighted by bins). Scores between band centres are interpolated linearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_EDGES = (0.0, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Raw score at each band's centre -> probability right, and the bins each band was fitted on."""

    raw: tuple[float, ...]
    p_right: tuple[float, ...]
    n_bins: tuple[int, ...]

    def __post_init__(self) -> None:
        if not (len(self.raw) == len(self.p_right) == len(self.n_bins)) or not self.raw:
            raise ValueError("Calibration: raw, p_right and n_bins must be equally long and not empty")
        if any(np.diff(self.raw) <= 0) or any(np.diff(self.p_right) < -1e-12):
            raise ValueError("Calibration: raw must increase and p_right must not decrease")

    def __call__(self, raw_score: float) -> float:
        return float(np.interp(raw_score, self.raw, self.p_right))


def band_of(scores, edges: tuple[float, ...] = BAND_EDGES) -> np.ndarray:
    """Index of the band [edges[k], edges[k+1]) each score falls in (1.0 in the last band)."""
    return np.clip(np.searchsorted(edges, np.asarray(scores, dtype=float), side="right") - 1, 0, len(edges) - 2)


def _pav(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted pool-adjacent-violators: the non-decreasing fit of y."""
    blocks = [[float(v), float(k), 1] for v, k in zip(y, w)]  # value, weight, members
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0] + 1e-12:
            a, b = blocks[i], blocks[i + 1]
            wt = a[1] + b[1]
            blocks[i] = [(a[0] * a[1] + b[0] * b[1]) / wt if wt else (a[0] + b[0]) / 2, wt, a[2] + b[2]]
            del blocks[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    return np.concatenate([[v] * m for v, _, m in blocks])


def fit_calibration(raw_scores, right, *, edges: tuple[float, ...] = BAND_EDGES) -> Calibration:
    """Fit the map on (raw score, was the bin right) pairs from flights with ground truth."""
    raw = np.asarray(raw_scores, dtype=float)
    ok = np.asarray(right, dtype=bool)
    if raw.shape != ok.shape or raw.ndim != 1 or len(raw) == 0:
        raise ValueError("fit_calibration: raw_scores and right must be equally long 1-D sequences, not empty")
    band = band_of(raw, edges)
    centres, rates, counts = [], [], []
    for k in range(len(edges) - 1):
        sel = band == k
        if not sel.any():
            continue
        centres.append(float(np.mean(raw[sel])))
        rates.append((ok[sel].sum() + 1) / (sel.sum() + 2))
        counts.append(int(sel.sum()))
    p = _pav(np.array(rates), np.array(counts, dtype=float))
    return Calibration(raw=tuple(centres), p_right=tuple(float(x) for x in p), n_bins=tuple(counts))


def reliability(p, right) -> tuple[float, float]:
    """(expected calibration error over the bands, Brier score) of probabilities against outcomes."""
    p = np.asarray(p, dtype=float)
    ok = np.asarray(right, dtype=float)
    band = band_of(p)
    ece = sum(abs(p[band == k].mean() - ok[band == k].mean()) * (band == k).sum()
              for k in range(len(BAND_EDGES) - 1) if (band == k).any()) / max(len(p), 1)
    return float(ece), float(np.mean((p - ok) ** 2)) if len(p) else 0.0

