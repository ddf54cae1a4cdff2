"""``rackscan bench drift BUNDLE...``: the label drift correction's pose-graph solvers compared.

On recorded flights with ground truth (``rackscan synth --flight`` or ``rackscan bench
SCENARIO.yaml`` bundles: ``truth/poses.csv`` and ``truth/stock.csv``), fuses each flight with no
correction, with the sparse least-squares pose graph used by default (SciPy), and with Open3D's
pose-graph optimisation where ``open3d`` is installed, and prints camera position error against the
truth, the label residual after correction, the solver's time and the bin count accuracy.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


def _truth_positions(path: Path) -> tuple:
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path)
    T = df[[f"T{i}{j}" for i in range(4) for j in range(4)]].to_numpy().reshape(-1, 4, 4)
    return df["t_ns"].to_numpy(np.int64), T[:, :3, 3], df["frame_idx"].to_numpy(np.int64)


@bench_app.command("drift")
def drift_bench(
    bundles: list[Path] = typer.Argument(..., help="flight bundles with truth/ (synthetic flights)"),
    solvers: str = typer.Option("scipy,open3d", "--solvers", help="comma separated: scipy, open3d"),
) -> None:
    """Camera position error (median / 95th percentile, metres) before and after correction, label
    residual after, solve time and bin count accuracy, per flight and solver."""
    import time

    import numpy as np
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from flight.bundle import Bundle
    from rackscan.cmd_bench_scenario import read_truth_stock, score_counts
    from slam_fusion.core.drift import correct_drift
    from slam_fusion.tools.io import FusionOptions, fuse_bundle

    con = Console()
    choice = [s.strip() for s in solvers.split(",") if s.strip()]
    funcs = {"scipy": correct_drift}
    if "open3d" in choice:
        try:
            import open3d  # noqa: F401

            from slam_fusion.tools.posegraph_open3d import correct_drift_open3d

            funcs["open3d"] = correct_drift_open3d
        except ImportError:
            con.print("[yellow]open3d is not installed: `pip install -e '.[slam]'` to compare it; scipy only[/]")
    unknown = [s for s in choice if s not in ("scipy", "open3d")]
    if unknown:
        con.print(f"[red]--solvers: unknown {', '.join(unknown)}; expected scipy and/or open3d[/]")
        raise typer.Exit(1)
    t = Table(title="label drift correction: pose-graph solvers")
    for c in ("flight", "solver", "position error m (median / p95)", "label residual m (median)", "solve s",
              "bin count right"):
        t.add_column(c)
    for b in bundles:
        truth = b / "truth" / "poses.csv"
        if not truth.exists() or not (b / "truth" / "stock.csv").exists():
            con.print(f"[red]{b}: no truth/poses.csv and truth/stock.csv; expected a synthetic flight bundle[/]")
            raise typer.Exit(1)
        bundle = Bundle(b)
        t_true, p_true, f_true = _truth_positions(truth)
        cam_of = {fr.frame_idx: fr.camera for fr in bundle.frames}  # a pair's frames: each its own camera
        T_bc = bundle.T_body_cameras[[cam_of.get(int(f), 0) for f in f_true]]
        stock = read_truth_stock(b)
        runs = [("none", None)] + [(k, funcs[k]) for k in choice if k in funcs]
        for name, fn in runs:
            spent = [0.0]

            def timed(*a, _fn=fn, **kw):
                t0 = time.perf_counter()
                out = _fn(*a, **kw)
                spent[0] += time.perf_counter() - t0
                return out

            con.print(f"{b.name}: fusing with {name} ...")
            r = fuse_bundle(bundle, FusionOptions(drift_correction=fn is not None), **({"drift_solver": timed} if fn else {}))
            # truth/poses.csv is stamped in telemetry time, the fused trajectory's clock
            p = (r.trajectory.poses_at(t_true) @ T_bc)[:, :3, 3]
            err = np.linalg.norm(p - p_true, axis=1)
            obs = pd.DataFrame([o.__dict__ for o in r.observations])
            n, ok, _ = score_counts(obs, stock)
            t.add_row(str(b), name, f"{np.median(err):.3f} / {np.percentile(err, 95):.3f}",
                      f"{r.drift_residual_after_m:.3f}" if fn else "-",
                      f"{spent[0]:.2f}" if fn else "-", f"{ok}/{n} = {100 * ok / max(n, 1):.1f}%")
    con.print(t)


def register(app: typer.Typer) -> None:
    pass
