"""The ``rackscan bench`` group. Each stage adds its benchmark as a sub-command:

    from rackscan.bench_app import bench_app

    @bench_app.command("render")
    def render(...): ...

Benchmarks print measured figures (tables); they are not timed tests.
"""

import typer

bench_app = typer.Typer(
    help="Benchmarks that print measured figures: render, plan, perception, fusion, reconcile, scenario.",
    no_args_is_help=True,
)
