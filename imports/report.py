"""The import report: ``report.json`` (which source timed the frames and how well, the poses,
gaps, warnings) and ``report.png`` (positions in the site frame and attitude over time, with the
frames' times and the gaps marked)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def site_positions(poses, site) -> np.ndarray:
    """(N,3) site-frame metres of the pose stream's positions."""
    if poses.frame == "geodetic":
        return site.origin.geodetic_to_site(poses.pos[:, 0], poses.pos[:, 1], poses.pos[:, 2])
    return poses.pos @ site.origin.ned_to_site_rotation().T


def write_report(out_dir: Path, report, poses, site, frame_t_ns: np.ndarray) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from imports.telemetry import euler_from_quat

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report.to_json(), indent=1, default=str) + "\n", encoding="utf-8")
    t0 = int(min(poses.t_ns[0], frame_t_ns[0] if len(frame_t_ns) else poses.t_ns[0]))
    ts = (poses.t_ns - t0) / 1e9
    xyz = site_positions(poses, site)
    rpy = np.degrees(euler_from_quat(poses.quat_wxyz))
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1]})
    for k, name in enumerate(("x_m", "y_m", "z_m")):
        axes[0].plot(ts, xyz[:, k], lw=1, label=name)
    axes[0].set_ylabel("site frame, m")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"{report.flight_id}: {report.poses['source']}", fontsize=9)
    for k, name in enumerate(("roll", "pitch", "yaw")):
        axes[1].plot(ts, rpy[:, k], lw=1, label=name)
    axes[1].set_ylabel("attitude, deg")
    axes[1].legend(loc="upper right", fontsize=8)
    ft = (np.asarray(frame_t_ns) - t0) / 1e9
    axes[2].vlines(ft, 0, 1, lw=0.5, color="tab:purple")
    axes[2].set_yticks([])
    axes[2].set_ylabel("frames", fontsize=8)
    axes[2].set_xlabel(f"seconds after {report.poses['first_utc'][:19]}Z; frames timed by {report.frame_timing['source']}",
                       fontsize=8)
    for a, b in poses.gaps:
        for ax in axes:
            ax.axvspan((a - t0) / 1e9, (b - t0) / 1e9, color="red", alpha=0.15)
    fig.tight_layout()
    png = out_dir / "report.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return {"json": out_dir / "report.json", "png": png}
