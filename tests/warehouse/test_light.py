"""The exposure program: light -> exposure, gain, noise and pass speed; too dark is refused."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.camera import CameraSpec
from warehouse.light import MAX_NOISE_SIGMA, lux_needed, noise_sigma_at_gain, plan_exposure

CAM = CameraSpec()  # 1080p, 1/2000 s shortest, 500 lux at gain 1, gain up to 16, noise 3 at gain 1
D = 1.6


@pytest.mark.parametrize("lux,exposure_ms,gain,speed,verdict", [
    (2000, 0.50, 0.25, 1.50, "ok"),  # bright: shortest exposure, gain turned down
    (500, 0.50, 1.00, 1.50, "ok"),
    (300, 0.83, 1.00, 1.03, "ok"),  # 1. longer exposure at gain 1, slower
    (100, 1.07, 2.33, 0.80, "ok"),  # 2. cruise speed, more gain
    (40, 1.56, 4.00, 0.55, "ok"),  # 3. preferred gain, slower again
    (15, 2.86, 5.83, 0.30, "dark"),  # 4. slowest, gain over the preferred
    (10, 2.86, 8.75, 0.30, "too_dark"),  # noisier than MAX_NOISE_SIGMA
    (5, 2.86, 16.0, 0.30, "too_dark"),
])
def test_exposure_program(lux, exposure_ms, gain, speed, verdict):
    ex = plan_exposure(CAM, lux, D)
    assert ex.exposure_s * 1000 == pytest.approx(exposure_ms, abs=0.01)
    assert ex.gain == pytest.approx(gain, abs=0.01)
    assert ex.speed_m_s == pytest.approx(speed, abs=0.01)
    assert ex.verdict == verdict
    # the blur the planner promises: speed x exposure within max_blur_px of the ground sample distance
    assert ex.speed_m_s * ex.exposure_s <= CAM.max_blur_px * CAM.gsd_mm_px(D) / 1000 + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.floats(1, 5000), st.floats(1.01, 3.0))
def test_more_light_never_hurts(lux, factor):
    a, b = plan_exposure(CAM, lux, D), plan_exposure(CAM, lux * factor, D)
    assert b.speed_m_s >= a.speed_m_s - 1e-9
    assert b.noise_sigma <= a.noise_sigma + 1e-9
    assert b.brightness >= a.brightness - 1e-9
    rank = {"too_dark": 0, "dark": 1, "ok": 2}
    assert rank[b.verdict] >= rank[a.verdict]


def test_lux_needed_is_the_border_and_lights_lower_it():
    need = lux_needed(CAM, D)
    assert plan_exposure(CAM, need * 1.01, D).verdict != "too_dark"
    assert plan_exposure(CAM, need * 0.99, D).verdict == "too_dark"
    assert 8 < need < 15
    lit = CAM.model_copy(update={"light_lux_at_1m": 200.0})  # 78 lux more at 1.6 m
    assert plan_exposure(lit, 5, D).verdict == "ok"
    assert lux_needed(lit, D) == 0.0 or lux_needed(lit, D) < need


def test_noise_model():
    assert noise_sigma_at_gain(3.0, 1.0) == pytest.approx(3.0)
    assert noise_sigma_at_gain(3.0, 4.0) == pytest.approx(3.0 * math.sqrt(10))
    assert noise_sigma_at_gain(3.0, 8.0) <= MAX_NOISE_SIGMA < noise_sigma_at_gain(3.0, 8.1)  # gain 8 is the most a 3-sigma sensor may use
