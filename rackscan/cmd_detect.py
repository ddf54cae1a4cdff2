"""``rackscan detect BUNDLE``: tires, labels and codes per frame -> BUNDLE/detections.parquet."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("detect")
    def detect(
        bundle_dir: Path = typer.Argument(..., help="flight bundle directory"),
        weights: Path = typer.Option(None, "--weights", help="detector weights (.onnx or .pt; default: shipped)"),
        backend: str = typer.Option("onnx", "--backend", help="onnx (ONNX Runtime) or torch (Ultralytics/PyTorch)"),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
        batch: int = typer.Option(1, "--batch", help="frames per inference batch"),
        conf: float = typer.Option(0.25, "--conf", help="detection confidence threshold"),
        annotate: Path = typer.Option(None, "--annotate", help="write annotated frames (JPEG) into this folder"),
        decode_threads: int = typer.Option(None, "--decode-threads", min=0,
                                           help="threads reading codes beside the detector (default: every core with "
                                                "--device cuda, half of them on the CPU)"),
        no_track: bool = typer.Option(False, "--no-track", help="do not track boxes across frames"),
        out: Path = typer.Option(None, "--out", help="output parquet (default BUNDLE/detections.parquet)"),
    ) -> None:
        """Detect tires and labels and read every code in each frame of a flight bundle."""
        import cv2
        from rich.console import Console

        from flight.bundle import Bundle
        from perception.annotate import annotate as draw_detections
        from perception.detector import Detector
        from perception.io import write_detections
        from perception.pipeline import default_decode_threads, run_perception
        from rackscan.executors import progress_bar

        b = Bundle(bundle_dir)
        det = Detector(weights, backend=backend, device=device, batch=batch, conf=conf)
        if annotate:
            annotate.mkdir(parents=True, exist_ok=True)

        def draw(d, img):
            if annotate:
                cv2.imwrite(str(annotate / f"{d.frame_idx:06d}.jpg"), draw_detections(img, d), [cv2.IMWRITE_JPEG_QUALITY, 85])

        console = Console()
        with progress_bar() as prog:
            task = prog.add_task("detecting", total=len(b))

            threads = decode_threads if decode_threads is not None else default_decode_threads(device)
            grey = det.takes_grey and not annotate  # annotated frames are drawn in colour

            def frames():
                for fr, img in b.iter_frames(skip_bad=True, prefetch=threads, grey=grey):
                    yield fr.frame_idx, fr.t_ns, img

            def on_frame(d, img):
                draw(d, img)
                prog.advance(task)

            fps = float(b.camera_spec().fps or 5.0)
            dets = run_perception(frames(), det, track=not no_track, frame_rate=fps, decode_threads=threads,
                                  on_frame=on_frame)
        path = write_detections(out or b.path / "detections.parquet", dets)
        n_box = sum(len(d) for d in dets)
        n_code = sum(len(d.codes) for d in dets)
        skipped = len(b) - len(dets)
        console.print(f"{len(dets)} frames ({skipped} skipped), {n_box} boxes, {n_code} codes read -> {path}")
