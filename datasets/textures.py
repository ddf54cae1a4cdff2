"""Procedural textures of the synthetic warehouse: tire tread, cartons, stretch film, and the wear
of labels (torn corners, faded print). All are drawn from a seed made of text, so the same object
looks the same in every process and every run."""

from __future__ import annotations

import zlib

import cv2
import numpy as np

from datasets.tires import parse_size

CARTON_BGR = ((64, 118, 168), (78, 132, 178), (52, 96, 140), (150, 150, 150), (60, 60, 200))  # kraft, kraft, dark kraft, grey, red tote


def stable_hash(text: str) -> int:
    """The same number in every process (Python's ``hash`` of a str is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def tire_texture(size_code: str, lying: bool, variant: int, px_per_mm: float = 1.5) -> np.ndarray:
    """Procedural tread seen from the front (standing: width across, circumference down)."""
    size = parse_size(size_code)
    w_px = int(size.width_mm * px_per_mm)
    d_px = int(size.outer_diameter_mm * px_per_mm)
    rng = np.random.default_rng(stable_hash(f"{size_code}:{variant}"))  # hash() differs per process
    tex = np.full((d_px, w_px), 34, np.float32)
    # circumferential grooves
    for f in (0.22, 0.42, 0.62, 0.8)[: 3 + variant % 2]:
        x = int(f * w_px)
        tex[:, max(0, x - 4) : x + 4] = 14
    # lateral sipes / blocks, repeated along the circumference
    pitch = int(26 * px_per_mm)
    ys = np.arange(d_px)
    for k in range(0, d_px, pitch):
        off = int(pitch * 0.4) if variant % 2 else 0
        for seg in range(4):
            x0 = int(seg * w_px / 4)
            x1 = int((seg + 1) * w_px / 4)
            y0 = k + (off if seg % 2 else 0)
            cv2.line(tex, (x0, y0), (x1, y0 + int(pitch * 0.35)), 18, 3)
    tex += rng.normal(0, 3, tex.shape).astype(np.float32)
    # curvature: the tread turns away at the top and bottom of the tire
    c = (ys - d_px / 2) / (d_px / 2)
    shade = np.sqrt(np.clip(1 - c**2, 0.02, 1))[:, None] * 0.9 + 0.1
    # shoulders darker
    xs = (np.arange(w_px) - w_px / 2) / (w_px / 2)
    shade = shade * (1 - 0.35 * np.abs(xs) ** 4)[None, :]
    tex = np.clip(tex * shade * 1.4, 0, 255).astype(np.uint8)
    if lying:
        tex = np.ascontiguousarray(tex.T)
    return cv2.cvtColor(tex, cv2.COLOR_GRAY2BGR)


def carton_texture(w_mm: float, h_mm: float, variant: int, px_per_mm: float = 0.5) -> np.ndarray:
    """A shipping carton or tote from the front: flat colour with grain, a tape seam, printed marks
    and sometimes a white shipping label with lines of text (no barcode: it is not stock we count)."""
    rng = np.random.default_rng(stable_hash(f"carton:{variant}"))
    w, h = max(8, int(w_mm * px_per_mm)), max(8, int(h_mm * px_per_mm))
    base = np.array(CARTON_BGR[variant % len(CARTON_BGR)], np.float32)
    tex = np.ones((h, w, 3), np.float32) * base
    tex += rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    tex *= np.linspace(1.08, 0.9, h, dtype=np.float32)[:, None, None]  # lit from above
    if variant % 5 < 3:  # kraft cartons: a tape seam down the middle and the flap line
        x = w // 2 + int(rng.integers(-w // 10, w // 10 + 1))
        tex[:, max(0, x - w // 20) : x + w // 20] *= 1.12
        cv2.line(tex, (0, h // 6), (w, h // 6), (30, 60, 90), max(1, h // 80))
    for _ in range(int(rng.integers(1, 4))):  # printed marks: arrows, logo blocks
        x0, y0 = int(rng.uniform(0.05, 0.6) * w), int(rng.uniform(0.3, 0.8) * h)
        cv2.rectangle(tex, (x0, y0), (x0 + int(rng.uniform(0.1, 0.3) * w), y0 + int(rng.uniform(0.04, 0.1) * h)),
                      (25, 25, 25), -1)
    if rng.random() < 0.6:  # a shipping label
        lw, lh = int(0.3 * w), int(0.22 * h)
        x0, y0 = int(rng.uniform(0.1, 0.6) * w), int(rng.uniform(0.3, 0.7) * h)
        cv2.rectangle(tex, (x0, y0), (x0 + lw, y0 + lh), (235, 238, 240), -1)
        for k in range(4):
            yy = y0 + int((k + 1) * lh / 5)
            cv2.line(tex, (x0 + lw // 10, yy), (x0 + int(lw * rng.uniform(0.5, 0.9)), yy), (30, 30, 30), max(1, lh // 25))
    return np.clip(tex, 0, 255).astype(np.uint8)


def film_texture(w_mm: float, h_mm: float, variant: int, px_per_mm: float = 0.5) -> np.ndarray:
    """Stretch film around a pallet: BGRA, mostly clear, milky where it is wound thick, with
    diagonal winding streaks and a few bright creases."""
    rng = np.random.default_rng(stable_hash(f"film:{variant}"))
    w, h = max(8, int(w_mm * px_per_mm)), max(8, int(h_mm * px_per_mm))
    alpha = np.full((h, w), 0.22, np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(6):
        k, ph = rng.uniform(0.02, 0.06), rng.uniform(0, 2 * np.pi)
        alpha += 0.08 * np.sin(k * (xs * rng.uniform(0.2, 0.6) + ys) + ph)
    alpha[: h // 8] += 0.15  # wound thicker at the top and the bottom
    alpha[-h // 8 :] += 0.15
    colour = np.full((h, w, 3), 225, np.float32)
    for _ in range(int(rng.integers(3, 8))):
        x0 = int(rng.uniform(0, w))
        cv2.line(colour, (x0, 0), (x0 + int(rng.uniform(-0.3, 0.3) * w), h), (255, 255, 255), max(1, w // 120))
        cv2.line(alpha, (x0, 0), (x0 + int(rng.uniform(-0.3, 0.3) * w), h), 0.6, max(1, w // 120))
    return np.dstack([np.clip(colour, 0, 255), np.clip(alpha, 0.05, 0.7) * 255]).astype(np.uint8)


def worn_label(img: np.ndarray, damage: str, key: str) -> np.ndarray:
    """A product label torn (a corner or an edge strip gone, showing the tire) or faded (washed-out
    print, yellowed paper)."""
    rng = np.random.default_rng(stable_hash(f"wear:{key}"))
    out = img.copy()
    h, w = out.shape[:2]
    if damage == "torn":
        a, b = rng.uniform(0.25, 0.6), rng.uniform(0.25, 0.6)
        corner = int(rng.integers(4))
        pts = {0: [(0, 0), (int(a * w), 0), (0, int(b * h))], 1: [(w, 0), (w - int(a * w), 0), (w, int(b * h))],
               2: [(0, h), (int(a * w), h), (0, h - int(b * h))], 3: [(w, h), (w - int(a * w), h), (w, h - int(b * h))]}[corner]
        cv2.fillPoly(out, [np.array(pts, np.int32)], (30, 30, 30) if out.ndim == 2 else (30, 30, 30))
    elif damage == "faded":
        f = rng.uniform(0.35, 0.6)  # contrast left
        paper = np.array([200, 225, 235], np.float32) if out.ndim == 3 else np.float32(225)
        out = np.clip(out.astype(np.float32) * f + paper * (1 - f), 0, 255).astype(np.uint8)
    return out
