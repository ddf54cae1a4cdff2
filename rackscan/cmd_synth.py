"""``rackscan synth``: synthesise a tire warehouse from a scenario file."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        scenario_yaml: Path = typer.Argument(..., help="scenario YAML (see datasets/scenarios/default.yaml)"),
        out_dir: Path = typer.Argument(..., help="output directory"),
        frames: int = typer.Option(None, "--frames", help="gallery frames to render (default: the scenario's)"),
        flight: bool = typer.Option(False, "--flight", help="also record a synthetic scan flight as a bundle in OUT/flight"),
        faces: str = typer.Option(None, "--faces", help="with --flight: comma-separated face ids (default: all)"),
    ) -> None:
        """Write the site, stock, ERP snapshot (CSV+XLSX), ground truth and a gallery of rendered frames."""
        from rich.console import Console
        from rich.table import Table

        from datasets.synth import synthesize
        from rackscan.executors import progress_bar

        with progress_bar() as prog:
            task = prog.add_task("rendering gallery", total=None)
            res = synthesize(scenario_yaml, out_dir, n_frames=frames,
                             on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        if flight:
            from datasets.synthflight import record_synthetic_flight
            from datasets.world import build_world

            world = build_world(scenario_yaml)
            with progress_bar() as prog:
                task = prog.add_task("recording synthetic flight", total=None)
                fr = record_synthetic_flight(world, out_dir / "flight", face_ids=faces.split(",") if faces else None,
                                             on_frame=lambda i, n: prog.update(task, completed=i, total=n))
            typer.echo(f"flight bundle {fr.bundle}: {fr.n_frames} frames, {fr.passes} passes, {fr.flight_time_s:.0f} s")
        t = Table(title=f"synthetic warehouse -> {res.out_dir}", show_header=False)
        for k, v in [("bins", res.n_bins), ("tires", res.n_tires), ("injected discrepancies", res.n_discrepancies),
                     ("default camera distance (m)", f"{res.standoff_m:.2f}"), ("gallery frames", res.n_frames),
                     ("contact sheet", res.contact_sheet or "-")]:
            t.add_row(k, str(v))
        Console().print(t)
