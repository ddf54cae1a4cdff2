"""Factories: ERP files, observation tables and flight bundles for reconciliation tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flight.bundle import BundleWriter, FlightMeta
from tests.conftest import DEFAULT_SITE


def erp_frame(rows=None) -> pd.DataFrame:
    rows = rows or [("A01-B01-L1-P1", "000401001", 4), ("A01-B01-L1-P2", "000401002", 6), ("A01-B03-L2-P1", "000401003", 2)]
    return pd.DataFrame(rows, columns=["Bin", "Material", "Quantity"]).assign(Description="Lốp xe 205/55R16")


def write_csv(path: Path, df: pd.DataFrame, *, bom: bool = False, sep: str = ",") -> Path:
    path.write_bytes((("\ufeff" if bom else "") + df.to_csv(index=False, sep=sep)).encode("utf-8"))
    return path


def observations(rows) -> pd.DataFrame:
    """rows: (bin_id, sku, count[, confidence])."""
    out = []
    for r in rows:
        b, s, c = r[:3]
        conf = r[3] if len(r) > 3 else 0.98
        out.append({"flight_id": "f1", "bin_id": b, "sku": s, "gtin": "", "count": c, "confidence": conf, "n_views": 5,
                    "evidence_frame": 0, "evidence_path": f"evidence/{b}.jpg", "reason": ""})
    return pd.DataFrame(out)


def bundle_with_observations(path: Path, obs: pd.DataFrame, scanned: list[str] | None = None) -> Path:
    with BundleWriter(path, FlightMeta(flight_id=path.name), site_yaml_text=DEFAULT_SITE.read_text()):
        pass
    obs.to_parquet(path / "observations.parquet", index=False)
    if scanned is not None:
        pd.DataFrame({"bin_id": scanned, "scanned": True, "n_frames": 5}).to_parquet(path / "coverage.parquet", index=False)
    return path
