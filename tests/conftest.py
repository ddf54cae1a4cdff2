"""Shared test setup: offline Ultralytics, MAVLink 2, and the repository paths."""

import os
from pathlib import Path

os.environ.setdefault("MAVLINK20", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]


def default_with_substitutions(tmp_path: Path, rate: float, alike: float = 0.0) -> Path:
    """The default scenario, copied into ``tmp_path`` beside its site, with ``rate`` of its bins listed
    by the ERP under another of its SKUs (``discrepancies.substituted``), ``alike`` of those under the
    SKU nearest the goods' size (``substituted_alike``)."""
    default = REPO / "datasets" / "scenarios" / "default.yaml"
    text = default.read_text()
    assert "unknown_sku: 0.02}" in text
    p = tmp_path / "s.yaml"
    p.write_text(text.replace("unknown_sku: 0.02}",
                              f"unknown_sku: 0.02, substituted: {rate}, substituted_alike: {alike}}}"))
    (tmp_path / "default_site.yaml").write_text((default.parent / "default_site.yaml").read_text())
    return p
SHARED = REPO.parent / "shared"
DEFAULT_SITE = REPO / "datasets" / "scenarios" / "default_site.yaml"
