"""``rackscan demo``: the main job on the built-in synthetic warehouse (``make demo``)."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default.yaml"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("out/demo"), "--out", help="output directory"),
        scenario_yaml: Path = typer.Option(DEFAULT_SCENARIO, "--scenario", help="scenario YAML"),
        frames: int = typer.Option(12, "--frames", help="gallery frames to render"),
    ) -> None:
        """Synthesise the scenario's warehouse and check its site (plan view PNG, summary)."""
        from rich.console import Console

        from datasets.synth import synthesize
        from rackscan.executors import progress_bar
        from warehouse.plan_view import save_plan_view
        from warehouse.site import load_site

        console = Console()
        console.rule("[bold]rackscan demo: synthetic tire warehouse")
        with progress_bar() as prog:
            task = prog.add_task("synthesising", total=None)
            res = synthesize(scenario_yaml, out / "synth", n_frames=frames,
                             on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        site = load_site(out / "synth" / "site.yaml")
        s = site.summary()
        png = save_plan_view(site, out / "synth" / "site.png")
        console.print(f"site [bold]{s.name}[/]: {s.n_aisles} aisles, {s.n_faces} faces, {s.n_bins} bins, "
                      f"{s.face_length_m:.1f} m of rack face; plan view {png}")
        console.print(f"stock: {res.n_tires} tires; ERP snapshot with {res.n_discrepancies} injected discrepancies "
                      f"({out / 'synth' / 'truth' / 'discrepancies.csv'})")
        console.print(f"camera distance for the labels: {res.standoff_m:.2f} m; contact sheet {res.contact_sheet}")
