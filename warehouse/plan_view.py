"""A PNG plan view of a site: racks, faces (coloured by aisle), bay ticks, no-fly zones, origin."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from warehouse.site import Site


def plot_site(site: Site, ax=None, *, show_bays: bool = True):
    """Draw the site's plan view on a matplotlib axis (made when None); returns the axis."""
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Polygon

    if ax is None:
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 7), dpi=110)
    colors = matplotlib.colormaps["tab10"]
    aisle_color = {a: colors(i % 10) for i, a in enumerate(site.aisle_ids)}
    for rid, fp in site.footprints().items():
        ax.add_patch(Polygon(fp, closed=True, facecolor="#d9d9d9", edgecolor="#555", lw=0.8))
        c = fp.mean(axis=0)
        ax.text(c[0], c[1], rid, ha="center", va="center", fontsize=7, color="#333")
    # faces and bay ticks as two line collections: a site of 20,000 bins draws in a fraction of a second
    faces, face_colors, ticks, tick_colors = [], [], [], []
    for f in site.faces:
        faces.append(f.face_to_site(np.array([[0, 0, 0], [f.length_m, 0, 0]]))[:, :2])
        face_colors.append(aisle_color[f.aisle_id])
        if show_bays:
            for u in f.bay_edges_u_m:
                ticks.append(f.face_to_site(np.array([[u, 0, 0], [u, 0, 0.35]]))[:, :2])
                tick_colors.append(aisle_color[f.aisle_id])
    ax.add_collection(LineCollection(faces, colors=face_colors, linewidths=3, capstyle="butt"))
    if ticks:
        ax.add_collection(LineCollection(ticks, colors=tick_colors, linewidths=0.8))
    for aid in site.aisle_ids:
        pts = np.concatenate(
            [f.face_to_site(np.array([[0, 0, 0.8], [f.length_m, 0, 0.8]])) for f in site.faces_of_aisle(aid)]
        )
        c = pts.mean(axis=0)
        ax.text(c[0], c[1], aid, ha="center", va="center", fontsize=10, weight="bold",
                color=aisle_color[aid], bbox=dict(fc="white", ec="none", alpha=0.8))
    for z in site.spec.no_fly_zones:
        ax.add_patch(Polygon(np.array(z.polygon_m), closed=True, facecolor="#ff000033",
                             edgecolor="red", hatch="//", lw=1))
        c = np.array(z.polygon_m).mean(axis=0)
        ax.text(c[0], c[1], f"no-fly {z.id}", ha="center", va="center", fontsize=7, color="red")
    ax.plot([0], [0], marker="+", color="k", ms=12)
    ax.annotate("", xy=(2.0, 0), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="k"))
    ax.text(2.1, 0, f"+x ({site.spec.origin.heading_deg:.0f}°)", fontsize=7, va="center")
    x0, y0, x1, y1 = site.bounds_xy_m(margin_m=2.0)
    ax.set_xlim(min(x0, -1), x1)
    ax.set_ylim(min(y0, -1), y1)
    ax.set_aspect("equal")
    ax.set_xlabel("site x (m)")
    ax.set_ylabel("site y (m)")
    s = site.summary()
    ax.set_title(f"{s.name}: {s.n_aisles} aisles, {s.n_faces} faces, {s.n_bins} bins")
    ax.grid(alpha=0.3)
    return ax


def save_plan_view(site: Site, path: str | Path, *, paths_xy_m: Sequence[np.ndarray] = ()) -> Path:
    """Write the plan view as a PNG, optionally with flight paths ((N,2) site xy) on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_site(site)
    for p in paths_xy_m:
        p = np.asarray(p)
        ax.plot(p[:, 0], p[:, 1], "-", color="#1f77b4", lw=1.2, alpha=0.9)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.tight_layout()
    ax.figure.savefig(out)
    plt.close(ax.figure)
    return out
