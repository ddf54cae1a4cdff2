"""Loader for ``../shared/datasets/zxing-blackbox`` (real barcode/QR photos with expected text).

Read its README: the manifest has embedded CR/LF, so it is read with the csv module; PNGs with an
alpha channel are composited on white; UPC-A read as EAN-13 with a leading 0 counts as equal.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from datasets.errors import DatasetError

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "zxing-blackbox"
FORMAT_TO_OURS = {"QR_CODE": "qr", "CODE_128": "code128", "CODE_39": "code39", "EAN_13": "ean13", "UPC_A": "upca",
                  "ITF": "itf", "DATA_MATRIX": "datamatrix"}


@dataclass(frozen=True)
class BlackboxItem:
    path: Path
    folder: str
    symbology: str
    expected_text: str


def load_blackbox(root: str | Path | None = None) -> list[BlackboxItem]:
    root = Path(root or DEFAULT_ROOT)
    manifest = root / "manifest.csv"
    if not manifest.exists():
        raise DatasetError(f"{manifest}: not found; expected the zxing-blackbox set in ../shared/datasets/")
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [BlackboxItem(root / r["path"], r["path"].split("/")[0], FORMAT_TO_OURS.get(r["symbology"], r["symbology"]),
                         r["expected_text"]) for r in rows]


def read_image(path: Path) -> np.ndarray:
    """The image as stored (alpha kept, so the decoder composites it on white)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"{path}: not a readable image")
    return img


def matches(item: BlackboxItem, symbology: str, text: str) -> bool:
    if text == item.expected_text:
        return True
    if item.symbology == "upca" and symbology in ("ean13", "upca"):
        return text.lstrip("0") == item.expected_text.lstrip("0") and len(text) in (12, 13)
    return False
