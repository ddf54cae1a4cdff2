"""The tire/label detector at inference: ONNX Runtime (default; CUDA/TensorRT execution providers
when present) or Ultralytics/PyTorch, batched, returning one ``FrameDetections`` per image.

The model's raw output is adapted here, at the edge: ``(B, 4 + n_classes, n_anchors)`` centre
boxes in the letterboxed input -> per-class NMS -> boxes in the original image's pixels. On the
CPU that happens in NumPy/OpenCV around the forward pass; with PyTorch on CUDA the whole batch
stays on the GPU (letterbox, fp16 network replayed from a CUDA graph, batched NMS) and only the
kept boxes come back. Frames of any kind (grey, BGRA, 16-bit, float) are made 8-bit BGR first.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from perception.detections import CLASS_NAMES, FrameDetections
from perception.errors import PerceptionError
from perception.frames import to_bgr8
from perception.train import DEFAULT_WEIGHTS, INFER_HW


def input_colour(weights: Path) -> str:
    """What the weights were trained on: "gray" or "bgr" (``input_colour`` in the
    ``train_config.yaml`` shipped beside them; weights without one were trained on colour)."""
    import yaml

    cfg = Path(weights).parent / "train_config.yaml"
    if not cfg.exists():
        return "bgr"
    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PerceptionError(f"{cfg}: malformed YAML ({getattr(exc, 'problem', exc)}); expected the train_config.yaml "
                              "rackscan train writes") from None
    value = str(data.get("input_colour", "bgr")) if isinstance(data, dict) else "bgr"
    if value not in ("gray", "bgr"):
        raise PerceptionError(f"{cfg}: input_colour: {value!r}; expected 'gray' or 'bgr'")
    return value


@dataclass(frozen=True)
class Letterbox:
    scale: float
    pad_x: float
    pad_y: float


def _fit(h: int, w: int, hw: tuple[int, int]) -> tuple[int, int, int, int, Letterbox]:
    """(new width, new height, top pad, left pad, Letterbox) of an ``h`` x ``w`` image fitted into ``hw``."""
    s = min(hw[0] / h, hw[1] / w)
    nw, nh = int(round(w * s)), int(round(h * s))
    px, py = (hw[1] - nw) / 2, (hw[0] - nh) / 2
    top, left = int(round(py - 0.1)), int(round(px - 0.1))
    return nw, nh, top, left, Letterbox(s, left, top)


def interpolation(h: int, w: int, nh: int, nw: int) -> int:
    """How a frame is resized to the network's input: by area when it shrinks, as every training image
    was (``perception.trainset``), bilinear when it grows.

    Bilinear at a third of the size (1080p to 640 x 360) reads one pixel in nine and keeps the
    sensor's noise at full strength, where the training images had it averaged away: on the dim dev
    world 10138 (18 lux) the detector found 91 of 192 wholly seen tires that way, and 188 by area.
    """
    return cv2.INTER_AREA if nw < w or nh < h else cv2.INTER_LINEAR


def letterbox(image: np.ndarray, hw: tuple[int, int] = INFER_HW) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio (``interpolation``) and pad (grey 114) to ``hw``, as Ultralytics does."""
    h, w = image.shape[:2]
    nw, nh, top, left, lb = _fit(h, w, hw)
    img = cv2.resize(image, (nw, nh), interpolation=interpolation(h, w, nh, nw)) if (nw, nh) != (w, h) else image
    out = cv2.copyMakeBorder(img, top, hw[0] - nh - top, left, hw[1] - nw - left, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return out, lb


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


COPY_THREADS = 4
_COPY_POOL = None


def _copy_pool():
    global _COPY_POOL
    if _COPY_POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _COPY_POOL = ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="frame-upload")
    return _COPY_POOL


class Detector:
    """``Detector(weights, backend="onnx"|"torch", device="cpu"|"cuda")``; ``detect(images,
    frame_idx=, t_ns=) -> list[FrameDetections]`` in batches of ``batch``."""

    def __init__(self, weights: str | Path | None = None, *, backend: str = "onnx", device: str = "cpu",
                 conf: float = 0.25, iou: float = 0.6, batch: int = 1, half: bool = False,
                 hw: tuple[int, int] = INFER_HW, threads: int | None = None, cuda_graph: bool = True) -> None:
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
        self.gray = input_colour(w) == "gray"
        self.conf, self.iou, self.batch, self.half, self.hw = conf, iou, max(1, batch), half, hw
        self.cuda_graph = cuda_graph
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
            from warehouse.extras import require

            require("ultralytics", "--backend torch", PerceptionError)
            from ultralytics import YOLO

            self._model = YOLO(str(w))
            self.providers = [f"torch:{device}"]

    def _torch_model(self):
        """The Ultralytics model on its device (conv+batch-norm fused, fp16 when ``half`` on CUDA), once."""
        import torch

        if getattr(self, "_net", None) is None:
            dev = torch.device("cuda" if self.device != "cpu" and torch.cuda.is_available() else "cpu")
            m = self._model.model
            m = m.fuse(verbose=False) if hasattr(m, "fuse") else m
            m = m.to(dev).eval()
            if self.half and dev.type == "cuda":
                m = m.half()
                torch.backends.cudnn.benchmark = True
            self._net, self._dev = m, dev
        return self._net, self._dev

    def _raw(self, batch: np.ndarray) -> np.ndarray:
        if self.backend == "onnx":
            return self._sess.run(None, {self._input: batch})[0]
        import torch

        m, dev = self._torch_model()
        x = torch.from_numpy(batch).to(dev)
        x = x.half() if self.half and dev.type == "cuda" else x
        with torch.inference_mode():
            y = m(x)
        y = y[0] if isinstance(y, (list, tuple)) else y
        return y.float().cpu().numpy()

    @property
    def on_gpu(self) -> bool:
        """Whether frames are letterboxed, inferred and NMS-filtered on the GPU (torch on CUDA)."""
        if self.backend != "torch" or self.device == "cpu":
            return False
        import torch

        return torch.cuda.is_available()

    @property
    def takes_grey(self) -> bool:
        """Whether 8-bit grey frames go in as they are: grey weights on the host path. A caller
        reading JPEG frames can then decode the grey plane only (half the time at 4K)."""
        return self.gray and not self.on_gpu

    def _forward(self, m, x):
        """``m(x)``'s raw output; on CUDA replayed from a captured CUDA graph (one launch instead of
        hundreds, which is what limits small batches), captured on the first full batch."""
        import torch

        if x.device.type != "cuda" or not self.cuda_graph:
            y = m(x)
            return y[0] if isinstance(y, (list, tuple)) else y
        g = self.__dict__.get("_graph")
        if g is None or g[1].shape != x.shape:
            static_x = x.clone()
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # cuDNN tuning and the head's anchors happen outside the capture
                    m(static_x)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph):
                    y = m(static_x)
            except RuntimeError as e:  # a model that cannot be captured still runs, launch by launch
                warnings.warn(f"{self.weights}: CUDA graph capture failed ({e}); running eagerly", stacklevel=2)
                self.cuda_graph = False
                return self._forward(m, x)
            g = self._graph = (graph, static_x, y[0] if isinstance(y, (list, tuple)) else y)
        graph, static_x, static_y = g
        static_x.copy_(x)
        graph.replay()
        return static_y

    def _upload(self, slot: int, img: np.ndarray, dev):
        """The frame as a uint8 tensor on ``dev``; to CUDA through a page-locked buffer per batch slot
        (an asynchronous copy at full bus speed; the batch's results coming back to the host
        synchronise the stream before a slot is written again)."""
        import torch

        if dev.type != "cuda":
            return torch.from_numpy(np.ascontiguousarray(img))
        pinned = self.__dict__.setdefault("_pinned", {})
        buf = pinned.get(slot)
        if buf is None or buf.shape != img.shape:
            with torch.inference_mode(False):  # a normal tensor: written in place on every batch
                buf = pinned[slot] = torch.empty(img.shape, dtype=torch.uint8).pin_memory()
        # a row-sliced memcpy on a few threads (NumPy releases the GIL): one thread moves a 1080p frame
        # at DRAM speed only, and torch's own copy wakes its OpenMP pool, whose threads then spin on
        # the cores the code readers need
        dst, n = buf.numpy(), len(img)
        rows = [slice(n * j // COPY_THREADS, n * (j + 1) // COPY_THREADS) for j in range(COPY_THREADS)]
        list(_copy_pool().map(lambda r: np.copyto(dst[r], img[r]), rows))
        return buf.to(dev, non_blocking=True)

    def _detect_on_device(self, chunk: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Letterbox, infer and NMS a batch on the model's device; only the kept boxes come back.

        The same letterbox geometry and thresholds as the NumPy path (``letterbox`` + ``postprocess``);
        the resize is by area (shrinking) or bilinear (growing) on the device, as ``interpolation`` picks
        on the host, so scores differ from it by float rounding only.
        """
        import torch
        import torch.nn.functional as F
        import torchvision

        m, dev = self._torch_model()
        dtype = torch.float16 if self.half and dev.type == "cuda" else torch.float32
        H, W = self.hw
        # a fixed batch shape (short chunks padded with grey) keeps cuDNN's tuned kernels valid
        x = torch.full((max(self.batch, len(chunk)), 3, H, W), 114 / 255, dtype=dtype, device=dev)
        lbs, sizes = [], []
        with torch.inference_mode():
            for k, img in enumerate(chunk):
                h, w = img.shape[:2]
                nw, nh, top, left, lb = _fit(h, w, self.hw)
                t = self._upload(k, img, dev)
                t = t.permute(2, 0, 1).flip(0)[None].float()  # BGR HWC -> RGB NCHW
                if nw < w or nh < h:
                    t = F.interpolate(t, size=(nh, nw), mode="area")
                elif (nw, nh) != (w, h):
                    t = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=False)
                t = t[0].round()
                if self.gray:  # as cv2.COLOR_BGR2GRAY weighs R, G, B
                    t = (0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2]).round().expand(3, -1, -1)
                x[k, :, top:top + nh, left:left + nw] = (t / 255).to(dtype)
                lbs.append(lb)
                sizes.append((w, h))
            y = self._forward(m, x)[: len(chunk)].float().transpose(1, 2)  # (B, A, 4+nc)
            score, cls = y[..., 4:].max(dim=2)
            img_k, anchor = torch.nonzero(score >= self.conf, as_tuple=True)
            c = y[img_k, anchor, :4]
            xyxy = torch.cat([c[:, :2] - c[:, 2:] / 2, c[:, :2] + c[:, 2:] / 2], dim=1)
            sc, cl = score[img_k, anchor], cls[img_k, anchor]
            keep = torchvision.ops.batched_nms(xyxy, sc, img_k * (y.shape[2] - 4) + cl, self.iou)  # per image and class
            xyxy, sc, cl, img_k = (v[keep].cpu().numpy() for v in (xyxy, sc, cl, img_k))
        out = []
        for k, (lb, (w, h)) in enumerate(zip(lbs, sizes)):
            sel = np.flatnonzero(img_k == k)[:300]  # batched_nms keeps score order
            b = (xyxy[sel] - [lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y]) / lb.scale
            out.append((np.clip(b, 0, [w, h, w, h]).astype(np.float32), sc[sel].astype(np.float32), cl[sel].astype(np.int32)))
        return out

    def detect(self, images: list[np.ndarray], *, frame_idx: list[int] | None = None,
               t_ns: list[int] | None = None) -> list[FrameDetections]:
        frame_idx = frame_idx if frame_idx is not None else list(range(len(images)))
        t_ns = t_ns if t_ns is not None else [0] * len(images)
        out: list[FrameDetections] = []
        on_gpu = self.on_gpu
        for s in range(0, len(images), self.batch):
            # BGRA, 16-bit, float (and grey for colour weights or the device path): 8-bit BGR. Grey
            # 8-bit frames for grey weights stay grey: letterboxed as they are, a third of the work
            chunk = [img if img.dtype == np.uint8 and (img.ndim == 3 and img.shape[2] == 3
                                                        or img.ndim == 2 and self.takes_grey) else to_bgr8(img)
                     for img in images[s : s + self.batch]]
            sizes = [(img.shape[1], img.shape[0]) for img in chunk]
            if on_gpu:
                found = self._detect_on_device(chunk)
            else:
                found = self._detect_on_host(chunk)
            for k, (xyxy, sc, cls) in enumerate(found):
                out.append(FrameDetections(frame_idx=int(frame_idx[s + k]), t_ns=int(t_ns[s + k]), xyxy=xyxy,
                                           confidence=sc, class_id=cls, image_wh=sizes[k]))
        return out

    def _detect_on_host(self, chunk: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Letterbox and NMS in NumPy/OpenCV around the backend's forward pass."""
        lbs, tensors, sizes = [], [], []
        for img in chunk:
            x, lb = letterbox(img, self.hw)
            if self.gray:  # on the small letterboxed image: cheap
                g = x if x.ndim == 2 else cv2.cvtColor(x, cv2.COLOR_BGR2GRAY)
                x = cv2.merge([g, g, g])
            tensors.append(x[:, :, ::-1].transpose(2, 0, 1))
            lbs.append(lb)
            sizes.append((img.shape[1], img.shape[0]))
        batch = np.ascontiguousarray(np.stack(tensors)).astype(np.float32) / 255.0
        return postprocess(self._raw(batch), lbs, sizes, conf=self.conf, iou=self.iou)


__all__ = ["Detector", "letterbox", "postprocess", "CLASS_NAMES"]
