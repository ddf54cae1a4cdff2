"""The ``rackscan bench`` group. Each stage adds its benchmark as a sub-command:

    from rackscan.bench_app import bench_app

    @bench_app.command("render")
    def render(...): ...

``rackscan bench SCENARIO.yaml`` (a file instead of a sub-command name) runs the end-to-end
benchmark, i.e. ``rackscan bench scenario SCENARIO.yaml``. Benchmarks print measured figures;
they are not timed tests.
"""

import typer
from typer.core import TyperGroup


class _BenchGroup(TyperGroup):
    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0].lower().endswith((".yaml", ".yml")):
            args = ["scenario", *args]
        return super().parse_args(ctx, args)


bench_app = typer.Typer(
    cls=_BenchGroup,
    help="Benchmarks that print measured figures. `rackscan bench SCENARIO.yaml` runs a scenario "
    "end to end against its ground truth; sub-commands measure one stage.",
    no_args_is_help=True,
)
