"""Factories for site dictionaries (valid by default; tests break one thing at a time)."""

from __future__ import annotations

import copy


def site_dict(**overrides) -> dict:
    d = {
        "name": "test site",
        "origin": {"lat_deg": 10.8, "lon_deg": 106.6, "alt_m": 5.0, "heading_deg": 30.0},
        "ceiling_m": 8.0,
        "racks": [
            {"id": "R01", "start_m": [0.0, 0.0], "yaw_deg": 0.0, "depth_m": 1.0,
             "bays_m": [2.5, 2.5], "levels_m": [0.0, 1.5, 3.0], "top_m": 4.5, "positions_per_bay": 2},
            {"id": "R02", "start_m": [0.0, 4.0], "yaw_deg": 0.0, "depth_m": 1.0,
             "bays_m": [2.5, 2.5], "levels_m": [0.0, 1.5, 3.0], "top_m": 4.5, "positions_per_bay": 2},
        ],
        "aisles": [
            {"id": "A01", "faces": [
                {"rack": "R01", "side": "back", "bay_start": 1, "bay_step": 2},
                {"rack": "R02", "side": "front", "bay_start": 2, "bay_step": 2},
            ]}
        ],
    }
    d = copy.deepcopy(d)
    d.update(overrides)
    return d
