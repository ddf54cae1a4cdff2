"""``rackscan bench render``: milliseconds per 1920x1080 frame of the virtual camera, one core."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default.yaml"


@bench_app.command("render")
def render(
    scenario_yaml: Path = typer.Argument(DEFAULT_SCENARIO, help="scenario YAML"),
    frames: int = typer.Option(60, "--frames", help="frames to time"),
    threads: int = typer.Option(1, "--threads", help="OpenCV threads (1 = one core)"),
) -> None:
    """Render FRAMES frames along a scan pass at the default standoff; print median/p90 ms."""
    import time

    import cv2
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from datasets.render import Renderer
    from datasets.synth import gallery_poses
    from datasets.world import build_world
    from rackscan.executors import progress_bar

    cv2.setNumThreads(threads)
    world = build_world(scenario_yaml)
    r = Renderer(world)
    poses = gallery_poses(world, frames + 5, seed=1)
    times = []
    with progress_bar() as prog:
        task = prog.add_task("rendering", total=len(poses))
        for i, (_, T, T_prev) in enumerate(poses):
            t0 = time.perf_counter()
            r.render(T, T_site_camera_prev=T_prev, rng_seed=i)
            if i >= 5:  # warm-up: texture caches
                times.append((time.perf_counter() - t0) * 1000)
            prog.advance(task)
    cam = world.camera
    t = Table(title="virtual camera render time")
    for c in ("frame size", "OpenCV threads", "frames", "median ms", "p90 ms", "goal"):
        t.add_column(c)
    t.add_row(f"{cam.image_width_px}x{cam.image_height_px}", str(threads), str(len(times)),
              f"{np.median(times):.1f}", f"{np.percentile(times, 90):.1f}", "< 100 ms median")
    Console().print(t)


def register(app: typer.Typer) -> None:  # the command lives in the bench group
    pass
