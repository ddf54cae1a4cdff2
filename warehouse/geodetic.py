"""Geodetic (WGS84 lat/lon/alt) <-> site frame (local ENU rotated to the site's +x heading).

The site frame is right-handed: ``z`` up, ``x`` points at compass heading ``heading_deg``
(degrees clockwise from true north), ``y`` 90 degrees counter-clockwise from ``x`` seen from
above. The transform goes exactly through ECEF, so a round trip is exact to float rounding
(well under 1 mm over tens of kilometres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)
WGS84_EP2 = (WGS84_A_M**2 - WGS84_B_M**2) / WGS84_B_M**2


def geodetic_to_ecef(lat_deg, lon_deg, alt_m) -> np.ndarray:
    """(..., 3) ECEF metres from latitude, longitude (degrees) and ellipsoidal altitude (m)."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    alt = np.asarray(alt_m, dtype=np.float64)
    sin_lat = np.sin(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    x = (n + alt) * np.cos(lat) * np.cos(lon)
    y = (n + alt) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + alt) * sin_lat
    return np.stack([x, y, z], axis=-1)


def ecef_to_geodetic(xyz_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude, longitude (degrees) and altitude (m) from (..., 3) ECEF metres.

    Bowring's closed form followed by two Newton refinements: sub-micrometre near the surface.
    """
    xyz = np.asarray(xyz_m, dtype=np.float64)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    theta = np.arctan2(z * WGS84_A_M, p * WGS84_B_M)
    lat = np.arctan2(
        z + WGS84_EP2 * WGS84_B_M * np.sin(theta) ** 3,
        p - WGS84_E2 * WGS84_A_M * np.cos(theta) ** 3,
    )
    for _ in range(2):
        sin_lat = np.sin(lat)
        n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
        alt = p / np.cos(lat) - n
        lat = np.arctan2(z, p * (1.0 - WGS84_E2 * n / (n + alt)))
    sin_lat = np.sin(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    cos_lat = np.cos(lat)
    alt = np.where(
        np.abs(cos_lat) > 1e-9, p / np.where(cos_lat == 0, 1, cos_lat) - n, np.abs(z) - WGS84_B_M
    )
    return np.degrees(lat), np.degrees(lon), alt


@dataclass(frozen=True, kw_only=True)
class GeoOrigin:
    """The site frame's anchor: RTK origin and the compass heading of the site's +x axis."""

    lat_deg: float
    lon_deg: float
    alt_m: float
    heading_deg: float = 0.0

    def _R_ecef_enu(self) -> np.ndarray:
        lat, lon = np.radians(self.lat_deg), np.radians(self.lon_deg)
        sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
        # columns: east, north, up expressed in ECEF
        return np.array([[-so, -sl * co, cl * co], [co, -sl * so, cl * so], [0.0, cl, sl]])

    def _R_enu_site(self) -> np.ndarray:
        # +x at compass heading h: east = sin h, north = cos h; +y is +x turned 90 deg CCW.
        h = np.radians(self.heading_deg)
        return np.array(
            [[np.sin(h), -np.cos(h), 0.0], [np.cos(h), np.sin(h), 0.0], [0.0, 0.0, 1.0]]
        )

    def geodetic_to_site(self, lat_deg, lon_deg, alt_m) -> np.ndarray:
        """(..., 3) site-frame metres of WGS84 points."""
        d = geodetic_to_ecef(lat_deg, lon_deg, alt_m) - geodetic_to_ecef(
            self.lat_deg, self.lon_deg, self.alt_m
        )
        R_ecef_site = self._R_ecef_enu() @ self._R_enu_site()
        return d @ R_ecef_site

    def site_to_geodetic(self, xyz_site_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Latitude, longitude (degrees) and altitude (m) of (..., 3) site-frame points."""
        R_ecef_site = self._R_ecef_enu() @ self._R_enu_site()
        p = np.asarray(xyz_site_m, dtype=np.float64) @ R_ecef_site.T
        return ecef_to_geodetic(p + geodetic_to_ecef(self.lat_deg, self.lon_deg, self.alt_m))

    def ned_to_site_rotation(self) -> np.ndarray:
        """3x3 ``R_site_ned``: rotates a local NED vector (MAVLink's frame) into the site frame."""
        R_enu_ned = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
        return self._R_enu_site().T @ R_enu_ned
