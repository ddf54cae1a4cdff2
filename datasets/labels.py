"""Label artwork made by real encoders (segno for QR, python-barcode for EAN-13 and GS1-128).

Every symbol is rasterised as a binary module grid at an integer number of pixels per module,
so the physical module size of the printed label is exact (``px_per_mm`` of the texture).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def gs1_check_digit(digits: str) -> str:
    """GS1 mod-10 check digit for GTIN-8/12/13/14 and SSCC bodies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def qr_modules(text: str, *, quiet: int = 2, error: str = "m") -> np.ndarray:
    import segno

    q = segno.make(text, error=error, micro=False, boost_error=False)
    m = np.array([list(row) for row in q.matrix], dtype=np.uint8)
    return np.pad(m, quiet)


def linear_modules(kind: str, code: str, *, quiet: int = 10) -> np.ndarray:
    """(1, N) bar pattern (1 = bar) for 'ean13' (12 or 13 digits) or 'gs1-128' (AI digits)."""
    import barcode
    from barcode import Gs1_128

    if kind == "ean13":
        pattern = barcode.get("ean13", code[:12]).build()[0]
    elif kind == "gs1-128":
        pattern = Gs1_128(code).build()[0]
    else:
        raise ValueError(f"unknown linear symbology {kind!r}")
    bits = np.array([c == "1" for c in pattern], dtype=np.uint8)
    return np.pad(bits, quiet)[None, :]


@dataclass(frozen=True)
class LabelArt:
    """A label texture: grey uint8 (255 paper, 0 ink) and its scale."""

    image: np.ndarray
    px_per_mm: float

    @property
    def size_mm(self) -> tuple[float, float]:
        h, w = self.image.shape[:2]
        return w / self.px_per_mm, h / self.px_per_mm


def _blit_modules(canvas: np.ndarray, mods: np.ndarray, x: int, y: int, k: int, bar_h: int | None = None) -> tuple[int, int]:
    block = np.kron(mods, np.ones((k, k), np.uint8)) if bar_h is None else np.repeat(np.kron(mods, np.ones((1, k), np.uint8)), bar_h, axis=0)
    h, w = block.shape
    canvas[y : y + h, x : x + w][block.astype(bool)] = 0
    return w, h


def location_label_art(text: str, *, module_mm: float, px_per_module: int = 4, quiet: int = 2) -> LabelArt:
    mods = qr_modules(text, quiet=quiet)
    k = px_per_module
    canvas = np.full((mods.shape[0] * k, mods.shape[1] * k), 255, np.uint8)
    _blit_modules(canvas, mods, 0, 0, k)
    return LabelArt(canvas, px_per_mm=k / module_mm)


def product_label_art(qr_text: str, gtin13: str, *, qr_module_mm: float, ean_module_mm: float,
                      px_per_ean_module: int = 3) -> LabelArt:
    """A tire label: QR (GS1 element string) above an EAN-13 of the GTIN, on white paper."""
    px_per_mm = px_per_ean_module / ean_module_mm
    kq = max(1, int(round(qr_module_mm * px_per_mm)))
    qr = qr_modules(qr_text, quiet=2, error="l")
    ean = linear_modules("ean13", gtin13, quiet=9)
    qr_w = qr.shape[1] * kq
    ean_w = ean.shape[1] * px_per_ean_module
    bar_h = int(round(22 * px_per_mm))
    margin = int(round(4 * px_per_mm))
    w = max(qr_w, ean_w) + 2 * margin
    h = margin + qr.shape[0] * kq + margin + bar_h + margin
    canvas = np.full((h, w), 255, np.uint8)
    _blit_modules(canvas, qr, (w - qr_w) // 2, margin, kq)
    _blit_modules(canvas, ean, (w - ean_w) // 2, margin + qr.shape[0] * kq + margin, px_per_ean_module, bar_h=bar_h)
    return LabelArt(canvas, px_per_mm=px_per_mm)


def pallet_label_art(sscc18: str, *, module_mm: float, px_per_module: int = 3) -> LabelArt:
    mods = linear_modules("gs1-128", "00" + sscc18, quiet=10)
    k = px_per_module
    px_per_mm = k / module_mm
    bar_h = int(round(32 * px_per_mm))
    margin = int(round(3 * px_per_mm))
    canvas = np.full((bar_h + 2 * margin, mods.shape[1] * k), 255, np.uint8)
    _blit_modules(canvas, mods, 0, margin, k, bar_h=bar_h)
    return LabelArt(canvas, px_per_mm=px_per_mm)
