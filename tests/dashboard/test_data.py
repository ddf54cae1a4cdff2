"""The dashboard's data module: pure steps on the store's tables."""

import pandas as pd
import pytest

from dashboard.data import UNREAD_SKU, sku_shown


@pytest.mark.parametrize("sku,counted,shown", [
    ("000401001", 4, "000401001"),
    ("", 2, UNREAD_SKU),  # goods counted, no label read
    ("", 0, ""),  # an empty bin: nothing to name
    (None, 1, UNREAD_SKU),
    ("000401001", 0, "000401001"),  # a ghost keeps the ERP's SKU
])
def test_goods_with_no_label_read_show_so_not_a_blank(sku, counted, shown):
    df = pd.DataFrame({"sku": [sku], "counted_qty": [counted]})
    assert sku_shown(df).tolist() == [shown]
