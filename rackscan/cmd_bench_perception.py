"""``rackscan bench perception``: the perception core's figures in one run.

- code reading on the real zxing-blackbox photos (read rate, wrong reads);
- the detector on held-out data: precision / recall / mAP50 per class on the synthetic test
  worlds (the world family's test split), tire recall on the tires-real test split, and false tire
  boxes on real photos without a tire (the zxing-blackbox test split; splits fixed by file-name hash);
- frames per second at 1920x1080 for detection + decoding on N CPU cores, ONNX Runtime and
  PyTorch side by side; on a GPU machine, detection throughput with batch 1, 8 and 32.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


def bench_frames(n: int) -> list:
    """n 1920x1080 frames rendered along the default synthetic warehouse's rack faces (its fixed light)."""
    import numpy as np

    from datasets.render import Renderer, camera_pose_facing
    from datasets.world import build_world
    from perception.trainset import DEFAULT_SCENARIO

    world = build_world(DEFAULT_SCENARIO)
    r = Renderer(world)
    d = world.default_standoff_m()
    rng = np.random.default_rng(0)
    frames = []
    faces = list(world.site.faces)
    for i in range(n):
        f = faces[i % len(faces)]
        u = rng.uniform(1.0, f.length_m - 1.0)
        v = rng.uniform(0.5, f.height_m - 0.5)
        frames.append(r.render(camera_pose_facing(f, u, v, d), rng_seed=i).image_bgr)
    return frames


@bench_app.command("perception")
def perception_bench(
    weights: Path = typer.Option(None, "--weights", help="detector weights (.pt; the .onnx beside it is used for ONNX Runtime); default: the shipped ones"),
    data: Path = typer.Option(Path("runs/bench-perception"), "--data", help="where the held-out test sets are built (reused when present)"),
    frames: int = typer.Option(24, "--frames", help="1080p frames for the speed runs"),
    cores: int = typer.Option(2, "--cores", help="CPU cores the CPU speed runs are pinned to"),
    skip: list[str] = typer.Option([], "--skip", help="parts to leave out: codes, detector, cpu, gpu"),
) -> None:
    """Read rate on zxing-blackbox, detector accuracy on held-out sets, CPU and GPU frames per second."""
    from warehouse.extras import require

    require("torch", "rackscan bench perception (it also measures the PyTorch path)")
    import torch
    from rich.console import Console
    from rich.table import Table

    from perception.bench import agreement, measure, pinned_cores
    from perception.detector import DEFAULT_WEIGHTS, Detector
    from perception.pipeline import default_decode_threads
    from rackscan.executors import progress_bar

    con = Console()
    pt = Path(weights) if weights else DEFAULT_WEIGHTS.with_suffix(".pt")
    summary = Table(title="rackscan bench perception")
    for c in ("measure", "value", "goal"):
        summary.add_column(c)

    if "codes" not in skip:
        from perception.bench_codes import bench_blackbox

        with progress_bar() as prog:
            task = prog.add_task("zxing-blackbox", total=None)
            r = bench_blackbox(second_opinion=True, enhance=True,
                               on_item=lambda i, n: prog.update(task, completed=i, total=n))
        summary.add_row("zxing-blackbox read rate (0 deg)", f"{r.correct}/{r.n_images} = {r.read_rate:.1%}", ">= 88%")
        summary.add_row("zxing-blackbox wrong reads", str(r.wrong), "<= 2")

    if "detector" not in skip:
        from perception.train import evaluate
        from perception.trainset import build_training_set

        if not (data / "test_synth.txt").exists():
            with progress_bar() as prog:
                task = prog.add_task("rendering the held-out synthetic test worlds", total=None)
                build_training_set(data, n_train=0, n_val=0, n_test=200, workers=2,
                                   on_progress=lambda i, n: prog.update(task, completed=i, total=n))
        with con.status("validating the detector on the held-out sets"):
            m = evaluate(pt, data, device="0" if torch.cuda.is_available() else "cpu")
        for cls, v in sorted(m["test_synth"].items()):
            goal = ">= 0.95 mAP50" if cls == "tire" else ""
            summary.add_row(f"synthetic test {cls}: P / R / mAP50",
                            f"{v['precision']:.3f} / {v['recall']:.3f} / {v['mAP50']:.3f}", goal)
        tr = m["test_real"].get("tire", {})
        summary.add_row("tires-real test split: tire recall (IoU 0.5)", f"{tr.get('recall', float('nan')):.3f}", ">= 0.85")
        nt = m.get("test_no_tire")
        if nt:
            summary.add_row(f"no-tire photos (zxing-blackbox test split): a tire box at >= {nt['conf']}",
                            f"{nt['with_tire_box']} of {nt['images']} = {nt['rate']:.1%} (highest {nt['max_conf']:.2f})",
                            "<= 2%")

    speed = Table(title=f"frames per second at 1920x1080 ({frames} rendered frames)")
    for c in ("backend", "device", "batch", "cores", "decode threads", "detect fps", "detect + decode fps",
              "codes / frame", "= ONNX CPU boxes"):
        speed.add_column(c)
    agree: dict = {}
    imgs = None
    if "cpu" not in skip or ("gpu" not in skip and torch.cuda.is_available()):
        with con.status(f"rendering {frames} 1080p frames"):
            imgs = bench_frames(frames)
    results = []
    if "cpu" not in skip:
        with pinned_cores(cores) as n_cores:
            old_threads = torch.get_num_threads()
            torch.set_num_threads(n_cores)
            try:
                with progress_bar() as prog:
                    for backend in ("onnx", "torch"):
                        task = prog.add_task(f"{backend} on {n_cores} CPU cores", total=None)
                        det = Detector(pt, backend=backend, device="cpu", threads=n_cores)
                        # codes read beside the detector, as `rackscan process` reads them on the CPU
                        results.append(measure(det, imgs, decode=True, cores=n_cores,
                                               decode_threads=default_decode_threads("cpu", n_cores),
                                               on_frame=lambda i, n, t=task: prog.update(t, completed=i, total=n)))
            finally:
                torch.set_num_threads(old_threads)
        onnx_cpu = results[0]
        summary.add_row(f"ONNX Runtime on {onnx_cpu.cores} CPU cores: detect + decode", f"{onnx_cpu.total_fps:.1f} fps",
                        ">= 10 fps")
    if "gpu" not in skip and torch.cuda.is_available():
        reference = Detector(pt, backend="onnx", device="cpu", batch=4).detect(imgs)
        with progress_bar() as prog:
            for backend in ("torch", "onnx"):
                for b in (1, 8, 32):
                    task = prog.add_task(f"{backend} on the GPU, batch {b}", total=None)
                    det = Detector(pt, backend=backend, device="cuda", batch=b, half=backend == "torch")
                    if backend == "onnx" and "CUDAExecutionProvider" not in det.providers:
                        prog.update(task, description="onnx: no CUDA execution provider in this onnxruntime, skipped")
                        break
                    r = measure(det, imgs, decode=True, cores=0, repeat=max(1, 256 // len(imgs)),
                                decode_threads=default_decode_threads("cuda"),
                                on_frame=lambda i, n, t=task: prog.update(t, completed=i, total=n))
                    agree[id(r)] = agreement(reference, det.detect(imgs))
                    results.append(r)
        best = max((r for r in results if r.device == "cuda"), key=lambda r: r.detect_fps, default=None)
        if best:
            summary.add_row(f"GPU ({torch.cuda.get_device_name(0)}), {best.backend} batch {best.batch}: detect",
                            f"{best.detect_fps:.0f} fps", ">= 300 fps")
            whole = max((r for r in results if r.device == "cuda"), key=lambda r: r.total_fps)
            summary.add_row(f"GPU, {whole.backend} batch {whole.batch}: detect + decode ({whole.decode_threads} threads)",
                            f"{whole.total_fps:.0f} fps", "")
            summary.add_row("GPU detections = ONNX Runtime CPU ones (same class, IoU >= 0.9)",
                            f"{min(agree.values()):.1%} (worst batch)", "")
    for r in results:
        speed.add_row(r.backend, r.device, str(r.batch), str(r.cores or "-"), str(r.decode_threads or "inline"),
                      f"{r.detect_fps:.1f}",
                      f"{r.total_fps:.1f}" if r.total_fps else "-", f"{r.codes_per_frame:.1f}" if r.total_fps else "-",
                      f"{agree[id(r)]:.1%}" if id(r) in agree else "-")
    if results:
        con.print(speed)
    con.print(summary)


def register(app: typer.Typer) -> None:
    pass
