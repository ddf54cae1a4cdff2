"""Per-frame perception: detect tires and labels, read codes on label crops (upscaled when small)
and on the whole frame for labels the detector missed, track boxes across frames (ByteTrack)."""

from __future__ import annotations

from typing import Callable, Iterable

import cv2
import numpy as np

from perception.decode import decode
from perception.detections import CLASS_IDS, Codes, FrameDetections
from perception.detector import Detector
from perception.quality import frame_quality

LABELS = (CLASS_IDS["location_label"], CLASS_IDS["product_label"])


def read_codes(image: np.ndarray, det: FrameDetections, *, whole_frame: bool = True, pad_frac: float = 0.25) -> Codes:
    """Codes on each label crop (det_index set), then on the whole frame for what no crop read."""
    sym, text, corners, dec, idx = [], [], [], [], []
    h, w = image.shape[:2]
    for i in np.flatnonzero(np.isin(det.class_id, LABELS)):
        x1, y1, x2, y2 = det.xyxy[i]
        px, py = (x2 - x1) * pad_frac, (y2 - y1) * pad_frac
        cx1, cy1 = int(max(0, x1 - px)), int(max(0, y1 - py))
        cx2, cy2 = int(min(w, x2 + px)), int(min(h, y2 + py))
        if cx2 - cx1 < 4 or cy2 - cy1 < 4:
            continue
        for r in decode(image[cy1:cy2, cx1:cx2]):
            sym.append(r.symbology), text.append(r.text), dec.append(r.decoder), idx.append(int(i))
            corners.append(r.corners + [cx1, cy1])
    if whole_frame:
        # labels the detector missed: one plain pass, at half resolution above 1280 px wide (a
        # quarter of the pixels; location labels are sized to read at twice the planned GSD), for
        # upright codes only (half the time again: 28 -> 13 ms a 4K frame on these cores, with the
        # same 758 reads on 60 frames of the default 4K flight; labels are read every way on crops)
        seen = set(text)
        scale = 0.5 if w > 1280 else 1.0
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1.0 else image
        for r in decode(small, enhance=False, second_opinion=False, upright=True):
            if r.text not in seen:
                sym.append(r.symbology), text.append(r.text), dec.append(r.decoder), idx.append(-1)
                corners.append(r.corners / scale)
    if not text:
        return Codes()
    return Codes(np.array(sym, object), np.array(text, object), np.array(corners, np.float32).reshape(-1, 4, 2),
                 np.array(dec, object), np.array(idx, np.int32))


class Tracker:
    """ByteTrack over FrameDetections (Roboflow's ``trackers``, which needs no PyTorch); thresholds as
    Ultralytics' ByteTrack defaults had them: 0.25 to start a track, IoU 0.2 to continue one, a track
    kept 3 s unseen."""

    def __init__(self, frame_rate: float = 5.0) -> None:
        from trackers import ByteTrackTracker

        fps = max(frame_rate, 1.0)
        self._bt = ByteTrackTracker(lost_track_buffer=int(fps * 3), frame_rate=fps, track_activation_threshold=0.25,
                                    high_conf_det_threshold=0.25, minimum_consecutive_frames=1, minimum_iou_threshold=0.2)

    def update(self, det: FrameDetections) -> FrameDetections:
        import supervision as sv
        from dataclasses import replace

        tid = np.full(len(det), -1, np.int32)
        if len(det):
            out = self._bt.update(sv.Detections(xyxy=det.xyxy.astype(float), confidence=det.confidence.astype(float),
                                                class_id=det.class_id.astype(int), data={"index": np.arange(len(det))}))
            tid[np.asarray(out.data["index"], int)] = np.asarray(out.tracker_id, np.int32)
        else:
            self._bt.update(sv.Detections.empty())
        return replace(det, track_id=tid)


def default_decode_threads(device: str, cores: int | None = None) -> int:
    """Threads reading codes beside the detector, by default, on ``cores`` (default: this
    machine's). On a GPU every core. On the CPU half of them (at least one): the detector uses
    every core only while it infers, and code reading, frame decoding and the quality measures run
    on one core each, so on 2 cores one reader thread beside the detector took the default 4K
    flight from 6.0 to 8.3 frames per second (the same detections and codes)."""
    import os

    cores = cores or os.cpu_count() or 1
    return cores if device != "cpu" else max(1, cores // 2)


def run_perception(frames: Iterable[tuple[int, int, np.ndarray]], detector: Detector, *, track: bool = True,
                   frame_rate: float = 5.0, whole_frame_codes: bool = True, decode_threads: int = 0,
                   on_frame: Callable[[FrameDetections, np.ndarray], None] | None = None) -> list[FrameDetections]:
    """``frames``: (frame_idx, t_ns, image) in time order. Returns one FrameDetections per frame.

    ``decode_threads`` > 0 reads codes on that many threads (zxing-cpp, pyzbar and OpenCV release the
    GIL) while the detector goes on with the next batches: what keeps a GPU detector fed. Results,
    tracking and ``on_frame`` stay in frame order either way."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    tracker = Tracker(frame_rate) if track else None
    out: list[FrameDetections] = []
    buf: list[tuple[int, int, np.ndarray]] = []
    pending: deque = deque()
    pool = ThreadPoolExecutor(decode_threads, thread_name_prefix="read-codes") if decode_threads > 0 else None
    cv2_threads = cv2.getNumThreads()
    if decode_threads > 1:  # the frames are the parallelism: OpenCV's own pool would oversubscribe the cores
        cv2.setNumThreads(1)
    max_pending = 2 * decode_threads + detector.batch

    def per_frame(img, d):
        return read_codes(img, d, whole_frame=whole_frame_codes), frame_quality(img)

    def finish_one():
        img, d, work = pending.popleft()
        codes, quality = work.result() if pool is not None else work
        d = replace(d, codes=codes, quality=quality)
        if tracker is not None:
            d = tracker.update(d)
        out.append(d)
        if on_frame:
            on_frame(d, img)

    def flush():
        dets = detector.detect([b[2] for b in buf], frame_idx=[b[0] for b in buf], t_ns=[b[1] for b in buf])
        for (_, _, img), d in zip(buf, dets):
            pending.append((img, d, pool.submit(per_frame, img, d) if pool is not None else per_frame(img, d)))
        buf.clear()
        while len(pending) > (max_pending if pool is not None else 0):
            finish_one()

    try:
        for item in frames:
            buf.append(item)
            if len(buf) >= detector.batch:
                flush()
        if buf:
            flush()
        while pending:
            finish_one()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        cv2.setNumThreads(cv2_threads)
    return out
