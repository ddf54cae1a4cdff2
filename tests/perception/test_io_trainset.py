"""detections.parquet round trip; the detector's training set (splits fixed by name, YOLO layout)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from perception.detections import Codes, FrameDetections
from perception.errors import PerceptionError
from perception.io import read_detections, write_detections
from perception.trainset import NO_TIRE, TIRES_REAL, build_training_set, real_split


def _frame(i: int, n: int) -> FrameDetections:
    rng = np.random.default_rng(i)
    xy = rng.uniform(0, 1000, (n, 2)).astype(np.float32)
    codes = Codes(symbology=np.array(["qr"], object), text=np.array([f"A01-B0{i}-L1-P1"], object),
                  corners=np.array([[[1, 2], [11, 2], [11, 12], [1, 12]]], np.float32),
                  decoder=np.array(["zxing"], object), det_index=np.array([0 if n else -1], np.int32))
    return FrameDetections(frame_idx=i, t_ns=1_000_000 * i, xyxy=np.concatenate([xy, xy + 30], axis=1),
                           confidence=rng.uniform(0.3, 1, n).astype(np.float32),
                           class_id=rng.integers(0, 3, n).astype(np.int32), codes=codes, image_wh=(1920, 1080))


def test_detections_round_trip_keeps_boxes_codes_and_empty_frames(tmp_path):
    from dataclasses import replace

    from perception.quality import FrameQuality

    empty = FrameDetections(frame_idx=9, t_ns=9_000_000, image_wh=(1920, 1080),
                            quality=FrameQuality(brightness=12.5, noise_sigma=7.25, sharpness=30.0))
    dets = [replace(_frame(1, 3), quality=FrameQuality(brightness=100.0, noise_sigma=2.0, sharpness=150.0)),
            _frame(2, 0), empty]
    back = read_detections(write_detections(tmp_path / "detections.parquet", dets))
    assert [d.frame_idx for d in back] == [1, 2, 9]
    for a, b in zip(dets, back):
        assert a.t_ns == b.t_ns and a.image_wh == b.image_wh
        np.testing.assert_allclose(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.class_id, b.class_id)
        assert list(a.codes.text) == list(b.codes.text)
        np.testing.assert_allclose(a.codes.corners, b.codes.corners)
        np.testing.assert_array_equal(a.codes.det_index, b.codes.det_index)
        assert a.quality == b.quality  # measured or not (None)


@pytest.mark.parametrize("content, expected", [(None, "no such file"), (b"not parquet", "not a readable Parquet")])
def test_bad_detections_file_is_one_line_error(tmp_path, content, expected):
    p = tmp_path / "detections.parquet"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(PerceptionError, match=expected):
        read_detections(p)


def test_real_split_is_fixed_by_name_hash():
    assert real_split("1_000.jpg") == real_split("/elsewhere/1_000.jpg")
    names = [p.name for p in sorted((TIRES_REAL / "images").glob("*.jpg"))]
    splits = [real_split(n) for n in names]
    assert len(names) == 101 and 15 <= splits.count("test") <= 30 and splits.count("train") >= 60


def test_training_set_layout(tmp_path):
    import shutil

    no_tire = tmp_path / "no_tire"
    names = {s: [] for s in ("train", "val", "test")}
    for p in sorted(NO_TIRE.glob("*/*.png")):  # a few of each split of the real no-tire photos
        s = real_split(f"{p.parent.name}/{p.name}")
        if len(names[s]) < 2:
            (no_tire / p.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(p, no_tire / p.parent.name / p.name)
            names[s].append(p)
    r = build_training_set(tmp_path / "ts", n_train=4, n_val=2, n_test=2, worlds_train=1, workers=1, real_repeat=2,
                           no_tire_root=no_tire)
    assert r.data_yaml.exists() and r.boxes["tire"] > 0
    assert r.counts["test_no_tire"] == 2
    for f in (tmp_path / "ts" / "train.txt").read_text().split():
        img = cv2.imread(str(tmp_path / "ts" / f))
        assert np.array_equal(img[:, :, 0], img[:, :, 2]), f"{f} is not grey"  # the detector sees grey
    negatives = [f for f in (tmp_path / "ts" / "train.txt").read_text().split() if "notire_" in f]
    assert len(negatives) == 2 and all((tmp_path / "ts" / f.replace("images/", "labels/").replace(".jpg", ".txt")).read_text() == ""
                                       for f in negatives)
    train = (tmp_path / "ts" / "train.txt").read_text().split()
    real_train = [f for f in train if "real_" in f]
    assert len(real_train) == 2 * len(set(real_train))  # the real photos are repeated
    for f in set(train):
        lab = tmp_path / "ts" / f.replace("images/", "labels/", 1).replace(".jpg", ".txt")
        for line in lab.read_text().split("\n"):
            if line:
                c, *xywh = line.split()
                assert int(c) in (0, 1, 2) and all(0 <= float(v) <= 1.0001 for v in xywh)
    assert not set(train) & set((tmp_path / "ts" / "test_real.txt").read_text().split())


def test_aimed_views_frame_each_wrapped_pallet_and_the_recipe_says_so(tmp_path):
    from datasets.family import load_family, world_scenario
    from datasets.world import build_world
    from perception.trainset import DEFAULT_FAMILY, films, load_recipe

    film = films(build_world(world_scenario(load_family(DEFAULT_FAMILY), 43)))  # world 43 holds two wrapped pallets
    assert len(film) == 2
    r = build_training_set(tmp_path / "ts", n_train=0, n_val=0, n_test=0, worlds_train=40, aimed_worlds=4, aimed_views=3,
                           workers=1, real_repeat=0, no_tire_repeat=0)
    train = (tmp_path / "ts" / "train.txt").read_text().split()
    by_world = {w: [f for f in train if f"/aim_{w}_" in f] for w in range(40, 44)}
    assert {w: len(v) for w, v in by_world.items()} == {40: 3, 41: 0, 42: 0, 43: 6}  # 3 views of each film
    for f in train:  # a wrapped pallet holds tires, and the frame aimed at it shows them
        lab = (tmp_path / "ts" / f.replace("images/", "labels/", 1).replace(".jpg", ".txt")).read_text()
        assert sum(line.startswith("0 ") for line in lab.splitlines()) >= 2, f
    assert load_recipe(tmp_path / "ts") == r.recipe
    assert r.recipe["images"]["train_aimed"] == 9 and "aimed at wrapped pallets 40-43" in r.recipe["family_split"]


@pytest.mark.parametrize("text, expected", [
    ("builder: [unclosed", "not YAML"),
    ("- a list\n", "expected a mapping with builder: perception.trainset.build_training_set"),
    ("builder: something.else\n", "expected a mapping with builder"),
])
def test_a_bad_recipe_is_a_one_line_error_naming_the_file(tmp_path, text, expected):
    from perception.trainset import load_recipe

    (tmp_path / "recipe.yaml").write_text(text)
    with pytest.raises(PerceptionError, match=expected) as e:
        load_recipe(tmp_path)
    assert str(tmp_path / "recipe.yaml") in str(e.value) and "\n" not in str(e.value)


def test_too_many_train_worlds_would_reach_the_validation_worlds(tmp_path):
    with pytest.raises(PerceptionError, match="expected at most 9000"):
        build_training_set(tmp_path / "ts", n_train=0, n_val=0, n_test=0, worlds_train=40, aimed_worlds=8961)


WORKERS_AFTER_OPENCV = """
import sys, cv2, numpy as np
from perception.trainset import build_training_set

if __name__ == "__main__":
    cv2.setNumThreads(2)  # run OpenCV's thread pool first, as bench perception does reading photos
    img = np.random.default_rng(0).integers(0, 255, (2160, 3840, 3), np.uint8)
    for _ in range(3):
        cv2.resize(cv2.GaussianBlur(img, (0, 0), 3), None, fx=0.5, fy=0.5)
    r = build_training_set(sys.argv[1], n_train=0, n_val=0, n_test=2, workers=2, no_tire_repeat=0)
    print(r.counts["test_synth"])
"""


def test_render_workers_start_after_opencv_has_run_its_threads(tmp_path):
    """Forked render workers hung in their first OpenCV call once the parent had used OpenCV's
    thread pool (`rackscan bench perception` after zxing-blackbox rendered nothing in 25 min)."""
    import subprocess
    import sys

    script = tmp_path / "build.py"
    script.write_text(WORKERS_AFTER_OPENCV)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "ts")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "2"
    synth = (tmp_path / "ts" / "test_synth.txt").read_text().split()
    assert len(synth) == 2 and all((tmp_path / "ts" / f).stat().st_size > 0 for f in synth)
