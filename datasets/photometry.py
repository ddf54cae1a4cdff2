"""What light and the sensor do to a rendered frame: brightness from the store's lux and the
camera's exposure program, uneven light (gradients, pools of light along the aisle, vignetting),
colour casts the white balance cannot remove, hard shadows, specular hot spots, mains flicker,
and sensor noise that grows with the gain.

Scenarios without ``lighting.lux`` keep the older model: a gain drawn between ``gain_min`` and
``gain_max`` per frame, one of eight gradient maps, and noise of ``sensor.noise_sigma``.

With ``lux``, a frame is exposed as the camera would (``warehouse.light``): the exposure is the
flight's (the planner's exposure program fixes it; motion blur follows from it), and the gain
follows the light the frame sees, up to ``max_gain``; what the gain cannot make up stays dark.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from warehouse.light import auto_gain, brightness, noise_sigma_at_gain

FIXTURE_SPACING_M = 6.0  # high-bay lamps along an aisle
NOISE_TILE_PAD = 64


def kelvin_to_bgr(k: float) -> np.ndarray:
    """Relative B, G, R of a black body at ``k`` kelvin (Tanner Helland's fit), green = 1."""
    t = k / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
    rgb = np.clip([r, g, b], 1.0, 255.0)
    return np.array([rgb[2], rgb[1], rgb[0]]) / rgb[1]


def white_balance_cast(light_k: float, balance_k: float) -> np.ndarray:
    """The per-channel (BGR) cast left when a camera balanced for ``balance_k`` sees ``light_k``."""
    cast = kelvin_to_bgr(light_k) / kelvin_to_bgr(balance_k)
    return cast / cast.mean()


class Photometry:
    """Light and sensor for one world's camera; ``apply`` turns a rendered frame into a capture."""

    def __init__(self, spec, camera, width_px: int, height_px: int) -> None:
        self.lighting, self.sensor, self.camera = spec.lighting, spec.sensor, camera
        self.W, self.H = width_px, height_px
        ls = self.lighting
        ys, xs = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
        self._xn, self._yn = (xs - width_px / 2) / (width_px / 2), (ys - height_px / 2) / (height_px / 2)
        vig = 1 - ls.vignetting * np.clip((self._xn**2 + self._yn**2) / 2, 0, 1) ** 1.2
        self._maps = []
        for a in np.linspace(0, 2 * np.pi, 8, endpoint=False):
            grad = 1 + ls.gradient * (np.cos(a) * self._xn + np.sin(a) * self._yn) / 2
            m = np.clip(vig * grad * 200, 0, 255).astype(np.uint8)  # 200 == gain 1.0
            self._maps.append(cv2.merge([m, m, m]))
        rng = np.random.default_rng(spec.seed + 1)
        sigma = self.sensor.noise_sigma
        self._noise = None
        if sigma > 0:  # the legacy tile: grey 128 +- sigma, added with an offset of -128
            self._noise = np.clip(rng.normal(128, sigma, (height_px + NOISE_TILE_PAD, width_px + NOISE_TILE_PAD, 3)),
                                  0, 255).astype(np.uint8)
        self._unit_noise = None
        if ls.lux is not None:
            self._unit_noise = rng.standard_normal((height_px + NOISE_TILE_PAD, width_px + NOISE_TILE_PAD, 3)).astype(np.float32)
            self._cast = white_balance_cast(ls.colour_temp_k, ls.white_balance_k).astype(np.float32)
            self._cast2 = (white_balance_cast(ls.mixed_k, ls.white_balance_k).astype(np.float32)
                           if ls.mixed_k is not None else None)

    # -- the store's light at a camera position -----------------------------------------------
    def lux_at(self, x_site_m: float) -> float:
        ls = self.lighting
        return float(ls.lux * (1 + ls.lux_variation * math.cos(2 * math.pi * x_site_m / FIXTURE_SPACING_M)))


    # -- a capture: expose (light), then the caller blurs the motion, then add_noise -------------
    def expose(self, frame: np.ndarray, rng: np.random.Generator, *, x_site_m: float = 0.0,
               exposure_s: float | None = None) -> tuple[np.ndarray, float]:
        """The frame as the sensor collects it (before noise), and the gain that was used."""
        if self.lighting.lux is None:
            gain = rng.uniform(self.lighting.gain_min, self.lighting.gain_max)
            light = self._maps[int(rng.integers(len(self._maps)))]
            return cv2.multiply(frame, light, scale=gain / 200.0), 1.0
        ls, cam = self.lighting, self.camera
        e = exposure_s or cam.exposure_s
        lux = self.lux_at(x_site_m)
        if ls.flicker > 0 and e < 0.01:  # a short exposure samples the 100 Hz ripple of the mains
            lux *= 1 + ls.flicker * 0.5 * (1 - e / 0.01) * math.sin(rng.uniform(0, 2 * math.pi))
        gain = auto_gain(cam, lux, e)  # auto-exposure at the flight's exposure
        level = brightness(cam, lux, e, gain)
        mult = self._maps[int(rng.integers(len(self._maps)))].astype(np.float32) * (level / 200.0)
        mult = mult * self._colour(rng)
        if ls.flicker > 0 and e < 0.01:  # rolling-shutter banding
            period = rng.uniform(180, 420)
            depth = ls.flicker * 0.35 * (1 - e / 0.01)
            band = 1 + depth * np.sin(2 * np.pi * np.arange(self.H, dtype=np.float32) / period + rng.uniform(0, 2 * np.pi))
            mult *= band[:, None, None]
        if rng.random() < ls.shadows:
            mult *= self._shadow(rng)[:, :, None]
        out = frame.astype(np.float32) * mult
        if rng.random() < ls.hot_spots:
            out += self._hot_spots(rng)[:, :, None]
        return np.clip(out, 0, 255).astype(np.uint8), gain

    def add_noise(self, frame: np.ndarray, rng: np.random.Generator, gain: float) -> np.ndarray:
        if self.lighting.lux is None:
            if self._noise is None:
                return frame
            oy, ox = int(rng.integers(0, NOISE_TILE_PAD)), int(rng.integers(0, NOISE_TILE_PAD))
            return cv2.addWeighted(frame, 1.0, self._noise[oy : oy + self.H, ox : ox + self.W], 1.0, -128.0)
        sigma = noise_sigma_at_gain(self.camera.noise_sigma, gain)  # the camera file's noise, as the planner reckons it
        if sigma <= 0:
            return frame
        oy, ox = int(rng.integers(0, NOISE_TILE_PAD)), int(rng.integers(0, NOISE_TILE_PAD))
        out = frame.astype(np.float32) + self._unit_noise[oy : oy + self.H, ox : ox + self.W] * sigma
        return np.clip(out, 0, 255).astype(np.uint8)

    def _colour(self, rng) -> np.ndarray:
        if self._cast2 is None:
            return self._cast[None, None, :]
        a = rng.uniform(0, 2 * np.pi)
        w = np.clip(0.5 + 0.5 * (np.cos(a) * self._xn + np.sin(a) * self._yn), 0, 1)[:, :, None]
        return self._cast[None, None, :] * (1 - w) + self._cast2[None, None, :] * w

    def _shadow(self, rng) -> np.ndarray:
        """Hard shadows of the structure: one to three slanted bands, 35-65% of the light."""
        s = 4
        m = np.ones((self.H // s, self.W // s), np.float32)
        for _ in range(int(rng.integers(1, 4))):
            y0 = rng.uniform(-0.2, 1.0) * m.shape[0]
            h = rng.uniform(0.05, 0.35) * m.shape[0]
            slope = rng.uniform(-0.4, 0.4) * m.shape[0]
            poly = np.array([[0, y0], [m.shape[1], y0 + slope], [m.shape[1], y0 + slope + h], [0, y0 + h]], np.int32)
            cv2.fillPoly(m, [poly], float(rng.uniform(0.35, 0.65)))
        m = cv2.GaussianBlur(m, (0, 0), 0.7)
        return cv2.resize(m, (self.W, self.H), interpolation=cv2.INTER_LINEAR)

    def _hot_spots(self, rng) -> np.ndarray:
        """Specular reflections of the lamps: bright blobs that saturate."""
        out = np.zeros((self.H, self.W), np.float32)
        for _ in range(int(rng.integers(1, 3))):
            cx, cy = rng.uniform(0, self.W), rng.uniform(0, self.H)
            r = rng.uniform(30, 140)
            x0, x1 = int(max(0, cx - 3 * r)), int(min(self.W, cx + 3 * r))
            y0, y1 = int(max(0, cy - 3 * r)), int(min(self.H, cy + 3 * r))
            if x1 <= x0 or y1 <= y0:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            out[y0:y1, x0:x1] += rng.uniform(90, 220) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        return out
