"""``rackscan bench reconcile``: discrepancy precision/recall by kind on a synthetic scenario."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default.yaml"


@bench_app.command("reconcile")
def reconcile_bench(
    scenario_yaml: Path = typer.Argument(DEFAULT_SCENARIO, help="scenario YAML"),
    observations: Path = typer.Option(None, "--observations", help="observations.parquet from a flight of this "
                                      "scenario (default: perfect observations from the ground truth)"),
    seeds: int = typer.Option(5, "--seeds", help="scenario seeds to pool (seed, seed+1, ...), truth observations only"),
) -> None:
    """Print discrepancy precision and recall by kind against the injected ground truth."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from datasets.scenario import Scenario, load_scenario
    from datasets.world import build_world
    from reconciliation.bench import KindScore, bench_world

    sc = load_scenario(scenario_yaml)
    totals: dict[str, list[int]] = {}
    runs = [None] if observations else range(seeds)
    for i in runs:
        if observations:
            world = build_world(sc)
            scores = bench_world(world, pd.read_parquet(observations))
        else:
            spec = sc.spec.model_copy(update={"seed": sc.spec.seed + i})
            world = build_world(Scenario(spec, sc.site, sc.source))
            scores = bench_world(world)
        for s in scores:
            t = totals.setdefault(s.kind, [0, 0, 0])
            t[0] += s.truth
            t[1] += s.predicted
            t[2] += s.true_positive
    source = str(observations) if observations else f"ground-truth observations, {seeds} seeds"
    table = Table(title=f"discrepancies by kind ({source})")
    for c in ("kind", "injected", "reported", "correct", "precision", "recall"):
        table.add_column(c, justify="right" if c != "kind" else "left")
    for kind, (t, p, tp) in totals.items():
        s = KindScore(kind, t, p, tp)
        table.add_row(kind, str(t), str(p), str(tp), f"{s.precision:.3f}", f"{s.recall:.3f}")
    Console().print(table)


def register(app: typer.Typer) -> None:
    pass
