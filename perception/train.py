"""Training the tire/label detector (Ultralytics YOLO11n from scratch: no download, no pretrained
weights) and shipping it: ``perception/weights/rackscan-det.{pt,onnx}`` with
``train_config.yaml`` (everything needed to reproduce: data recipe, seed, hyper-parameters,
library versions) and ``metrics.json`` (what the weights reached on the validation lists).

``python -m perception.train --data runs/trainset --epochs 80 --device 0`` trains on a GPU;
``rackscan train`` builds the training set first (``perception.trainset``) and calls the same code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from perception.errors import PerceptionError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "rackscan-det.onnx"
INFER_HW = (384, 640)  # 1920x1080 frames letterboxed to 640x360 (+ 12 px pad top and bottom)


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 80
    imgsz: int = 640
    batch: int = 64
    seed: int = 0
    device: str = "cpu"
    workers: int = 8
    model_yaml: str = "yolo11n.yaml"
    init: str | None = None  # weights to fine-tune from (None: from scratch on model_yaml)
    freeze: int = 0  # layers kept as they are when fine-tuning (the first ones: the backbone's stem)
    time_h: float | None = None  # wall-clock cap (Ultralytics recomputes the epochs to fit)
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_pt: Path
    epochs_run: int
    seconds: float
    metrics: dict


def train(data_root: str | Path, run_dir: str | Path, opts: TrainOptions = TrainOptions()) -> TrainResult:
    """Train from scratch on ``data_root/data.yaml`` (made by perception.trainset)."""
    from ultralytics import YOLO

    from perception.trainset import relocate

    data_root = Path(data_root)
    if not (data_root / "data.yaml").exists():
        raise PerceptionError(f"{data_root}: no data.yaml; expected a training set made by `rackscan train --build-only`")
    data_yaml = relocate(data_root)
    run_dir = Path(run_dir).resolve()
    t0 = time.time()
    model = YOLO(opts.init or opts.model_yaml)
    kw = dict(data=str(data_yaml), epochs=opts.epochs, imgsz=opts.imgsz, batch=opts.batch, seed=opts.seed,
              deterministic=True, device=opts.device, workers=opts.workers, amp=False, plots=False,
              project=str(run_dir.parent), name=run_dir.name, exist_ok=True, pretrained=bool(opts.init), verbose=False,
              cache="ram", close_mosaic=10, patience=1000)
    kw.update(opts.extra)  # Ultralytics' own hyper-parameters (lr0, close_mosaic, hsv_v, ...) override these
    if opts.freeze:
        kw["freeze"] = opts.freeze
    if opts.time_h:
        kw["time"] = opts.time_h
    model.train(**kw)
    best = run_dir / "weights" / "best.pt"
    if not best.exists():
        raise PerceptionError(f"{run_dir}: training wrote no weights/best.pt; see the Ultralytics log above")
    import pandas as pd

    res = pd.read_csv(run_dir / "results.csv")
    res.columns = [c.strip() for c in res.columns]
    best_row = res.loc[res["metrics/mAP50-95(B)"].idxmax()]
    metrics = {"epochs_run": int(len(res)), "best_epoch": int(best_row["epoch"]),
               "val_precision": float(best_row["metrics/precision(B)"]), "val_recall": float(best_row["metrics/recall(B)"]),
               "val_mAP50": float(best_row["metrics/mAP50(B)"]), "val_mAP50_95": float(best_row["metrics/mAP50-95(B)"])}
    return TrainResult(run_dir, best, int(len(res)), time.time() - t0, metrics)


def export_onnx(best_pt: str | Path, out_onnx: str | Path, *, hw: tuple[int, int] = INFER_HW) -> Path:
    """ONNX with a dynamic batch axis at the inference size ``hw`` (rectangular letterbox)."""
    from ultralytics import YOLO

    path = YOLO(str(best_pt)).export(format="onnx", imgsz=list(hw), dynamic=True, simplify=True, opset=17,
                                     batch=8, device="cpu")
    out = Path(out_onnx)
    shutil.move(str(path), out)
    return out


def ship(result: TrainResult, data_root: Path, opts: TrainOptions, recipe: dict, dest: Path = WEIGHTS_DIR, *,
         reproduce: str | None = None) -> dict:
    """Copy the weights into the repo with their config and metrics; export the ONNX model."""
    import platform

    import torch
    import ultralytics

    dest.mkdir(parents=True, exist_ok=True)
    pt = dest / "rackscan-det.pt"
    _strip_optimizer(result.best_pt, pt)
    onnx = export_onnx(pt, dest / "rackscan-det.onnx")
    from perception.trainset import INPUT_COLOUR

    init_sha256 = hashlib.sha256(Path(opts.init).read_bytes()).hexdigest() if opts.init and Path(opts.init).is_file() else None
    # the weights fine-tuned from, by content: shipping over perception/weights/ replaces the file --init named
    cfg = {"model": opts.model_yaml, "from_scratch": opts.init is None, "train_options": asdict(opts),
           **({"init_sha256": init_sha256} if init_sha256 else {}), "data_recipe": recipe,
           "input_colour": INPUT_COLOUR,
           "classes": list(__import__("perception.detections", fromlist=["CLASS_NAMES"]).CLASS_NAMES),
           "inference_hw": list(INFER_HW), "ultralytics": str(ultralytics.__version__), "torch": str(torch.__version__),
           "python": platform.python_version(), "trained_seconds": round(result.seconds, 1),
           "reproduce": reproduce or "python -m perception.trainset runs/trainset && python -m perception.train --data runs/trainset --epochs {e} --device 0 --seed {s}".format(
               e=result.epochs_run, s=opts.seed)}
    (dest / "train_config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (dest / "metrics.json").write_text(json.dumps(result.metrics, indent=2) + "\n")
    return {"pt": str(pt), "onnx": str(onnx), **result.metrics}


def _strip_optimizer(src: Path, dst: Path) -> None:
    from ultralytics.utils.torch_utils import strip_optimizer

    shutil.copy(src, dst)
    strip_optimizer(str(dst))


def evaluate(weights: str | Path, data_root: str | Path, *, device: str = "cpu") -> dict[str, dict]:
    """Ultralytics validation of ``weights`` on the held-out lists: the synthetic test worlds
    (precision, recall, mAP50 per class) and the tires-real test split (tire recall at IoU 0.5);
    and the share of no-tire photos with a false tire box (:func:`no_tire_rate`)."""
    from ultralytics import YOLO

    from perception.trainset import relocate

    root = Path(data_root)
    relocate(root)
    out = {}
    for split in ("test_synth", "test_real"):
        y = root / f"{split}.yaml"
        text = (root / "data.yaml").read_text().replace("test: test_synth.txt", f"test: {split}.txt")
        y.write_text(text)
        m = YOLO(str(weights)).val(data=str(y), split="test", imgsz=640, batch=8, device=device, plots=False,
                                   verbose=False, iou=0.6, conf=0.001)
        names = m.names
        per = {names[int(c)]: {"precision": float(m.box.p[i]), "recall": float(m.box.r[i]), "mAP50": float(m.box.ap50[i])}
               for i, c in enumerate(m.box.ap_class_index)}
        out[split] = per
    if (root / "test_no_tire.txt").exists():
        out["test_no_tire"] = no_tire_rate(weights, [root / f for f in (root / "test_no_tire.txt").read_text().split()])
    return out


def no_tire_rate(weights: str | Path, images: list[Path], *, conf: float = 0.5) -> dict:
    """Photos holding no tire on which the detector, as flights run it (ONNX Runtime, letterboxed),
    still draws a tire box at ``conf`` or above: how many, and the highest such confidence."""
    import cv2

    from perception.detections import CLASS_IDS
    from perception.detector import Detector

    det = Detector(Path(weights), backend="onnx", device="cpu", conf=0.05)
    hits, top = 0, 0.0
    for p in images:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise PerceptionError(f"{p}: not a readable image")
        d = det.detect([img])[0]
        tire = d.confidence[d.class_id == CLASS_IDS["tire"]]
        best = float(tire.max()) if len(tire) else 0.0
        hits += best >= conf
        top = max(top, best)
    return {"images": len(images), "with_tire_box": int(hits), "rate": hits / max(1, len(images)), "max_conf": top,
            "conf": conf}


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - used on the GPU machine
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", default="runs/detector")
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="0")
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--time-h", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--evaluate", metavar="WEIGHTS", help="only evaluate WEIGHTS on the test lists of --data")
    a = ap.parse_args(argv)
    if a.evaluate:
        print(json.dumps(evaluate(a.evaluate, a.data, device=a.device), indent=1))
        return
    opts = TrainOptions(epochs=a.epochs, batch=a.batch, device=a.device, workers=a.workers, time_h=a.time_h, seed=a.seed)
    r = train(a.data, a.run, opts)
    print(json.dumps({"run_dir": str(r.run_dir), "epochs_run": r.epochs_run, "seconds": round(r.seconds, 1), **r.metrics}))


if __name__ == "__main__":  # pragma: no cover
    main()
