"""Camera/telemetry clock offset from location-label sightings against their known positions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def estimate_offset_s(
    cost: Callable[[float], float], *, centre_s: float = 0.0, span_s: float = 0.6, step_s: float = 0.02,
    tol_s: float = 1e-3,
) -> float:
    """Minimise cost(offset) over centre +- span: coarse grid, then golden-section refinement."""
    grid = centre_s + np.arange(-span_s, span_s + step_s / 2, step_s)
    vals = np.array([cost(float(o)) for o in grid])
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = cost(c), cost(d)
    while b - a > tol_s:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = cost(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = cost(d)
    return float((a + b) / 2)


def label_reprojection_cost(
    offset_s: float,
    sight_t_ns: np.ndarray,
    sight_uv_px: np.ndarray,
    label_site_m: np.ndarray,
    project: Callable[[np.ndarray, np.ndarray], np.ndarray],
    cap_px: float = 200.0,
) -> float:
    """Mean capped pixel error of label sightings reprojected with poses at t + offset.

    ``project(t_ns, p_site)`` returns (N,2) pixels of points p_site seen at times t_ns.
    """
    t = np.asarray(sight_t_ns, dtype=np.int64) + int(round(offset_s * 1e9))
    uv = project(t, label_site_m)
    err = np.linalg.norm(uv - sight_uv_px, axis=1)
    err = np.where(np.isfinite(err), err, cap_px)
    return float(np.mean(np.minimum(err, cap_px)))
