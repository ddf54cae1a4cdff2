"""``rackscan bench codes``: read rate and wrong reads on the real zxing-blackbox photos."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


@bench_app.command("codes")
def codes(
    root: Path = typer.Option(None, "--root", help="zxing-blackbox folder (default ../shared/datasets/zxing-blackbox)"),
) -> None:
    """zxing-cpp alone, zxing-cpp then pyzbar, and rackscan's full decoder, side by side."""
    from rich.console import Console
    from rich.table import Table

    from perception.bench_codes import bench_blackbox
    from rackscan.executors import progress_bar

    rows = []
    with progress_bar() as prog:
        for name, so, en in (("zxing-cpp alone", False, False), ("zxing-cpp, then pyzbar (1-D reads need two agreeing)", True, False),
                             ("rackscan decoder (enhanced passes + agreement)", True, True)):
            task = prog.add_task(name, total=None)
            r = bench_blackbox(second_opinion=so, enhance=en, root=root,
                               on_item=lambda i, n, t=task: prog.update(t, completed=i, total=n))
            rows.append((name, r))
    t = Table(title="zxing-blackbox, 0 degrees (goal >= 88% with <= 2 wrong reads)")
    for c in ("decoder", "images", "read correctly", "read rate", "wrong reads"):
        t.add_column(c)
    for name, r in rows:
        t.add_row(name, str(r.n_images), str(r.correct), f"{r.read_rate:.1%}", str(r.wrong))
    Console().print(t)
    per = Table(title="rackscan decoder by folder")
    for c in ("folder", "images", "correct", "wrong"):
        per.add_column(c)
    for folder, (n, ok, bad) in sorted(rows[-1][1].by_folder.items()):
        per.add_row(folder, str(n), str(ok), str(bad))
    Console().print(per)


def register(app: typer.Typer) -> None:
    pass
