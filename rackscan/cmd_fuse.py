"""``rackscan fuse BUNDLE``: telemetry + detections -> observations.parquet per bin."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("fuse")
    def fuse(
        bundle_dir: Path = typer.Argument(..., help="flight bundle directory"),
        detections: Path = typer.Option(None, "--detections", help="detections.parquet (default BUNDLE/detections.parquet)"),
        max_gap_s: float = typer.Option(0.2, "--max-gap-s", help="largest allowed frame-to-pose gap, seconds"),
        clock_offset_s: str = typer.Option("auto", "--clock-offset-s", help="camera-telemetry offset: auto or seconds"),
        min_overlap: float = typer.Option(0.35, "--min-overlap", help="box overlap on the face (0..1) for two sightings to be one tire"),
        min_support: float = typer.Option(0.5, "--min-support", help="share of the frames that had a tire in view that must see it"),
        smooth_s: float = typer.Option(1.0, "--smooth-s", help="telemetry position smoothing window, seconds (0 = off)"),
        drift_correction: bool = typer.Option(True, "--drift-correction/--no-drift-correction", help="correct positions from location labels"),
        catalogue: Path = typer.Option(None, "--catalogue", help="catalogue.csv (sku,gtin) mapping GTINs to SKUs (default BUNDLE/catalogue.csv when present)"),
    ) -> None:
        """Fuse a flight's detections into one observation per bin."""
        from rich.console import Console

        from flight.bundle import Bundle
        from slam_fusion.errors import FusionError
        from slam_fusion.pipeline import fuse_detections
        from slam_fusion.tools.io import read_catalogue, read_detection_rows, residual_stats, write_outputs
        from slam_fusion.tools.tlog import trajectory_from_bundle

        b = Bundle(bundle_dir)
        rows = read_detection_rows(detections or b.path / "detections.parquet")
        if clock_offset_s == "auto":
            off = None
        else:
            try:
                off = float(clock_offset_s)
            except ValueError:
                raise FusionError(f"--clock-offset-s: expected 'auto' or seconds, got {clock_offset_s!r}") from None
        traj = trajectory_from_bundle(b)
        ft = {int(fr.frame_idx): int(fr.t_ns) for fr in b.frames}
        if not ft:
            raise FusionError(f"{b.path / 'frames.csv'}: no frames; nothing to fuse")
        res = fuse_detections(site=b.site(), cam=b.camera_spec().model(), T_body_camera=b.T_body_camera,
                              traj=traj, frame_t_ns=ft, rows=rows, max_gap_ns=int(max_gap_s * 1e9),
                              clock_offset_s=off, min_overlap=min_overlap, min_support=min_support, smooth_s=smooth_s,
                              drift_correction=drift_correction, gtin_to_sku=read_catalogue(catalogue or b.path / "catalogue.csv",
                                                                                            required=catalogue is not None))
        out = write_outputs(b, res, b.meta.flight_id)
        med, mx = residual_stats(res.label_residuals_px)
        c = Console()
        c.print(f"bins observed: {len(res.observations)} of {len(res.coverage)}; "
                f"tires counted: {sum(o.count for o in res.observations)}")
        c.print(f"clock offset: {res.clock_offset_s * 1000:+.1f} ms "
                f"({'estimated' if off is None else 'given'}); label residual median {med:.1f} px, max {mx:.1f} px "
                f"over {len(res.label_residuals_px)} labels")
        c.print(f"wrote {out['observations']} and {out['coverage']}")
