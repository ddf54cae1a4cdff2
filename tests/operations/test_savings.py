"""The savings report's arithmetic against the manual baseline, and its file's one-line errors."""

import pandas as pd
import pytest

from operations.errors import OperationsError
from operations.savings import load_baseline, savings, savings_table


def test_savings_against_the_baseline():
    b = load_baseline()  # 2 people, 60 locations per person-hour; 1 operator, 10 min setup, 2 min per discrepancy
    s = savings(locations=240, flight_s=1800, flights=1, discrepancies=15, b=b)
    assert s.manual_labour_h == pytest.approx(4.0) and s.manual_time_h == pytest.approx(2.0)
    assert s.drone_time_h == pytest.approx(0.5 + 10 / 60)
    assert s.drone_labour_h == pytest.approx(0.5 + 10 / 60 + 0.5)
    assert s.time_reduction == pytest.approx(1 - (40 / 60) / 2.0)
    assert s.labour_reduction == pytest.approx(1 - (70 / 60) / 4.0)
    trend = pd.DataFrame({"reconciliation_id": [1], "flight_key": ["f"], "bins_scanned": [240], "n_match": [200],
                          "n_short": [10], "n_ghost": [5]})
    t = savings_table(trend, {"f": 1800.0}, b)
    assert t.drone_labour_h.iloc[0] == pytest.approx(s.drone_labour_h)
    # 60 locations the flight missed are counted by hand: in both the baseline and the drone's figures
    t = savings_table(trend.assign(n_not_scanned=[60]), {"f": 1800.0}, b)
    assert t.locations.iloc[0] == 300 and t.manual_labour_h.iloc[0] == pytest.approx(5.0)
    assert t.drone_labour_h.iloc[0] == pytest.approx(s.drone_labour_h + 1.0)
    assert t.drone_time_h.iloc[0] == pytest.approx(s.drone_time_h + 0.5)


def test_bad_baseline_names_the_field(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("manual:\n  people: 0\n")
    with pytest.raises(OperationsError, match=r"b.yaml:2: manual.people: Input should be greater than 0"):
        load_baseline(p)
