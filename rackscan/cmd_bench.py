"""Registers the ``rackscan bench`` group (sub-commands live beside their stages' verbs)."""

import typer

from rackscan.bench_app import bench_app


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
