"""``rackscan bench import``: a synthetic flight exported as a real drone's files and imported back,
counts and clocks compared with the original (``rackscan.import_bench``)."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


@bench_app.command("import")
def import_bench(
    scenario: Path = typer.Option(Path("datasets/scenarios/default.yaml"), "--scenario", help="scenario to fly"),
    out: Path = typer.Option(Path("out/bench-import"), "--out", help="work folder (emptied first)"),
    face: str = typer.Option("R02/front", "--face", help="the rack face flown"),
    passes: int = typer.Option(1, "--passes", min=1, help="passes per face"),
    clock_error_s: float = typer.Option(0.3, "--clock-error-s", help="how far the camera's clock runs ahead, seconds"),
    utc_offset: str = typer.Option("+02:00", "--utc-offset", help="the photos' local time zone"),
) -> None:
    """Original vs MP4 + DataFlash vs EXIF photos (no triggers) vs photos with CAM triggers."""
    import shutil

    from rich.console import Console
    from rich.table import Table

    from rackscan.import_bench import run_import_bench

    if out.exists():
        shutil.rmtree(out)
    con = Console()
    b = run_import_bench(scenario, out, face=face, passes=passes, clock_error_s=clock_error_s, utc_offset=utc_offset,
                         reconcile_video=False, log=con.print)
    t = Table(title=f"{scenario.name}, {face}, camera clock {clock_error_s:+.3f} s fast, photos at UTC{utc_offset}")
    for c in ("bundle", "frames timed by", "bins", "tires", "bins differing from the original", "fusion clock offset"):
        t.add_column(c)
    for name in ("orig", "from_video", "from_photos"):
        rep = b.reports.get(name)
        t.add_row(name, rep.frame_timing["source"] if rep else "recorder (camera clock)", str(len(b.counts[name])),
                  str(sum(c for _, c in b.counts[name].values())),
                  "-" if name == "orig" else (", ".join(b.differing_bins(name)) or "none"),
                  f"{b.clock_offset_s[name] * 1000:+.1f} ms (truth {-clock_error_s * 1000:+.1f})")
    con.print(t)
    ft = b.reports["from_cam"].frame_timing
    con.print(f"photos with a CAM each: {ft['matched']} matched, offset {ft['offset_s'] * 1000:+.2f} ms, residual max "
              f"{ft['residual_ms_max']:.3f} ms")
    con.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in b.seconds.items()))


def register(app: typer.Typer) -> None:
    pass  # a sub-command of ``rackscan bench`` (rackscan.bench_app)
