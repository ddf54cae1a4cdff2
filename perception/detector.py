"""The tire/label detector at inference: ONNX Runtime (default; CUDA/TensorRT execution providers
when present) or Ultralytics/PyTorch, batched, returning one ``FrameDetections`` per image.

The model's raw output is adapted here, at the edge: ``(B, 4 + n_classes, n_anchors)`` centre
boxes in the letterboxed input -> per-class NMS -> boxes in the original image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from perception.detections import CLASS_NAMES, FrameDetections
from perception.errors import PerceptionError
from perception.train import DEFAULT_WEIGHTS, INFER_HW


@dataclass(frozen=True)
class Letterbox:
    scale: float
    pad_x: float
    pad_y: float


def letterbox(image: np.ndarray, hw: tuple[int, int] = INFER_HW) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad (grey 114) to ``hw``, as Ultralytics does."""
    h, w = image.shape[:2]
    s = min(hw[0] / h, hw[1] / w)
    nw, nh = int(round(w * s)), int(round(h * s))
    px, py = (hw[1] - nw) / 2, (hw[0] - nh) / 2
    img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else image
    top, left = int(round(py - 0.1)), int(round(px - 0.1))
    out = cv2.copyMakeBorder(img, top, hw[0] - nh - top, left, hw[1] - nw - left, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return out, Letterbox(s, left, top)


def _nms(xyxy: np.ndarray, score: np.ndarray, cls: np.ndarray, iou: float, max_det: int) -> np.ndarray:
    if not len(xyxy):
        return np.zeros(0, np.int64)
    off = cls[:, None].astype(np.float32) * 10_000.0  # per-class NMS by offsetting boxes
    b = xyxy + off
    wh = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    keep = cv2.dnn.NMSBoxes(wh.tolist(), score.tolist(), 0.0, iou, top_k=max_det)
    return np.asarray(keep, np.int64).reshape(-1)


def postprocess(raw: np.ndarray, boxes: list[Letterbox], sizes: list[tuple[int, int]], *, conf: float, iou: float,
                max_det: int = 300) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(xyxy, confidence, class_id) per image from the raw ``(B, 4+nc, A)`` output."""
    out = []
    for k in range(raw.shape[0]):
        p = raw[k].T  # (A, 4+nc)
        scores = p[:, 4:]
        cls = scores.argmax(axis=1)
        sc = scores[np.arange(len(p)), cls]
        m = sc >= conf
        p, cls, sc = p[m], cls[m], sc[m]
        xyxy = np.stack([p[:, 0] - p[:, 2] / 2, p[:, 1] - p[:, 3] / 2, p[:, 0] + p[:, 2] / 2, p[:, 1] + p[:, 3] / 2], axis=1)
        keep = _nms(xyxy, sc, cls, iou, max_det)
        lb, (w, h) = boxes[k], sizes[k]
        xyxy = (xyxy[keep] - [lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y]) / lb.scale
        xyxy = np.clip(xyxy, 0, [w, h, w, h]).astype(np.float32)
        out.append((xyxy, sc[keep].astype(np.float32), cls[keep].astype(np.int32)))
    return out


class Detector:
    """``Detector(weights, backend="onnx"|"torch", device="cpu"|"cuda")``; ``detect(images,
    frame_idx=, t_ns=) -> list[FrameDetections]`` in batches of ``batch``."""

    def __init__(self, weights: str | Path | None = None, *, backend: str = "onnx", device: str = "cpu",
                 conf: float = 0.25, iou: float = 0.6, batch: int = 1, half: bool = False,
                 hw: tuple[int, int] = INFER_HW, threads: int | None = None) -> None:
        if backend not in ("onnx", "torch"):
            raise PerceptionError(f"backend: {backend!r} is not known; expected onnx or torch")
        w = Path(weights) if weights else DEFAULT_WEIGHTS.with_suffix(".onnx" if backend == "onnx" else ".pt")
        if backend == "onnx" and w.suffix != ".onnx":
            w = w.with_suffix(".onnx")
        if backend == "torch" and w.suffix != ".pt":
            w = w.with_suffix(".pt")
        if not w.exists():
            raise PerceptionError(f"{w}: weights not found; expected a {w.suffix} file (perception/weights/ ships them)")
        self.weights, self.backend, self.device = w, backend, device
        self.conf, self.iou, self.batch, self.half, self.hw = conf, iou, max(1, batch), half, hw
        if backend == "onnx":
            import onnxruntime as ort

            so = ort.SessionOptions()
            if threads:
                so.intra_op_num_threads = threads
            avail = ort.get_available_providers()
            providers = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if device != "cpu" and p in avail]
            self._sess = ort.InferenceSession(str(w), so, providers=providers + ["CPUExecutionProvider"])
            self._input = self._sess.get_inputs()[0].name
            self.providers = self._sess.get_providers()
        else:
            from ultralytics import YOLO

            self._model = YOLO(str(w))
            self.providers = [f"torch:{device}"]

    def _raw(self, batch: np.ndarray) -> np.ndarray:
        if self.backend == "onnx":
            return self._sess.run(None, {self._input: batch})[0]
        import torch

        m = self._model.model
        dev = torch.device("cuda" if self.device not in ("cpu",) and torch.cuda.is_available() else "cpu")
        if not getattr(self, "_ready", False):
            m.to(dev).eval()
            if self.half and dev.type == "cuda":
                m.half()
            self._ready = True
        x = torch.from_numpy(batch).to(dev)
        x = x.half() if self.half and dev.type == "cuda" else x
        with torch.inference_mode():
            y = m(x)
        y = y[0] if isinstance(y, (list, tuple)) else y
        return y.float().cpu().numpy()

    def detect(self, images: list[np.ndarray], *, frame_idx: list[int] | None = None,
               t_ns: list[int] | None = None) -> list[FrameDetections]:
        frame_idx = frame_idx if frame_idx is not None else list(range(len(images)))
        t_ns = t_ns if t_ns is not None else [0] * len(images)
        out: list[FrameDetections] = []
        for s in range(0, len(images), self.batch):
            chunk = images[s : s + self.batch]
            lbs, tensors, sizes = [], [], []
            for img in chunk:
                if img.ndim == 2:
                    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
                x, lb = letterbox(img, self.hw)
                tensors.append(x[:, :, ::-1].transpose(2, 0, 1))
                lbs.append(lb)
                sizes.append((img.shape[1], img.shape[0]))
            batch = np.ascontiguousarray(np.stack(tensors)).astype(np.float32) / 255.0
            for k, (xyxy, sc, cls) in enumerate(postprocess(self._raw(batch), lbs, sizes, conf=self.conf, iou=self.iou)):
                out.append(FrameDetections(frame_idx=int(frame_idx[s + k]), t_ns=int(t_ns[s + k]), xyxy=xyxy,
                                           confidence=sc, class_id=cls, image_wh=sizes[k]))
        return out


__all__ = ["Detector", "letterbox", "postprocess", "CLASS_NAMES"]
