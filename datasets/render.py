"""The virtual camera: renders rack faces, tires and labels in perspective from any pose.

Painter's algorithm over planar quads (back wall, tires, pallets, labels, uprights, beams) sorted
far to near; each textured quad is warped only into the bounding box of its projection, straight
into the frame (``cv2.BORDER_TRANSPARENT`` leaves what lies outside the quad untouched), from a
texture level chosen from its on-screen size so barcodes are sampled as a real sensor would. Then
lighting and vignetting, motion blur from the pose change over the exposure, lens distortion
(one ``cv2.remap`` with precomputed maps) and sensor noise.

Ground truth per frame is exact: every tire's and label's box in the distorted image, its bin,
and the fraction of it that is visible after occlusion by nearer objects and clipping by the
frame.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import pandas as pd

from datasets.labels import location_label_art, pallet_label_art, product_label_art
from datasets.photometry import Photometry
from datasets.textures import carton_texture, film_texture, stable_hash, tire_texture, worn_label
from datasets.world import SceneObject, World
from warehouse.camera import CameraModel, CameraSpec, invert_transform

OBJECT_COLUMNS = ["frame_idx", "kind", "object_id", "bin_id", "sku", "x1", "y1", "x2", "y2",
                  "visible_frac", "text", "symbology", "module_px"]
PALLET_BGR = (70, 125, 170)
DECKING_BGR = (150, 150, 150)
MARGIN_FRAC = 0.04
NEAR_M = 0.05


def _clip_near(pc: np.ndarray) -> np.ndarray:
    """Clip a convex polygon (camera coordinates) to z >= NEAR_M (Sutherland-Hodgman, one plane)."""
    out = []
    n = len(pc)
    for i in range(n):
        a, b = pc[i], pc[(i + 1) % n]
        ina, inb = a[2] >= NEAR_M, b[2] >= NEAR_M
        if ina:
            out.append(a)
        if ina != inb:
            t = (NEAR_M - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out)


@dataclass
class RenderResult:
    image_bgr: np.ndarray
    objects: pd.DataFrame


@dataclass(frozen=True)
class _Quad:
    key: str  # texture key ("" for a flat colour)
    color: tuple
    face_id: str
    corners_uvn: np.ndarray  # (4,3) TL, TR, BR, BL in face coordinates
    order: float
    truth: SceneObject | None  # objects that get ground truth
    truth_kind: str = ""
    alpha: bool = False  # a see-through texture (BGRA: stretch film): blended, and it hides nothing


def camera_pose_facing(face, u_m: float, v_m: float, standoff_m: float, *, yaw_deg: float = 0.0,
                       pitch_deg: float = 0.0) -> np.ndarray:
    """``T_site_camera`` of a camera ``standoff_m`` in front of face point (u, v), looking at it.

    ``yaw_deg`` turns the view to the right, ``pitch_deg`` tilts it up.
    """
    T_sf = face.T_site_face
    u_ax, v_ax, n_ax = T_sf[:3, 0], T_sf[:3, 1], T_sf[:3, 2]
    # camera axes: x right (= +u), y down (= -v), z forward (= -n)
    R = np.stack([u_ax, -v_ax, -n_ax], axis=1)
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    Ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    Rx = np.array([[1, 0, 0], [0, np.cos(pitch), np.sin(pitch)], [0, -np.sin(pitch), np.cos(pitch)]])
    T = np.eye(4)
    T[:3, :3] = R @ Ry @ Rx
    T[:3, 3] = face.face_to_site([[u_m, v_m, standoff_m]])[0]
    return T


@lru_cache(maxsize=4)
def _distortion_maps(K_bytes: bytes, dist: tuple, w: int, h: int, margin_px: tuple):
    K = np.frombuffer(K_bytes, dtype=np.float64).reshape(3, 3)
    cam = CameraModel(K=K, dist=np.asarray(dist), width_px=w, height_px=h)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    uv = np.stack([xs.ravel(), ys.ravel()], axis=1)
    xy_d = (uv - K[:2, 2]) / np.array([K[0, 0], K[1, 1]])
    xy = cam.undistort_normalized(xy_d, iterations=12)
    src = xy * np.array([K[0, 0], K[1, 1]]) + K[:2, 2] + np.array(margin_px)
    mx = src[:, 0].reshape(h, w).astype(np.float32)
    my = src[:, 1].reshape(h, w).astype(np.float32)
    return cv2.convertMaps(mx, my, cv2.CV_16SC2)


class Renderer:
    """Renders frames of a :class:`World` with its scenario's camera."""

    def __init__(self, world: World, *, camera: CameraSpec | None = None, texture_cache: int = 768) -> None:
        self.world = world
        self.spec = world.scenario.spec
        self.camera = camera or world.camera
        cam = self.camera.model()
        self.K = cam.K
        self.dist = cam.dist
        self.W, self.H = cam.width_px, cam.height_px
        self.mx, self.my = int(self.W * MARGIN_FRAC), int(self.H * MARGIN_FRAC)
        self.Wc, self.Hc = self.W + 2 * self.mx, self.H + 2 * self.my
        self.Kc = self.K.copy()
        self.Kc[0, 2] += self.mx
        self.Kc[1, 2] += self.my
        self._model = cam
        self._tex_cache: OrderedDict = OrderedDict()
        self._tex_cache_size = texture_cache
        self._quads_by_face = self._build_quads()
        self._reach_m = self._face_reach()
        self.photometry = Photometry(self.spec, self.camera, self.W, self.H)
        bg = np.linspace(70, 105, self.Hc, dtype=np.float32)[:, None, None] * np.ones((1, self.Wc, 3), np.float32)
        self._background = bg.astype(np.uint8)
        self._has_distortion = bool(np.any(self.dist))
        if self._has_distortion:
            self._maps = _distortion_maps(self.K.tobytes(), tuple(float(x) for x in self.dist), self.W, self.H, (self.mx, self.my))

    # -- scene ------------------------------------------------------------------------------
    def _build_quads(self) -> dict[str, list[_Quad]]:
        site = self.world.site
        look = self.spec.appearance
        out: dict[str, list[_Quad]] = {}
        for face in site.faces:
            L, H = face.length_m, face.height_m
            qs: list[_Quad] = []

            def rect(u0, u1, v0, v1, n):
                return np.array([[u0, v1, n], [u1, v1, n], [u1, v0, n], [u0, v0, n]], dtype=np.float64)

            qs.append(_Quad("", look.back_bgr, face.face_id, rect(0, L, 0, H, -face.depth_m), -9.0, None))
            qs.append(_Quad("", look.floor_bgr, face.face_id, rect(-6, L + 6, -3, 0, 0.0), -8.0, None))
            for o in self.world.objects_of_face(face.face_id):
                if o.kind == "pallet":
                    qs.append(_Quad("", PALLET_BGR, face.face_id, rect(o.u0, o.u1, o.v0, o.v1, o.n), o.n, None))
                    continue
                if o.kind in ("carton", "film"):  # not stock we count: no ground truth box
                    qs.append(_Quad(f"{o.kind}:{o.object_id}", (0, 0, 0), face.face_id, rect(o.u0, o.u1, o.v0, o.v1, o.n),
                                    o.n, o, "", alpha=o.kind == "film"))
                    continue
                key = o.object_id if o.kind.endswith("label") else f"tire:{o.sku}:{o.kind}:{stable_hash(o.object_id) % 3}"
                tk = {"tire_standing": "tire", "tire_lying": "tire"}.get(o.kind, o.kind)
                qs.append(_Quad(key, (0, 0, 0), face.face_id, rect(o.u0, o.u1, o.v0, o.v1, o.n), o.n, o, tk))
            for u in face.bay_edges_u_m:
                hw = face.upright_width_m / 2
                qs.append(_Quad("", look.upright_bgr, face.face_id, rect(u - hw, u + hw, 0, H, 0.0), 0.0, None))
            for h in face.level_heights_m:
                if h <= 0:
                    continue
                qs.append(_Quad("", look.beam_bgr, face.face_id, rect(0, L, h, h + face.beam_height_m, 0.001), 0.001, None))
                if look.wire_decking:  # the mesh's front lip, standing just over the beam
                    top = h + face.beam_height_m
                    qs.append(_Quad("", DECKING_BGR, face.face_id, rect(0, L, top, top + 0.025, -0.01), -0.0005, None))
            lab = site.spec.location_label
            for b in face.bins:
                size_m = location_label_art(b.label.content, module_mm=lab.module_mm, quiet=lab.quiet_modules).size_mm[0] / 1000
                cu, cv = b.label.center_uv_m
                so = SceneObject(f"loc/{b.bin_id}", "location_label", face.face_id, b.bin_id, "",
                                 cu - size_m / 2, cu + size_m / 2, cv - size_m / 2, cv + size_m / 2, 0.01,
                                 text=b.label.content, symbology=lab.symbology, module_mm=lab.module_mm)
                qs.append(_Quad(so.object_id, (0, 0, 0), face.face_id, rect(so.u0, so.u1, so.v0, so.v1, 0.01), 0.01, so, "location_label"))
            qs.sort(key=lambda q: q.order)
            out[face.face_id] = qs
        return out

    def _face_reach(self) -> dict[str, float]:
        """How far in front of each face a camera can still see it: up to the opposite face."""
        site = self.world.site
        reach = {}
        for aid in site.aisle_ids:
            faces = site.faces_of_aisle(aid)
            for f in faces:
                others = [g for g in faces if g is not f]
                if others:
                    gap = abs(f.site_to_face(others[0].face_to_site([[others[0].length_m / 2, 0, 0]]))[0][2])
                    reach[f.face_id] = gap + 0.05
                else:
                    reach[f.face_id] = 50.0
        return reach

    # -- textures ---------------------------------------------------------------------------
    def _base_texture(self, q: _Quad) -> tuple[np.ndarray, float]:
        o = q.truth
        spec = self.spec
        if o.kind == "location_label":
            art = location_label_art(o.text, module_mm=o.module_mm, quiet=self.world.site.spec.location_label.quiet_modules, px_per_module=6)
            return cv2.cvtColor(art.image, cv2.COLOR_GRAY2BGR), art.px_per_mm
        if o.kind == "product_label":
            gtin13 = o.text[5:18]
            art = product_label_art(o.text, gtin13, qr_module_mm=spec.labels.product_qr.module_mm,
                                    ean_module_mm=spec.labels.product_ean13.module_mm, px_per_ean_module=4)
            img = worn_label(art.image, o.damage, o.object_id) if o.damage else art.image
            return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), art.px_per_mm
        if o.kind == "carton":
            return carton_texture((o.u1 - o.u0) * 1000, (o.v1 - o.v0) * 1000, stable_hash(o.object_id) % 97), 0.5
        if o.kind == "film":
            return film_texture((o.u1 - o.u0) * 1000, (o.v1 - o.v0) * 1000, stable_hash(o.object_id) % 97), 0.5
        if o.kind == "pallet_label":
            art = pallet_label_art(o.text[4:], module_mm=o.module_mm, px_per_module=4)
            return cv2.cvtColor(art.image, cv2.COLOR_GRAY2BGR), art.px_per_mm
        size = self.world.catalogue.set_index("sku").loc[o.sku, "size"]
        return tire_texture(size, o.kind != "tire_standing", int(q.key.rsplit(":", 1)[1])), 1.5

    def _texture(self, q: _Quad, screen_px: float) -> np.ndarray:
        base_key = (q.key, 0)
        base = self._tex_cache.get(base_key)
        if base is None:
            base = self._base_texture(q)[0]
            self._put(base_key, base)
        level = int(np.clip(np.floor(np.log2(max(base.shape[:2]) / max(screen_px, 1.0))), 0, 6))
        if level == 0:
            return base
        key = (q.key, level)
        t = self._tex_cache.get(key)
        if t is None:
            f = 0.5**level
            t = cv2.resize(base, (max(2, int(base.shape[1] * f)), max(2, int(base.shape[0] * f))), interpolation=cv2.INTER_AREA)
            self._put(key, t)
        else:
            self._tex_cache.move_to_end(key)
        return t

    def _put(self, key, tex) -> None:
        self._tex_cache[key] = tex
        if len(self._tex_cache) > self._tex_cache_size:
            self._tex_cache.popitem(last=False)

    # -- rendering --------------------------------------------------------------------------
    def render(self, T_site_camera: np.ndarray, *, T_site_camera_prev: np.ndarray | None = None,
               rng_seed: int = 0, frame_idx: int = -1, see_through_racks: bool = False,
               exposure_s: float | None = None) -> RenderResult:
        """Render one frame from ``T_site_camera`` (camera x right, y down, z forward).

        ``T_site_camera_prev`` is the pose when the exposure began (motion blur); ``exposure_s`` the
        flight's exposure (the planner's exposure program; the camera's shortest by default).
        ``see_through_racks`` draws faces even from beyond the rack across the aisle (a camera
        placed inside another rack, for physics tests at long range).
        """
        rng = np.random.default_rng(rng_seed)
        T_cs = invert_transform(T_site_camera)
        cam_pos = T_site_camera[:3, 3]
        frame = self._background.copy()
        Kc = self.Kc
        drawn: list[tuple[np.ndarray, _Quad]] = []
        faces = []
        for face in self.world.site.faces:
            n_cam = face.site_to_face(cam_pos[None])[0][2]
            if n_cam <= 0.05 or (n_cam > self._reach_m[face.face_id] and not see_through_racks):
                continue  # behind the face, or beyond the rack across the aisle that hides it
            faces.append((n_cam, face))
        faces.sort(key=lambda x: -x[0])
        for _, face in faces:
            T_cf = T_cs @ face.T_site_face
            for q in self._quads_by_face[face.face_id]:
                pc = q.corners_uvn @ T_cf[:3, :3].T + T_cf[:3, 3]
                if np.any(pc[:, 2] < NEAR_M):
                    if q.key == "" and np.any(pc[:, 2] >= NEAR_M):
                        clipped = _clip_near(pc)  # large flat parts (walls, beams) reaching behind us
                        uvc = (clipped[:, :2] / clipped[:, 2:3]) * np.array([Kc[0, 0], Kc[1, 1]]) + Kc[:2, 2]
                        uvc = np.clip(uvc, -4 * self.Wc, 5 * self.Wc)
                        cv2.fillPoly(frame, [np.round(uvc * 16).astype(np.int32)], q.color, lineType=cv2.LINE_8, shift=4)
                    continue
                uv = (pc[:, :2] / pc[:, 2:3]) * np.array([Kc[0, 0], Kc[1, 1]]) + Kc[:2, 2]
                x0, y0 = np.floor(uv.min(axis=0)).astype(int)
                x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 1
                if x1 <= 0 or y1 <= 0 or x0 >= self.Wc or y0 >= self.Hc:
                    continue
                if q.key == "":
                    cv2.fillConvexPoly(frame, np.round(uv * 16).astype(np.int32), q.color, lineType=cv2.LINE_8, shift=4)
                else:
                    screen = max(np.linalg.norm(uv[0] - uv[3]), np.linalg.norm(uv[0] - uv[1]))
                    tex = self._texture(q, screen)
                    th, tw = tex.shape[:2]
                    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
                    cx0, cy0 = max(x0, 0), max(y0, 0)
                    cx1, cy1 = min(x1, self.Wc), min(y1, self.Hc)
                    H = cv2.getPerspectiveTransform(src, (uv - [cx0, cy0]).astype(np.float32))
                    roi = frame[cy0:cy1, cx0:cx1]
                    if q.alpha:  # see-through film: blend by its alpha
                        film = cv2.warpPerspective(tex, H, (cx1 - cx0, cy1 - cy0), flags=cv2.INTER_LINEAR,
                                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                        a = film[:, :, 3:4].astype(np.float32) / 255.0
                        roi[:] = (roi.astype(np.float32) * (1 - a) + film[:, :, :3].astype(np.float32) * a).astype(np.uint8)
                    else:
                        cv2.warpPerspective(tex, H, (cx1 - cx0, cy1 - cy0), dst=roi, flags=cv2.INTER_LINEAR,
                                            borderMode=cv2.BORDER_TRANSPARENT)
                drawn.append((uv, q))
        objects = self._truth(drawn, frame_idx)
        frame = frame[self.my : self.my + self.H, self.mx : self.mx + self.W] if not self._has_distortion else frame
        img = self._post(frame, T_site_camera, T_site_camera_prev, rng, exposure_s)
        return RenderResult(img, objects)

    def _post(self, frame, T, T_prev, rng, exposure_s: float | None = None) -> np.ndarray:
        spec = self.spec
        if self._has_distortion:
            frame = cv2.remap(frame, self._maps[0], self._maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if spec.sensor.psf_sigma_px > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), spec.sensor.psf_sigma_px)
        frame, gain = self.photometry.expose(frame, rng, x_site_m=float(T[0, 3]), exposure_s=exposure_s)
        if spec.sensor.motion_blur and T_prev is not None:
            d = self._image_motion_px(T, T_prev)
            length = float(np.hypot(*d))
            if length >= 0.3:
                k = int(np.ceil(length)) | 1
                k = max(k, 3)
                kern = np.zeros((k, k), np.float32)
                c = k // 2
                steps = max(2, int(np.ceil(length * 4)))
                for s in np.linspace(-0.5, 0.5, steps):
                    x, y = c + s * d[0], c + s * d[1]
                    xi, yi = int(np.floor(x)), int(np.floor(y))
                    fx, fy = x - xi, y - yi
                    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
                        if 0 <= xi + dx < k and 0 <= yi + dy < k:
                            kern[yi + dy, xi + dx] += wgt
                kern /= kern.sum()
                frame = cv2.filter2D(frame, -1, kern)
        return self.photometry.add_noise(frame, rng, gain)

    def _image_motion_px(self, T, T_prev) -> np.ndarray:
        """Image motion of the point seen at the frame centre, from T_prev (exposure start) to T."""
        ray = T[:3, 2]
        o = T[:3, 3]
        hits = [float(face.intersect_rays(o[None], ray[None])[0][0]) for face in self.world.site.faces]
        finite = [t for t in hits if np.isfinite(t)]
        dist = min(finite) if finite else 2.0  # nearest face along the optical axis
        p = o + ray * dist
        T_prev_inv = invert_transform(T_prev)
        pc = T_prev_inv[:3, :3] @ p + T_prev_inv[:3, 3]
        uv_prev = pc[:2] / pc[2] * np.array([self.K[0, 0], self.K[1, 1]]) + self.K[:2, 2]
        return uv_prev - self.K[:2, 2]

    def _truth(self, drawn, frame_idx: int) -> pd.DataFrame:
        if not drawn:
            return pd.DataFrame(columns=OBJECT_COLUMNS)
        polys = [uv for uv, _ in drawn]
        boxes = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in polys])
        frame_poly = np.array([[self.mx, self.my], [self.mx + self.W, self.my], [self.mx + self.W, self.my + self.H],
                               [self.mx, self.my + self.H]], np.float32)
        rows = []
        for i, (uv, q) in enumerate(drawn):
            o = q.truth
            if o is None or not q.truth_kind:
                continue
            poly = uv.astype(np.float32)
            area = abs(cv2.contourArea(poly))
            if area < 1.0:
                continue
            inter, _ = cv2.intersectConvexConvex(poly, frame_poly)
            if inter <= 0:
                continue
            bi = boxes[i]
            later = boxes[i + 1 :]
            cand = np.flatnonzero((later[:, 0] < bi[2]) & (later[:, 2] > bi[0]) & (later[:, 1] < bi[3]) & (later[:, 3] > bi[1])) + i + 1
            occluded = 0.0
            for j in cand:
                qj = drawn[j][1]
                if qj.alpha or (qj.truth is not None and qj.truth.parent == o.object_id):
                    continue  # the label stuck on this tire does not hide the tire, nor does film
                a, _ = cv2.intersectConvexConvex(poly, drawn[j][0].astype(np.float32))
                occluded += a
            vis = float(np.clip((inter - occluded) / area, 0.0, 1.0))
            # distorted image box
            edge = np.concatenate([uv, (uv + np.roll(uv, -1, axis=0)) / 2]) - [self.mx, self.my]
            xy = (edge - self.K[:2, 2]) / np.array([self.K[0, 0], self.K[1, 1]])
            if self._has_distortion:
                xy = self._model.distort_normalized(xy)
            pix = xy * np.array([self.K[0, 0], self.K[1, 1]]) + self.K[:2, 2]
            x1, y1 = np.clip(pix.min(axis=0), 0, [self.W, self.H])
            x2, y2 = np.clip(pix.max(axis=0), 0, [self.W, self.H])
            width_px = np.linalg.norm(uv[1] - uv[0])
            module_px = width_px / ((o.u1 - o.u0) * 1000) * o.module_mm if o.module_mm else 0.0
            kind = q.truth_kind
            rows.append((frame_idx, kind, o.object_id, o.bin_id, o.sku, float(x1), float(y1), float(x2), float(y2),
                         vis, o.text, o.symbology, float(module_px)))
        return pd.DataFrame(rows, columns=OBJECT_COLUMNS)
