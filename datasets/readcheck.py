"""How many fully visible labels zxing-cpp reads in rendered frames at a given camera distance.

Used by the tests (the physics is real: labels read at the default distance, not at 3x) and by
``rackscan bench render``.
"""

from __future__ import annotations

import cv2
import zxingcpp

from datasets.render import Renderer, camera_pose_facing
from datasets.world import World


def label_read_rate(world: World, renderer: Renderer, distance_m: float, kinds: list[str], *,
                    v_offset_m: float = -0.2, every: int = 4, ean: bool = False) -> tuple[int, int]:
    """(read, fully visible) over frames facing every ``every``-th bin, decoded from JPEG crops.

    Each frame looks at a bin from ``distance_m`` while moving at the blur-limited speed; labels
    whose ``visible_frac`` is 1 are cropped (15% padding) and read with zxing-cpp. ``ean`` checks
    the product label's EAN-13 instead of its QR.
    """
    speed = world.camera.max_speed_m_s(distance_m)
    ok = n = 0
    for i, b in enumerate(world.site.bins[::every]):
        f = world.site.face(b.face_id)
        u, v = b.center_uv_m
        T = camera_pose_facing(f, u, v + v_offset_m, distance_m)
        T_prev = T.copy()
        T_prev[:3, 3] -= T[:3, 0] * speed * world.camera.exposure_s
        res = renderer.render(T, T_site_camera_prev=T_prev, rng_seed=i, see_through_racks=True)
        _, enc = cv2.imencode(".jpg", res.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, world.scenario.spec.sensor.jpeg_quality])
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
        o = res.objects
        full = o[(o.visible_frac >= 0.999) & o.kind.isin(kinds)]
        for r in full.itertuples():
            pad_x, pad_y = 0.15 * (r.x2 - r.x1) + 8, 0.15 * (r.y2 - r.y1) + 8
            crop = img[int(max(0, r.y1 - pad_y)) : int(r.y2 + pad_y), int(max(0, r.x1 - pad_x)) : int(r.x2 + pad_x)]
            texts = {x.text for x in zxingcpp.read_barcodes(crop)}
            want = r.text[5:18] if ean else r.text
            n += 1
            ok += want in texts
    return ok, n


def ean_distance_m(world: World, frac_of_limit: float = 0.6) -> float:
    """A close-up distance for the product EAN-13 (optional at the flight standoff)."""
    return frac_of_limit * world.camera.max_standoff_m(
        module_mm=world.scenario.spec.labels.product_ean13.module_mm, symbology="ean13")
