"""Frame loading that never crashes: corrupt, truncated, empty, grey-scale and 16-bit frames.

`load_frame` returns an 8-bit 3-channel BGR image, or a `FrameSkip` naming the file and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, kw_only=True)
class FrameSkip:
    path: str
    reason: str

    def message(self) -> str:
        return f"{self.path}: skipped ({self.reason})"


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Convert grey, BGRA and 16-bit/float images to 8-bit BGR (uint16 scaled by its full range)."""
    img = np.asarray(image)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype.kind == "f":
        img = np.clip(np.nan_to_num(img) * (255.0 if img.max(initial=0) <= 1.0 else 1.0), 0, 255)
        img = img.astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


def load_frame(path: str | Path) -> np.ndarray | FrameSkip:
    import cv2

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        return FrameSkip(path=str(p), reason=f"cannot read: {exc.strerror or exc}")
    if not data:
        return FrameSkip(path=str(p), reason="empty file")
    buf = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        return FrameSkip(path=str(p), reason="not a decodable image (corrupt or truncated)")
    if img.ndim not in (2, 3):
        return FrameSkip(path=str(p), reason=f"unexpected image shape {img.shape}")
    return to_bgr8(img)
