"""``rackscan synth``: write a synthetic warehouse to disk (site, stock, ERP, truth, gallery)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pandas as pd
import yaml

from datasets.render import Renderer, camera_pose_facing
from datasets.scenario import Scenario, load_scenario
from datasets.world import World, build_world
from warehouse.camera import dump_camera

FIXED_XLSX_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class SynthResult:
    out_dir: Path
    n_bins: int
    n_tires: int
    n_discrepancies: int
    n_frames: int
    standoff_m: float
    contact_sheet: Path | None


def write_erp_xlsx(df: pd.DataFrame, path: Path, sheet: str = "Stock") -> None:
    """An XLSX like an ERP export; fixed document times so the same seed gives the same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append(list(row))
    for col in ws.iter_cols(min_row=1, max_row=1):
        for c in col:
            if c.value == "Bin" or c.value == "Material":
                for cell in ws[c.column_letter][1:]:
                    cell.number_format = "@"
    wb.properties.created = FIXED_XLSX_TIME
    wb.properties.modified = FIXED_XLSX_TIME
    wb.properties.creator = "rackscan synth"
    import io
    import zipfile

    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps zip entries with the wall clock; restamp them so the bytes are reproducible
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_XLSX_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" to now on save
                import re

                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            zout.writestr(fixed, data)


def gallery_poses(world: World, n: int, seed: int, *, exposure_s: float | None = None
                  ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Deterministic views: close inspection shots at the default standoff and a few wide aisle views.

    Returns (name, T_site_camera, T_site_camera_prev) with the previous pose one exposure earlier
    at the planner's blur-limited speed, so motion blur is what a real pass would give.
    """
    rng = np.random.default_rng(seed + 99)
    d = world.default_standoff_m()
    speed = world.camera.max_speed_m_s(d)
    du = speed * world.camera.exposure_s  # at the blur limit: one max_blur_px whatever the exposure
    faces = world.site.faces
    # inspection shots show stocked bins (an empty bin is a dull picture); every fourth may be any bin
    stocked = set(world.stock.loc[world.stock["count"] > 0, "bin_id"])
    out = []
    for i in range(n):
        f = faces[i % len(faces)]
        if i % 6 == 5:
            u = float(rng.uniform(0.3, 0.5) * f.length_m)
            v = float(rng.uniform(1.4, 2.2))
            T = camera_pose_facing(f, u, v, world.aisle_clearance_m(), yaw_deg=22.0, pitch_deg=-3.0)
            name = f"{i:03d}_wide_{f.face_id.replace('/', '-')}"
        else:
            pool = [b for b in f.bins if b.bin_id in stocked] if i % 4 != 3 else []
            pool = pool or list(f.bins)
            b = pool[int(rng.integers(len(pool)))]
            u, v = b.center_uv_m
            v = b.v0_m + 0.22 * b.height_m
            T = camera_pose_facing(f, u, v, d)
            name = f"{i:03d}_{b.bin_id}"
        T_prev = T.copy()
        T_prev[:3, 3] -= T[:3, 0] * du
        out.append((name, T, T_prev))
    return out


def contact_sheet(images: list[tuple[str, np.ndarray]], path: Path, *, cols: int = 4, thumb_w: int = 480) -> Path:
    thumbs = []
    for name, img in images:
        h = int(img.shape[0] * thumb_w / img.shape[1])
        t = cv2.resize(img, (thumb_w, h), interpolation=cv2.INTER_AREA)
        cv2.rectangle(t, (0, h - 24), (thumb_w, h), (0, 0, 0), -1)
        cv2.putText(t, name, (6, h - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        thumbs.append(t)
    rows = []
    blank = np.zeros_like(thumbs[0])
    for r in range(0, len(thumbs), cols):
        row = thumbs[r : r + cols] + [blank] * (cols - len(thumbs[r : r + cols]))
        rows.append(np.concatenate(row, axis=1))
    sheet = np.concatenate(rows, axis=0)
    cv2.imwrite(str(path), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path


def synthesize(scenario: Scenario | str | Path, out_dir: str | Path, *, n_frames: int | None = None,
               on_frame: Callable[[int, int], None] | None = None) -> SynthResult:
    sc = load_scenario(scenario) if not isinstance(scenario, Scenario) else scenario
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    (out / "gallery").mkdir(parents=True, exist_ok=True)
    world = build_world(sc)
    (out / "site.yaml").write_text(sc.site.to_yaml(), encoding="utf-8")
    resolved = sc.spec.model_dump(mode="json")
    resolved["site"], resolved["site_size"] = "site.yaml", None
    (out / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False), encoding="utf-8")
    dump_camera(sc.camera, out / "camera.yaml")
    world.catalogue.drop(columns=["in_erp"]).to_csv(out / "catalogue.csv", index=False)
    world.stock.drop(columns=["pallet"]).to_csv(out / "truth" / "stock.csv", index=False)
    world.discrepancies.to_csv(out / "truth" / "discrepancies.csv", index=False)
    world.erp.to_csv(out / "erp_stock.csv", index=False)
    write_erp_xlsx(world.erp, out / "erp_stock.xlsx")
    n = sc.spec.gallery_frames if n_frames is None else n_frames
    renderer = Renderer(world)
    shots, truth = [], []
    exposure_s = None
    if sc.spec.lighting.lux is not None:  # exposed as the planner would fly it
        from datasets.synthflight import plan_world

        exposure_s = plan_world(world, allow_dark=True).exposure_s
    poses = gallery_poses(world, n, sc.spec.seed, exposure_s=exposure_s)
    for i, (name, T, T_prev) in enumerate(poses):
        res = renderer.render(T, T_site_camera_prev=T_prev, rng_seed=sc.spec.seed * 1000 + i, frame_idx=i,
                              exposure_s=exposure_s)
        cv2.imwrite(str(out / "gallery" / f"{name}.jpg"), res.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, sc.spec.sensor.jpeg_quality])
        truth.append(res.objects)
        shots.append((name, res.image_bgr))
        if on_frame:
            on_frame(i + 1, len(poses))
    sheet = None
    if truth:
        pd.concat(truth, ignore_index=True).to_parquet(out / "truth" / "gallery_objects.parquet", index=False)
        pd.DataFrame([{"frame_idx": i, "name": nm, **{f"T{r}{c}": T[r, c] for r in range(4) for c in range(4)}}
                      for i, (nm, T, _) in enumerate(poses)]).to_csv(out / "truth" / "gallery_poses.csv", index=False)
        sheet = contact_sheet(shots, out / "gallery" / "contact_sheet.png")
    return SynthResult(out, len(sc.site.bins), int(world.stock["count"].sum()), len(world.discrepancies), len(shots),
                       world.default_standoff_m(), sheet)
