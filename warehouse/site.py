"""The site model: a validated YAML file turned into faces and bins with 3D geometry.

Conventions
-----------
* Site frame: ENU metres rotated so ``+x`` has compass heading ``origin.heading_deg``; ``z`` up,
  ``z = 0`` on the floor (see :mod:`warehouse.geodetic`).
* A rack is a box: it starts at ``start_m`` (x, y of its front-left floor corner), runs
  ``length`` metres along ``yaw_deg`` (counter-clockwise from site ``+x``) and is ``depth_m``
  deep. Its *front* face is on the right-hand side when walking along the rack direction, its
  *back* face on the left.
* A face frame has ``u`` along the face, left to right for a viewer facing it, ``v`` up, and
  ``n = u x v`` pointing out of the rack into the aisle. ``T_site_face`` maps face coordinates
  ``(u, v, n)`` into the site frame.
* Bays are numbered along the rack direction on both faces (``bay_start``, ``bay_step`` per face
  give the usual odd/even sides of an aisle); levels from the floor up (level 1 = floor level);
  positions within a bay along the rack direction.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warehouse.errors import SiteError
from warehouse.geodetic import GeoOrigin
from warehouse.validation import format_loc, format_validation_error, load_yaml_mapping, yaml_line

Symbology = Literal["qr", "datamatrix", "code128", "ean13", "gs1-128"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OriginSpec(_Strict):
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    alt_m: float = 0.0
    heading_deg: float = Field(0.0, ge=-360, le=360, description="compass heading of site +x")


class LocationLabelSpec(_Strict):
    """How location labels look and where they sit on the beam below each bin."""

    symbology: Symbology = "qr"
    module_mm: float = Field(4.0, gt=0, le=50)
    quiet_modules: int = Field(2, ge=0, le=20)
    bar_height_mm: float = Field(60.0, gt=0, description="1D symbols: bar height")
    content: str = Field("{bin_id}", description="text pattern; {bin_id} is the bin's id")
    offset_u_frac: float = Field(0.5, ge=0, le=1, description="centre along the bin, 0..1")
    offset_v_m: float = Field(0.07, description="centre height above the bin's beam")


class RackSpec(_Strict):
    id: str = Field(min_length=1)
    start_m: tuple[float, float]
    yaw_deg: float = 0.0
    depth_m: float = Field(1.1, gt=0, le=5)
    bays_m: list[float] = Field(description="bay widths in metres, along the rack")
    levels_m: list[float] = Field(description="beam heights in metres; level 1 starts at the first")
    top_m: float | None = Field(None, gt=0, description="height of the uprights")
    positions_per_bay: int = Field(2, ge=1, le=20)
    beam_height_m: float = Field(0.12, gt=0, le=0.5)
    upright_width_m: float = Field(0.09, gt=0, le=0.5)

    @field_validator("bays_m")
    @classmethod
    def _bays_positive(cls, v: list[float]) -> list[float]:
        for i, w in enumerate(v):
            if not (w > 0):
                raise ValueError(f"bay {i + 1} width {w} must be > 0 metres")
        return v

    @field_validator("levels_m")
    @classmethod
    def _levels_increasing(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("list at least one beam height in metres (level 1 is usually 0.0)")
        if v[0] < 0:
            raise ValueError(f"beam heights must be >= 0 metres, got {v[0]}")
        for a, b in zip(v, v[1:]):
            if not b > a:
                raise ValueError(f"beam heights must increase from the floor up, got {a} then {b}")
        return v

    @property
    def length_m(self) -> float:
        return float(sum(self.bays_m))

    @property
    def height_m(self) -> float:
        return float(self.top_m if self.top_m is not None else self.levels_m[-1] + 1.5)


class FaceRef(_Strict):
    rack: str
    side: Literal["front", "back"]
    bay_start: int = Field(1, ge=0)
    bay_step: int = Field(1, ge=1)


class AisleSpec(_Strict):
    id: str = Field(min_length=1)
    faces: list[FaceRef] = Field(min_length=1)
    width_m: float | None = Field(None, gt=0.5, le=50, description="clear width in front of a single face (to a wall)")


class NoFlyZoneSpec(_Strict):
    id: str
    polygon_m: list[tuple[float, float]] = Field(min_length=3)
    floor_m: float = 0.0
    ceiling_m: float | None = None


class SiteSpec(_Strict):
    """The site YAML file, as written by people."""

    name: str = "site"
    origin: OriginSpec
    ceiling_m: float = Field(gt=0, le=100)
    indoor: bool = True
    light_lux: float | None = Field(None, gt=0, le=100_000, description="light on the rack faces (lux meter, site survey)")
    bin_naming: str = "{aisle}-B{bay:02d}-L{level}-P{position}"
    location_label: LocationLabelSpec = LocationLabelSpec()
    racks: list[RackSpec] = Field(min_length=1)
    aisles: list[AisleSpec] = Field(min_length=1)
    no_fly_zones: list[NoFlyZoneSpec] = []


@dataclass(frozen=True)
class LocationLabel:
    """A location label on the beam below a bin, in its face's frame."""

    content: str
    symbology: str
    module_mm: float
    center_uv_m: tuple[float, float]


@dataclass(frozen=True)
class Bin:
    bin_id: str
    aisle_id: str
    face_id: str
    rack_id: str
    bay: int
    level: int
    position: int
    u0_m: float
    u1_m: float
    v0_m: float
    v1_m: float
    label: LocationLabel

    @property
    def width_m(self) -> float:
        return self.u1_m - self.u0_m

    @property
    def height_m(self) -> float:
        return self.v1_m - self.v0_m

    @property
    def center_uv_m(self) -> tuple[float, float]:
        return ((self.u0_m + self.u1_m) / 2, (self.v0_m + self.v1_m) / 2)


@dataclass(frozen=True)
class Face:
    face_id: str
    rack_id: str
    side: str
    aisle_id: str
    T_site_face: np.ndarray
    length_m: float
    height_m: float
    depth_m: float
    bay_edges_u_m: tuple[float, ...]
    level_heights_m: tuple[float, ...]
    beam_height_m: float
    upright_width_m: float
    bins: tuple[Bin, ...] = field(default=())

    @property
    def normal_site(self) -> np.ndarray:
        return self.T_site_face[:3, 2].copy()

    def face_to_site(self, uvn_m: np.ndarray) -> np.ndarray:
        """(N,3) face coordinates (u, v, n) -> (N,3) site-frame points."""
        p = np.asarray(uvn_m, dtype=np.float64).reshape(-1, 3)
        return p @ self.T_site_face[:3, :3].T + self.T_site_face[:3, 3]

    def site_to_face(self, p_site_m: np.ndarray) -> np.ndarray:
        """(N,3) site-frame points -> (N,3) face coordinates (u, v, n)."""
        p = np.asarray(p_site_m, dtype=np.float64).reshape(-1, 3)
        return (p - self.T_site_face[:3, 3]) @ self.T_site_face[:3, :3]

    def bin_corners_site(self, b: Bin) -> np.ndarray:
        """(4,3) corners of a bin's front rectangle: bottom-left, bottom-right, top-right, top-left."""
        uv = np.array(
            [[b.u0_m, b.v0_m, 0], [b.u1_m, b.v0_m, 0], [b.u1_m, b.v1_m, 0], [b.u0_m, b.v1_m, 0]]
        )
        return self.face_to_site(uv)

    def point_to_bin(self, u_m: float, v_m: float) -> Bin | None:
        """The bin whose front rectangle holds face point (u, v), or None."""
        for b in self.bins:
            if b.u0_m <= u_m < b.u1_m and b.v0_m <= v_m < b.v1_m:
                return b
        return None

    def intersect_rays(
        self, origins_site: np.ndarray, dirs_site: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where rays hit the face plane: (N,) distance along each ray and (N,2) face (u, v).

        Rays parallel to the plane or hitting it behind their origin get distance ``inf``.
        """
        o = self.site_to_face(origins_site)
        d = np.asarray(dirs_site, dtype=np.float64).reshape(-1, 3) @ self.T_site_face[:3, :3]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -o[:, 2] / d[:, 2]
        t = np.where(np.isfinite(t) & (t > 0), t, np.inf)
        tt = np.where(np.isfinite(t), t, 0.0)
        uv = o[:, :2] + d[:, :2] * tt[:, None]
        return t, uv


def _face_transform(rack: RackSpec, side: str) -> np.ndarray:
    yaw = np.radians(rack.yaw_deg)
    d = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    n_front = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    start = np.array([rack.start_m[0], rack.start_m[1], 0.0])
    if side == "front":
        origin, u, n = start, d, n_front
    else:
        origin, u, n = start - rack.depth_m * n_front + rack.length_m * d, -d, -n_front
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = u, np.array([0.0, 0.0, 1.0]), n, origin
    return T


def rack_footprint(rack: RackSpec) -> np.ndarray:
    """(4,2) floor polygon of a rack in the site frame (counter-clockwise)."""
    yaw = np.radians(rack.yaw_deg)
    d = np.array([np.cos(yaw), np.sin(yaw)])
    n_front = np.array([np.sin(yaw), -np.cos(yaw)])
    s = np.asarray(rack.start_m, dtype=np.float64)
    L = rack.length_m
    return np.array([s, s + L * d, s + L * d - rack.depth_m * n_front, s - rack.depth_m * n_front])


def convex_polygons_overlap(a: np.ndarray, b: np.ndarray, tol_m: float = 1e-6) -> bool:
    """Separating-axis test for two convex polygons (touching edges do not count)."""
    for poly in (a, b):
        for i in range(len(poly)):
            e = poly[(i + 1) % len(poly)] - poly[i]
            axis = np.array([-e[1], e[0]])
            norm = np.linalg.norm(axis)
            if norm == 0:
                continue
            axis /= norm
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() + tol_m or pb.max() <= pa.min() + tol_m:
                return False
    return True


class Site:
    """A validated site: faces with their bins, the geodetic origin, no-fly zones."""

    def __init__(self, spec: SiteSpec, *, source: str | Path = "<site>") -> None:
        self.spec = spec
        self.source = str(source)
        self.origin = GeoOrigin(
            lat_deg=spec.origin.lat_deg,
            lon_deg=spec.origin.lon_deg,
            alt_m=spec.origin.alt_m,
            heading_deg=spec.origin.heading_deg,
        )
        self._validate_and_build()

    # -- construction -------------------------------------------------------------------------
    def _fail(self, loc: tuple, msg: str) -> SiteError:
        line = yaml_line(self.source, loc) if Path(self.source).exists() else None
        where = f"{self.source}:{line}" if line else self.source
        return SiteError(f"{where}: {format_loc(loc)}: {msg}")

    def _validate_and_build(self) -> None:
        spec = self.spec
        fields = {f for _, f, _, _ in string.Formatter().parse(spec.bin_naming) if f}
        unknown = fields - {"aisle", "bay", "level", "position", "rack", "side"}
        if unknown:
            raise self._fail(
                ("bin_naming",),
                f"unknown field(s) {sorted(unknown)}; use {{aisle}} {{bay}} {{level}} {{position}} "
                "{rack} {side}, e.g. '{aisle}-B{bay:02d}-L{level}-P{position}'",
            )
        racks: dict[str, tuple[int, RackSpec]] = {}
        for i, r in enumerate(spec.racks):
            if r.id in racks:
                raise self._fail(("racks", i, "id"), f"duplicate rack id {r.id!r} (also racks[{racks[r.id][0]}])")
            racks[r.id] = (i, r)
            if not r.bays_m:
                raise self._fail(
                    ("racks", i, "bays_m"),
                    f"rack {r.id} has a face with no bays; list at least one bay width in metres",
                )
            for k, h in enumerate(r.levels_m):
                if h + r.beam_height_m > spec.ceiling_m:
                    raise self._fail(
                        ("racks", i, "levels_m", k),
                        f"level {k + 1} beam at {h} m is above the ceiling ({spec.ceiling_m} m)",
                    )
            if r.height_m > spec.ceiling_m:
                raise self._fail(
                    ("racks", i, "top_m"),
                    f"rack {r.id} top at {r.height_m} m is above the ceiling ({spec.ceiling_m} m)",
                )
            if r.height_m <= r.levels_m[-1]:
                raise self._fail(
                    ("racks", i, "top_m"),
                    f"top_m {r.height_m} must be above the highest beam ({r.levels_m[-1]} m)",
                )
        foot = {r.id: rack_footprint(r) for _, r in racks.values()}
        ids = list(racks)
        for a in range(len(ids)):
            for b in range(a):
                if convex_polygons_overlap(foot[ids[a]], foot[ids[b]]):
                    raise self._fail(
                        ("racks", racks[ids[a]][0]),
                        f"rack {ids[a]} overlaps rack {ids[b]} (floor footprints intersect); "
                        "move start_m or shorten bays_m",
                    )
        faces: list[Face] = []
        seen_face: dict[str, tuple] = {}
        seen_bin: dict[str, tuple] = {}
        seen_aisle: dict[str, int] = {}
        lab = spec.location_label
        for ai, aisle in enumerate(spec.aisles):
            if aisle.id in seen_aisle:
                raise self._fail(("aisles", ai, "id"), f"duplicate aisle id {aisle.id!r}")
            seen_aisle[aisle.id] = ai
            for fi, ref in enumerate(aisle.faces):
                loc = ("aisles", ai, "faces", fi)
                if ref.rack not in racks:
                    raise self._fail(
                        loc + ("rack",), f"unknown rack {ref.rack!r}; expected one of {ids}"
                    )
                face_id = f"{ref.rack}/{ref.side}"
                if face_id in seen_face:
                    raise self._fail(loc, f"face {face_id} is already listed at {format_loc(seen_face[face_id])}")
                seen_face[face_id] = loc
                rack = racks[ref.rack][1]
                L = rack.length_m
                cum = np.concatenate([[0.0], np.cumsum(rack.bays_m)])
                levels = list(rack.levels_m) + [rack.height_m]
                bins: list[Bin] = []
                for k in range(len(rack.bays_m)):
                    a0, a1 = cum[k], cum[k + 1]
                    bay_no = ref.bay_start + k * ref.bay_step
                    npos = rack.positions_per_bay
                    for lv in range(len(rack.levels_m)):
                        v0 = levels[lv] + rack.beam_height_m
                        v1 = levels[lv + 1]
                        for p in range(npos):
                            s0 = a0 + (a1 - a0) * p / npos
                            s1 = a0 + (a1 - a0) * (p + 1) / npos
                            u0, u1 = (s0, s1) if ref.side == "front" else (L - s1, L - s0)
                            bin_id = spec.bin_naming.format(
                                aisle=aisle.id, bay=bay_no, level=lv + 1, position=p + 1,
                                rack=ref.rack, side=ref.side,
                            )
                            if bin_id in seen_bin:
                                raise self._fail(
                                    loc,
                                    f"duplicate bin id {bin_id!r} (also from "
                                    f"{format_loc(seen_bin[bin_id])}); change bay_start/bay_step or bin_naming",
                                )
                            seen_bin[bin_id] = loc
                            label = LocationLabel(
                                content=lab.content.format(bin_id=bin_id),
                                symbology=lab.symbology,
                                module_mm=lab.module_mm,
                                center_uv_m=(
                                    u0 + (u1 - u0) * lab.offset_u_frac,
                                    levels[lv] + lab.offset_v_m,
                                ),
                            )
                            bins.append(
                                Bin(bin_id, aisle.id, face_id, ref.rack, bay_no, lv + 1, p + 1,
                                    float(u0), float(u1), float(v0), float(v1), label)
                            )
                faces.append(
                    Face(
                        face_id=face_id, rack_id=ref.rack, side=ref.side, aisle_id=aisle.id,
                        T_site_face=_face_transform(rack, ref.side), length_m=L,
                        height_m=rack.height_m, depth_m=rack.depth_m,
                        bay_edges_u_m=tuple(float(x) for x in (cum if ref.side == "front" else L - cum[::-1])),
                        level_heights_m=tuple(rack.levels_m), beam_height_m=rack.beam_height_m,
                        upright_width_m=rack.upright_width_m, bins=tuple(bins),
                    )
                )
        for zi, z in enumerate(spec.no_fly_zones):
            if z.ceiling_m is not None and z.ceiling_m <= z.floor_m:
                raise self._fail(("no_fly_zones", zi, "ceiling_m"), "ceiling_m must be above floor_m")
        self.faces: tuple[Face, ...] = tuple(faces)
        self._faces_by_id = {f.face_id: f for f in faces}
        self._bins_by_id = {b.bin_id: b for f in faces for b in f.bins}
        self.racks: dict[str, RackSpec] = {k: v[1] for k, v in racks.items()}

    # -- queries ------------------------------------------------------------------------------
    @cached_property
    def bins(self) -> tuple[Bin, ...]:
        return tuple(b for f in self.faces for b in f.bins)

    def bin(self, bin_id: str) -> Bin:
        try:
            return self._bins_by_id[bin_id]
        except KeyError:
            raise SiteError(f"{self.source}: unknown bin {bin_id!r}; bins look like {self.bins[0].bin_id!r}") from None

    def has_bin(self, bin_id: str) -> bool:
        return bin_id in self._bins_by_id

    def face(self, face_id: str) -> Face:
        try:
            return self._faces_by_id[face_id]
        except KeyError:
            raise SiteError(
                f"{self.source}: unknown face {face_id!r}; expected one of {sorted(self._faces_by_id)}"
            ) from None

    def faces_of_aisle(self, aisle_id: str) -> tuple[Face, ...]:
        out = tuple(f for f in self.faces if f.aisle_id == aisle_id)
        if not out:
            raise SiteError(f"{self.source}: unknown aisle {aisle_id!r}; expected one of {self.aisle_ids}")
        return out

    @property
    def aisle_ids(self) -> list[str]:
        return [a.id for a in self.spec.aisles]

    def footprints(self) -> dict[str, np.ndarray]:
        return {rid: rack_footprint(r) for rid, r in self.racks.items()}

    def bounds_xy_m(self, margin_m: float = 0.0) -> tuple[float, float, float, float]:
        pts = np.concatenate(
            list(self.footprints().values())
            + [np.asarray(z.polygon_m, dtype=np.float64) for z in self.spec.no_fly_zones]
        )
        lo, hi = pts.min(axis=0) - margin_m, pts.max(axis=0) + margin_m
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def locate(self, p_site_m: np.ndarray, max_dist_m: float = 0.3) -> Bin | None:
        """The bin whose front rectangle is nearest to a site point within ``max_dist_m``."""
        best, best_d = None, max_dist_m
        for f in self.faces:
            u, v, n = f.site_to_face(p_site_m)[0]
            if abs(n) <= best_d:
                b = f.point_to_bin(u, v)
                if b is not None:
                    best, best_d = b, abs(n)
        return best

    def bin_centres_site(self) -> dict[str, tuple[float, float, float]]:
        """Site-frame centre of every bin's front rectangle."""
        out = {}
        for f in self.faces:
            for b in f.bins:
                out[b.bin_id] = tuple(float(x) for x in f.face_to_site([[*b.center_uv_m, 0.0]])[0])
        return out

    def summary(self) -> "SiteSummary":
        return SiteSummary(
            name=self.spec.name,
            n_aisles=len(self.spec.aisles),
            n_racks=len(self.racks),
            n_faces=len(self.faces),
            n_bins=len(self.bins),
            face_length_m=float(sum(f.length_m for f in self.faces)),
            max_height_m=float(max(f.height_m for f in self.faces)),
            ceiling_m=self.spec.ceiling_m,
            n_no_fly_zones=len(self.spec.no_fly_zones),
        )

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.spec.model_dump(mode="json"), sort_keys=False)


@dataclass(frozen=True)
class SiteSummary:
    name: str
    n_aisles: int
    n_racks: int
    n_faces: int
    n_bins: int
    face_length_m: float
    max_height_m: float
    ceiling_m: float
    n_no_fly_zones: int


def load_site(path: str | Path) -> Site:
    """Read, validate and build a site YAML file. Raises :class:`SiteError` with file:line: path."""
    data = load_yaml_mapping(path, what="site file")
    try:
        spec = SiteSpec.model_validate(data)
    except ValidationError as exc:
        raise SiteError(format_validation_error(path, exc)) from None
    return Site(spec, source=path)


def site_from_dict(data: dict, *, source: str = "<site>") -> Site:
    try:
        spec = SiteSpec.model_validate(data)
    except ValidationError as exc:
        raise SiteError(format_validation_error(source, exc)) from None
    return Site(spec, source=source)


def grid_site_dict(n_aisles: int, bays: int, *, levels_m: tuple[float, ...] = (0.0, 1.2, 2.4, 3.6, 4.8, 6.0),
                   positions: int = 2, bay_m: float = 2.7, name: str | None = None) -> dict:
    """A generated site as plain data: ``n_aisles`` aisles, each between two racks of ``bays`` bays
    facing each other across 3 m (rack, aisle, rack, 0.2 m to the next pair's back); the scale
    bench's sites and the long synthetic flights."""
    top_m = levels_m[-1] + (levels_m[-1] - levels_m[-2] if len(levels_m) > 1 else 1.2)
    racks, aisles = [], []
    for k in range(n_aisles):
        y0 = k * 5.2
        a, b = f"R{2 * k + 1:03d}", f"R{2 * k + 2:03d}"
        for rid, y in ((a, y0), (b, y0 + 4.0)):
            racks.append({"id": rid, "start_m": [0.0, y], "yaw_deg": 0.0, "depth_m": 1.0, "bays_m": [bay_m] * bays,
                          "levels_m": list(levels_m), "top_m": top_m, "positions_per_bay": positions})
        aisles.append({"id": f"A{k + 1:03d}", "faces": [{"rack": a, "side": "back", "bay_start": 1, "bay_step": 2},
                                                       {"rack": b, "side": "front", "bay_start": 2, "bay_step": 2}]})
    n_bins = 2 * n_aisles * bays * len(levels_m) * positions
    return {"name": name or f"generated site of {n_bins} bins", "ceiling_m": top_m + 1.8,
            "origin": {"lat_deg": 10.8, "lon_deg": 106.6, "alt_m": 5.0, "heading_deg": 0.0},
            "racks": racks, "aisles": aisles}


def two_rack_site_dict() -> dict:
    """A small valid site (two racks facing each other across aisle A01) as plain data: the
    starting point for tests and synthetic scenes."""
    return {
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
