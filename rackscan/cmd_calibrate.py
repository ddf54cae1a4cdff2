"""``rackscan calibrate IMAGES --board ...``: the camera YAML from views of a ChArUco board or a chessboard."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate_cmd(
        images: Path = typer.Argument(..., help="folder of board photos (or one image)"),
        board: str = typer.Option(..., "--board", help="charuco:COLSxROWS:SQUARE_MM:MARKER_MM[:DICT] or chessboard:COLSxROWS:SQUARE_MM (squares)"),
        out: Path = typer.Option(Path("camera.yaml"), "-o", "--out", help="camera YAML to write"),
        camera: Path = typer.Option(None, "--camera", help="a camera YAML whose other fields (exposure, fps, mounting) to keep"),
        sensor_width_mm: float = typer.Option(None, "--sensor-width-mm", help="sensor width, mm (turns the focal length in pixels into mm; default: --camera's)"),
        max_rms_px: float = typer.Option(1.0, "--max-rms-px", help="refuse a fit worse than this, pixels"),
        min_coverage: float = typer.Option(0.6, "--min-coverage", help="refuse views covering less of the image than this share"),
        min_views: int = typer.Option(6, "--min-views", min=3, help="refuse fewer views with the board found"),
    ) -> None:
        """Calibrate a camera: intrinsics and distortion, the RMS error, and a coverage picture beside the YAML."""
        from rich.console import Console

        from imports.calibrate import CalibrationOptions, calibrate, parse_board, write_camera_yaml
        from rackscan.executors import progress_bar
        from warehouse.camera import load_camera

        b = parse_board(board)
        base = load_camera(camera) if camera else None
        opts = CalibrationOptions(max_rms_px=max_rms_px, min_coverage=min_coverage, min_views=min_views)
        png = out.with_name(out.stem + ".coverage.png")
        with progress_bar(transient=True) as prog:
            task = prog.add_task("finding the board", total=None)
            res = calibrate(images, b, base=base, sensor_width_mm=sensor_width_mm, opts=opts, coverage_png=png,
                            on_image=lambda i, n: prog.update(task, completed=i, total=n))
        write_camera_yaml(res, out, board=b)
        c = Console()
        s = res.spec
        c.print(f"RMS reprojection error {res.rms_px:.3f} px over {len(res.views_used)} views "
                f"({len(res.views_rejected)} without the board); image coverage {res.coverage * 100:.0f}%")
        c.print(f"fx {res.fx_px:.1f} px = focal {s.focal_mm:.3f} mm on a {s.sensor_width_mm:g} mm sensor; "
                f"distortion k1 k2 p1 p2 k3 = {' '.join(f'{v:+.4f}' for v in s.distortion)}")
        for w in res.warnings:
            c.print(f"[yellow]warning:[/yellow] {w}")
        c.print(f"wrote {out} and {res.coverage_png}")
