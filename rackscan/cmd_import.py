"""``rackscan import``: real logs + a video or photos -> a flight bundle; ``rackscan export``: a
bundle -> the files a real drone leaves (MP4 or photos + DataFlash .bin)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_cmd(
        log: list[Path] = typer.Option([], "--log", help="flight log: MAVLink .tlog, ArduPilot DataFlash .bin or PX4 .ulg (repeat for several)"),
        video: Path = typer.Option(None, "--video", help="the camera's video (MP4/MOV/MKV; frame times from pts + creation_time)"),
        images: Path = typer.Option(None, "--images", help="folder of the camera's JPEG photos (times from EXIF)"),
        camera: Path = typer.Option(..., "--camera", help="camera YAML (rackscan calibrate writes one)"),
        site: Path = typer.Option(..., "--site", help="site YAML the flight was flown on"),
        out: Path = typer.Option(..., "-o", "--out", help="new bundle directory"),
        poses_csv: Path = typer.Option(None, "--poses-csv", help="external SLAM poses (t_ns,x_m,y_m,z_m,qw,qx,qy,qz: T_site_body) instead of the log's"),
        catalogue: Path = typer.Option(None, "--catalogue", help="catalogue.csv (sku,gtin) copied into the bundle so fusion names SKUs"),
        system_id: int = typer.Option(None, "--system-id", help="the vehicle's MAVLink system id in a tlog of several (default: most position packets)"),
        camera_utc_offset: str = typer.Option(None, "--camera-utc-offset", help="the photos' UTC offset (+HH:MM) when EXIF has no OffsetTimeOriginal"),
        video_start_utc: str = typer.Option(None, "--video-start-utc", help="UTC of the video's time 0 (ISO 8601) when the container has no creation_time"),
        log_boot_utc: str = typer.Option(None, "--log-boot-utc", help="UTC at the log's boot (ISO 8601) when the log has no GPS time"),
        frame_step: int = typer.Option(1, "--frame-step", min=1, help="take every N-th video frame"),
        triggers: bool = typer.Option(True, "--triggers/--no-triggers", help="time frames by the log's camera-trigger messages when it has them"),
        max_gap_s: float = typer.Option(1.0, "--max-gap-s", help="pose gaps longer than this are reported and not bridged, seconds"),
        flight_id: str = typer.Option(None, "--flight-id", help="flight id (default: from the log's name and the first frame's time)"),
    ) -> None:
        """Import a real flight: logs, a video or photos, a camera file and a site -> a flight bundle."""
        from rich.console import Console

        from imports.importer import ImportOptions, import_flight
        from rackscan.executors import progress_bar

        opts = ImportOptions(logs=tuple(log), video=video, images=images, camera=camera, site=site, out=out,
                             poses_csv=poses_csv, catalogue=catalogue, system_id=system_id, camera_utc_offset=camera_utc_offset,
                             video_start_utc=video_start_utc, log_boot_utc=log_boot_utc, frame_step=frame_step,
                             use_triggers=triggers, max_gap_s=max_gap_s, flight_id=flight_id)
        with progress_bar(transient=True) as prog:
            task = prog.add_task("importing frames", total=None)
            r = import_flight(opts, on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        c = Console()
        for lg in r.logs:
            c.print(f"log {Path(lg['path']).name}: {lg['kind']}, {lg['messages']} messages, time: {lg['time_source']}")
        p = r.poses
        c.print(f"poses: {p['n']} at {p['rate_hz']:.1f} Hz over {p['span_s']:.1f} s ({p['frame']}; {p['source']}); "
                f"{len(p['gaps'])} gaps over the limit")
        ft = r.frame_timing
        line = f"frames: {r.frames['n']} ({r.frames['left_out']} left out), timed by {ft['source']}"
        if ft.get("matched"):
            line += (f"; {ft['matched']} matched, offset {ft['offset_s']:+.3f} s, drift {ft['drift_ppm']:+.1f} ppm, "
                     f"residual median {ft['residual_ms_median']:.1f} ms, max {ft['residual_ms_max']:.1f} ms")
        c.print(line)
        for w in r.warnings:
            c.print(f"[yellow]warning:[/yellow] {w}")
        c.print(f"wrote {r.bundle} (report: {Path(r.bundle) / 'import' / 'report.json'}, {r.report_png})")

    @app.command("export")
    def export_cmd(
        bundle_dir: Path = typer.Argument(..., help="flight bundle to export"),
        log: Path = typer.Option(..., "--log", help="DataFlash .bin to write"),
        video: Path = typer.Option(None, "--video", help="MP4 to write (H.264)"),
        photos: Path = typer.Option(None, "--photos", help="folder of JPEG photos with EXIF times to write"),
        triggers: bool = typer.Option(False, "--triggers/--no-triggers", help="a CAM message per frame in the log"),
        utc_offset: str = typer.Option("+00:00", "--utc-offset", help="the photos' local time zone (+HH:MM)"),
        crf: int = typer.Option(14, "--crf", min=0, max=51, help="H.264 quality (lower is better)"),
    ) -> None:
        """Export a bundle as a real drone's files: MP4 or EXIF photos + an ArduPilot DataFlash log."""
        from rich.console import Console

        from imports.export import export_flight
        from rackscan.executors import progress_bar

        with progress_bar(transient=True) as prog:
            task = prog.add_task("exporting frames", total=None)
            r = export_flight(bundle_dir, log=log, video=video, photos=photos, triggers=triggers, utc_offset=utc_offset,
                              crf=crf, on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        Console().print(f"wrote {r.frames} ({r.n_frames} frames) and {r.log} ({r.n_poses} poses, {r.n_triggers} CAM)")
