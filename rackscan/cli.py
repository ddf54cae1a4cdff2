"""The ``rackscan`` command line: thin verbs over the library; known errors become one line + exit 1.

Verbs live in ``rackscan/cmd_*.py`` modules, each with a ``register(app)`` function; they import
heavy libraries inside the command functions so ``rackscan --help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

os.environ.setdefault("MAVLINK20", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

app = typer.Typer(
    name="rackscan",
    help="Count a tire warehouse with drones: plan, fly, perceive, fuse, reconcile, review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_all() -> None:
    import rackscan

    for mod in sorted(m.name for m in pkgutil.iter_modules(rackscan.__path__)):
        if mod.startswith("cmd_"):
            importlib.import_module(f"rackscan.{mod}").register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    from warehouse.errors import RackscanError

    try:
        app(args=argv, prog_name="rackscan", standalone_mode=True)
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into Exit(130), silently
            typer.echo("interrupted", err=True)
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 1
    except RackscanError as exc:
        msg = " ".join(str(exc).split("\n"))
        typer.echo(f"error: {msg}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
