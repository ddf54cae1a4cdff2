"""``rackscan bench fusion``: fusion alone on synthetic sweeps (detections from known geometry)."""

from __future__ import annotations

import typer

from rackscan.bench_app import bench_app


@bench_app.command("fusion")
def fusion_bench(
    seeds: int = typer.Option(10, "--seeds", help="synthetic sweeps per case"),
    drift_m_per_min: float = typer.Option(0.3, "--drift-m-per-min", help="telemetry drift without RTK"),
    clock_offset_s: float = typer.Option(0.37, "--clock-offset-s", help="camera clock offset to recover"),
) -> None:
    """Bin count / SKU accuracy with exact poses, and with drift with and without label correction.

    Uses the test factory's projected sweeps (one face, three passes), not the datasets helper's
    rendered synthetic flights.
    """
    import numpy as np
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    from slam_fusion.pipeline import fuse_detections
    from slam_fusion.synthetic import sweep_scene

    cases = [("exact poses", 0.0, True, None), (f"drift {drift_m_per_min} m/min, no correction", drift_m_per_min, False, 0.0),
             (f"drift {drift_m_per_min} m/min, label correction", drift_m_per_min, True, 0.0),
             (f"clock offset {clock_offset_s:+.2f} s, estimated", 0.0, True, None)]
    t = Table(title=f"fusion on {seeds} synthetic sweeps per case")
    for c in ("case", "bins scanned", "count right", "SKU right", "clock offset error ms (max)"):
        t.add_column(c)
    for name, drift, corr, off in track(cases, description="fusing"):
        n = ok_c = ok_s = 0
        off_err = []
        for seed in range(seeds):
            true_off = clock_offset_s if name.startswith("clock") else 0.0
            site, cam, traj, ft, dets, truth = sweep_scene(drift_m_per_min=drift, seed=seed, clock_offset_s=true_off)
            res = fuse_detections(site=site, cam=cam, T_body_camera=np.eye(4), traj=traj, frame_t_ns=ft, detections=dets,
                                  clock_offset_s=off, drift_correction=corr)
            got = {o.bin_id: o for o in res.observations}
            for b, cnt in truth.items():
                n += 1
                o = got.get(b)
                ok_c += o is not None and o.count == cnt
                want = f"00{__import__('zlib').crc32(b.encode()) % 10**12:012d}" if cnt else ""  # its GTIN-14
                ok_s += o is not None and o.sku == want
            if off is None:
                off_err.append(abs(res.clock_offset_s - true_off) * 1000)
        t.add_row(name, str(n), f"{100 * ok_c / n:.1f}%", f"{100 * ok_s / n:.1f}%",
                  f"{max(off_err):.1f}" if off_err else "-")
    Console().print(t)


def register(app: typer.Typer) -> None:
    pass
