import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.errors import SiteError
from warehouse.tires import parse_size


@pytest.mark.parametrize(
    "code,diameter_mm,use",
    [("205/55R16", 631.9, "passenger"), ("195/65R15", 634.5, "passenger"), ("225/45R17", 634.3, "passenger"),
     ("185/60R14", 577.6, "passenger"), ("235/55 R18", 715.7, "passenger"), ("165/65R14", 570.1, "passenger"),
     ("205/55ZR16 91W", 631.9, "passenger"), ("P215/65R15 95H", 660.5, "passenger"),
     ("LT265/75R16", 803.9, "light_truck"), ("LT265/75R16 123/120Q", 803.9, "light_truck"),
     ("195/70R15C", 654.0, "light_truck"), ("295/80R22.5", 1043.5, "truck"), ("315/70R22.5 154/150L", 1012.5, "truck"),
     ("7.50R16", 802.6, "light_truck"), ("7.50-16", 802.6, "light_truck"), ("11R22.5", 1052.1, "truck"),
     ("31x10.50R15", 787.4, "light_truck"), ("31X10.50R15LT", 787.4, "light_truck")],
)
def test_outer_diameter_from_code(code, diameter_mm, use):
    s = parse_size(code)
    assert s.outer_diameter_mm == pytest.approx(diameter_mm, abs=0.05)
    assert s.use == use


@pytest.mark.parametrize("bad", ["205-55-16", "R16", "205/55", "", "2055R16", "205/55R16 abc", "30.00R16", "10x10.50R15"])
def test_bad_codes(bad):
    with pytest.raises(SiteError, match=r"expected a size code like '205/55R16', 'LT265/75R16', '295/80R22.5'"):
        parse_size(bad)


@given(st.integers(125, 355), st.integers(25, 85), st.integers(12, 24))
def test_diameter_grows_with_every_part(w, a, r):
    s = parse_size(f"{w}/{a}R{r}")
    assert s.outer_diameter_mm > s.rim_diameter_mm
    assert parse_size(f"{w}/{a}R{r + 1}").outer_diameter_mm > s.outer_diameter_mm
    assert parse_size(f"LT{w}/{a}R{r}").outer_diameter_mm == s.outer_diameter_mm
