"""Reading barcodes and QR codes: zxing-cpp first, pyzbar as a second opinion where zxing-cpp
finds nothing, on the image as given and then on enhanced versions (upscaled, sharpened,
contrast-stretched) when the first pass reads nothing. Every read of a symbology with a check
digit is verified; GS1 content is parsed into fields.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from perception.gs1 import mod10_ok, parse_element_string

# zxing-cpp format names -> ours
ZX_NAMES = {"QRCode": "qr", "MicroQRCode": "qr", "DataMatrix": "datamatrix", "EAN13": "ean13", "EAN8": "ean8",
            "UPCA": "upca", "UPCE": "upce", "Code128": "code128", "Code39": "code39", "Code93": "code93",
            "ITF": "itf", "Codabar": "codabar", "PDF417": "pdf417", "Aztec": "aztec", "DataBar": "databar"}
ZBAR_NAMES = {"QRCODE": "qr", "EAN13": "ean13", "EAN8": "ean8", "UPCA": "upca", "UPCE": "upce", "CODE128": "code128",
              "CODE39": "code39", "CODE93": "code93", "I25": "itf", "CODABAR": "codabar", "DATABAR": "databar",
              "PDF417": "pdf417"}
CHECKED = {"ean13", "ean8", "upca", "upce"}


@dataclass(frozen=True)
class CodeRead:
    symbology: str
    text: str
    corners: np.ndarray  # (4,2) pixels in the input image
    decoder: str  # zxing | pyzbar
    gs1: dict = field(default_factory=dict)


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit grey from grey, BGR, BGRA (alpha composited on white) or 16-bit images."""
    img = image
    if img.dtype == np.uint16:
        img = (img / 257).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        a = img[:, :, 3:4].astype(np.float32) / 255
        img = (img[:, :, :3].astype(np.float32) * a + 255 * (1 - a)).astype(np.uint8)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(img)


def _valid(symbology: str, text: str) -> bool:
    if symbology in ("ean13", "ean8", "upca"):
        return mod10_ok(text)
    return bool(text)


def _zxing(gray: np.ndarray, scale: float, dx: float = 0, dy: float = 0, *, upright: bool = False) -> list[CodeRead]:
    import zxingcpp

    out = []
    kw = {"try_rotate": False, "try_invert": False} if upright else {}
    for r in zxingcpp.read_barcodes(gray, text_mode=zxingcpp.TextMode.Plain, **kw):
        sym = ZX_NAMES.get(r.format.name, r.format.name.lower())
        text = r.text
        if not r.valid or not _valid(sym, text):
            continue
        p = r.position
        corners = np.array([[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                            [p.bottom_right.x, p.bottom_right.y], [p.bottom_left.x, p.bottom_left.y]], np.float32)
        gs1 = {}
        if r.content_type == zxingcpp.ContentType.GS1 or text.startswith("("):
            gs1 = parse_element_string(text) or {}
            if r.content_type == zxingcpp.ContentType.GS1 and not gs1:
                continue  # a GS1 symbol whose GTIN/SSCC fails its check digit is not reported
        out.append(CodeRead(sym, text, corners / scale + [dx, dy], "zxing", gs1))
    return out


def _pyzbar(gray: np.ndarray, scale: float, dx: float = 0, dy: float = 0) -> list[CodeRead]:
    from pyzbar import pyzbar

    out = []
    for r in pyzbar.decode(gray):
        sym = ZBAR_NAMES.get(r.type, r.type.lower())
        try:
            text = r.data.decode("utf-8")
        except UnicodeDecodeError:
            text = r.data.decode("latin-1")
        if not _valid(sym, text):
            continue
        if sym == "itf" and len(text) % 2:
            continue
        pts = np.array([[p.x, p.y] for p in r.polygon], np.float32)
        if len(pts) != 4:
            x, y, w, h = r.rect
            pts = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
        gs1 = parse_element_string(text) or {} if text.startswith(("(", "]C1")) else {}
        out.append(CodeRead(sym, text, pts / scale + [dx, dy], "pyzbar", gs1))
    return out


def _variants(gray: np.ndarray):
    """Enhanced versions of a grey image for a second pass: (image, scale)."""
    h, w = gray.shape
    if max(h, w) < 1200:
        f = 2.0 if max(h, w) < 600 else 1.5
        up = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
        yield up, f
        blur = cv2.GaussianBlur(up, (0, 0), 1.5)
        yield cv2.addWeighted(up, 1.8, blur, -0.8, 0), f
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    yield clahe, 1.0
    yield cv2.threshold(cv2.GaussianBlur(clahe, (3, 3), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1], 1.0
    if max(h, w) > 1600:
        f = 1600 / max(h, w)
        yield cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA), f


TWO_D = {"qr", "datamatrix", "aztec", "pdf417"}


def decode(image: np.ndarray, *, second_opinion: bool = True, enhance: bool = True,
           upright: bool = False) -> list[CodeRead]:
    """All codes in an image (grey/BGR/BGRA/16-bit).

    ``upright``: zxing-cpp does not also search the image turned 90 degrees or inverted: a 1-D
    code's bars must stand upright and every code must be dark on light (a QR code still reads at
    any angle). Half the time on a whole frame; for a quick look over a frame, not a label's crop.

    1. zxing-cpp on the image as given: what it reads is reported.
    2. Only if that read nothing: zxing-cpp on enhanced versions (upscaled + sharpened when
       small, contrast-stretched, downscaled when huge) and pyzbar on the image and the versions.
       2-D symbols (Reed-Solomon protected) are reported from one read; a 1-D read, whose check
       digit is weak protection on a blurred photo, only when two of these reads agree and
       outnumber the other texts read at its place (`agreed_reads`).
    """
    gray = to_gray(image)
    reads = _zxing(gray, 1.0, upright=upright)
    if reads or not (enhance or second_opinion):
        return _dedupe(reads)
    variants = list(_variants(gray)) if enhance else []
    candidates: list[CodeRead] = []
    for v, s in variants:
        candidates += _zxing(v, s)
    if second_opinion:
        for v, s in [(gray, 1.0), *variants]:
            candidates += _pyzbar(v, s)
    return _dedupe(agreed_reads(candidates))


def agreed_reads(candidates: list[CodeRead]) -> list[CodeRead]:
    """The second pass's reads worth reporting.

    A 2-D read stands alone: Reed-Solomon protects it. A 1-D text is reported when it was read at
    least twice *and* more often than every other text of that symbol put together: a read at the
    same place (`same_place`) of the same kind of code (UPC-A counted as EAN-13 with a leading 0)
    but with another text means one of them is a misread, and on a blurred or upside-down photo the
    same wrong text can come out of two versions of the image.
    """
    keys = [_key(r) for r in candidates]
    votes = Counter(keys)
    out = []
    for r, (kind, text) in zip(candidates, keys):
        if r.symbology in TWO_D:
            out.append(r)
            continue
        against = sum(1 for o, (k, t) in zip(candidates, keys) if k == kind and t != text and same_place(o, r))
        if votes[(kind, text)] >= 2 and votes[(kind, text)] > against:
            out.append(r)
    return out


def _key(r: CodeRead) -> tuple[str, str]:
    if r.symbology == "upca" and len(r.text) == 12:
        return "ean13", "0" + r.text
    return r.symbology, r.text


def same_place(a: CodeRead, b: CodeRead, pad_frac: float = 0.1) -> bool:
    """Whether two reads' boxes overlap once each is grown by `pad_frac` of its longer side (a
    1-D read from zxing-cpp is a line across the bars, from pyzbar a box)."""
    boxes = []
    for r in (a, b):
        lo, hi = r.corners.min(axis=0), r.corners.max(axis=0)
        pad = pad_frac * float((hi - lo).max())
        boxes.append((lo - pad, hi + pad))
    (alo, ahi), (blo, bhi) = boxes
    return bool(np.all(alo < bhi) and np.all(blo < ahi))


def _dedupe(reads: list[CodeRead]) -> list[CodeRead]:
    seen, out = set(), []
    for r in reads:
        key = (r.symbology, r.text, tuple(np.round(r.corners.mean(axis=0) / 20).astype(int)))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out
