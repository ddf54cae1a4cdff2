"""The zxing-blackbox loader follows the set's README (manifest with CR/LF, UPC-A as EAN-13)."""

import pytest

from datasets.zxing_blackbox import DEFAULT_ROOT, BlackboxItem, load_blackbox, matches
from perception.bench_codes import score_item
from perception.decode import CodeRead

pytestmark = pytest.mark.skipif(not DEFAULT_ROOT.exists(), reason=f"{DEFAULT_ROOT} is not there")


def test_manifest_loads_all_604_with_crlf_texts():
    items = load_blackbox()
    assert len(items) == 604
    assert any("\r\n" in it.expected_text for it in items if it.symbology == "qr")
    assert {it.symbology for it in items} == {"qr", "code128", "code39", "ean13", "upca", "itf", "datamatrix"}


def test_upca_read_as_ean13_with_leading_zero_matches():
    it = BlackboxItem(DEFAULT_ROOT / "x.png", "upca-2", "upca", "890444000335")
    assert matches(it, "ean13", "0890444000335")
    assert not matches(it, "ean13", "0890444000336")
    import numpy as np

    wrong = CodeRead("ean13", "0890444000336", np.zeros((4, 2), np.float32), "zxing")
    assert score_item(it, [wrong]) == (False, True)
