"""Replaying a recorded flight for engineers: an annotated video (detections, decoded codes, the
bin grid projected from the fused trajectory, the pose) and a Rerun recording (frames, boxes,
camera poses, trajectory, rack faces with counts); and a re-run of perception with another model
or threshold, compared bin by bin with the flight's observations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from flight.errors import FlightError



@dataclass(frozen=True, kw_only=True)
class ReplayResult:
    video: Path | None
    rerun: Path | None
    frames: int


def _bin_polys(bundle, result, T_sc: np.ndarray, cam) -> list[tuple[str, np.ndarray]]:
    """Bin rectangles (pixels) of every face the camera looks at, within range."""
    site = bundle.site()
    R, c = T_sc[:3, :3], T_sc[:3, 3]
    out = []
    for face in site.faces:
        n = face.T_site_face[:3, 2]
        if float((c - face.T_site_face[:3, 3]) @ n) <= 0.3:
            continue  # behind the face
        for b in face.bins:
            p = face.face_to_site(np.array([[b.u0_m, b.v0_m, 0], [b.u1_m, b.v0_m, 0], [b.u1_m, b.v1_m, 0],
                                            [b.u0_m, b.v1_m, 0]]))
            pc = (p - c) @ R
            if np.any(pc[:, 2] <= 0.1) or np.all(pc[:, 2] > 6.0):
                continue
            uv, _ = cam.project(pc)
            if uv[:, 0].max() < 0 or uv[:, 0].min() > cam.width_px or uv[:, 1].max() < 0 or uv[:, 1].min() > cam.height_px:
                continue  # the bin's outline misses the frame
            out.append((b.bin_id, uv))
    return out


def annotate(img: np.ndarray, det, polys, counts: dict[str, int], pose_text: str) -> np.ndarray:
    """The frame with its detections (``perception.annotate``), the bins' outlines with their fused
    counts, and the pose."""
    import cv2

    from perception.annotate import annotate as draw_detections

    im = draw_detections(img, det, names=False) if det is not None else img.copy()
    for bin_id, uv in polys:
        cv2.polylines(im, [uv.astype(np.int32)], True, (0, 220, 255), 2)
        h, w = im.shape[:2]
        x = float(np.clip(uv[:, 0].min(), 0, w - 260))
        y = float(np.clip(uv[:, 1].max(), 60, h))
        cnt = counts.get(bin_id)
        cv2.putText(im, f"{bin_id} {'' if cnt is None else f'= {cnt}'}", (int(x) + 6, int(y) - 8),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 220, 255), 2, cv2.LINE_AA)
    cv2.rectangle(im, (0, 0), (im.shape[1], 34), (0, 0, 0), -1)
    cv2.putText(im, pose_text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    return im


def replay(bundle, out_dir: Path, *, detections: Path | None = None, video: bool = True, rerun: bool = True,
           every: int = 1, width_px: int = 960, on_frame: Callable[[int, int], None] | None = None) -> ReplayResult:
    import cv2

    from perception.io import read_detections
    from slam_fusion.tools.io import fused

    out_dir.mkdir(parents=True, exist_ok=True)
    det_path = detections or Path(bundle.path) / "detections.parquet"
    res = fused(bundle, detections=detections)  # the saved fusion result, unless the inputs changed since
    counts = {o.bin_id: o.count for o in res.observations}
    cam = bundle.camera_spec().model()
    by_frame = {d.frame_idx: d for d in read_detections(det_path)}
    off = int(round(res.clock_offset_s * 1e9))
    frames = list(enumerate(bundle.frames))[::max(1, every)]
    T_bc = bundle.T_body_cameras  # each frame's own camera where the vehicle carries a pair
    T_all = (res.trajectory.poses_at(np.array([fr.t_ns + off for _, fr in frames], dtype=np.int64))
             @ T_bc[[fr.camera for _, fr in frames]])
    writer = None
    rec = None
    vpath = out_dir / "replay.mp4" if video else None
    rpath = out_dir / "replay.rrd" if rerun else None
    if rerun:
        from warehouse.extras import require

        require("rerun", "a Rerun recording of the replay (--no-rerun leaves it out)")
        import rerun as rr

        rec = rr.RecordingStream("rackscan-replay")
        rec.save(str(rpath))
        _rerun_static(rec, bundle, res)
    scale = width_px / cam.width_px
    fps = float(bundle.camera_spec().fps or 5.0) / max(1, every)
    t0 = frames[0][1].t_ns if frames else 0
    n_done = 0
    for k, ((i, fr), T) in enumerate(zip(frames, T_all)):
        try:
            img = bundle.read_frame(i)
        except FlightError:
            continue  # a missing or corrupt frame is skipped in the replay as in processing
        yaw = np.degrees(np.arctan2(T[1, 2], T[0, 2]))
        text = (f"frame {fr.frame_idx}  t {(fr.t_ns - t0) / 1e9:7.2f} s  camera x {T[0, 3]:.2f} y {T[1, 3]:.2f} "
                f"z {T[2, 3]:.2f} m  heading {yaw:.0f} deg")
        det = by_frame.get(int(fr.frame_idx))
        ann = annotate(img, det, _bin_polys(bundle, res, T, cam), counts, text)
        small = cv2.resize(ann, (width_px, int(round(ann.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        if video:
            if writer is None:
                writer = cv2.VideoWriter(str(vpath), cv2.VideoWriter_fourcc(*"mp4v"), fps, (small.shape[1], small.shape[0]))
            writer.write(small)
        if rec is not None:
            _rerun_frame(rec, fr, T, img, det, cam, scale)
        n_done += 1
        if on_frame:
            on_frame(k + 1, len(frames))
    if writer is not None:
        writer.release()
    if rec is not None:
        rec.flush()
    return ReplayResult(video=vpath, rerun=rpath, frames=n_done)


def _rerun_static(rec, bundle, res) -> None:
    import rerun as rr

    from perception.annotate import CLASS_BGR
    from perception.detections import CLASS_NAMES

    # class ids mapped to names and colours once, for every box logged below (Rerun's annotation context)
    rec.log("site/camera/image", rr.AnnotationContext([(i, n, CLASS_BGR[i][::-1]) for i, n in enumerate(CLASS_NAMES)]),
            static=True)
    rec.log("site", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)  # the site frame: ENU, z up

    site = bundle.site()
    counts = {o.bin_id: o.count for o in res.observations}
    strips, labels = [], []
    for face in site.faces:
        for b in face.bins:
            p = face.face_to_site(np.array([[b.u0_m, b.v0_m, 0], [b.u1_m, b.v0_m, 0], [b.u1_m, b.v1_m, 0],
                                            [b.u0_m, b.v1_m, 0], [b.u0_m, b.v0_m, 0]]))
            strips.append(p)
            labels.append(f"{b.bin_id}: {counts.get(b.bin_id, '-')}")
    rec.log("site/bins", rr.LineStrips3D(strips, labels=labels), static=True)
    tires = [face_box for face_box in _tire_boxes(site, res)]
    if tires:
        rec.log("site/tires", rr.Boxes3D(centers=[t[0] for t in tires], half_sizes=[t[1] for t in tires],
                                         colors=[(20, 20, 20) if t[2] else (220, 40, 40) for t in tires]), static=True)
    rec.log("site/trajectory", rr.LineStrips3D([res.trajectory.positions_site_m]), static=True)


def _tire_boxes(site, res):
    for _, tr, counted in res.tracks:
        face = site.face(tr.face_id)
        c = face.face_to_site(np.array([[tr.u_m, tr.v_m, -0.1]]))[0]
        R = face.T_site_face[:3, :3]
        half = np.abs(R @ np.array([tr.w_m / 2, tr.h_m / 2, 0.1]))
        yield c, half, counted


def _rerun_frame(rec, fr, T, img, det, cam, scale: float) -> None:
    import cv2
    import rerun as rr

    rec.set_time("capture", timestamp=fr.t_ns / 1e9)
    rec.log("site/camera", rr.Transform3D(translation=T[:3, 3], mat3x3=T[:3, :3]))
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    K = cam.K.copy()
    K[:2] *= scale
    rec.log("site/camera/image", rr.Pinhole(image_from_camera=K, resolution=[small.shape[1], small.shape[0]]))
    rec.log("site/camera/image", rr.EncodedImage(contents=jpg.tobytes(), media_type="image/jpeg"))
    if det is not None and len(det):
        rec.log("site/camera/image/detections", rr.Boxes2D(array=det.xyxy * scale, array_format=rr.Box2DFormat.XYXY,
                                                           class_ids=det.class_id.tolist()))
    if det is not None and len(det.codes):
        c = det.codes
        box = np.concatenate([c.corners.min(axis=1), c.corners.max(axis=1)], axis=1) * scale
        rec.log("site/camera/image/codes", rr.Boxes2D(array=box, array_format=rr.Box2DFormat.XYXY,
                                                      labels=[str(t)[:40] for t in c.text]))


def compare_counts(before, after) -> list[tuple[str, int, int]]:
    """(bin, count before, count after) for bins whose count changed between two observation sets."""
    a = {o.bin_id: o.count for o in before}
    b = {o.bin_id: o.count for o in after}
    return [(k, a.get(k, 0), b.get(k, 0)) for k in sorted(set(a) | set(b)) if a.get(k, 0) != b.get(k, 0)]
