"""From poses, frame times and per-frame detections (``FrameDetections``) to one observation per bin (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from perception.detections import FrameDetections
from slam_fusion.core.drift import correct_drift
from slam_fusion.core.clock import estimate_offset_s, label_reprojection_cost
from slam_fusion.core.confidence import ConfidenceModel, shipped_count_model, shipped_model
from slam_fusion.core.fuse import (PALLET_HEIGHT_M, BinObservation, ItemLabel, LabelRead, Sighting, TireTrack,
                                   fuse_bin, group_label_reads, group_sightings, nested_boxes)
from slam_fusion.core.passes import PassShift, clock_error_s, pass_corrections_u, pass_shifts_u
from slam_fusion.core.projection import pixels_to_face, project_to_faces
from slam_fusion.core.trajectory import Trajectory, associate
from slam_fusion.errors import FusionError
from warehouse.camera import CameraModel, invert_transform, transform_points


@dataclass(frozen=True, kw_only=True)
class FusionResult:
    observations: tuple[BinObservation, ...]
    coverage: dict[str, int]  # bin_id -> frames that saw it
    clock_offset_s: float
    label_residuals_px: dict[str, float] = field(default_factory=dict)
    drift_residual_before_m: float = 0.0  # median label-line offset before correction
    drift_residual_after_m: float = 0.0
    trajectory: Trajectory | None = None  # the smoothed, drift-corrected body trajectory used
    tracks: tuple[tuple[str, TireTrack, bool], ...] = ()  # (bin_id, tire track, counted) for exports
    warnings: tuple[str, ...] = ()  # what the caller should tell the user (one line each)
    pass_shifts: tuple[PassShift, ...] = ()  # passes registered to one another on their tires


MAX_CLOCK_FIX_S = 0.5  # the tires move the labels' clock estimate by this much at most (its own search span)
MAX_RANGE_M = 4.0  # farther than this a frame neither scans a bin nor counts its tires (labels need ~1.5 m)


def _project_sites(cam, T_site_cams, p_site):
    """(F,4,4) poses, (N,3) points -> (F,N,2) pixels and (F,N) visible mask."""
    out_uv, out_ok = [], []
    for T in T_site_cams:
        p_cam = transform_points(invert_transform(T), p_site)
        uv, front = cam.project(p_cam)
        ok = front & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width_px) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height_px)
        out_uv.append(uv)
        out_ok.append(ok & (p_cam[:, 2] < MAX_RANGE_M))
    return np.array(out_uv), np.array(out_ok)


def view_radius_m(cam) -> float:
    """How far from the camera a point can be and still be in the image within ``MAX_RANGE_M`` of
    depth: MAX_RANGE_M over the cosine of the widest angle off the optical axis (sampled along the
    image border). A bound that lets fusion look only at the faces and frames near each other."""
    W, H = cam.width_px, cam.height_px
    s = np.linspace(0.0, 1.0, 33)
    border = np.concatenate([np.stack([s * W, np.zeros_like(s)], 1), np.stack([s * W, np.full_like(s, H)], 1),
                             np.stack([np.zeros_like(s), s * H], 1), np.stack([np.full_like(s, W), s * H], 1)])
    cos_min = float(np.min(cam.pixel_rays(border)[:, 2]))
    return MAX_RANGE_M / cos_min if cos_min > 0.05 else float("inf")


def face_distance_m(face, p_site: np.ndarray, *, margin_m: float = 0.0) -> np.ndarray:
    """(N,) distance from each site point to the face's rectangle (grown by ``margin_m``)."""
    q = face.site_to_face(p_site)
    du = q[:, 0] - np.clip(q[:, 0], -margin_m, face.length_m + margin_m)
    dv = q[:, 1] - np.clip(q[:, 1], -margin_m, face.height_m + margin_m)
    return np.sqrt(du * du + dv * dv + q[:, 2] * q[:, 2])


def _faces_near(faces, face, r_m: float) -> list:
    """The faces whose corners' bounding box comes within ``r_m`` of ``face``'s (a superset of the
    faces that can stand between a camera within ``r_m`` of a point of ``face`` and that point)."""
    def box(fc):
        c = fc.face_to_site(np.array([[0, 0, 0], [fc.length_m, 0, 0], [0, fc.height_m, 0], [fc.length_m, fc.height_m, 0]], float))
        return c.min(0), c.max(0)

    lo, hi = box(face)
    out = []
    for fc in faces:
        a, b = box(fc)
        gap = np.maximum(0.0, np.maximum(a - hi, lo - b))
        if float(np.linalg.norm(gap)) <= r_m:
            out.append(fc)
    return out


def _sku_lookup(gtin_to_sku: dict[str, str] | None) -> dict[str, str]:
    """GTIN-13 and GTIN-14 spellings of every catalogue GTIN -> SKU."""
    out: dict[str, str] = {}
    for g, sku in (gtin_to_sku or {}).items():
        core = str(g).lstrip("0")
        for width in (12, 13, 14):
            out[core.zfill(width)] = sku
    return out


def _tire_sightings(cam, T_sc, fidx, dets: list[FrameDetections], faces, *, border_px: float,
                    sliver_m: float = 0.1) -> list[Sighting]:
    """Tire boxes projected onto the nearest face their centre hits, as box edges on the face with
    the edges on the image border marked unreal, and the product label read inside each box (the
    one nearest its centre)."""
    W, H = cam.width_px, cam.height_px
    face_of = {fc.face_id: fc for fc in faces}
    near = faces_near_cameras(faces, T_sc[:, :3, 3])
    out: list[Sighting] = []
    for d in dets:
        f = d.frame_idx
        if f not in fidx:
            continue
        tires = d.of_class("tire")
        if not len(tires):
            continue
        tires = tires[~nested_boxes(tires.xyxy, tires.confidence)]
        codes = d.codes[d.codes.gtin != ""] if len(d.codes) else d.codes
        code_xy = codes.centers_xy
        T = T_sc[fidx[f]]
        centres = tires.centers_xy
        hits = project_to_faces(cam, T, centres, near[fidx[f]])
        # midpoints of the left, right, top and bottom edges of every box, one ray cast per face
        mids_of: dict[str, list[int]] = {}
        for k, h in enumerate(hits):
            if h is not None:
                mids_of.setdefault(h.face_id, []).append(k)
        face_mids: dict[int, np.ndarray] = {}
        for fid, ks in mids_of.items():
            pts = []
            for k in ks:
                x1, y1, x2, y2 = tires.xyxy[k]
                xc, yc = centres[k]
                pts += [[x1, yc], [x2, yc], [xc, y1], [xc, y2]]
            _, m = pixels_to_face(cam, T, np.array(pts), face_of[fid])
            for n, k in enumerate(ks):
                face_mids[k] = m[4 * n:4 * n + 4]
        for k, h in enumerate(hits):
            if h is None or h.range_m > MAX_RANGE_M:
                continue
            x1, y1, x2, y2 = (float(v) for v in tires.xyxy[k])
            clip = [x1 <= border_px, x2 >= W - border_px, y1 <= border_px, y2 >= H - border_px]
            m = face_mids[k]
            if not np.all(np.isfinite(m)):
                continue
            lr = (0, 1) if m[0, 0] <= m[1, 0] else (1, 0)  # which image edge is the face's u0 / u1
            tb = (3, 2) if m[3, 1] <= m[2, 1] else (2, 3)  # which is v0 (lower) / v1
            # a sliver on the image border (cut on an axis, narrower there than any tire) shows too
            # little of the tire to place even its other edges: the detector guesses them
            if ((clip[0] or clip[1]) and abs(m[1, 0] - m[0, 0]) < sliver_m) or \
                    ((clip[2] or clip[3]) and abs(m[3, 1] - m[2, 1]) < sliver_m):
                continue
            inside = [j for j in range(len(codes)) if x1 <= code_xy[j, 0] <= x2 and y1 <= code_xy[j, 1] <= y2]
            inside.sort(key=lambda j: (float(np.linalg.norm(code_xy[j] - centres[k])), str(codes.gtin[j])))
            out.append(Sighting(
                frame_idx=int(f), face_id=h.face_id,
                u0_m=float(m[lr[0], 0]), u1_m=float(m[lr[1], 0]), v0_m=float(m[tb[0], 1]), v1_m=float(m[tb[1], 1]),
                edge_ok=(not clip[lr[0]], not clip[lr[1]], not clip[tb[0]], not clip[tb[1]]),
                score=float(tires.confidence[k]), gtin=str(codes.gtin[inside[0]]) if inside else ""))
    return out


def faces_near_cameras(faces, cams_site_m: np.ndarray, r_m: float = MAX_RANGE_M) -> list[list]:
    """For each camera position, the faces whose rectangle is within ``r_m`` of it (a ray's hit on
    any other face is farther than ``r_m``): one vectorised pass over the faces, not one per frame."""
    if not len(faces):
        return [[] for _ in range(len(cams_site_m))]
    near = np.stack([face_distance_m(fc, cams_site_m) <= r_m + 1e-9 for fc in faces], axis=1)
    return [[faces[j] for j in np.nonzero(row)[0]] for row in near]


def _label_reads(cam, T_sc, fidx, dets: list[FrameDetections], faces) -> list[LabelRead]:
    """Reads of serialised product labels (GS1 GTIN + serial), their centres projected onto the
    nearest face within range."""
    out = []
    near = faces_near_cameras(faces, T_sc[:, :3, 3])
    for d in sorted(dets, key=lambda d: d.frame_idx):
        if d.frame_idx not in fidx or not len(d.codes):
            continue
        c = d.codes[(d.codes.gtin != "") & (d.codes.serial != "")]
        if not len(c):
            continue
        hits = project_to_faces(cam, T_sc[fidx[d.frame_idx]], c.centers_xy, near[fidx[d.frame_idx]])
        for j, h in enumerate(hits):
            if h is None or h.range_m > MAX_RANGE_M:
                continue
            out.append(LabelRead(frame_idx=d.frame_idx, face_id=h.face_id, gtin=str(c.gtin[j]), serial=str(c.serial[j]),
                                 u_m=h.u_m, v_m=h.v_m))
    return out


def _with_expected_views(cam, T_sc, tracks, face_of, frames: list[int], *, min_in_view: float = 0.5,
                         whole: float = 0.95) -> list[TireTrack]:
    """Set each track's n_expected: frames that had at least ``min_in_view`` of the tire's box in
    view, in front of the camera, within range, from the face's side and not behind another rack;
    and its expected_frames: those that had ``whole`` of it in view (a pass that had the tire
    whole and did not see it disagrees with the passes that did).

    Only the frames whose camera was within ``view_radius_m`` of the box are looked at (no other
    can have any of it in view within range), and only the faces near the track's face can hide
    it: the cost grows with the flight, not with the flight times the site."""
    from dataclasses import replace

    inv = np.array([invert_transform(T) for T in T_sc])
    cams = T_sc[:, :3, 3]
    frames_arr = np.asarray(frames)
    r_view = view_radius_m(cam)
    all_faces = list(face_of.values())
    by_face: dict[str, list[int]] = {}
    for k, tr in enumerate(tracks):
        by_face.setdefault(tr.face_id, []).append(k)
    out: list[TireTrack | None] = [None] * len(tracks)
    for fid, ks in by_face.items():
        face = face_of[fid]
        grow = max(0.0, *(max(-tracks[k].u0_m, tracks[k].u1_m - face.length_m, -tracks[k].v0_m,
                              tracks[k].v1_m - face.height_m) for k in ks))
        rows_face = np.nonzero(face_distance_m(face, cams, margin_m=grow) <= r_view + 1e-9)[0]
        q_face = face.site_to_face(cams[rows_face])
        occluders = _faces_near(all_faces, face, r_view)
        for k in ks:
            tr = tracks[k]
            du = q_face[:, 0] - np.clip(q_face[:, 0], tr.u0_m, tr.u1_m)
            dv = q_face[:, 1] - np.clip(q_face[:, 1], tr.v0_m, tr.v1_m)
            rows = rows_face[np.sqrt(du * du + dv * dv + q_face[:, 2] ** 2) <= r_view + 1e-9]
            uv = np.array([[tr.u0_m, tr.v0_m, 0], [tr.u1_m, tr.v0_m, 0], [tr.u0_m, tr.v1_m, 0], [tr.u1_m, tr.v1_m, 0]])
            p = face.face_to_site(uv)
            pcs = [np.einsum("fij,j->fi", inv[rows, :3, :3], q) + inv[rows, :3, 3] for q in p]
            pxs, fronts = zip(*(cam.project(pc) for pc in pcs))
            px = np.stack(pxs, axis=1)  # (F,4,2)
            front = np.all(np.stack(fronts, axis=1), axis=1) & np.all(np.stack([pc[:, 2] for pc in pcs], 1) < MAX_RANGE_M, axis=1)
            x0, x1 = px[:, :, 0].min(1), px[:, :, 0].max(1)
            y0, y1 = px[:, :, 1].min(1), px[:, :, 1].max(1)
            area = np.maximum(1e-9, (x1 - x0) * (y1 - y0))
            ix = np.clip(np.minimum(x1, cam.width_px) - np.maximum(x0, 0), 0, None)
            iy = np.clip(np.minimum(y1, cam.height_px) - np.maximum(y0, 0), 0, None)
            centre = face.face_to_site(np.array([[tr.u_m, tr.v_m, 0.0]]))
            facing = (cams[rows] - centre) @ face.T_site_face[:3, 2] > 0.3
            hidden = _occluded(cams[rows], centre, [tr.face_id], occluders)[:, 0]
            seen = front & facing & ~hidden
            ok = seen & (ix * iy / area >= min_in_view)
            full = seen & (ix * iy / area >= whole)
            out[k] = replace(tr, n_expected=int(ok.sum()), expected_frames=tuple(int(f) for f in frames_arr[rows][full]))
    return out


def pass_ids(t_ns: np.ndarray, positions_m: np.ndarray, *, gap_s: float = 1.0, climb_m: float = 0.25) -> np.ndarray:
    """Which pass each frame belongs to (frames in time order): a new pass after a pause in the
    frames, a change of height, or a turn back along the face."""
    n = len(t_ns)
    out = np.zeros(n, dtype=int)
    if n < 2:
        return out
    step = np.diff(positions_m, axis=0)
    k, z0, direction = 0, positions_m[0, 2], None
    for i in range(1, n):
        horiz = step[i - 1, :2]
        d = horiz / np.linalg.norm(horiz) if np.linalg.norm(horiz) > 1e-3 else None
        turned = direction is not None and d is not None and float(np.dot(d, direction)) < 0
        if (t_ns[i] - t_ns[i - 1]) / 1e9 > gap_s or abs(positions_m[i, 2] - z0) > climb_m or turned:
            k += 1
            z0, direction = positions_m[i, 2], None
        elif d is not None:
            direction = d
        out[i] = k
    return out


def _bins_seen(cam, T_sc, frames: list[int], bins, face_of) -> dict[str, set[int]]:
    """Which frames saw each bin: its centre in view, on the face's front side, within range, not
    behind another rack. Face by face, over the frames whose camera was within ``view_radius_m``
    of the face and against the faces near it (no other frame or face can matter)."""
    cams = T_sc[:, :3, 3]
    r_view = view_radius_m(cam)
    all_faces = list(face_of.values())
    bins_of: dict[str, list] = {}
    for b in bins:
        bins_of.setdefault(b.face_id, []).append(b)
    seeing: dict[str, set[int]] = {b.bin_id: set() for b in bins}
    for fid, fbins in bins_of.items():
        face = face_of[fid]
        rows = np.nonzero(face_distance_m(face, cams) <= r_view + 1e-9)[0]
        if not len(rows):
            continue
        centres = np.array([face.face_to_site(np.array([[*b.center_uv_m, 0.0]]))[0] for b in fbins])
        normals = np.repeat(face.T_site_face[None, :3, 2], len(fbins), axis=0)
        _, vis = _project_sites(cam, T_sc[rows], centres)
        facing = np.einsum("fnk,nk->fn", cams[rows][:, None, :] - centres[None, :, :], normals) > 0.3
        vis &= facing & ~_occluded(cams[rows], centres, [fid] * len(fbins), _faces_near(all_faces, face, r_view))
        for j, b in enumerate(fbins):
            seeing[b.bin_id] = {frames[i] for i in rows[np.nonzero(vis[:, j])[0]]}
    return seeing


WHOLE_INSET = 0.1  # the parts of a bin's front that must be seen: this share of its size inside its edges
CLEAR_ABOVE_M = 0.1  # a bin whose top was never in view is still seen whole if this much seen space tops its tires
V_STEP_M = 0.05  # how finely the bin's height is sampled for the highest part in view


def _bins_seen_whole(cam, T_sc, frames: list[int], bins, face_of, seeing: dict[str, set[int]],
                     tracks_of: dict[str, list]) -> dict[str, bool]:
    """Whether each seen bin was seen whole enough to count: both bottom corners (``WHOLE_INSET``
    inside) in some frame's view, and either its top too or, above every tire track on it, at least
    ``CLEAR_ABOVE_M`` of seen space (tires stand on the shelf: what the passes saw above the
    highest tire was empty). Views from any frame in front of the face and within range, not only
    those that had the bin's centre in view (a tall bin's top is seen from the pass above)."""
    cams = T_sc[:, :3, 3]
    r_view = view_radius_m(cam)
    out: dict[str, bool] = {b.bin_id: True for b in bins}  # a bin not seen at all is not observed: nothing to cap
    by_face: dict[str, list] = {}
    for b in bins:
        if seeing.get(b.bin_id):
            by_face.setdefault(b.face_id, []).append(b)
    for fid, fbins in by_face.items():
        face = face_of[fid]
        rows = np.nonzero(face_distance_m(face, cams) <= r_view + 1e-9)[0]
        rows = rows[face.site_to_face(cams[rows])[:, 2] > 0.3] if len(rows) else rows  # in front of the face
        if not len(rows):
            out.update({b.bin_id: False for b in fbins})
            continue
        for b in fbins:
            du, dv = WHOLE_INSET * (b.u1_m - b.u0_m), WHOLE_INSET * (b.v1_m - b.v0_m)
            vs = np.arange(b.v0_m + dv, b.v1_m - dv + 1e-9, V_STEP_M)
            pts = [[b.u0_m + du, b.v0_m + dv, 0.0], [b.u1_m - du, b.v0_m + dv, 0.0]]
            pts += [[(b.u0_m + b.u1_m) / 2, v, 0.0] for v in vs]
            _, vis = _project_sites(cam, T_sc[rows], face.face_to_site(np.array(pts)))
            seen = vis.any(axis=0)
            if not seen[:2].all():
                out[b.bin_id] = False
                continue
            seen_v = vs[seen[2:]]
            top_seen = float(seen_v.max()) if len(seen_v) else b.v0_m
            tops = [t.v1_m for t in tracks_of.get(b.bin_id, [])]
            out[b.bin_id] = bool(top_seen >= vs[-1] - 1e-9 or max(tops, default=b.v0_m) <= top_seen - CLEAR_ABOVE_M)
    return out


def _occluded(origins: np.ndarray, points: np.ndarray, point_face: list[str], faces) -> np.ndarray:
    """(F,N): the segment from camera f to point n crosses another face (racks are opaque)."""
    occ = np.zeros((len(origins), len(points)), dtype=bool)
    for face in faces:
        o = face.site_to_face(origins)  # (F,3) u v n
        q = face.site_to_face(points)  # (N,3)
        dn = q[None, :, 2] - o[:, None, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -o[:, None, 2] / dn
        u = o[:, None, 0] + t * (q[None, :, 0] - o[:, None, 0])
        v = o[:, None, 1] + t * (q[None, :, 1] - o[:, None, 1])
        hit = (t > 1e-6) & (t < 1 - 1e-3) & (u >= 0) & (u <= face.length_m) & (v >= 0) & (v <= face.height_m)
        own = np.array([fid == face.face_id for fid in point_face])
        occ |= hit & ~own[None, :]
    return occ


def noise_seen_by_detector(noise_sigma: float, image_wh: tuple[int, int], hw: tuple[int, int] | None = None) -> float:
    """The noise left in the detector's input: a frame is shrunk to it by area
    (``perception.detector.interpolation``), which averages k x k pixels and divides independent
    pixel noise by k. A 1080p frame shrunk to 640 x 360 keeps a third of its ``noise_sigma``
    (``perception.quality``); a frame no larger than the input keeps all of it. ``hw``: the
    network's input (default: the shipped one)."""
    from perception.train import INFER_HW

    h_in, w_in = hw or INFER_HW
    w, h = image_wh
    if w <= 0 or h <= 0:
        return noise_sigma
    return noise_sigma * min(1.0, h_in / h, w_in / w)


def fuse_detections(
    *,
    site,
    cam: CameraModel,
    T_body_camera: np.ndarray | dict[int, np.ndarray],
    traj: Trajectory,
    frame_t_ns: dict[int, int],
    detections: list[FrameDetections],
    max_gap_ns: int = 200_000_000,
    clock_offset_s: float | None = None,
    min_support: float = 0.5,
    min_overlap: float = 0.35,
    border_px: float = 20.0,
    smooth_s: float = 1.0,
    drift_px: float = 25.0,
    gtin_to_sku: dict[str, str] | None = None,
    section_of: dict[str, float] | None = None,
    diameter_of: dict[str, float] | None = None,
    drift_correction: bool = True,
    drift_solver=correct_drift,
    confidence_model: ConfidenceModel | None | str = "shipped",
    count_model: ConfidenceModel | None | str = "shipped",
    only_faces: frozenset[str] | set[str] | None = None,
    register_passes: bool = True,
) -> FusionResult:
    """``detections``: one ``FrameDetections`` per frame (``perception.io.read_detections``).

    ``T_body_camera``: the camera's extrinsic, or frame_idx -> the extrinsic of the camera that took
    the frame, where the vehicle carries several (a left and right pair: ``Bundle.frame_T_body_camera``).

    ``drift_solver``: ``correct_drift`` or a drop-in with its signature (``rackscan bench drift``
    passes the Open3D pose graph); the clock offset is always profiled on ``correct_drift``.
    ``confidence_model``: the shipped ``confidence_model.json`` by default, None for the
    hand-made score (both capped by the confidence rules: ``slam_fusion.core.confidence``).
    ``count_model``: the shipped ``count_model.json`` by default (the count alone right, SKU aside),
    None for no count confidence of its own.
    ``section_of``: SKU -> the tire's section width in metres (the catalogue's sizes:
    ``slam_fusion.tools.io.read_sections``), for counting stacks of lying tires by their height.
    ``diameter_of``: SKU -> the tire's outer diameter in metres (the same sizes), for joining a
    standing tire boxed as two pieces one on the other (``join_standing_halves``).
    ``only_faces``: count only these faces' bins (the clock offset and the drift are still solved
    on every frame given). Their observations are those the whole fusion gives them: tire boxes are
    still cast against every face, and only frames whose camera was farther than ``MAX_RANGE_M``
    from all of these faces, which cannot see them, are left out of the counting (live counting
    fuses the faces whose last pass was just flown, not the whole flight so far).
    ``register_passes``: move each pass along the faces it saw so that the tires it had in common
    with other passes line up (``slam_fusion.core.passes``), after the drift correction."""
    if isinstance(confidence_model, str):
        confidence_model = shipped_model()
    if isinstance(count_model, str):
        count_model = shipped_count_model()
    traj_unsmoothed = traj
    traj = traj.smoothed(smooth_s)
    frames = sorted(frame_t_ns)
    t = np.array([frame_t_ns[f] for f in frames], dtype=np.int64)
    faces = [f for f in (site.face(b.face_id) for b in site.bins)]
    faces = list({f.face_id: f for f in faces}.values())
    labels = {b.bin_id: site.face(b.face_id).face_to_site(np.array([[*b.label.center_uv_m, 0.0]]))[0]
              for b in site.bins}
    # location labels read: (frame, content, centre in the image)
    lab_rows = [(d.frame_idx, str(d.codes.text[j]), d.codes.centers_xy[j]) for d in detections if d.frame_idx in frame_t_ns
                for j in range(len(d.codes)) if d.codes.text[j] in labels]
    fidx = {f: i for i, f in enumerate(frames)}

    lab_t = np.array([frame_t_ns[f] for f, _, _ in lab_rows], dtype=np.int64)
    lab_uv = np.array([uv for _, _, uv in lab_rows], dtype=float).reshape(-1, 2)
    lab_p = np.array([labels[text] for _, text, _ in lab_rows]).reshape(-1, 3)
    if isinstance(T_body_camera, dict):  # per frame: several cameras on the vehicle
        missing = [f for f in frames if f not in T_body_camera]
        if missing:
            raise ValueError(f"T_body_camera: no extrinsic for frame {missing[0]}")
        T_bc_frames = np.stack([T_body_camera[f] for f in frames]) if frames else np.zeros((0, 4, 4))
        T_bc_labels = np.stack([T_body_camera[f] for f, _, _ in lab_rows]) if lab_rows else np.zeros((0, 4, 4))
    else:
        T_bc_frames = T_bc_labels = np.asarray(T_body_camera, dtype=np.float64)

    def project_at(t_ns, p_site):  # the label sightings' times, in lab_rows' order
        T_sc = traj.poses_at(t_ns) @ T_bc_labels
        R, c = T_sc[:, :3, :3], T_sc[:, :3, 3]
        p_cam = np.einsum("nji,nj->ni", R, np.asarray(p_site) - c)  # R^T (p - c)
        uv, front = cam.project(p_cam)
        return np.where(front[:, None], uv, np.inf)

    # The clock offset is solved on the unsmoothed trajectory: its noise averages out over many
    # label sightings, while a smoothing window lags where the vehicle accelerates, which would
    # read as a clock error. Positions are then smoothed and drift-corrected with that offset.
    traj_smooth = traj
    estimate = clock_offset_s is None
    have_labels = len(lab_rows) >= 3

    def estimate_offset() -> float:  # against the current ``traj`` (project_at reads it)
        return estimate_offset_s(lambda o: label_reprojection_cost(o, lab_t, lab_uv, lab_p, project_at))

    def drift_fix(base: Trajectory, off_s: float, solve=drift_solver):
        off = int(round(off_s * 1e9))
        T_lab = base.poses_at(lab_t + off) @ T_bc_labels
        rays = np.einsum("nij,nj->ni", T_lab[:, :3, :3], cam.pixel_rays(lab_uv))
        return solve(base, lab_t + off, (T_lab[:, :3, 3], rays), lab_p)

    if estimate:
        traj = traj_unsmoothed
        clock_offset_s = estimate_offset() if have_labels else 0.0
        traj = traj_smooth
    before_m = after_m = 0.0
    warnings: list[str] = []
    clock_unsure = False  # the labels could not tell the clock from drift
    if drift_correction and have_labels:
        if estimate:
            # Drift and a clock error both move labels, and the drift correction can bend to absorb
            # a clock error, so its residuals cannot tell them apart; what bending costs can. The
            # offset is the one whose drift solve reaches the lowest objective (the objective
            # profiled over the offset), searched +-0.5 s around the plain estimate, which drift
            # biases. Only when the labels say the positions are off (median reprojection error
            # above ``drift_px``), and only when some label was seen on passes flown both ways:
            # otherwise a clock error is a drift the correction absorbs at no cost (measured: a
            # flat profile, and the count fell to 61% when it was trusted anyway).
            lab_t_tel = lab_t + int(round(clock_offset_s * 1e9))  # the sightings on the telemetry clock
            uv0 = project_at(lab_t_tel, lab_p)  # on the smoothed trajectory
            if float(np.median(np.linalg.norm(uv0 - lab_uv, axis=1))) > drift_px:
                if _seen_both_ways(traj_smooth, lab_t_tel, lab_rows, site):
                    clock_offset_s = estimate_offset_s(
                        lambda o: drift_fix(traj_smooth, o, correct_drift).objective,
                        centre_s=clock_offset_s, span_s=0.5, step_s=0.05)
                else:
                    clock_unsure = True
        dc = drift_fix(traj_smooth, clock_offset_s)
        traj = dc.trajectory
        before_m, after_m = float(np.median(dc.residual_before_m)), float(np.median(dc.residual_after_m))
    off_ns = int(round(clock_offset_s * 1e9))
    T_sb = associate(t + off_ns, traj, max_gap_ns)
    T_sc = T_sb @ T_bc_frames
    # which frames saw each bin: its centre in view, on the face's front side, within range
    bins = list(site.bins)
    face_of = {f.face_id: f for f in faces}
    counted_dets = detections
    if only_faces is not None:
        unknown = set(only_faces) - set(face_of)
        if unknown:
            raise ValueError(f"only_faces: {sorted(unknown)} not faces of the site")
        bins = [b for b in bins if b.face_id in only_faces]
        cams = T_sc[:, :3, 3]
        near = np.zeros(len(frames), dtype=bool)
        for fid in only_faces:
            near |= face_distance_m(face_of[fid], cams) <= MAX_RANGE_M + 1e-9
        close = {frames[i] for i in np.nonzero(near)[0]}
        counted_dets = [d for d in detections if d.frame_idx in close]
    pass_of = dict(zip(frames, pass_ids(t, T_sc[:, :3, 3]).tolist()))
    sightings = _tire_sightings(cam, T_sc, fidx, counted_dets, faces, border_px=border_px)
    shifts: tuple[PassShift, ...] = ()
    if register_passes:
        shifts = tuple(pass_shifts_u(sightings, pass_of, min_overlap=min_overlap))
        # the camera clock from the tires, where it was estimated (passes flown back and forth
        # apart by twice the speed times its error); then the passes lined up on what is left
        err_s = clock_error_s(shifts, _pass_speeds_u(traj, t + off_ns, pass_of, frames, face_of, shifts)) \
            if estimate else None
        if err_s is not None and abs(err_s) <= MAX_CLOCK_FIX_S:
            off_fixed_ns = int(round((clock_offset_s - err_s) * 1e9))
            try:
                T_sc = associate(t + off_fixed_ns, traj, max_gap_ns) @ T_bc_frames
            except FusionError:  # the frames moved off the telemetry's ends: keep the labels' clock
                pass
            else:
                clock_offset_s, off_ns, clock_unsure = clock_offset_s - err_s, off_fixed_ns, False
                sightings = _tire_sightings(cam, T_sc, fidx, counted_dets, faces, border_px=border_px)
                shifts = tuple(pass_shifts_u(sightings, pass_of, min_overlap=min_overlap))
        moved = _pass_translations(pass_corrections_u(shifts), face_of, pass_of, frames, t)
        if moved is not None:
            T_sc = T_sc.copy()
            T_sc[:, :3, 3] += moved
            sightings = _tire_sightings(cam, T_sc, fidx, counted_dets, faces, border_px=border_px)
    if clock_unsure:
        warnings.append(
            f"camera clock offset {clock_offset_s * 1000:+.1f} ms from the labels alone, not told apart "
            "from drift: no location label was seen on passes flown both ways, nor enough tires; pass "
            "--clock-offset-s if it is known")
    residuals: dict[str, list[float]] = {}
    if len(lab_rows):
        uv = project_at(lab_t + off_ns, lab_p)
        for (_, text, _), e in zip(lab_rows, np.linalg.norm(uv - lab_uv, axis=1)):
            residuals.setdefault(text, []).append(float(e))
    seeing = _bins_seen(cam, T_sc, frames, bins, face_of)
    if only_faces is not None:
        sightings = [s for s in sightings if s.face_id in only_faces]
    tracks = group_sightings(sightings, min_overlap=min_overlap)
    tracks = _with_expected_views(cam, T_sc, tracks, face_of, frames)
    # the noise judged is the one the detector saw: its input is the frame shrunk by area
    quality = {d.frame_idx: (d.quality.brightness, noise_seen_by_detector(d.quality.noise_sigma, d.image_wh),
                             d.quality.sharpness)
               for d in detections if d.quality is not None}
    per_bin: dict[str, list[TireTrack]] = {}
    for tr in tracks:
        b = face_of[tr.face_id].point_to_bin(tr.u_m, tr.v_m)
        if b is not None:
            per_bin.setdefault(b.bin_id, []).append(tr)
            seeing[b.bin_id].update(tr.frames)
    labels_in: dict[str, list[ItemLabel]] = {}
    reads = _label_reads(cam, T_sc, fidx, counted_dets, faces)
    if only_faces is not None:
        reads = [r for r in reads if r.face_id in only_faces]
    for lab in group_label_reads(reads):
        b = face_of[lab.face_id].point_to_bin(lab.u_m, lab.v_m)
        if b is not None:
            labels_in.setdefault(b.bin_id, []).append(lab)
    lookup = _sku_lookup(gtin_to_sku)
    whole = _bins_seen_whole(cam, T_sc, frames, bins, face_of, seeing, per_bin)
    obs = tuple(
        fuse_bin(b.bin_id, per_bin.get(b.bin_id, []), seeing[b.bin_id], min_support=min_support,
                 gtin_to_sku=lookup, labels=labels_in.get(b.bin_id, []), pass_of=pass_of, frame_quality=quality,
                 model=confidence_model, section_of=section_of, diameter_of=diameter_of, seen_whole=whole[b.bin_id],
                 count_model=count_model, stack_bases_v_m=(b.v0_m, b.v0_m + PALLET_HEIGHT_M))
        for b in bins if seeing[b.bin_id]
    )
    return FusionResult(observations=obs, coverage={b.bin_id: len(seeing[b.bin_id]) for b in bins},
                        clock_offset_s=float(clock_offset_s),
                        label_residuals_px={k: float(np.median(v)) for k, v in residuals.items()},
                        drift_residual_before_m=before_m, drift_residual_after_m=after_m, trajectory=traj,
                        tracks=_export_tracks(per_bin, {o.bin_id: o.counted for o in obs}), warnings=tuple(warnings),
                        pass_shifts=shifts)


def _pass_speeds_u(traj: Trajectory, t_ns: np.ndarray, pass_of: dict[int, int], frames: list[int], face_of,
                   shifts, half_step_ns: int = 50_000_000) -> dict[tuple[str, int], float]:
    """(face, pass) -> the vehicle's mean speed along the face's u axis over the pass's frames (at
    ``t_ns``, on the telemetry clock), m/s, for the passes of ``shifts``."""
    p1, _ = traj.interpolate(t_ns + half_step_ns)
    p0, _ = traj.interpolate(t_ns - half_step_ns)
    v = (p1 - p0) / (2 * half_step_ns / 1e9)
    pid = np.array([pass_of[f] for f in frames])
    out = {}
    for fid, p in {(s.face_id, q) for s in shifts for q in (s.a, s.b)}:
        out[fid, p] = float((v[pid == p] @ face_of[fid].T_site_face[:3, 0]).mean())
    return out


def _pass_translations(corrections: dict[tuple[str, int], float], face_of, pass_of: dict[int, int],
                       frames: list[int], t_ns: np.ndarray) -> np.ndarray | None:
    """(F,3) site translations of the frames' cameras that move each pass's boxes along its faces
    by the correction registered for it (the mean over its faces of the correction along each face's
    u axis); frames of a pass with none (a climb, a turn) take it from the passes before and after,
    in time. None where no pass moves."""
    if not corrections:
        return None
    per_pass: dict[int, list[np.ndarray]] = {}
    for (fid, p), c in corrections.items():
        per_pass.setdefault(p, []).append(c * face_of[fid].T_site_face[:3, 0])
    move = {p: np.mean(v, axis=0) for p, v in per_pass.items()}
    pid = np.array([pass_of[f] for f in frames])
    known = np.array([p in move for p in pid])
    out = np.zeros((len(frames), 3))
    out[known] = np.array([move[p] for p in pid[known]])
    if (~known).any():
        for k in range(3):
            out[~known, k] = np.interp(t_ns[~known], t_ns[known], out[known, k])
    return out


def _seen_both_ways(traj: Trajectory, t_ns: np.ndarray, lab_rows: list[tuple], site, min_speed_m_s: float = 0.2) -> bool:
    """Whether some location label was read while the camera moved along its face one way and
    again while it moved the other way (the sightings at ``t_ns``, on ``traj``)."""
    h = 50_000_000
    v = (traj.poses_at(t_ns + h)[:, :3, 3] - traj.poses_at(t_ns - h)[:, :3, 3]) / (2 * h / 1e9)
    along = {b.bin_id: site.face(b.face_id).T_site_face[:3, 0] for b in site.bins}
    ways: dict[str, set[int]] = {}
    for (_, text, _), vel in zip(lab_rows, v):
        s = float(np.dot(vel, along[text]))
        if abs(s) >= min_speed_m_s:
            ways.setdefault(text, set()).add(1 if s > 0 else -1)
    return any(len(w) == 2 for w in ways.values())


def _export_tracks(per_bin: dict[str, list[TireTrack]], counted_in: dict[str, tuple[TireTrack, ...]]
                   ) -> tuple[tuple[str, TireTrack, bool], ...]:
    """(bin_id, track, counted) for every track, plus the tires counted that no single track is: a
    tire joined from pieces, one known from its label alone. ``counted_in``: bin -> the boxes
    ``fuse_bin`` counted, after every rule (a row copy, a box within a stack or a piece of a whole
    tire, left out there, is not counted here either)."""
    out = []
    for bid, trs in sorted(per_bin.items()):
        counted = counted_in.get(bid, ())
        out += [(bid, tr, tr in counted) for tr in trs]
        out += [(bid, tr, True) for tr in counted if tr not in trs]
    return tuple(out)
