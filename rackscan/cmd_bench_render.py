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
    read_check: bool = typer.Option(True, "--read-check/--no-read-check", help="also measure label read rates"),
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
    if read_check:
        from datasets.readcheck import ean_distance_m, label_read_rate

        d = world.default_standoff_m()
        t2 = Table(title="labels read by zxing-cpp (fully visible, JPEG frames)")
        for c in ("labels", "camera distance (m)", "px per module", "read", "rate"):
            t2.add_column(c)
        for name, dist, kinds, ean, goal in (
            ("location + product QR (required)", d, ["location_label", "product_label"], False, ">= 95%"),
            ("location + product QR at 3x", 3 * d, ["location_label", "product_label"], False, "< 20%"),
            ("product EAN-13 close-up", ean_distance_m(world), ["product_label"], True, ">= 95%"),
        ):
            ok, n = label_read_rate(world, r, dist, kinds, ean=ean, **({"v_offset_m": -0.45, "every": 3} if ean else {}))
            mod = (world.scenario.spec.labels.product_ean13.module_mm if ean else world.scenario.spec.labels.product_qr.module_mm)
            t2.add_row(f"{name} (goal {goal})", f"{dist:.2f}", f"{mod / cam.gsd_mm_px(dist):.2f}", f"{ok}/{n}",
                       f"{ok / n:.1%}" if n else "-")
        Console().print(t2)


def register(app: typer.Typer) -> None:  # the command lives in the bench group
    pass
