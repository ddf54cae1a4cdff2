"""datasets reads tire sizes through ``warehouse.tires`` and reports a bad one as its own error."""

import pytest

from datasets.errors import DatasetError
from datasets.tires import parse_size


def test_a_size_reads_as_warehouse_reads_it_and_a_bad_one_is_a_dataset_error():
    assert parse_size("205/55R16").outer_diameter_mm == pytest.approx(631.9, abs=0.05)
    with pytest.raises(DatasetError, match=r"tire size '205/55': expected a size code like '205/55R16'"):
        parse_size("205/55")
