"""Synthetic sweeps for fusion tests and ``rackscan bench fusion``: a two-rack site, a camera
looking at a face, trajectories, and detections projected from known tire and label positions."""

from __future__ import annotations

import zlib

import numpy as np

from slam_fusion.core.trajectory import Trajectory, matrix_to_quat
from warehouse.camera import CameraModel
from warehouse.site import site_from_dict, two_rack_site_dict


def make_site():
    return site_from_dict(sweep_site_dict())


def sweep_site_dict() -> dict:
    """A small two-rack site with one aisle (the sweeps fly along R01/back)."""
    return two_rack_site_dict()


def make_camera(dist=(0.0, 0.0, 0.0, 0.0, 0.0)) -> CameraModel:
    K = np.array([[1400.0, 0, 960], [0, 1400.0, 540], [0, 0, 1]])
    return CameraModel(K=K, dist=np.array(dist, dtype=float))


def camera_facing(face, u_m: float, v_m: float, standoff_m: float) -> np.ndarray:
    """T_site_camera standing off the face at (u, v), optical axis into the face."""
    R_face = face.T_site_face[:3, :3]
    z_cam = -R_face[:, 2]  # look against the face normal
    x_cam = R_face[:, 0]
    y_cam = np.cross(z_cam, x_cam)
    T = np.eye(4)
    T[:3, :3] = np.stack([x_cam, y_cam, z_cam], axis=1)
    T[:3, 3] = face.face_to_site(np.array([[u_m, v_m, standoff_m]]))[0]
    return T


def linear_trajectory(n: int = 50, dt_ns: int = 100_000_000, yaw_rate: float = 0.1) -> Trajectory:
    t = np.arange(n, dtype=np.int64) * dt_ns
    pos = np.stack([t / 1e9, 0.5 * t / 1e9, np.full(n, -2.0)], axis=1)
    q = []
    for tt in t:
        a = yaw_rate * tt / 1e9
        R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        q.append(matrix_to_quat(R))
    return Trajectory(t_ns=t, positions_site_m=pos, quat_wxyz=np.array(q))


def sweep_scene(*, clock_offset_s: float = 0.0, n_frames: int = 60, standoff_m: float = 2.5,
                tires_per_bin: dict | None = None, seed: int = 0, cam=None,
                drift_m_per_min: float = 0.0, serpentine: bool = False):
    """A camera sweeping one face at 1 m/s; tire boxes, product codes and location-label codes
    made by projecting known positions. Returns (site, cam, traj, frame_t_ns, detections, truth):
    one ``FrameDetections`` per frame.

    ``serpentine``: every other pass is flown back (as the planner flies), so a camera clock error
    moves labels one way on one pass and the other way on the next."""
    from slam_fusion.core.projection import face_to_pixels

    site = make_site()
    face = site.faces_of_aisle(site.aisle_ids[0])[0]
    cam = cam or make_camera()
    rng = np.random.default_rng(seed)
    truth = tires_per_bin if tires_per_bin is not None else {
        b.bin_id: int(rng.integers(0, 4)) for b in face.bins}
    tires = []  # (bin_id, u, v, gtin)
    for b in face.bins:
        n = truth.get(b.bin_id, 0)
        for k in range(n):
            u = b.u0_m + (k + 0.5) * b.width_m / max(n, 1)
            tires.append((b.bin_id, u, b.v0_m + 0.35 * b.height_m, f"0{zlib.crc32(b.bin_id.encode()) % 10**12:012d}"))
    dt_ns = 100_000_000
    pass_v = (0.8, 2.3, 3.8)  # one horizontal pass per rack level
    per = n_frames + 20
    t = np.arange(per * len(pass_v), dtype=np.int64) * dt_ns
    speed = face.length_m / (n_frames * dt_ns / 1e9)
    poses, pos, quats = [], [], []
    for k, tt in enumerate(t):
        j, kk = divmod(k, per)
        u = -0.5 + speed * (kk - 10) * dt_ns / 1e9
        if serpentine and j % 2:
            u = face.length_m - u
        T = camera_facing(face, u, pass_v[j], standoff_m)
        poses.append(T)
        pos.append(T[:3, 3])
        quats.append(matrix_to_quat(T[:3, :3]))
    # telemetry drifts along the face (u) and up (v); the frames are made from the true poses
    drift_dir = face.T_site_face[:3, 0] * 0.8 + face.T_site_face[:3, 1] * 0.6
    p_tel = np.array(pos) + drift_dir[None, :] * (drift_m_per_min * t / 1e9 / 60.0)[:, None]
    traj = Trajectory(t_ns=t, positions_site_m=p_tel, quat_wxyz=np.array(quats))
    frame_t_ns, dets = {}, []
    for f in range(n_frames * len(pass_v)):
        j, ff = divmod(f, n_frames)
        k = j * per + ff + 10
        T = poses[k]
        frame_t_ns[f] = int(t[k] - round(clock_offset_s * 1e9))  # camera clock behind telemetry
        boxes, codes = [], []  # codes: (symbology, text, x1, y1, x2, y2)
        for bin_id, u, v, gtin in tires:
            px, front = face_to_pixels(cam, T, np.array([[u, v]]), face)
            x, y = px[0]
            if not front[0] or not (40 <= x < cam.width_px - 40 and 40 <= y < cam.height_px - 40):
                continue
            boxes.append((x - 40, y - 40, x + 40, y + 40))
            codes.append(("ean13", gtin, x - 5, y - 5, x + 5, y + 5))  # the EAN-13 on the tire's label
        for b in face.bins:
            px, front = face_to_pixels(cam, T, np.array([b.label.center_uv_m]), face)
            x, y = px[0]
            if front[0] and 0 <= x < cam.width_px and 0 <= y < cam.height_px:
                codes.append(("qr", b.bin_id, x - 20, y - 8, x + 20, y + 8))
        dets.append(_frame(f, frame_t_ns[f], boxes, codes, (cam.width_px, cam.height_px)))
    return site, cam, traj, frame_t_ns, dets, truth


def _frame(f: int, t_ns: int, boxes, codes, wh):
    from perception.detections import Codes, FrameDetections

    n = len(boxes)
    corners = np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]] for _, _, x1, y1, x2, y2 in codes], np.float32)
    c = Codes(symbology=np.array([k[0] for k in codes], object), text=np.array([k[1] for k in codes], object),
              corners=corners.reshape(-1, 4, 2), decoder=np.array(["zxing"] * len(codes), object),
              det_index=np.full(len(codes), -1, np.int32))
    return FrameDetections(frame_idx=f, t_ns=t_ns, xyxy=np.array(boxes, np.float32).reshape(n, 4),
                           confidence=np.full(n, 0.9, np.float32), class_id=np.zeros(n, np.int32), codes=c, image_wh=wh)


def long_flight(n_frames: int, *, seed: int = 0, fps: float = 5.0, speed_m_s: float = 1.0, standoff_m: float = 2.5):
    """A flight of about ``n_frames`` frames over a generated site (``warehouse.site.grid_site_dict``:
    aisles of two 6-level racks, two positions per bay), sized so its passes take that many frames:
    one serpentine pass per level along each face at ``speed_m_s``, transits between passes and
    faces, telemetry at 10 Hz; tire boxes and codes projected as in ``sweep_scene``. The fusion
    input of ``rackscan bench scale --frames``. Returns (site, cam, traj, frame_t_ns, detections,
    truth)."""
    from slam_fusion.core.projection import face_to_pixels
    from warehouse.site import grid_site_dict

    levels = (0.0, 1.2, 2.4, 3.6, 4.8, 6.0)
    lead_m = 1.5  # flown past each end of a face, frames recorded
    per_bay = len(levels) * 2.7 / speed_m_s * fps  # frames a bay of one face costs
    faces_needed = max(1.0, n_frames / (per_bay * 30))
    n_aisles = max(1, int(np.ceil(faces_needed / 2)))
    bays = max(1, int(round((n_frames / (2 * n_aisles) - len(levels) * 2 * lead_m / speed_m_s * fps) / per_bay)))
    site = site_from_dict(grid_site_dict(n_aisles, bays, levels_m=levels))
    cam = make_camera()
    rng = np.random.default_rng(seed)
    truth = {b.bin_id: int(rng.integers(0, 4)) for b in site.bins}
    dt_tel_ns, dt_frame_ns = 100_000_000, int(round(1e9 / fps))
    tel_t, tel_T, frame_t_ns, dets = [], [], {}, []
    t_ns = 0

    def gtin(bin_id: str) -> str:
        return f"0{zlib.crc32(bin_id.encode()) % 10**12:012d}"

    faces = [f for a in site.aisle_ids for f in site.faces_of_aisle(a)]
    for face in faces:
        tires = [(b.bin_id, b.u0_m + (k + 0.5) * b.width_m / truth[b.bin_id], b.v0_m + 0.35 * b.height_m)
                 for b in face.bins for k in range(truth[b.bin_id])]
        tire_uv = np.array([(u, v) for _, u, v in tires], float).reshape(-1, 2)
        label_uv = np.array([b.label.center_uv_m for b in face.bins], float)
        for j, lv in enumerate(levels):
            v = lv + 0.6
            u0, u1 = (-lead_m, face.length_m + lead_m) if j % 2 == 0 else (face.length_m + lead_m, -lead_m)
            T0 = camera_facing(face, u0, v, standoff_m)
            if tel_T:  # transit to the pass's start: 3 s, attitude turned halfway
                p_prev, R_prev = tel_T[-1][:3, 3], tel_T[-1][:3, :3]
                for s in np.arange(1, 31) / 30:
                    T = T0.copy() if s >= 0.5 else tel_T[-1].copy()
                    T[:3, 3] = (1 - s) * p_prev + s * T0[:3, 3]
                    t_ns += dt_tel_ns
                    tel_t.append(t_ns)
                    tel_T.append(T)
                t_ns += dt_tel_ns
            dur_s = abs(u1 - u0) / speed_m_s
            for s_t in np.arange(0.0, dur_s, dt_tel_ns / 1e9):
                T = camera_facing(face, u0 + np.sign(u1 - u0) * speed_m_s * s_t, v, standoff_m)
                tel_t.append(t_ns + int(round(s_t * 1e9)))
                tel_T.append(T)
            for s_t in np.arange(0.0, dur_s, dt_frame_ns / 1e9):
                T = camera_facing(face, u0 + np.sign(u1 - u0) * speed_m_s * s_t, v, standoff_m)
                f = len(dets)
                frame_t_ns[f] = t_ns + int(round(s_t * 1e9))
                px, front = face_to_pixels(cam, T, tire_uv, face)
                keep = front & (px[:, 0] >= 40) & (px[:, 0] < cam.width_px - 40) & (px[:, 1] >= 40) & (px[:, 1] < cam.height_px - 40)
                boxes = [(x - 40, y - 40, x + 40, y + 40) for x, y in px[keep]]
                codes = [("ean13", gtin(tires[i][0]), x - 5, y - 5, x + 5, y + 5)
                         for i, (x, y) in zip(np.nonzero(keep)[0], px[keep])]
                lpx, lfront = face_to_pixels(cam, T, label_uv, face)
                lin = lfront & (lpx[:, 0] >= 0) & (lpx[:, 0] < cam.width_px) & (lpx[:, 1] >= 0) & (lpx[:, 1] < cam.height_px)
                codes += [("qr", face.bins[i].bin_id, x - 20, y - 8, x + 20, y + 8) for i, (x, y) in zip(np.nonzero(lin)[0], lpx[lin])]
                dets.append(_frame(f, frame_t_ns[f], boxes, codes, (cam.width_px, cam.height_px)))
            t_ns = tel_t[-1]
    traj = Trajectory(t_ns=np.array(tel_t, np.int64), positions_site_m=np.array([T[:3, 3] for T in tel_T]),
                      quat_wxyz=np.array([matrix_to_quat(T[:3, :3]) for T in tel_T]))
    return site, cam, traj, frame_t_ns, dets, truth
