"""The virtual camera: labels decode where the physics says they should, and only there."""

import cv2
import numpy as np
import pytest
import zxingcpp

from datasets.readcheck import ean_distance_m, label_read_rate
from datasets.render import Renderer, camera_pose_facing
from datasets.world import SceneObject, build_world
from tests.conftest import REPO

DEFAULT = REPO / "datasets" / "scenarios" / "default.yaml"


@pytest.fixture(scope="module")
def world():
    return build_world(DEFAULT)


@pytest.fixture(scope="module")
def renderer(world):
    return Renderer(world)


def test_required_labels_read_at_the_default_distance(world, renderer):
    ok, n = label_read_rate(world, renderer, world.default_standoff_m(), ["location_label", "product_label"])
    assert n >= 60
    assert ok / n >= 0.95, f"{ok}/{n}"


def test_labels_do_not_read_at_three_times_the_distance(world, renderer):
    ok, n = label_read_rate(world, renderer, 3 * world.default_standoff_m(), ["location_label", "product_label"])
    assert n >= 60
    assert ok / n < 0.20, f"{ok}/{n}"


def test_ean13_reads_at_its_own_standoff(world, renderer):
    """EAN-13 at X = 0.66 mm is optional at the flight standoff; at 3.3 px per bar it reads like the QR."""
    d = ean_distance_m(world)
    ok, n = label_read_rate(world, renderer, d, ["product_label"], v_offset_m=-0.45, every=3, ean=True)
    assert n >= 10
    assert ok / n >= 0.95, f"{ok}/{n}"


def test_a_tire_in_front_hides_half_a_label(world):
    """Occlusion is real: truth says half hidden, and the pixels there show the tire, not paper."""
    b = world.site.bins[10]
    f = world.site.face(b.face_id)
    loc = f"loc/{b.bin_id}"
    cu, cv = b.label.center_uv_m
    blocker = SceneObject("test/blocker", "tire_standing", f.face_id, b.bin_id, world.catalogue.sku[0],
                          cu, cu + 0.3, cv - 0.2, cv + 0.2, 0.05)
    world2 = type(world)(world.scenario, world.catalogue, world.stock, world.erp, world.discrepancies,
                         [*world.objects, blocker])
    r = Renderer(world2)
    res = r.render(camera_pose_facing(f, cu, cv, 1.2), rng_seed=0)
    o = res.objects.set_index("object_id")
    assert o.loc[loc, "visible_frac"] == pytest.approx(0.5, abs=0.03)
    x1, y1, x2, y2 = o.loc[loc, ["x1", "y1", "x2", "y2"]]
    grey = cv2.cvtColor(res.image_bgr, cv2.COLOR_BGR2GRAY)
    yc = int((y1 + y2) / 2)
    left = grey[yc - 5 : yc + 5, int(x1) + 3 : int((x1 + x2) / 2) - 3]
    right = grey[yc - 5 : yc + 5, int((x1 + x2) / 2) + 3 : int(x2) - 3]
    assert left.max() > 180  # paper white on the visible half
    assert right.mean() < 80  # rubber on the hidden half
    assert not any(x.text == b.bin_id for x in zxingcpp.read_barcodes(res.image_bgr))


def test_same_seed_same_pixels(world, renderer):
    f = world.site.faces[0]
    T = camera_pose_facing(f, 3.0, 1.0, 1.5)
    a = renderer.render(T, rng_seed=3).image_bgr
    b = Renderer(world).render(T, rng_seed=3).image_bgr
    assert np.array_equal(a, b)


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_same_seed_same_pixels_in_another_process(world, renderer, hash_seed, tmp_path):
    """Python salts str hashes per process: nothing the picture depends on may use them."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np, sys; from datasets.world import build_world; "
            "from datasets.render import Renderer, camera_pose_facing; "
            f"w = build_world({str(DEFAULT)!r}); f = w.site.faces[0]; "
            "img = Renderer(w).render(camera_pose_facing(f, 3.0, 1.0, 1.5), rng_seed=3).image_bgr; "
            f"np.save({str(tmp_path / 'img.npy')!r}, img)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=300,
                   env={**os.environ, "PYTHONHASHSEED": hash_seed})
    here = renderer.render(camera_pose_facing(world.site.faces[0], 3.0, 1.0, 1.5), rng_seed=3).image_bgr
    assert np.array_equal(np.load(tmp_path / "img.npy"), here)


def test_truth_boxes_lie_inside_the_frame(world, renderer):
    f = world.site.faces[1]
    res = renderer.render(camera_pose_facing(f, 0.3, 1.0, 1.5), rng_seed=1)
    o = res.objects
    assert len(o) > 5
    assert (o.x1 >= 0).all() and (o.x2 <= 1920).all() and (o.y1 >= 0).all() and (o.y2 <= 1080).all()
    assert set(o.kind) <= {"tire", "location_label", "product_label", "pallet_label"}
    # the camera at the face's start sees part of the frame empty: clipped objects are partial
    assert (o.visible_frac < 1).any()


def _hard_world():
    """Every lying stack laced or on a wrapped pallet, cartons in some bins, every label worn."""
    import yaml

    from datasets.scenario import Scenario, ScenarioSpec, generate_site_dict, with_light
    from warehouse.site import site_from_dict

    d = yaml.safe_load((REPO / "datasets" / "scenarios" / "default.yaml").read_text())
    d.pop("site")
    d.update(name="hard", seed=11, site_size={"aisles": 1, "bays_per_face": 4, "levels": 2, "level_height_m": 1.5,
                                              "positions_per_bay": 2, "layout": "single"})
    d["stock"] = {"fill_rate": 1.0, "standing_frac": 0.2, "pallet_rate": 1.0, "laced_frac": 0.4, "wrapped_rate": 1.0,
                  "non_tire_rate": 0.3}
    d["labels"] = {"damaged_rate": 1.0}
    d["lighting"] = {"lux": 300.0}
    spec = ScenarioSpec.model_validate(d)
    site = site_from_dict(generate_site_dict(spec.site_size, spec.name))
    return build_world(Scenario(spec, with_light(site, spec), REPO))


def test_cartons_film_laced_stacks_and_worn_labels():
    w = _hard_world()
    kinds = {o.kind for o in w.objects}
    assert {"carton", "film", "tire_lying", "product_label"} <= kinds
    assert set(w.stock.stacking) >= {"laced", "lying"}
    assert all(o.damage in ("torn", "faded") for o in w.objects if o.kind == "product_label")
    carton_bins = {o.bin_id for o in w.objects if o.kind == "carton"}
    assert carton_bins and (w.stock.set_index("bin_id").loc[sorted(carton_bins), "count"] == 0).all()  # not tires
    laced = w.stock[w.stock.stacking == "laced"].bin_id.iloc[0]
    tires = sorted((o for o in w.objects if o.bin_id == laced and o.kind == "tire_lying"), key=lambda o: o.v0)
    assert len(tires) >= 2 and tires[1].v0 < tires[0].v1  # laced: each tire nests into the one below
    assert len({round(t.u0, 3) for t in tires}) == 2  # and sits left or right of it
    # a wrapped pallet: its tires are seen through the film, which hides nothing in the ground truth
    film = next(o for o in w.objects if o.kind == "film")
    f = w.site.face(film.face_id)
    res = Renderer(w).render(camera_pose_facing(f, (film.u0 + film.u1) / 2, (film.v0 + film.v1) / 2, 1.6), rng_seed=1)
    under = res.objects[(res.objects.bin_id == film.bin_id) & (res.objects.kind == "tire")]
    assert len(under) and under.visible_frac.max() > 0.6
    assert not res.objects.kind.isin(["carton", "film"]).any()
