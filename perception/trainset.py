"""The detector's training set: frames of worlds of a family (``datasets/families/``), the train
split of ``../shared/datasets/tires-real``, and real photos that hold no tire (hard negatives),
written in the Ultralytics YOLO layout.

Splits:
- synthetic: worlds of the family's ``train`` split train the detector (worlds 0..; with
  ``aimed_worlds``, the next ones add views aimed at each pallet wrapped in stretch film, the
  goods a scan-like draw almost never frames: three in the first 40 worlds) and
  validate it (worlds from :data:`VAL_WORLD_FROM` of the same split); its held-out synthetic test
  is drawn from the family's ``test`` split (worlds from :data:`TEST_WORLD_FROM`), so it shares no
  world with training; the family's ``dev`` worlds are for the fusion's rules, not here;
- tires-real: fixed by a hash of the file name (``sha1(name) % 10``: 0-1 test, 2 val, rest
  train), never by looking at the images or at a model's scores;
- no-tire photos (``../shared/datasets/zxing-blackbox``: product, label and street photos with
  barcodes, no tire in any): the same hash split; train ones are listed as background images
  (no boxes), the test ones measure false tire boxes (``rackscan bench perception``).

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
import yaml

from perception.detections import CLASS_IDS, CLASS_NAMES
from perception.errors import PerceptionError

TIRES_REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tires-real"
NO_TIRE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "zxing-blackbox"
DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "datasets" / "scenarios" / "default.yaml"
DEFAULT_FAMILY = Path(__file__).resolve().parents[1] / "datasets" / "families" / "tire-stores.yaml"
VAL_WORLD_FROM = 9000  # train-split worlds from here validate the detector
TEST_WORLD_FROM = 500  # test-split worlds from the split's first + this: the detector's held-out test
KIND_TO_CLASS = {"tire": CLASS_IDS["tire"], "location_label": CLASS_IDS["location_label"],
                 "product_label": CLASS_IDS["product_label"], "pallet_label": CLASS_IDS["product_label"]}
MIN_VISIBLE = {"tire": 0.35, "location_label": 0.6, "product_label": 0.6, "pallet_label": 0.6}
TRAIN_W = 640  # frames are stored at the detector's input width (1920x1080 -> 640x360)
# the detector sees grey (perception.detector): a colour cast of the lamps, mixed lighting or a
# rack's paint then cannot matter, and tires-real's photos are grey anyway
INPUT_COLOUR = "gray"


def to_input(img: np.ndarray) -> np.ndarray:
    """A BGR image as the detector takes it (INPUT_COLOUR): grey, repeated on three channels."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    return cv2.merge([g, g, g])


def real_split(name: str) -> str:
    """tires-real split of an image file name (stable across machines and Python versions)."""
    h = int(hashlib.sha1(Path(name).name.encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % 10
    return "test" if h < 2 else "val" if h == 2 else "train"


def real_images(split: str, root: Path = TIRES_REAL) -> list[Path]:
    if not (root / "images").is_dir():
        raise PerceptionError(f"{root}: no images/ folder; expected the tires-real dataset (../shared/datasets/tires-real)")
    return [p for p in sorted((root / "images").glob("*.jpg")) if real_split(p.name) == split]


def no_tire_images(split: str, root: Path = NO_TIRE) -> list[Path]:
    """Real photos without a tire (zxing-blackbox), by the same name-hash split as tires-real."""
    if not root.is_dir():
        raise PerceptionError(f"{root}: not found; expected the zxing-blackbox photos (../shared/datasets/zxing-blackbox)")
    return [p for p in sorted(root.glob("*/*.png")) if real_split(f"{p.parent.name}/{p.name}") == split]


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
    recipe: dict  # how the set was drawn (also saved as recipe.yaml beside data.yaml)


RECIPE_FILE = "recipe.yaml"


def load_recipe(data_root: str | Path) -> dict | None:
    """The recipe a training set was built with (None for a set built before recipes were saved)."""
    p = Path(data_root) / RECIPE_FILE
    if not p.exists():
        return None
    try:
        r = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise PerceptionError(f"{p}: not YAML ({str(e).splitlines()[0]}); expected the recipe rackscan train wrote") from None
    if not isinstance(r, dict) or r.get("builder") != "perception.trainset.build_training_set":
        raise PerceptionError(f"{p}: expected a mapping with builder: perception.trainset.build_training_set")
    return r


def _rolled_and_moving(world, T: np.ndarray, d: float, rng: np.random.Generator, exposure_s: float | None):
    """``T`` rolled by a pass's jitter, and the pose one exposure earlier at up to twice the speed the
    camera allows at ``d`` (motion blur): ``(T, T_prev)``."""
    roll = np.radians(rng.normal(0, 3))
    Rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    T[:3, :3] = T[:3, :3] @ Rz
    speed = float(rng.uniform(0, 2.0) * world.camera.max_speed_m_s(d, exposure_s))
    T_prev = T.copy()
    T_prev[:3, 3] -= T[:3, 0] * speed * (exposure_s or world.camera.exposure_s) * rng.choice([-1, 1])
    return T, T_prev


def _views(world, n: int, rng: np.random.Generator, exposure_s: float | None = None):
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
        yield _rolled_and_moving(world, T, d, rng, exposure_s)


def films(world) -> list:
    """The stretch films of ``world``: one scene object over each wrapped pallet's load."""
    return [o for o in world.objects if o.kind == "film"]


def _aimed_views(world, per_film: int, rng: np.random.Generator, exposure_s: float | None = None):
    """``per_film`` views of each wrapped pallet: centred on its film (+- a quarter of its width),
    from 0.7-1.8x the label standoff, with a pass's yaw/pitch/roll jitter and motion blur."""
    from datasets.render import camera_pose_facing

    d0 = world.default_standoff_m()
    d_max = world.aisle_clearance_m(margin_m=0.3)
    for film in films(world):
        f = world.site.face(film.face_id)
        uc, vc, w, h = (film.u0 + film.u1) / 2, (film.v0 + film.v1) / 2, film.u1 - film.u0, film.v1 - film.v0
        for _ in range(per_film):
            d = float(np.clip(d0 * rng.uniform(0.7, 1.8), 0.5, d_max))
            u = float(uc + rng.uniform(-0.25, 0.25) * w)
            v = float(vc + rng.uniform(-0.2, 0.2) * h)
            T = camera_pose_facing(f, u, v, d, yaw_deg=float(rng.normal(0, 10)), pitch_deg=float(rng.normal(0, 6)))
            yield _rolled_and_moving(world, T, d, rng, exposure_s)


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
    """Render ``n`` frames of world ``k`` of the family into ``root/images/<split>``; returns (file, n_boxes).
    With ``aimed`` > 0 the frames are instead that many views of each wrapped pallet of the world
    (none when it has none). Frames are exposed as the planner would fly the world (its light,
    exposure and gain)."""
    family_path, split, world_seed, n, root, aimed = args
    cv2.setNumThreads(1)
    from datasets.family import load_family, world_scenario
    from datasets.render import Renderer
    from datasets.synthflight import plan_world
    from datasets.world import build_world

    world = build_world(world_scenario(load_family(family_path), world_seed))
    exposure_s = plan_world(world, allow_dark=True).exposure_s
    renderer = Renderer(world)
    rng = np.random.default_rng(world_seed + 7)
    img_dir, lab_dir = Path(root) / "images" / split, Path(root) / "labels" / split
    out = []
    views = _aimed_views(world, aimed, rng, exposure_s) if aimed else _views(world, n, rng, exposure_s)
    for i, (T, T_prev) in enumerate(views):
        res = renderer.render(T, T_site_camera_prev=T_prev, rng_seed=world_seed * 10_000 + i, frame_idx=i,
                              exposure_s=exposure_s)
        h, w = res.image_bgr.shape[:2]
        scale = TRAIN_W / w
        small = to_input(cv2.resize(res.image_bgr, (TRAIN_W, int(round(h * scale))), interpolation=cv2.INTER_AREA))
        boxes, cls = truth_to_boxes(res.objects, scale)
        name = f"{'aim' if aimed else 'syn'}_{world_seed}_{i:04d}"
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


def _convert_no_tire(paths: list[Path], root: Path, split: str) -> list[str]:
    """Real photos without a tire, as background images (an empty label file)."""
    out = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise PerceptionError(f"{p}: not a readable image; expected a zxing-blackbox PNG")
        h, w = img.shape[:2]
        scale = min(1.0, TRAIN_W / max(h, w))
        small = to_input(cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA))
        name = f"notire_{p.parent.name}_{p.stem}"
        cv2.imwrite(str(root / "images" / split / f"{name}.jpg"), small, [cv2.IMWRITE_JPEG_QUALITY, 90])
        (root / "labels" / split / f"{name}.txt").write_text("")
        out.append(f"images/{split}/{name}.jpg")
    return out


def build_training_set(out_dir: str | Path, *, family: str | Path = DEFAULT_FAMILY, n_train: int = 1600,
                       n_val: int = 150, n_test: int = 200, worlds_train: int = 40, real_repeat: int = 4,
                       no_tire_repeat: int = 1, aimed_worlds: int = 0, aimed_views: int = 5,
                       real_root: Path = TIRES_REAL, no_tire_root: Path = NO_TIRE,
                       workers: int = 2, on_progress: Callable[[int, int], None] | None = None) -> TrainSetResult:
    """Write the YOLO dataset under ``out_dir`` (images/, labels/, *.txt lists, data.yaml, recipe.yaml).

    ``real_repeat`` lists each tires-real train image that many times in ``train.txt`` so a few
    dozen real photos are not drowned by a thousand synthetic frames; ``no_tire_repeat`` likewise
    for the no-tire photos (0 leaves them out). ``aimed_worlds`` more train worlds, after the
    ``worlds_train`` scanned ones, each give ``aimed_views`` views of every wrapped pallet they hold.
    """
    from datasets.family import load_family

    fam = load_family(family)
    t0 = fam.splits["train"][0]
    if worlds_train + aimed_worlds > VAL_WORLD_FROM:
        raise PerceptionError(f"worlds_train + aimed_worlds = {worlds_train + aimed_worlds}: expected at most "
                              f"{VAL_WORLD_FROM}, the train worlds below the validation ones")
    root = Path(out_dir)
    for split in ("train", "val", "test"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    first = {"train": fam.splits["train"][0], "val": fam.splits["train"][0] + VAL_WORLD_FROM,
             "test": fam.splits["test"][0] + TEST_WORLD_FROM}
    jobs = []
    for split, n, n_worlds in (("train", n_train, worlds_train), ("val", n_val, 4), ("test", n_test, 4)):
        per = [n // n_worlds + (1 if k < n % n_worlds else 0) for k in range(n_worlds)]
        jobs += [(str(family), split, first[split] + k, m, str(root), 0) for k, m in enumerate(per) if m]
    if aimed_views:
        jobs += [(str(family), "train", t0 + worlds_train + k, 0, str(root), aimed_views) for k in range(aimed_worlds)]
    total = len(jobs)  # progress in worlds: an aimed world's frames are known only once it is drawn
    done = 0
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    if workers > 1:
        # spawned, not forked: a child forked from a process whose OpenCV thread pool has run (as
        # `rackscan bench perception` after reading the zxing-blackbox photos) hangs in its first
        # OpenCV call
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as ex:
            for job, res in zip(jobs, ex.map(_render_world, jobs)):
                lists[job[1]] += [f for f, _ in res]
                done += 1
                if on_progress:
                    on_progress(done, total)
    else:
        for job in jobs:
            res = _render_world(job)
            lists[job[1]] += [f for f, _ in res]
            done += 1
            if on_progress:
                on_progress(done, total)
    real = {s: _convert_real(real_images(s, real_root), root, s) for s in ("train", "val", "test")}
    no_tire = {s: _convert_no_tire(no_tire_images(s, no_tire_root), root, s) if no_tire_repeat else []
               for s in ("train", "val", "test")}
    files = {
        "train.txt": lists["train"] + real["train"] * real_repeat + no_tire["train"] * no_tire_repeat,
        "val.txt": lists["val"] + real["val"] + no_tire["val"],
        "test_synth.txt": lists["test"],
        "test_real.txt": real["test"],
        "test_no_tire.txt": no_tire["test"],
    }
    for name, items in files.items():
        (root / name).write_text("".join(f"./{f}\n" for f in items))
    data_yaml = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))
    data_yaml.write_text(f"path: {root.resolve()}\ntrain: train.txt\nval: val.txt\ntest: test_synth.txt\nnames:\n{names}\n")
    n_aimed = sum(1 for f in lists["train"] if "/aim_" in f)
    recipe = {"builder": "perception.trainset.build_training_set", "family": _rel(Path(family)),
              "family_split": f"train (worlds {t0}-{fam.splits['train'][1]}): scanned {t0}-{t0 + min(worlds_train, max(1, n_train)) - 1}"
                              + (f", aimed at wrapped pallets {t0 + worlds_train}-{t0 + worlds_train + aimed_worlds - 1}"
                                 if aimed_worlds and aimed_views else "")
                              + f", val from {first['val']}; test from {first['test']} (the family's test split)",
              "n_train": n_train, "n_val": n_val, "n_test": n_test, "worlds_train": worlds_train,
              "aimed_worlds": aimed_worlds, "aimed_views": aimed_views, "real_repeat": real_repeat,
              "no_tire_repeat": no_tire_repeat,
              "tires_real_split": "sha1(file name) % 10: 0-1 test, 2 val, rest train",
              "no_tire": "zxing-blackbox photos (no tire in any), split by the same rule",
              "images": {"train": len(files["train.txt"]), "train_aimed": n_aimed, "val": len(files["val.txt"]),
                         "test_synth": len(files["test_synth.txt"]), "test_real": len(files["test_real.txt"]),
                         "test_no_tire": len(files["test_no_tire.txt"])}}
    (root / RECIPE_FILE).write_text(yaml.safe_dump(recipe, sort_keys=False))
    boxes = {n: 0 for n in CLASS_NAMES}
    for f in set(files["train.txt"]):
        lab = root / f.replace("images/", "labels/", 1).replace(".jpg", ".txt")
        for line in lab.read_text().splitlines():
            if line.strip():
                boxes[CLASS_NAMES[int(line.split()[0])]] += 1
    return TrainSetResult(root, data_yaml, {k.removesuffix(".txt"): len(v) for k, v in files.items()}, boxes, recipe)


def _rel(p: Path) -> str:
    """``p`` relative to the repository when it lies inside it (a recipe reads the same on any machine)."""
    repo = Path(__file__).resolve().parents[1]
    try:
        return str(p.resolve().relative_to(repo))
    except ValueError:
        return str(p)


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
