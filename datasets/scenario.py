"""The scenario file: one YAML that drives the whole synthetic tire warehouse.

Everything random is drawn from ``seed``; the same file gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datasets.errors import DatasetError
from datasets.tires import parse_size
from warehouse.camera import CameraSpec
from warehouse.errors import SiteError
from warehouse.site import Site, load_site, site_from_dict
from warehouse.validation import load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteSize(_Strict):
    """Generate a regular site instead of reading a site file: each aisle between two racks
    (``paired``, racks back to back between aisles) or along one rack facing a wall (``single``)."""

    aisles: int = Field(2, ge=1, le=50)
    bays_per_face: int = Field(4, ge=1, le=100)
    bay_width_m: float = Field(2.7, gt=0.5, le=6)
    levels: int = Field(3, ge=1, le=12)
    level_height_m: float = Field(1.5, gt=0.5, le=4)
    positions_per_bay: int = Field(2, ge=1, le=10)
    aisle_width_m: float = Field(3.0, gt=1.0, le=10)
    rack_depth_m: float = Field(1.0, gt=0.3, le=3)
    layout: Literal["paired", "single"] = "paired"


class SkuSpec(_Strict):
    sku: str = Field(min_length=1)
    size: str
    brand: str = "Generic"
    gtin: str | None = Field(None, pattern=r"^\d{13}$")
    unit_price: float = Field(80.0, ge=0)

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        try:
            parse_size(v)
        except DatasetError as exc:
            raise ValueError(str(exc)) from None
        return v


class SymbolSpec(_Strict):
    module_mm: float = Field(gt=0, le=50)
    required: bool = True


class LabelsSpec(_Strict):
    product_qr: SymbolSpec = SymbolSpec(module_mm=3.0, required=True)
    product_ean13: SymbolSpec = SymbolSpec(module_mm=0.66, required=False)
    pallet_gs1_128: SymbolSpec = SymbolSpec(module_mm=1.0, required=False)
    product_label_rate: float = Field(1.0, ge=0, le=1, description="share of tires with a label")
    damaged_rate: float = Field(0.0, ge=0, le=1, description="share of product labels torn or faded")


class StockSpec(_Strict):
    fill_rate: float = Field(0.85, ge=0, le=1)
    standing_frac: float = Field(0.6, ge=0, le=1, description="share of filled bins stacked standing")
    pallet_rate: float = Field(0.3, ge=0, le=1, description="share of level-1 lying bins on pallets")
    crowded_rate: float = Field(0.2, ge=0, le=1, description="bins whose tires overlap (occlusion)")
    min_fill_frac: float = Field(0.5, ge=0, le=1)
    laced_frac: float = Field(0.0, ge=0, le=1, description="share of lying stacks laced (rick-rack)")
    wrapped_rate: float = Field(0.0, ge=0, le=1, description="share of pallets wrapped in stretch film")
    non_tire_rate: float = Field(0.0, ge=0, le=1, description="share of filled bins holding cartons, not tires")


class DiscrepancyRates(_Strict):
    short: float = Field(0.04, ge=0, le=1)
    over: float = Field(0.03, ge=0, le=1)
    misplaced: float = Field(0.03, ge=0, le=1)
    ghost: float = Field(0.03, ge=0, le=1)
    unknown_sku: float = Field(0.02, ge=0, le=1)
    # the ERP lists another of its SKUs where goods stand (received or put away under the wrong one)
    substituted: float = Field(0.0, ge=0, le=1)
    # of those, the share keyed under the ERP's SKU nearest the goods in size (a look-alike: the error a
    # picker makes, and the one no camera that does not read the label or the sidewall can tell)
    substituted_alike: float = Field(0.0, ge=0, le=1)


class LightingSpec(_Strict):
    """The store's light. With ``lux`` set, the camera's exposure program (warehouse.light) sets
    exposure and gain from it and the frame's brightness, noise and blur follow; without it
    (older scenarios) every frame is drawn with a gain between ``gain_min`` and ``gain_max``."""

    gain_min: float = Field(0.75, gt=0, le=3)
    gain_max: float = Field(1.15, gt=0, le=3)
    gradient: float = Field(0.15, ge=0, le=1, description="max brightness change across the frame")
    vignetting: float = Field(0.25, ge=0, le=0.9, description="corner darkening")
    lux: float | None = Field(None, gt=0, le=100_000, description="light on the rack faces")
    lux_variation: float = Field(0.0, ge=0, le=0.9, description="pools of light along the aisle: +- this share")
    colour_temp_k: float = Field(4500.0, ge=1500, le=10_000, description="the lamps' colour temperature")
    white_balance_k: float = Field(4500.0, ge=1500, le=10_000, description="what the camera's white balance assumes")
    mixed_k: float | None = Field(None, ge=1500, le=10_000, description="a second kind of lamp: tint changes across the frame")
    shadows: float = Field(0.0, ge=0, le=1, description="share of frames with hard shadows")
    hot_spots: float = Field(0.0, ge=0, le=1, description="share of frames with specular hot spots")
    flicker: float = Field(0.0, ge=0, le=1, description="mains flicker depth (banding at short exposures)")

    @model_validator(mode="after")
    def _range(self):
        if self.gain_max < self.gain_min:
            raise ValueError(f"gain_max ({self.gain_max}) must be >= gain_min ({self.gain_min})")
        return self


class SensorSpec(_Strict):
    noise_sigma: float = Field(3.0, ge=0, le=50, description="grey levels, 8-bit (without lighting.lux; with it, camera.noise_sigma at the gain)")
    psf_sigma_px: float = Field(0.8, ge=0, le=5, description="optics + Bayer demosaicing blur (Gaussian)")
    motion_blur: bool = True
    jpeg_quality: int = Field(92, ge=30, le=100)


class AppearanceSpec(_Strict):
    """Colours of the rack (BGR) and what is behind it."""

    upright_bgr: tuple[int, int, int] = (150, 78, 22)
    beam_bgr: tuple[int, int, int] = (10, 105, 235)
    back_bgr: tuple[int, int, int] = (62, 64, 66)
    floor_bgr: tuple[int, int, int] = (118, 120, 116)
    wire_decking: bool = False


class TelemetrySpec(_Strict):
    rtk_noise_m: float = Field(0.02, ge=0, le=5)
    clock_offset_s: float = Field(0.0, ge=-5, le=5, description="camera clock minus telemetry clock")
    drift_m_per_min: float = Field(0.0, ge=0, le=10)


class ScenarioSpec(_Strict):
    name: str = "scenario"
    seed: int = Field(0, ge=0)
    site: str | None = Field(None, description="site YAML path, relative to the scenario file")
    site_size: SiteSize | None = None
    camera: CameraSpec = CameraSpec(distortion=(-0.04, 0.01, 0.0, 0.0, 0.0))
    catalogue: list[SkuSpec] = Field(min_length=1)
    stock: StockSpec = StockSpec()
    labels: LabelsSpec = LabelsSpec()
    discrepancies: DiscrepancyRates = DiscrepancyRates()
    lighting: LightingSpec = LightingSpec()
    sensor: SensorSpec = SensorSpec()
    appearance: AppearanceSpec = AppearanceSpec()
    telemetry: TelemetrySpec = TelemetrySpec()
    gallery_frames: int = Field(12, ge=0, le=500)

    @model_validator(mode="after")
    def _site_source(self):
        if (self.site is None) == (self.site_size is None):
            raise ValueError("give exactly one of 'site' (a site YAML path) or 'site_size'")
        skus = [s.sku for s in self.catalogue]
        dup = {s for s in skus if skus.count(s) > 1}
        if dup:
            raise ValueError(f"catalogue: duplicate sku {sorted(dup)[0]!r}")
        rates = self.discrepancies
        if rates.short + rates.over + rates.misplaced + rates.ghost + rates.unknown_sku + rates.substituted > 0.8:
            raise ValueError("discrepancies: the rates add up to more than 0.8 of the bins")
        return self


class Scenario:
    """A validated scenario with its site resolved."""

    def __init__(self, spec: ScenarioSpec, site: Site, source: Path) -> None:
        self.spec = spec
        self.site = site
        self.source = source

    @property
    def camera(self) -> CameraSpec:
        return self.spec.camera


def generate_site_dict(size: SiteSize, name: str) -> dict:
    """A regular warehouse: each aisle between two racks, racks back to back between aisles."""
    racks, aisles = [], []
    y = 0.0
    bays = [size.bay_width_m] * size.bays_per_face
    levels = [round(i * size.level_height_m, 3) for i in range(size.levels)]
    top = size.levels * size.level_height_m
    if size.layout == "single":  # one rack per aisle, its front face on the aisle, a wall opposite
        for a in range(size.aisles):
            r = f"R{a + 1:02d}"
            racks.append({"id": r, "start_m": [0.0, round(y, 3)], "depth_m": size.rack_depth_m, "bays_m": bays,
                          "levels_m": levels, "top_m": top, "positions_per_bay": size.positions_per_bay})
            aisles.append({"id": f"A{a + 1:02d}", "faces": [{"rack": r, "side": "back", "bay_start": 1, "bay_step": 1}],
                           "width_m": size.aisle_width_m})
            y += size.rack_depth_m + size.aisle_width_m + 0.2
        return _site_dict(name, racks, aisles, top)
    for a in range(size.aisles):
        r1, r2 = f"R{2 * a + 1:02d}", f"R{2 * a + 2:02d}"
        racks.append({"id": r1, "start_m": [0.0, round(y, 3)], "depth_m": size.rack_depth_m, "bays_m": bays,
                      "levels_m": levels, "top_m": top, "positions_per_bay": size.positions_per_bay})
        y2 = y + size.rack_depth_m + size.aisle_width_m
        racks.append({"id": r2, "start_m": [0.0, round(y2, 3)], "depth_m": size.rack_depth_m, "bays_m": bays,
                      "levels_m": levels, "top_m": top, "positions_per_bay": size.positions_per_bay})
        aisles.append({"id": f"A{a + 1:02d}", "faces": [
            {"rack": r1, "side": "back", "bay_start": 1, "bay_step": 2},
            {"rack": r2, "side": "front", "bay_start": 2, "bay_step": 2},
        ]})
        y = y2 + size.rack_depth_m + 0.2
    return _site_dict(name, racks, aisles, top)


def _site_dict(name: str, racks: list, aisles: list, top: float) -> dict:
    return {"name": name, "origin": {"lat_deg": 10.8231, "lon_deg": 106.6297, "alt_m": 9.0, "heading_deg": 90.0},
            "ceiling_m": round(top + 2.5, 3), "location_label": {"symbology": "qr", "module_mm": 4.0},
            "racks": racks, "aisles": aisles}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML and its site; one-line errors with the file and field."""
    p = Path(path)
    spec = load_yaml_model(p, ScenarioSpec, what="scenario file", error=DatasetError)
    try:
        if spec.site is not None:
            site_path = (p.parent / spec.site) if not Path(spec.site).is_absolute() else Path(spec.site)
            if not site_path.exists():
                raise DatasetError(f"{p}: site: site file {site_path} not found (path is relative to the scenario file)")
            site = load_site(site_path)
        else:
            site = site_from_dict(generate_site_dict(spec.site_size, spec.name), source=f"{p} (site_size)")
    except SiteError as exc:
        raise DatasetError(str(exc)) from None
    return Scenario(spec, with_light(site, spec), p)


def with_light(site: Site, spec: ScenarioSpec) -> Site:
    """The site as its survey would record it: the scenario's light on the faces (``light_lux``)."""
    if spec.lighting.lux is None or site.spec.light_lux is not None:
        return site
    return Site(site.spec.model_copy(update={"light_lux": spec.lighting.lux}), source=site.source)
