"""``rackscan synth``: synthesise a tire warehouse from a scenario file."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        scenario_yaml: Path = typer.Argument(..., help="scenario YAML (datasets/scenarios/default.yaml) or a world "
                                                           "family (datasets/families/*.yaml) with --world"),
        out_dir: Path = typer.Argument(..., help="output directory"),
        world: int = typer.Option(None, "--world", help="with a family file: the world number to draw"),
        frames: int = typer.Option(None, "--frames", help="gallery frames to render (default: the scenario's)"),
        flight: bool = typer.Option(False, "--flight", help="also record a synthetic scan flight as a bundle in OUT/flight"),
        faces: str = typer.Option(None, "--faces", help="with --flight: comma-separated face ids (default: all)"),
    ) -> None:
        """Write the site, stock, ERP snapshot (CSV+XLSX), ground truth and a gallery of rendered frames."""
        from rich.console import Console
        from rich.table import Table

        from datasets.errors import DatasetError
        from datasets.family import is_family, load_family, world_scenario
        from datasets.scenario import load_scenario
        from datasets.synth import synthesize
        from rackscan.executors import progress_bar

        if is_family(scenario_yaml):
            if world is None:
                raise DatasetError(f"{scenario_yaml}: a world family; expected --world K (see its splits)")
            fam = load_family(scenario_yaml)
            sc = world_scenario(fam, world)
            typer.echo(f"world {world} of {fam.name} ({fam.split_of(world)} split)")
        elif world is not None:
            raise DatasetError(f"--world {world}: {scenario_yaml} is a scenario, not a world family (no 'family:' key)")
        else:
            sc = load_scenario(scenario_yaml)
        with progress_bar() as prog:
            task = prog.add_task("rendering gallery", total=None)
            res = synthesize(sc, out_dir, n_frames=frames, on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        if flight:
            from datasets.synthflight import record_synthetic_flight
            from datasets.world import build_world

            with progress_bar() as prog:
                task = prog.add_task("recording synthetic flight", total=None)
                fr = record_synthetic_flight(build_world(sc), out_dir / "flight", face_ids=faces.split(",") if faces else None,
                                             on_frame=lambda i, n: prog.update(task, completed=i, total=n))
            typer.echo(f"flight bundle {fr.bundle}: {fr.n_frames} frames, {fr.passes} passes, {fr.flight_time_s:.0f} s")
        t = Table(title=f"synthetic warehouse -> {res.out_dir}", show_header=False)
        for k, v in [("bins", res.n_bins), ("tires", res.n_tires), ("injected discrepancies", res.n_discrepancies),
                     ("default camera distance (m)", f"{res.standoff_m:.2f}"), ("gallery frames", res.n_frames),
                     ("contact sheet", res.contact_sheet or "-")]:
            t.add_row(k, str(v))
        Console().print(t)
