"""Light and sensor on a rendered frame: the exposure program's brightness, gain-driven noise,
colour casts, and what stays as it was for scenarios without a light level."""

import numpy as np
import pytest

from datasets.photometry import Photometry, kelvin_to_bgr, white_balance_cast
from datasets.scenario import LightingSpec, ScenarioSpec
from warehouse.camera import CameraSpec

FLAT = np.full((120, 160, 3), 150, np.uint8)


def _phot(**lighting):
    spec = ScenarioSpec(name="t", seed=3, site_size={}, catalogue=[{"sku": "1", "size": "205/55R16"}],
                        lighting=LightingSpec(vignetting=0.0, gradient=0.0, **lighting))
    return Photometry(spec, CameraSpec(noise_sigma=3.0), 160, 120)


def _capture(p, lux_e=None, seed=0):
    rng = np.random.default_rng(seed)
    img, gain = p.expose(FLAT, rng, exposure_s=lux_e)
    return p.add_noise(img, rng, gain), gain


@pytest.mark.parametrize("lux,exposure_s,gain,level", [
    (500, 0.0005, 1.0, 150),  # correct exposure: the scene's own grey
    (125, 0.0005, 4.0, 150),  # auto-exposure makes up for the light with gain
    (10, 0.0005, 16.0, 48),  # past the camera's most gain: darker (10 x 0.0005 x 16 / 0.25 = 0.32)
    (5000, 0.0005, 0.1, 150),  # bright: gain turned down
])
def test_auto_exposure_brightness(lux, exposure_s, gain, level):
    p = _phot(lux=lux)
    img, g = _capture(p, exposure_s)
    assert g == pytest.approx(gain)
    assert float(img.mean()) == pytest.approx(level, abs=2.5)


def test_noise_grows_with_the_gain():
    quiet, _ = _capture(_phot(lux=500), 0.0005)
    loud, _ = _capture(_phot(lux=62.5), 0.0005)  # gain 8
    assert float(quiet.std()) == pytest.approx(3.0, abs=0.5)
    assert float(loud.std()) == pytest.approx(18.0, abs=1.5)


def test_warm_light_on_a_daylight_balance_casts_orange():
    cast = white_balance_cast(2700, 5500)  # BGR
    assert cast[2] > cast[1] > cast[0]
    assert np.allclose(white_balance_cast(4500, 4500), 1.0)
    assert kelvin_to_bgr(6500)[0] > kelvin_to_bgr(3000)[0]
    img, _ = _capture(_phot(lux=500, colour_temp_k=2700, white_balance_k=5500), 0.0005)
    b, g, r = (float(img[:, :, c].mean()) for c in range(3))
    assert r > g > b


def test_without_lux_the_older_model_is_kept():
    p = _phot(gain_min=0.5, gain_max=0.5)
    rng = np.random.default_rng(0)
    img, gain = p.expose(FLAT, rng)
    assert gain == 1.0 and float(img.mean()) == pytest.approx(75, abs=1)  # scene x gain 0.5


@pytest.mark.parametrize("effect", ["shadows", "hot_spots"])
def test_shadows_darken_and_hot_spots_brighten(effect):
    img, _ = _capture(_phot(lux=500, **{effect: 1.0}), 0.0005, seed=4)
    if effect == "shadows":
        assert img.min() < 110 and np.percentile(img, 90) > 140
    else:
        assert img.max() > 220
