"""``FrameDetections``: one typed batch per frame, passed through every stage (struct of arrays).

Modelled on supervision's ``Detections``: parallel arrays validated in ``__post_init__``,
filtering by boolean masks or index arrays, adapters for model outputs kept at the edges.
Decoded codes are a second struct of arrays in the same batch (a code may or may not belong to a
detected label box: ``det_index`` is -1 when it was found on the whole frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from perception.errors import PerceptionError
from perception.quality import FrameQuality

CLASS_NAMES: tuple[str, ...] = ("tire", "location_label", "product_label")
CLASS_IDS = {n: i for i, n in enumerate(CLASS_NAMES)}


def _check(name: str, arr: np.ndarray, shape: tuple, dtype) -> np.ndarray:
    a = np.asarray(arr, dtype=dtype)
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise PerceptionError(f"FrameDetections.{name} must have shape {want} {np.dtype(dtype).name}, got {a.shape}")
    return a


GS1_FIELDS = ("gtin", "serial", "sscc", "lot")


def gs1_fields(text: str, symbology: str) -> tuple[str, str, str, str]:
    """(GTIN-14, serial, SSCC, lot) of a read: from a GS1 element string, or the GTIN of an EAN-13 /
    UPC-A; "" where the read has none (and for a GS1 string with a bad check digit)."""
    from perception.gs1 import parse_element_string

    f = (parse_element_string(text) or {}) if str(text).startswith(("(", "]C1", "]Q3", "]d2")) or "\x1d" in str(text) else {}
    gtin = f.get("gtin", "")
    if not gtin and symbology in ("ean13", "upca") and str(text).isdigit():
        gtin = str(text).zfill(14)
    return gtin, f.get("serial", ""), f.get("sscc", ""), f.get("lot", "")


@dataclass(frozen=True)
class Codes:
    """Decoded barcodes/QR codes of one frame (struct of arrays, M entries), with the GS1 fields
    of each read (GTIN-14, serial, SSCC, lot; "" when none) parsed once, when the codes are made."""

    symbology: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))  # str
    text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))  # str
    corners: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 2), np.float32))  # px
    decoder: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))  # zxing|pyzbar
    det_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # -1: whole frame
    gtin: np.ndarray | None = None  # parsed from text when not given
    serial: np.ndarray | None = None
    sscc: np.ndarray | None = None
    lot: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.text)
        object.__setattr__(self, "symbology", _check("codes.symbology", self.symbology, (n,), object))
        object.__setattr__(self, "text", _check("codes.text", self.text, (n,), object))
        object.__setattr__(self, "corners", _check("codes.corners", self.corners, (n, 4, 2), np.float32))
        object.__setattr__(self, "decoder", _check("codes.decoder", self.decoder, (n,), object))
        object.__setattr__(self, "det_index", _check("codes.det_index", self.det_index, (n,), np.int32))
        if any(getattr(self, f) is None for f in GS1_FIELDS):
            parsed = [gs1_fields(t, s) for t, s in zip(self.text, self.symbology)]
            for k, f in enumerate(GS1_FIELDS):
                if getattr(self, f) is None:
                    object.__setattr__(self, f, np.array([p[k] for p in parsed], dtype=object))
        for f in GS1_FIELDS:
            object.__setattr__(self, f, _check(f"codes.{f}", getattr(self, f), (n,), object))

    def __len__(self) -> int:
        return len(self.text)

    def __getitem__(self, idx) -> "Codes":
        return Codes(self.symbology[idx], self.text[idx], self.corners[idx], self.decoder[idx], self.det_index[idx],
                     *(getattr(self, f)[idx] for f in GS1_FIELDS))

    @property
    def centers_xy(self) -> np.ndarray:
        """(M, 2) centre of each read's bounding box, pixels."""
        if not len(self):
            return np.zeros((0, 2), np.float32)
        return (self.corners.min(axis=1) + self.corners.max(axis=1)) / 2

    @classmethod
    def concat(cls, items: list["Codes"]) -> "Codes":
        items = [c for c in items if len(c)]
        if not items:
            return cls()
        return cls(
            np.concatenate([c.symbology for c in items]), np.concatenate([c.text for c in items]),
            np.concatenate([c.corners for c in items]), np.concatenate([c.decoder for c in items]),
            np.concatenate([c.det_index for c in items]),
            *(np.concatenate([getattr(c, f) for c in items]) for f in GS1_FIELDS),
        )


@dataclass(frozen=True)
class FrameDetections:
    """Detections of one frame: ``xyxy (N,4) float32`` pixels, ``confidence (N,)``,
    ``class_id (N,) int32`` (see ``CLASS_NAMES``), ``track_id (N,) int32`` (-1 untracked), decoded
    ``codes``, the frame's ``frame_idx`` and capture time ``t_ns``, and how good the frame was
    (``quality``: brightness, noise, sharpness; ``perception.quality``), when measured."""

    frame_idx: int
    t_ns: int
    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    class_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    track_id: np.ndarray | None = None
    codes: Codes = field(default_factory=Codes)
    image_wh: tuple[int, int] = (0, 0)
    quality: FrameQuality | None = None

    def __post_init__(self) -> None:
        xyxy = _check("xyxy", self.xyxy, (None, 4), np.float32)
        n = len(xyxy)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", _check("confidence", self.confidence, (n,), np.float32))
        object.__setattr__(self, "class_id", _check("class_id", self.class_id, (n,), np.int32))
        tid = np.full(n, -1, np.int32) if self.track_id is None else self.track_id
        object.__setattr__(self, "track_id", _check("track_id", tid, (n,), np.int32))
        if n and (np.any(xyxy[:, 2] < xyxy[:, 0]) or np.any(xyxy[:, 3] < xyxy[:, 1])):
            raise PerceptionError("FrameDetections.xyxy rows must be x1 <= x2 and y1 <= y2 (pixels)")
        if len(self.codes) and np.any(self.codes.det_index >= n):
            raise PerceptionError(f"FrameDetections.codes.det_index must be -1 or < {n} (the number of boxes)")

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, idx) -> "FrameDetections":
        """Select boxes by boolean mask or index array; codes attached to dropped boxes get -1."""
        idx = np.asarray(idx)
        keep = np.arange(len(self))[idx] if idx.dtype != bool else np.flatnonzero(idx)
        remap = np.full(len(self) + 1, -1, np.int32)
        remap[keep] = np.arange(len(keep), dtype=np.int32)
        codes = replace(self.codes, det_index=remap[self.codes.det_index]) if len(self.codes) else self.codes
        return replace(
            self, xyxy=self.xyxy[keep], confidence=self.confidence[keep], class_id=self.class_id[keep],
            track_id=self.track_id[keep], codes=codes,
        )

    def of_class(self, name: str) -> "FrameDetections":
        return self[self.class_id == CLASS_IDS[name]]

    @property
    def centers_xy(self) -> np.ndarray:
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2], axis=1)


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection areas of xyxy boxes ``a`` (N, 4) and ``b`` (M, 4)."""
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    return iw * ih


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of xyxy boxes."""
    inter = box_intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
