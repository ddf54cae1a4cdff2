"""``rackscan replay BUNDLE``: an annotated video and a Rerun recording of a recorded flight; with
``--weights`` or ``--conf``, perception re-run with that model or threshold and the counts compared."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_cmd(
        bundle_dir: Path = typer.Argument(..., help="flight bundle directory (run rackscan process first)"),
        out: Path = typer.Option(None, "--out", help="output folder (default BUNDLE/replay)"),
        every: int = typer.Option(1, "--every", min=1, help="use every N-th frame"),
        width_px: int = typer.Option(960, "--width-px", min=160, help="video width"),
        video: bool = typer.Option(True, "--video/--no-video", help="write replay.mp4"),
        rerun: bool = typer.Option(True, "--rerun/--no-rerun", help="write replay.rrd (open with: rerun replay.rrd)"),
        weights: Path = typer.Option(None, "--weights", help="re-run perception with these weights and compare counts"),
        conf: float = typer.Option(None, "--conf", help="re-run perception with this confidence threshold and compare"),
    ) -> None:
        """Replay a flight for engineers, optionally re-run with another model or threshold."""
        from rich.console import Console
        from rich.table import Table

        from flight.bundle import Bundle
        from rackscan.executors import progress_bar
        from rackscan.replay import compare_counts, replay
        from slam_fusion.errors import FusionError

        b = Bundle(bundle_dir)
        out = out or b.path / "replay"
        out.mkdir(parents=True, exist_ok=True)
        con = Console()
        det = b.path / "detections.parquet"
        if not det.exists():
            raise FusionError(f"{det}: missing; run `rackscan process {bundle_dir}` (or detect) first")
        if weights or conf is not None:
            from perception.detector import Detector
            from perception.io import write_detections
            from perception.pipeline import run_perception
            from slam_fusion.tools.io import fuse_bundle

            d = Detector(weights, conf=0.25 if conf is None else conf)
            with progress_bar() as prog:
                task = prog.add_task(f"re-running perception ({d.weights.name}, conf {d.conf})", total=len(b))
                dets = run_perception(((fr.frame_idx, fr.t_ns, img) for fr, img in b.iter_frames(skip_bad=True)), d,
                                      frame_rate=float(b.camera_spec().fps or 5.0),
                                      on_frame=lambda *_: prog.advance(task))
            new = write_detections(out / "detections.parquet", dets)
            before, after = fuse_bundle(b, detections=det), fuse_bundle(b, detections=new)
            diff = compare_counts(before.observations, after.observations)
            t = Table(title=f"counts: the flight's detections vs the re-run ({len(diff)} bins differ)")
            for c in ("bin", "before", "after"):
                t.add_column(c)
            for k, a, z in diff:
                t.add_row(k, str(a), str(z))
            con.print(t)
            con.print(f"tires counted: {sum(o.count for o in before.observations)} before, "
                      f"{sum(o.count for o in after.observations)} after; re-run detections in {new}")
            det = new
        with progress_bar() as prog:
            task = prog.add_task("replaying", total=None)
            r = replay(b, out, detections=det, video=video, rerun=rerun, every=every, width_px=width_px,
                       on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        if r.video:
            con.print(f"annotated video: {r.video} ({r.frames} frames)")
        if r.rerun:
            con.print(f"Rerun recording: {r.rerun} (open with: rerun {r.rerun})")
