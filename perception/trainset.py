"""The detector's training set: frames of the synthetic warehouse with a randomised domain plus
the train split of ``../shared/datasets/tires-real``, written in the Ultralytics YOLO layout.

Splits:
- synthetic: worlds drawn from different seeds; train, val and test never share a world (the
  stock, the lighting and the sensor differ), so the synthetic test is held out by scene;
- tires-real: fixed by a hash of the file name (``sha1(name) % 10``: 0-1 test, 2 val, rest
  train), never by looking at the images or at a model's scores.

Class ids follow ``perception.detections.CLASS_NAMES``; pallet labels are labels too and go to
``product_label`` (the decoder tells an SSCC from a GTIN by its content).
"""

from __future__ import annotations

import hashlib
import os
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from perception.detections import CLASS_IDS, CLASS_NAMES
from perception.errors import PerceptionError

TIRES_REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tires-real"
DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default.yaml"
KIND_TO_CLASS = {"tire": CLASS_IDS["tire"], "location_label": CLASS_IDS["location_label"],
                 "product_label": CLASS_IDS["product_label"], "pallet_label": CLASS_IDS["product_label"]}
MIN_VISIBLE = {"tire": 0.35, "location_label": 0.6, "product_label": 0.6, "pallet_label": 0.6}
TRAIN_W = 640  # frames are stored at the detector's input width (1920x1080 -> 640x360)
SPLIT_SEEDS = {"train": 1000, "val": 2000, "test": 3000}


def real_split(name: str) -> str:
    """tires-real split of an image file name (stable across machines and Python versions)."""
    h = int(hashlib.sha1(Path(name).name.encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % 10
    return "test" if h < 2 else "val" if h == 2 else "train"


def real_images(split: str, root: Path = TIRES_REAL) -> list[Path]:
    if not (root / "images").is_dir():
        raise PerceptionError(f"{root}: no images/ folder; expected the tires-real dataset (../shared/datasets/tires-real)")
    return [p for p in sorted((root / "images").glob("*.jpg")) if real_split(p.name) == split]


def real_boxes(img_path: Path, wh: tuple[int, int]) -> np.ndarray:
    """(N,4) xyxy pixel boxes of one tires-real image from its YOLO label file."""
    lab = img_path.parent.parent / "labels_yolo" / (img_path.stem + ".txt")
    rows = []
    for i, line in enumerate(lab.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise PerceptionError(f"{lab}:{i}: expected 'class cx cy w h' (5 numbers), got {len(parts)} fields")
        _, cx, cy, w, h = (float(v) for v in parts)
        rows.append([(cx - w / 2) * wh[0], (cy - h / 2) * wh[1], (cx + w / 2) * wh[0], (cy + h / 2) * wh[1]])
    return np.array(rows, np.float32).reshape(-1, 4)


@dataclass(frozen=True)
class TrainSetResult:
    root: Path
    data_yaml: Path
    counts: dict[str, int]  # images per list (train, val, test_synth, test_real)
    boxes: dict[str, int]  # boxes per class name over the train list (unique images)


def _randomised_spec(base, seed: int):
    """The base scenario with its domain drawn at random: stock, lighting, sensor, label rate."""
    rng = np.random.default_rng(seed)
    spec = base.spec
    g0 = float(rng.uniform(0.45, 0.9))
    return spec.model_copy(update={
        "seed": seed,
        "stock": spec.stock.model_copy(update={"fill_rate": float(rng.uniform(0.55, 0.95)),
                                               "standing_frac": float(rng.uniform(0.2, 0.9)),
                                               "crowded_rate": float(rng.uniform(0.0, 0.45)),
                                               "pallet_rate": float(rng.uniform(0.1, 0.6))}),
        "lighting": spec.lighting.model_copy(update={"gain_min": g0, "gain_max": float(g0 + rng.uniform(0.2, 0.7)),
                                                     "gradient": float(rng.uniform(0.0, 0.4)),
                                                     "vignetting": float(rng.uniform(0.0, 0.45))}),
        "sensor": spec.sensor.model_copy(update={"noise_sigma": float(rng.uniform(1.0, 9.0)),
                                                 "psf_sigma_px": float(rng.uniform(0.4, 1.8)),
                                                 "jpeg_quality": int(rng.integers(70, 96))}),
        "labels": spec.labels.model_copy(update={"product_label_rate": float(rng.uniform(0.6, 1.0))}),
    })


def _views(world, n: int, rng: np.random.Generator):
    """Camera poses: mostly scan-like views at 0.7-2.2x the label standoff with yaw/pitch/roll
    jitter (a pass's frames), some wide aisle views; the previous pose gives motion blur."""
    from datasets.render import camera_pose_facing

    d0 = world.default_standoff_m()
    d_max = world.aisle_clearance_m(margin_m=0.3)
    faces = world.site.faces
    for _ in range(n):
        f = faces[int(rng.integers(len(faces)))]
        wide = rng.random() < 0.15
        d = float(rng.uniform(0.6 * d_max, d_max)) if wide else float(np.clip(d0 * rng.uniform(0.7, 2.2), 0.5, d_max))
        u = float(rng.uniform(0.2, f.length_m - 0.2))
        v = float(rng.uniform(0.4, max(0.5, f.height_m - 0.3))) if hasattr(f, "height_m") else float(rng.uniform(0.4, 4.0))
        yaw = float(rng.uniform(-35, 35) if wide else rng.normal(0, 8))
        pitch = float(rng.normal(0, 6))
        T = camera_pose_facing(f, u, v, d, yaw_deg=yaw, pitch_deg=pitch)
        roll = np.radians(rng.normal(0, 3))
        Rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
        T[:3, :3] = T[:3, :3] @ Rz
        speed = float(rng.uniform(0, 2.0) * world.camera.max_speed_m_s(d))
        T_prev = T.copy()
        T_prev[:3, 3] -= T[:3, 0] * speed * world.camera.exposure_s * rng.choice([-1, 1])
        yield T, T_prev


def _yolo_lines(boxes: np.ndarray, cls: np.ndarray, wh: tuple[int, int]) -> list[str]:
    w, h = wh
    out = []
    for (x1, y1, x2, y2), c in zip(boxes, cls):
        out.append(f"{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return out


def truth_to_boxes(objects, scale: float, min_px: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """Training boxes from a frame's ground truth (``truth/objects.parquet`` rows)."""
    if len(objects) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int32)
    keep = objects["kind"].map(lambda k: k in KIND_TO_CLASS).to_numpy(bool)
    o = objects[keep]
    vis_min = o["kind"].map(MIN_VISIBLE).to_numpy(float)
    o = o[o["visible_frac"].to_numpy(float) >= vis_min]
    b = o[["x1", "y1", "x2", "y2"]].to_numpy(np.float32) * scale
    ok = ((b[:, 2] - b[:, 0]) >= min_px) & ((b[:, 3] - b[:, 1]) >= min_px)
    return b[ok], o["kind"].map(KIND_TO_CLASS).to_numpy(np.int32)[ok]


def _render_world(args) -> list[tuple[str, int]]:
    """Render ``n`` frames of one randomised world into ``root/images/<split>``; returns (file, n_boxes)."""
    scenario_path, split, world_seed, n, root = args
    cv2.setNumThreads(1)
    from datasets.render import Renderer
    from datasets.scenario import Scenario, load_scenario
    from datasets.world import build_world

    base = load_scenario(scenario_path)
    world = build_world(Scenario(_randomised_spec(base, world_seed), base.site, base.source))
    renderer = Renderer(world)
    rng = np.random.default_rng(world_seed + 7)
    img_dir, lab_dir = Path(root) / "images" / split, Path(root) / "labels" / split
    out = []
    for i, (T, T_prev) in enumerate(_views(world, n, rng)):
        res = renderer.render(T, T_site_camera_prev=T_prev, rng_seed=world_seed * 10_000 + i, frame_idx=i)
        h, w = res.image_bgr.shape[:2]
        scale = TRAIN_W / w
        small = cv2.resize(res.image_bgr, (TRAIN_W, int(round(h * scale))), interpolation=cv2.INTER_AREA)
        boxes, cls = truth_to_boxes(res.objects, scale)
        name = f"syn_{world_seed}_{i:04d}"
        cv2.imwrite(str(img_dir / f"{name}.jpg"), small, [cv2.IMWRITE_JPEG_QUALITY, 90])
        (lab_dir / f"{name}.txt").write_text("\n".join(_yolo_lines(boxes, cls, (small.shape[1], small.shape[0]))) + "\n")
        out.append((f"images/{split}/{name}.jpg", len(boxes)))
    return out


def _convert_real(paths: list[Path], root: Path, split: str) -> list[str]:
    out = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise PerceptionError(f"{p}: not a readable JPEG; expected a tires-real image")
        h, w = img.shape
        scale = TRAIN_W / max(h, w)
        small = cv2.cvtColor(cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA),
                             cv2.COLOR_GRAY2BGR)
        boxes = real_boxes(p, (w, h)) * scale
        name = f"real_{p.stem}"
        cv2.imwrite(str(root / "images" / split / f"{name}.jpg"), small, [cv2.IMWRITE_JPEG_QUALITY, 90])
        lines = _yolo_lines(boxes, np.zeros(len(boxes), np.int32), (small.shape[1], small.shape[0]))
        (root / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n")
        out.append(f"images/{split}/{name}.jpg")
    return out


def build_training_set(out_dir: str | Path, *, scenario: str | Path = DEFAULT_SCENARIO, n_train: int = 1100,
                       n_val: int = 150, n_test: int = 200, worlds_train: int = 8, real_repeat: int = 4,
                       real_root: Path = TIRES_REAL, workers: int = 2,
                       on_progress: Callable[[int, int], None] | None = None) -> TrainSetResult:
    """Write the YOLO dataset under ``out_dir`` (images/, labels/, *.txt lists, data.yaml).

    ``real_repeat`` lists each tires-real train image that many times in ``train.txt`` so a few
    dozen real photos are not drowned by a thousand synthetic frames.
    """
    root = Path(out_dir)
    for split in ("train", "val", "test"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    jobs = []
    for split, n, n_worlds in (("train", n_train, worlds_train), ("val", n_val, 2), ("test", n_test, 2)):
        per = [n // n_worlds + (1 if k < n % n_worlds else 0) for k in range(n_worlds)]
        jobs += [(str(scenario), split, SPLIT_SEEDS[split] + k, m, str(root)) for k, m in enumerate(per) if m]
    total = sum(j[3] for j in jobs)
    done = 0
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    if workers > 1:
        # spawned, not forked: a child forked from a process whose OpenCV thread pool has run (as
        # `rackscan bench perception` after reading the zxing-blackbox photos) hangs in its first
        # OpenCV call
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as ex:
            for job, res in zip(jobs, ex.map(_render_world, jobs)):
                lists[job[1]] += [f for f, _ in res]
                done += len(res)
                if on_progress:
                    on_progress(done, total)
    else:
        for job in jobs:
            res = _render_world(job)
            lists[job[1]] += [f for f, _ in res]
            done += len(res)
            if on_progress:
                on_progress(done, total)
    real = {s: _convert_real(real_images(s, real_root), root, s) for s in ("train", "val", "test")}
    files = {
        "train.txt": lists["train"] + real["train"] * real_repeat,
        "val.txt": lists["val"] + real["val"],
        "test_synth.txt": lists["test"],
        "test_real.txt": real["test"],
    }
    for name, items in files.items():
        (root / name).write_text("".join(f"./{f}\n" for f in items))
    data_yaml = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))
    data_yaml.write_text(f"path: {root.resolve()}\ntrain: train.txt\nval: val.txt\ntest: test_synth.txt\nnames:\n{names}\n")
    boxes = {n: 0 for n in CLASS_NAMES}
    for f in set(files["train.txt"]):
        lab = root / f.replace("images/", "labels/", 1).replace(".jpg", ".txt")
        for line in lab.read_text().splitlines():
            if line.strip():
                boxes[CLASS_NAMES[int(line.split()[0])]] += 1
    return TrainSetResult(root, data_yaml, {k.removesuffix(".txt"): len(v) for k, v in files.items()}, boxes)


def relocate(data_root: str | Path) -> Path:
    """Rewrite ``data.yaml``'s ``path`` for a training set copied to another machine."""
    root = Path(data_root).resolve()
    y = root / "data.yaml"
    text = y.read_text().splitlines()
    text[0] = f"path: {root}"
    y.write_text("\n".join(text) + "\n")
    return y


if __name__ == "__main__":  # pragma: no cover - convenience for a quick look
    import sys

    r = build_training_set(sys.argv[1], workers=int(os.environ.get("WORKERS", "2")))
    print(r)
