"""``rackscan fuse BUNDLE``: telemetry + detections -> observations.parquet per bin."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("fuse")
    def fuse(
        bundle_dir: Path = typer.Argument(..., help="flight bundle directory (with BUNDLE.resume1, ... when the flight was resumed: fused as one)"),
        detections: Path = typer.Option(None, "--detections", help="detections.parquet (default BUNDLE/detections.parquet)"),
        max_gap_s: float = typer.Option(0.2, "--max-gap-s", help="largest allowed frame-to-pose gap, seconds"),
        clock_offset_s: str = typer.Option("auto", "--clock-offset-s", help="camera-telemetry offset: auto or seconds"),
        min_overlap: float = typer.Option(0.35, "--min-overlap", help="box overlap on the face (0..1) for two sightings to be one tire"),
        min_support: float = typer.Option(0.5, "--min-support", help="share of the frames that had a tire in view that must see it"),
        smooth_s: float = typer.Option(1.0, "--smooth-s", help="telemetry position smoothing window, seconds (0 = off)"),
        drift_correction: bool = typer.Option(True, "--drift-correction/--no-drift-correction", help="correct positions from location labels"),
        register_passes: bool = typer.Option(True, "--register-passes/--no-register-passes", help="line a face's passes up on the tires they saw in common"),
        poses: str = typer.Option("auto", "--poses", help="pose source: auto, tlog (RTK global position), odometry (MAVLink ODOMETRY), csv (poses.csv)"),
        ply: Path = typer.Option(None, "--ply", help="also write the rack faces and fused tires as a PLY mesh (Open3D opens it)"),
        catalogue: Path = typer.Option(None, "--catalogue", help="catalogue.csv (sku,gtin) mapping GTINs to SKUs (default BUNDLE/catalogue.csv when present)"),
        confidence_model: Path = typer.Option(None, "--confidence-model", help="bin confidence model (JSON; default: the shipped one), e.g. one fitted on a candidate detector's boxes"),
        count_model: Path = typer.Option(None, "--count-model", help="count confidence model (JSON; default: the shipped one)"),
    ) -> None:
        """Fuse a flight's detections into one observation per bin."""
        from rich.console import Console

        from flight.continuation import open_flight
        from slam_fusion.errors import FusionError
        from slam_fusion.tools.io import (FusionOptions, fuse_bundle, pass_shift_line, residual_stats, write_outputs,
                                          write_ply)

        b = open_flight(bundle_dir)
        if clock_offset_s == "auto":
            off = None
        else:
            try:
                off = float(clock_offset_s)
            except ValueError:
                raise FusionError(f"--clock-offset-s: expected 'auto' or seconds, got {clock_offset_s!r}") from None
        opts = FusionOptions(max_gap_s=max_gap_s, clock_offset_s=off, min_overlap=min_overlap, min_support=min_support,
                             smooth_s=smooth_s, drift_correction=drift_correction, register_passes=register_passes,
                             poses=poses,
                             catalogue=str(catalogue) if catalogue else None,
                             confidence_model=str(confidence_model) if confidence_model else None,
                             count_model=str(count_model) if count_model else None)
        res = fuse_bundle(b, opts, detections=detections)
        out = write_outputs(b, res, b.meta.flight_id)
        med, mx = residual_stats(res.label_residuals_px)
        c = Console()
        c.print(f"bins observed: {len(res.observations)} of {len(res.coverage)}; "
                f"tires counted: {sum(o.count for o in res.observations)}")
        c.print(f"clock offset: {res.clock_offset_s * 1000:+.1f} ms "
                f"({'estimated' if off is None else 'given'}); label residual median {med:.1f} px, max {mx:.1f} px "
                f"over {len(res.label_residuals_px)} labels")
        c.print(pass_shift_line(res.pass_shifts))
        for w in res.warnings:
            c.print(f"[yellow]warning:[/yellow] {w}")
        c.print(f"wrote {out['observations']} and {out['coverage']}, evidence frames and crops in {b.path / 'evidence'}")
        if ply:
            c.print(f"wrote {write_ply(ply, b.site(), res)} ({len(res.tracks)} tire tracks)")
