"""Factories for site dictionaries (valid by default; tests break one thing at a time)."""

from __future__ import annotations

from warehouse.site import two_rack_site_dict


def site_dict(**overrides) -> dict:
    d = two_rack_site_dict()
    d.update(overrides)
    return d
