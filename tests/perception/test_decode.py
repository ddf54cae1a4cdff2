"""Decoding real symbols rendered by real encoders; GS1 fields; bad check digits never reported."""

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from datasets.labels import gs1_check_digit, linear_modules, qr_modules
from perception.decode import CodeRead, agreed_reads, decode, same_place, to_gray
from perception.gs1 import mod10_ok, parse_element_string


def _raster(mods: np.ndarray, k: int = 4, bar_h: int | None = None) -> np.ndarray:
    if bar_h:
        img = np.repeat(np.kron(mods, np.ones((1, k), np.uint8)), bar_h, axis=0)
    else:
        img = np.kron(mods, np.ones((k, k), np.uint8))
    img = np.where(img == 1, 0, 255).astype(np.uint8)
    return cv2.copyMakeBorder(img, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)


def _ean_image_with_check(digits13: str) -> np.ndarray:
    """An EAN-13 bar pattern for 13 digits as given (python-barcode would fix a bad check digit)."""
    L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"]
    G = ["".join("1" if c == "0" else "0" for c in reversed(p)) for p in L]
    R = ["".join("1" if c == "0" else "0" for c in p) for p in L]
    parity = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]
    first, left, right = int(digits13[0]), digits13[1:7], digits13[7:]
    bits = "101" + "".join((L if parity[first][i] == "L" else G)[int(d)] for i, d in enumerate(left)) + "01010"
    bits += "".join(R[int(d)] for d in right) + "101"
    mods = np.pad(np.array([c == "1" for c in bits], np.uint8), 10)[None, :]
    return _raster(mods, 3, 120)


def test_qr_with_gs1_element_string():
    text = "(01)08931234567897(21)000042"
    reads = decode(_raster(qr_modules(text, quiet=4)))
    assert [(r.symbology, r.text, r.decoder) for r in reads] == [("qr", text, "zxing")]
    assert reads[0].gs1 == {"gtin": "08931234567897", "serial": "000042"}
    c = reads[0].corners
    assert c.shape == (4, 2) and c[:, 0].min() > 10


def test_gs1_128_sscc_is_parsed():
    sscc = "089300000000000019"
    reads = decode(_raster(linear_modules("gs1-128", "00" + sscc), 3, 90))
    assert reads and reads[0].symbology == "code128"
    assert reads[0].gs1 == {"sscc": sscc}


def test_upright_search_does_not_turn_a_1d_code():
    sscc = "089300000000000019"
    img = cv2.rotate(_raster(linear_modules("gs1-128", "00" + sscc), 3, 90), cv2.ROTATE_90_CLOCKWISE)
    assert [r.gs1.get("sscc") for r in decode(img, enhance=False, second_opinion=False)] == [sscc]
    assert decode(img, enhance=False, second_opinion=False, upright=True) == []


@pytest.mark.parametrize("turn", [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180])
def test_upright_search_reads_a_qr_code_at_any_angle_but_not_inverted(turn):
    text = "A01-B03-L2"
    img = _raster(qr_modules(text, quiet=4))
    img = cv2.rotate(img, turn) if turn is not None else img
    assert [r.text for r in decode(img, enhance=False, second_opinion=False, upright=True)] == [text]
    assert [r.text for r in decode(255 - img, enhance=False, second_opinion=False)] == [text]
    assert decode(255 - img, enhance=False, second_opinion=False, upright=True) == []


def test_valid_ean13_reads():
    body = "893123456789"
    code = body + gs1_check_digit(body)
    reads = decode(_ean_image_with_check(code))
    assert [(r.symbology, r.text) for r in reads] == [("ean13", code)]


def test_ean13_with_a_wrong_check_digit_is_never_reported():
    body = "893123456789"
    bad = body + str((int(gs1_check_digit(body)) + 3) % 10)
    assert decode(_ean_image_with_check(bad)) == []


@pytest.mark.parametrize(
    "text,fields",
    [
        ("(01)08931234567897(21)000042", {"gtin": "08931234567897", "serial": "000042"}),
        ("(00)089300000000000019", {"sscc": "089300000000000019"}),
        ("0108931234567897\x1d10LOT7\x1d17261231", {"gtin": "08931234567897", "lot": "LOT7", "expiry": "261231"}),
        ("]C100089300000000000019", {"sscc": "089300000000000019"}),
        ("(01)08931234567890(21)1", None),  # bad GTIN check digit
        ("(00)089300000000000017", None),  # bad SSCC check digit
        ("(01)123", None),  # wrong length
        ("A01-B03-L2-P1", None),
        ("(99)x", None),
    ],
)
def test_parse_element_string(text, fields):
    assert parse_element_string(text) == fields


@given(st.text(alphabet="0123456789", min_size=7, max_size=17))
def test_appending_the_check_digit_always_validates(body):
    assert mod10_ok(body + gs1_check_digit(body))
    assert not mod10_ok(body + str((int(gs1_check_digit(body)) + 1) % 10))


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra", "uint16"])
def test_image_kinds_are_converted(kind):
    base = _raster(qr_modules("A01-B03-L2-P1", quiet=4))
    img = {"grey": base, "bgr": cv2.cvtColor(base, cv2.COLOR_GRAY2BGR),
           "bgra": np.dstack([cv2.cvtColor(base, cv2.COLOR_GRAY2BGR), np.full(base.shape, 255, np.uint8)]),
           "uint16": base.astype(np.uint16) * 257}[kind]
    assert to_gray(img).dtype == np.uint8
    assert [r.text for r in decode(img)] == ["A01-B03-L2-P1"]


def test_transparent_background_reads_as_white():
    base = _raster(qr_modules("A01-B03-L2-P1", quiet=4))
    bgra = np.zeros((*base.shape, 4), np.uint8)
    bgra[..., 3] = np.where(base == 0, 255, 0)  # ink opaque, paper fully transparent (black RGB)
    assert [r.text for r in decode(bgra)] == ["A01-B03-L2-P1"]


def test_blank_image_reads_nothing():
    assert decode(np.full((200, 300), 255, np.uint8)) == []


def _read(sym: str, text: str, x: float = 0.0, y: float = 0.0, w: float = 100.0, h: float = 40.0,
          decoder: str = "pyzbar") -> CodeRead:
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
    return CodeRead(sym, text, corners, decoder)


A, B, C = "4006381333931", "0012546619592", "0022121000066"  # valid EAN-13s


@pytest.mark.parametrize("candidates, reported", [
    ([_read("ean13", A)], set()),  # one 1-D read: not enough
    ([_read("ean13", A), _read("ean13", A, x=2)], {A}),  # two agree
    ([_read("upca", B[1:]), _read("ean13", B)], {B[1:], B}),  # UPC-A is EAN-13 with a leading 0
    # the same wrong text from two versions of a photo, against two other texts at its place
    ([_read("ean13", C), _read("ean13", C), _read("ean13", B, y=10, h=2, decoder="zxing"),
      _read("ean13", A, y=12, h=2, decoder="zxing")], set()),
    ([_read("ean13", B)] * 3 + [_read("ean13", C)], {B}),  # outvoted 3 to 1
    ([_read("ean13", B)] * 2 + [_read("ean13", C)] * 2, set()),  # a tie reports neither
    ([_read("ean13", B)] * 2 + [_read("ean13", C, y=300)] * 2, {B, C}),  # two symbols, apart
    ([_read("code128", "AB12")] * 2 + [_read("ean13", A)] * 3, {"AB12", A}),  # other kinds do not vote
    ([_read("qr", "hello"), _read("qr", "hullo")], {"hello", "hullo"}),  # 2-D: Reed-Solomon decides
])
def test_agreed_reads(candidates, reported):
    assert {r.text for r in agreed_reads(candidates)} == reported


@pytest.mark.parametrize("b, same", [
    (_read("ean13", A, x=50), True),
    (_read("ean13", A, x=105), True),  # within 10% of the longer side
    (_read("ean13", A, x=125), False),
    (_read("ean13", A, x=20, y=20, w=60, h=2), True),  # a scan line across the bars
    (_read("ean13", A, y=100), False),
])
def test_same_place(b, same):
    a = _read("ean13", A)
    assert same_place(a, b) is same and same_place(b, a) is same
