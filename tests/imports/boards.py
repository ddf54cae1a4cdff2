"""ChArUco views rendered through the virtual camera (``warehouse.camera.CameraModel``): each
pixel's ray, undistorted by the model, meets the board's plane, and the board's picture is
sampled there. So the views carry the model's exact intrinsics and distortion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from imports.calibrate import Board
from warehouse.camera import CameraModel


def look_at(centre_m: np.ndarray, tilt_x_deg: float, tilt_y_deg: float, roll_deg: float) -> np.ndarray:
    """T_cam_board: the board's centre at ``centre_m`` in the camera frame, turned by the tilts."""
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("xyz", [tilt_x_deg, tilt_y_deg, roll_deg], degrees=True).as_matrix()
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = centre_m
    return T


def chessboard_texture(board: Board, px_per_square: int = 200) -> tuple[np.ndarray, float, float]:
    """A chessboard's picture with a white square's margin all round (findChessboardCorners wants a
    quiet border), and its width and height in metres."""
    sq = board.square_mm / 1000
    tex = np.full(((board.rows + 2) * px_per_square, (board.cols + 2) * px_per_square), 255, np.uint8)
    for r in range(board.rows):
        for c in range(board.cols):
            if (r + c) % 2 == 0:
                tex[(r + 1) * px_per_square:(r + 2) * px_per_square, (c + 1) * px_per_square:(c + 2) * px_per_square] = 0
    return tex, (board.cols + 2) * sq, (board.rows + 2) * sq


def render_views(board: Board, cam: CameraModel, poses: list[np.ndarray], out_dir: Path, *, texture_px: int = 2400,
                 seed: int = 0) -> list[Path]:
    """Views of the board (its picture as OpenCV draws a ChArUco board, or a chessboard) at each pose."""
    if board.kind == "chessboard":
        tex, w_m, h_m = chessboard_texture(board)
    else:
        w_m, h_m = board.cols * board.square_mm / 1000, board.rows * board.square_mm / 1000
        tex = board.cv_board().generateImage((texture_px, int(round(texture_px * h_m / w_m))), marginSize=0)
    return render_texture(tex, w_m, h_m, cam, poses, out_dir, seed=seed)


def render_texture(tex: np.ndarray, w_m: float, h_m: float, cam: CameraModel, poses: list[np.ndarray], out_dir: Path,
                   *, seed: int = 0) -> list[Path]:
    th, tw = tex.shape
    W, H = cam.width_px, cam.height_px
    uu, vv = np.meshgrid(np.arange(W) + 0.0, np.arange(H) + 0.0)
    rays = cam.pixel_rays(np.stack([uu.ravel(), vv.ravel()], 1)).astype(np.float32)  # once: one camera for all views
    rx, ry, rz = (np.ascontiguousarray(rays[:, i]).reshape(H, W) for i in range(3))
    cv2.setRNGSeed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for k, T in enumerate(poses):
        R, t = T[:3, :3].astype(np.float32), T[:3, 3]
        t_origin = (t - R @ np.array([w_m / 2, h_m / 2, 0.0])).astype(np.float32)  # the board centred on ``t``
        n = R[:, 2]
        dz = rx * n[0] + ry * n[1] + rz * n[2]
        s = np.float32(n @ t_origin) / np.where(np.abs(dz) < 1e-9, np.float32(1e-9), dz)
        px, py, pz = s * rx - t_origin[0], s * ry - t_origin[1], s * rz - t_origin[2]
        mx = (px * R[0, 0] + py * R[1, 0] + pz * R[2, 0]) * np.float32(tw / w_m) - np.float32(0.5)  # R^T (p - t)
        my = (px * R[0, 1] + py * R[1, 1] + pz * R[2, 1]) * np.float32(th / h_m) - np.float32(0.5)
        mx[s <= 0] = -10
        img = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=170)
        img = cv2.GaussianBlur(img, (0, 0), 0.7)
        noise = np.zeros(img.shape, np.int16)
        cv2.randn(noise, 0, 2)
        img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        f = out_dir / f"view_{k:02d}.png"
        cv2.imwrite(str(f), img)
        files.append(f)
    return files


def spread_poses(cam: CameraModel, n_side: int = 3, distance_m: float = 0.6) -> list[np.ndarray]:
    """Board views across the image (a grid of centres, each tilted a different way)."""
    fx = cam.K[0, 0]
    poses = []
    k = 0
    for gy in np.linspace(-0.28, 0.28, n_side):
        for gx in np.linspace(-0.33, 0.33, n_side + 1):
            x = gx * cam.width_px / fx * distance_m
            y = gy * cam.height_px / fx * distance_m
            tilt = [(-25, 15), (20, -20), (10, 25), (-15, -10)][k % 4]
            poses.append(look_at(np.array([x, y, distance_m + 0.1 * (k % 3)]), tilt[0], tilt[1], 8 * ((k % 5) - 2)))
            k += 1
    return poses
