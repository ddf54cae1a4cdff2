"""``rackscan bench SCENARIO.yaml``: a synthetic scenario end to end against its ground truth.

Builds the scenario's warehouse, plans the mission (bins per flight hour), records the scan
flight with the virtual camera (the synthetic recorder: rendered frames, telemetry with the
scenario's RTK noise, drift and clock offset), runs ``rackscan process`` on it (perception,
fusion, reconciliation against the scenario's ERP snapshot) and scores the outcome against the
truth. The recorded flight is kept in ``--out`` and reused while the scenario file is unchanged.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import typer

from rackscan.bench_app import bench_app


def truth_by_bin(stock):
    """The truth stock -> per stocked bin: count (summed) and SKU; bins absent are empty."""
    return stock[stock["count"] > 0].groupby("bin_id").agg(count=("count", "sum"), sku=("sku", "first"))


def read_truth_stock(bundle_dir: Path):
    """A synthetic flight bundle's ``truth/stock.csv`` (bin_id, sku, count, ...), SKUs as text."""
    import pandas as pd

    return pd.read_csv(Path(bundle_dir) / "truth" / "stock.csv", dtype={"sku": str, "bin_id": str}).fillna({"sku": ""})


def score_counts(observations, stock) -> tuple[int, int, int]:
    """(bins observed, count right, SKU right) of observations against the truth stock."""
    truth = truth_by_bin(stock)
    n = ok_c = ok_s = 0
    for r in observations.itertuples():
        n += 1
        ok_c += int(r.count) == int(truth["count"].get(r.bin_id, 0))
        ok_s += (r.sku or "") == truth["sku"].get(r.bin_id, "")
    return n, ok_c, ok_s


def per_bin(observations):
    """Observations -> one row per bin (bin_id, count summed, first SKU, lowest confidence), as
    ``score_counts`` and ``confidently_wrong`` score them."""
    return (observations.groupby("bin_id")
            .agg(count=("count", "sum"), sku=("sku", "first"), confidence=("confidence", "min")).reset_index())


def confidently_wrong(per_bin, stock, *, min_confidence: float = 0.9) -> int:
    """Bins whose count is wrong against the truth stock at confidence >= ``min_confidence``
    (per_bin: bin_id, count, confidence; one row per bin)."""
    truth = truth_by_bin(stock)
    return int(sum(1 for r in per_bin.itertuples()
                   if int(r.count) != int(truth["count"].get(r.bin_id, 0)) and float(r.confidence) >= min_confidence))


@bench_app.command("scenario")
def scenario_bench(
    scenario_yaml: Path = typer.Argument(..., help="scenario YAML (the synthetic warehouse's schema)"),
    out: Path = typer.Option(None, "--out", help="working folder (default runs/bench/<scenario name>)"),
    executor: str = typer.Option("local", "--executor", help="local or ray"),
    aisles: str = typer.Option("", "--aisles", help="only these aisles, comma separated (default: all)"),
    faces_opt: str = typer.Option("", "--faces", help="only these rack faces, comma separated (e.g. R01/back; default: "
                                  "every face of the aisles)"),
    fresh: bool = typer.Option(False, "--fresh", help="record the flight again even if one is kept"),
) -> None:
    """Bins per flight hour, coverage, count and SKU accuracy, discrepancy precision/recall by kind,
    perception frames per second and processing time over flight time, in one table."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from datasets.scenario import load_scenario
    from datasets.synthflight import record_synthetic_flight
    from datasets.world import build_world
    from flight.planner import PlanOptions, plan
    from rackscan.executors import make_executor, progress_bar
    from rackscan.process import process_bundle
    from rackscan.stages import StageState, code_digest
    from reconciliation.bench import bench_world
    from slam_fusion.tools.io import fuse_bundle

    con = Console()
    sc = load_scenario(scenario_yaml)
    world = build_world(sc)
    site = world.site
    root = out or Path("runs/bench") / sc.spec.name
    root.mkdir(parents=True, exist_ok=True)
    p = plan(site, world.camera, PlanOptions())
    aisle_ids = [a for a in aisles.split(",") if a] or list(site.aisle_ids)
    faces = [f.face_id for a in aisle_ids for f in site.faces_of_aisle(a)]
    if faces_opt:
        asked = [f.strip() for f in faces_opt.split(",") if f.strip()]
        unknown = [f for f in asked if f not in faces]
        if unknown:
            from warehouse.errors import RackscanError

            raise RackscanError(f"--faces {', '.join(unknown)}: not a face of {', '.join(aisle_ids)}; expected one of "
                                f"{', '.join(faces)}")
        faces = asked
    # the recorded flight is kept while the scenario, the faces and the synthetic warehouse's code
    # (renderer, recorder) are unchanged
    key = hashlib.sha256((Path(scenario_yaml).read_bytes() + ",".join(faces).encode()
                          + code_digest("datasets").encode())).hexdigest()[:16]
    bundle = root / "flight"
    if fresh or not (root / "flight.key").exists() or (root / "flight.key").read_text() != key:
        shutil.rmtree(bundle, ignore_errors=True)
        with progress_bar() as prog:
            task = prog.add_task(f"recording the synthetic flight ({', '.join(faces)})", total=None)
            record_synthetic_flight(world, bundle, face_ids=faces,
                                    on_frame=lambda i, n: prog.update(task, completed=i, total=n))
        (root / "flight.key").write_text(key)
    else:
        con.print(f"reusing the recorded flight in {bundle} (--fresh records it again)")
    erp = root / "erp_stock.csv"
    text = world.erp.to_csv(index=False)
    if not erp.exists() or erp.read_text() != text:  # unchanged file: reconciliation stays up to date
        erp.write_text(text)
    ex = make_executor(executor)
    try:
        rep = process_bundle(bundle, erp=erp, executor=ex,
                             reconcile_options={"out_dir": root / "report", "db_url": None, "min_confidence": 0.8},
                             log=con.print)
    finally:
        ex.shutdown()
    st = StageState(bundle)
    det_s = float(st.info("detect").get("seconds", 0.0))
    proc_s = sum(float(st.info(k).get("seconds", 0.0)) for k in ("detect", "fuse", "reconcile"))
    obs = pd.read_parquet(bundle / "observations.parquet")
    n_obs, ok_c, ok_s = score_counts(obs, world.stock)
    scanned_bins = {b.bin_id for f in faces for b in site.face(f).bins}
    from slam_fusion.tools.io import FusionOptions

    raw = fuse_bundle(__import__("flight.bundle", fromlist=["Bundle"]).Bundle(bundle), FusionOptions(drift_correction=False))
    raw_df = pd.DataFrame([{"bin_id": o.bin_id, "count": o.count, "sku": o.sku} for o in raw.observations])
    _, raw_c, raw_s = score_counts(raw_df, world.stock)
    in_scope = world.discrepancies[world.discrepancies.bin_id.isin(scanned_bins)
                                   & world.discrepancies.other_bin_id.fillna("").map(lambda b: not b or b in scanned_bins)]
    world_scoped = type("W", (), {"erp": world.erp[world.erp.Bin.isin(scanned_bins)], "site": site,
                                  "discrepancies": in_scope, "stock": world.stock})
    scores = bench_world(world_scoped, obs)
    t = Table(title=f"rackscan bench {Path(scenario_yaml).name}: {len(scanned_bins)} bins on {len(faces)} faces, "
                    f"{rep.frames} frames, {rep.flight_time_s:.0f} s of flight")
    for c in ("figure", "value", "goal"):
        t.add_column(c)
    t.add_row("planned bins per flight hour", f"{p.bins_per_flight_hour:.0f}", "> 100 (manual count)")
    t.add_row("coverage (bins observed / bins flown)", f"{n_obs}/{len(scanned_bins)} = {n_obs / max(1, len(scanned_bins)):.1%}", "100%")
    t.add_row("bin count accuracy", f"{ok_c}/{n_obs} = {ok_c / max(1, n_obs):.2%}", ">= 99.5%")
    t.add_row("SKU accuracy", f"{ok_s}/{n_obs} = {ok_s / max(1, n_obs):.2%}", ">= 99.5%")
    t.add_row("  without label drift correction: count / SKU",
              f"{raw_c / max(1, n_obs):.1%} / {raw_s / max(1, n_obs):.1%}", "")
    cl = float(st.info("fuse").get("clock_offset_s", 0.0))
    true_off = -float(sc.spec.telemetry.clock_offset_s)  # the correction that undoes the camera's lead
    t.add_row("camera clock offset estimated (true)", f"{cl * 1000:+.1f} ms ({true_off * 1000:+.1f} ms)", "within 20 ms")
    for s in scores:
        t.add_row(f"discrepancies {s.kind}: precision / recall", f"{s.precision:.3f} / {s.recall:.3f} "
                  f"({s.true_positive} of {s.truth} found, {s.predicted} reported)",
                  ">= 0.98 / >= 0.99" if s.kind == "all" else "")
    t.add_row("perception frames per second", f"{rep.frames / det_s:.1f}" if det_s else "-", "")
    t.add_row("processing time / flight time", f"{proc_s:.0f} s / {rep.flight_time_s:.0f} s = "
              f"{proc_s / max(1e-9, rep.flight_time_s):.2f}", "<= 0.5 on 2 cores")
    con.print(t)


def register(app: typer.Typer) -> None:
    pass
