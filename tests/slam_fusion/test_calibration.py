import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slam_fusion.core.calibration import Calibration, _pav, fit_calibration, reliability


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=200))
def test_a_fitted_map_is_monotone_and_a_probability(pairs):
    raw, ok = zip(*pairs)
    c = fit_calibration(raw, ok)
    assert all(np.diff(c.p_right) >= -1e-12)
    assert all(0 < p < 1 for p in c.p_right)  # add-one smoothing: never certain
    assert sum(c.n_bins) == len(pairs)
    grid = np.linspace(0, 1, 21)
    assert all(np.diff([c(g) for g in grid]) >= -1e-12)


@pytest.mark.parametrize("y, w, want", [
    ([0.1, 0.5, 0.9], [1, 1, 1], [0.1, 0.5, 0.9]),  # already monotone
    ([0.5, 0.1, 0.9], [1, 1, 1], [0.3, 0.3, 0.9]),  # one violation pooled
    ([0.9, 0.1], [1, 3], [0.3, 0.3]),  # weighted by bins
])
def test_pool_adjacent_violators(y, w, want):
    assert np.allclose(_pav(np.array(y, float), np.array(w, float)), want)


def test_bands_with_few_bins_stay_cautious():
    raw = [0.99] * 100 + [0.5] * 2
    ok = [True] * 100 + [False] * 2
    c = fit_calibration(raw, ok)
    assert c(0.99) == pytest.approx(101 / 102) and c(0.5) == pytest.approx(1 / 4)


def test_reliability_of_a_perfect_and_a_bad_forecast():
    ok = np.array([True] * 90 + [False] * 10)
    assert reliability(np.full(100, 0.9), ok)[0] == pytest.approx(0.0)
    ece, brier = reliability(np.where(ok, 0.0, 1.0), ok)
    assert ece == pytest.approx(1.0) and brier == pytest.approx(1.0)


@pytest.mark.parametrize("kw", [dict(raw=(), p_right=(), n_bins=()), dict(raw=(0.5, 0.4), p_right=(0.1, 0.2), n_bins=(1, 1)),
                                dict(raw=(0.4, 0.5), p_right=(0.3, 0.2), n_bins=(1, 1))])
def test_a_malformed_map_is_refused(kw):
    with pytest.raises(ValueError):
        Calibration(**kw)


def test_fit_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="equally long"):
        fit_calibration([0.5, 0.6], [True])
