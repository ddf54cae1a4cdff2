"""Light as physics: how bright the rack faces are (lux) sets the exposure, the exposure and the
speed set the motion blur, and the gain that makes up for the light sets the noise.

The camera file says how much light a correct exposure needs (``sensitivity_lux_s``: lux times
seconds at gain 1), the shortest exposure it uses (``exposure_s``, set for the fastest flight), the
most gain it may add (``max_gain``), its noise at gain 1 (``noise_sigma``, grey levels) and any
light it carries (``light_lux_at_1m``, falling off with the square of the distance). At gain ``g``
the noise is ``noise_sigma * sqrt(0.5 g^2 + 0.5 g)``: half read noise, amplified by the gain, half
shot noise, which grows with the square root of the gain for a fixed brightness.

:func:`plan_exposure` is the exposure program the planner flies with. Slower flight costs time;
gain costs noise, which costs reads and detections; so as the light falls it
1. lengthens the exposure at gain 1 (a bright store keeps the shortest exposure and turns the
   gain below 1) until the speed that keeps the blur within ``max_blur_px`` is ``cruise_speed_m_s``;
2. then raises the gain up to ``preferred_gain``;
3. then lengthens the exposure again, slowing down to ``min_speed_m_s``;
4. then raises the gain up to ``max_gain``; past that the picture stays dark.

The store is too dark to count (``verdict == "too_dark"``) when the picture would be more than
``MAX_UNDER_STOPS`` under, or noisier than ``MAX_NOISE_SIGMA`` grey levels: the planner refuses it
(or the camera needs lights). ``lux_needed`` says how much light would do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from warehouse.camera import CameraSpec

PREFERRED_GAIN = 4.0  # 12 dB: above this the program would rather fly slower
CRUISE_SPEED_M_S = 0.8  # the exposure grows at gain 1 until the pass speed is down to this
MIN_GAIN = 0.1
MAX_UNDER_STOPS = 1.0  # darker than this at the slowest speed and highest gain: too dark to count
MAX_NOISE_SIGMA = 18.0  # grey levels: noisier than this, reads and detections fail (chosen on dev worlds)


def lux_at_face(camera: CameraSpec, lux: float, distance_m: float) -> float:
    """The store's light plus the camera's own lights at ``distance_m``."""
    return float(lux) + float(camera.light_lux_at_1m) / max(distance_m, 0.3) ** 2


def auto_gain(camera: CameraSpec, lux: float, exposure_s: float) -> float:
    """The gain that makes ``lux`` at ``exposure_s`` a correct picture, within the camera's range."""
    need = camera.sensitivity_lux_s / max(lux * exposure_s, 1e-12)
    return float(min(max(need, MIN_GAIN), camera.max_gain))


def brightness(camera: CameraSpec, lux: float, exposure_s: float, gain: float) -> float:
    """Picture level against a correct exposure: 1 right, < 1 under, > 1 clipped highlights."""
    return float(lux * exposure_s * gain / camera.sensitivity_lux_s)


def noise_sigma_at_gain(base_sigma: float, gain: float) -> float:
    g = max(float(gain), 0.0)
    return float(base_sigma * math.sqrt(0.5 * g * g + 0.5 * g))


@dataclass(frozen=True, kw_only=True)
class ExposurePlan:
    lux: float  # light at the faces, the camera's lights included
    exposure_s: float
    gain: float
    brightness: float  # picture level against a correct exposure: 1 right, 0.5 one stop under
    noise_sigma: float  # grey levels at that gain
    speed_m_s: float  # the fastest pass speed that keeps the blur within max_blur_px
    verdict: str  # "ok"; "dark" (gain above preferred or under-exposed, still countable); "too_dark"

    @property
    def under_stops(self) -> float:
        return max(0.0, -math.log2(max(self.brightness, 1e-6)))

    def describe(self) -> str:
        return (f"{self.lux:.0f} lux: exposure {self.exposure_s * 1000:.2f} ms, gain {self.gain:.2f}x "
                f"({20 * math.log10(max(self.gain, 1e-6)):+.0f} dB, noise {self.noise_sigma:.1f} grey levels), "
                f"pass speed {self.speed_m_s:.2f} m/s" + (f", {self.under_stops:.1f} stops under" if self.brightness < 0.99 else ""))


def plan_exposure(camera: CameraSpec, lux: float, distance_m: float, *, min_speed_m_s: float = 0.3,
                  max_speed_m_s: float = 1.5, cruise_speed_m_s: float = CRUISE_SPEED_M_S,
                  preferred_gain: float = PREFERRED_GAIN) -> ExposurePlan:
    """The exposure, gain and pass speed for ``lux`` at ``distance_m`` from the face (see the module)."""
    L = lux_at_face(camera, lux, distance_m)
    def speed_for(e: float) -> float:
        return min(max_speed_m_s, camera.max_speed_m_s(distance_m, e))

    def e_for(speed: float) -> float:  # the longest exposure that keeps the blur at that speed
        return min(camera.max_exposure_s, max(camera.exposure_s, camera.max_speed_m_s(distance_m, 1.0) / speed))

    need = camera.sensitivity_lux_s / max(L, 1e-9)  # exposure x gain for a correct picture
    cruise = max(min(cruise_speed_m_s, max_speed_m_s), min_speed_m_s)
    e_cruise, e_slow = e_for(cruise), e_for(min_speed_m_s)
    if need <= e_cruise:  # 1. gain 1 (or less), exposure as needed
        e = max(camera.exposure_s, need)
    elif need <= e_cruise * preferred_gain:  # 2. cruise exposure, gain up to preferred
        e = e_cruise
    elif need <= e_slow * preferred_gain:  # 3. preferred gain, slower
        e = need / preferred_gain
    else:  # 4. slowest, gain up to the camera's most (and under-exposed beyond it)
        e = e_slow
    gain = auto_gain(camera, L, e)
    level = min(1.0, brightness(camera, L, e, gain))
    noise = noise_sigma_at_gain(camera.noise_sigma, gain)
    under = -math.log2(max(level, 1e-6))
    if under > MAX_UNDER_STOPS or noise > MAX_NOISE_SIGMA:
        verdict = "too_dark"
    elif level < 0.99 or gain > preferred_gain + 1e-9:
        verdict = "dark"
    else:
        verdict = "ok"
    return ExposurePlan(lux=L, exposure_s=e, gain=gain, brightness=level, noise_sigma=noise,
                        speed_m_s=speed_for(e), verdict=verdict)


def lux_needed(camera: CameraSpec, distance_m: float, *, min_speed_m_s: float = 0.3) -> float:
    """The least store light (lux) that :func:`plan_exposure` does not call too dark."""
    lo, hi = 1e-3, 1e6
    for _ in range(60):  # the verdict only improves with light: bisect on a log scale
        mid = math.sqrt(lo * hi)
        if plan_exposure(camera, mid, distance_m, min_speed_m_s=min_speed_m_s).verdict == "too_dark":
            lo = mid
        else:
            hi = mid
    return hi
