"""A synthetic flight out as a real drone's files and back in, measured: the original bundle, its
MP4 + DataFlash log imported, its EXIF photos (a camera clock error, local time in a time zone) +
a log without triggers imported, and its photos with a CAM message each imported; each processed
(detect + fuse) and compared bin by bin. ``rackscan bench import`` prints it; the tests assert it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass(frozen=True, kw_only=True)
class ImportBench:
    out: Path
    bundles: dict  # name -> bundle path: orig, from_video, from_photos, from_cam
    counts: dict  # name -> {bin_id: (sku, count)} (processed bundles)
    clock_error_s: float
    clock_offset_s: dict  # name -> fusion's clock offset (s)
    reports: dict  # name -> ImportReport
    seconds: dict = field(default_factory=dict)
    erp: Path | None = None
    db_url: str = ""

    def differing_bins(self, name: str) -> list[str]:
        a, b = self.counts["orig"], self.counts[name]
        return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def run_import_bench(scenario: str | Path, out: str | Path, *, face: str = "R02/front", passes: int = 1,
                     clock_error_s: float = 0.3, utc_offset: str = "+02:00", reconcile_video: bool = True,
                     log: Callable[[str], None] = print) -> ImportBench:
    import json
    import time

    import pandas as pd

    from datasets.synthflight import record_synthetic_flight
    from datasets.world import build_world
    from flight.bundle import Bundle
    from imports.export import export_flight
    from imports.importer import ImportOptions, import_flight
    from rackscan.executors import LocalExecutor
    from rackscan.process import process_bundle
    from warehouse.camera import dump_camera

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    world = build_world(scenario)
    orig = out / "orig"
    record_synthetic_flight(world, orig, face_ids=[face], max_passes_per_face=passes, clock_offset_s=clock_error_s)
    secs["record"] = time.perf_counter() - t0
    cam = out / "camera.yaml"
    dump_camera(Bundle(orig).camera_spec(), cam)
    common = dict(camera=cam, site=orig / "site.yaml", catalogue=orig / "catalogue.csv")
    reports = {}
    t0 = time.perf_counter()
    export_flight(orig, log=out / "video.bin", video=out / "flight.mp4")
    reports["from_video"] = import_flight(ImportOptions(logs=(out / "video.bin",), video=out / "flight.mp4",
                                                        out=out / "from_video", **common))
    export_flight(orig, log=out / "photos.bin", photos=out / "photos", utc_offset=utc_offset)
    reports["from_photos"] = import_flight(ImportOptions(logs=(out / "photos.bin",), images=out / "photos",
                                                         out=out / "from_photos", **common))
    export_flight(orig, log=out / "cam.bin", photos=out / "photos_cam", utc_offset=utc_offset, triggers=True)
    reports["from_cam"] = import_flight(ImportOptions(logs=(out / "cam.bin",), images=out / "photos_cam",
                                                      out=out / "from_cam", **common))
    secs["export+import"] = time.perf_counter() - t0
    erp = out / "erp_stock.csv"
    world.erp.to_csv(erp, index=False)
    db_url = f"sqlite:///{out / 'results.db'}"
    counts, offsets = {}, {}
    for name in ("orig", "from_video", "from_photos"):
        t0 = time.perf_counter()
        rec = {"db_url": db_url, "out_dir": out / "report"} if (name == "from_video" and reconcile_video) else None
        process_bundle(out / name, erp=erp if rec else None, executor=LocalExecutor(), reconcile_options=rec,
                       log=lambda s: None)
        secs[f"process {name}"] = time.perf_counter() - t0
        obs = pd.read_parquet(out / name / "observations.parquet")
        counts[name] = {r.bin_id: (r.sku, int(r.count)) for r in obs.itertuples()}
        offsets[name] = json.loads((out / name / "fusion" / "result.json").read_text())["clock_offset_s"]
        log(f"{name}: {len(obs)} bins, {int(obs['count'].sum())} tires, clock offset {offsets[name] * 1000:+.1f} ms")
    return ImportBench(out=out, bundles={k: out / k for k in ("orig", "from_video", "from_photos", "from_cam")},
                       counts=counts, clock_error_s=clock_error_s, clock_offset_s=offsets, reports=reports,
                       seconds=secs, erp=erp, db_url=db_url if reconcile_video else "")
