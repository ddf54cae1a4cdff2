"""The site model: site frame, aisles, racks, faces, bays, levels, bins, labels; pure geometry."""

from warehouse.camera import CameraModel, CameraSpec, invert_transform, load_camera, transform_points
from warehouse.errors import RackscanError, SiteError
from warehouse.geodetic import GeoOrigin
from warehouse.site import Bin, Face, LocationLabel, Site, SiteSpec, load_site, site_from_dict

__all__ = [
    "Bin", "CameraModel", "CameraSpec", "Face", "GeoOrigin", "LocationLabel", "RackscanError",
    "Site", "SiteError", "SiteSpec", "invert_transform", "load_camera", "load_site",
    "site_from_dict", "transform_points",
]
