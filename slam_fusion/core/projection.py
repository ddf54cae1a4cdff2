"""Pixel -> ray -> rack face (u, v) -> bin, and the inverse for round-trip checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse.camera import CameraModel, invert_transform, transform_points
from warehouse.site import Face


@dataclass(frozen=True, kw_only=True)
class FaceHit:
    face_id: str
    u_m: float
    v_m: float
    range_m: float
    bin_id: str | None


def pixels_to_face(
    cam: CameraModel, T_site_camera: np.ndarray, uv_px: np.ndarray, face: Face
) -> tuple[np.ndarray, np.ndarray]:
    """(N,2) pixels -> (N,) ranges along the rays and (N,2) face (u, v) in metres."""
    rays_cam = cam.pixel_rays(uv_px)
    dirs = rays_cam @ T_site_camera[:3, :3].T
    origins = np.repeat(T_site_camera[None, :3, 3], len(dirs), axis=0)
    return face.intersect_rays(origins, dirs)


def face_to_pixels(
    cam: CameraModel, T_site_camera: np.ndarray, uv_m: np.ndarray, face: Face
) -> tuple[np.ndarray, np.ndarray]:
    """(N,2) face points -> (N,2) pixels and an in-front mask."""
    uv = np.asarray(uv_m, dtype=np.float64).reshape(-1, 2)
    p_site = face.face_to_site(np.concatenate([uv, np.zeros((len(uv), 1))], axis=1))
    p_cam = transform_points(invert_transform(T_site_camera), p_site)
    return cam.project(p_cam)


def project_to_faces(
    cam: CameraModel, T_site_camera: np.ndarray, uv_px: np.ndarray, faces: list[Face]
) -> list[FaceHit | None]:
    """Each pixel's nearest face hit inside a face's extent, with its bin (or None)."""
    uv_px = np.asarray(uv_px, dtype=np.float64).reshape(-1, 2)
    best: list[FaceHit | None] = [None] * len(uv_px)
    for face in faces:
        rng, uv = pixels_to_face(cam, T_site_camera, uv_px, face)
        for i in range(len(uv_px)):
            u, v = float(uv[i, 0]), float(uv[i, 1])
            if not np.isfinite(rng[i]) or not (0 <= u <= face.length_m and 0 <= v <= face.height_m):
                continue
            if best[i] is None or rng[i] < best[i].range_m:
                b = face.point_to_bin(u, v)
                best[i] = FaceHit(
                    face_id=face.face_id, u_m=u, v_m=v, range_m=float(rng[i]),
                    bin_id=b.bin_id if b else None,
                )
    return best
