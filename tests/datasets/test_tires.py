import pytest
from hypothesis import given
from hypothesis import strategies as st

from datasets.errors import DatasetError
from datasets.tires import parse_size


@pytest.mark.parametrize(
    "code,diameter_mm",
    [("205/55R16", 631.9), ("195/65R15", 634.5), ("225/45R17", 634.3), ("185/60R14", 577.6), ("235/55 R18", 715.7)],
)
def test_outer_diameter_from_code(code, diameter_mm):
    assert parse_size(code).outer_diameter_mm == pytest.approx(diameter_mm, abs=0.05)


@pytest.mark.parametrize("bad", ["205-55-16", "R16", "205/55", "", "2055R16"])
def test_bad_codes(bad):
    with pytest.raises(DatasetError, match="expected a metric size code like '205/55R16'"):
        parse_size(bad)


@given(st.integers(125, 355), st.integers(25, 85), st.integers(12, 24))
def test_diameter_grows_with_every_part(w, a, r):
    s = parse_size(f"{w}/{a}R{r}")
    assert s.outer_diameter_mm > s.rim_diameter_mm
    assert parse_size(f"{w}/{a}R{r + 1}").outer_diameter_mm > s.outer_diameter_mm
