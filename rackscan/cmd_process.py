"""``rackscan process BUNDLE --erp stock.csv``: detect -> fuse -> reconcile on a recorded flight,
resumable (a killed run continues where it stopped), locally or on a Ray cluster."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("process")
    def process(
        bundle_dirs: list[Path] = typer.Argument(..., help="flight bundle directories, one count each (a bundle's continuations BUNDLE.resume1, ... when the flight was resumed belong to its count); several share one executor: on Ray, each bundle's frame chunks are spread over the cluster's workers"),
        erp: Path = typer.Option(None, "--erp", help="ERP stock export (.csv/.xlsx); without it the run stops after fusion"),
        executor: str = typer.Option("local", "--executor", help="local or ray"),
        ray_address: str = typer.Option(None, "--ray-address", help="existing Ray cluster (default: a local one on loopback)"),
        gpus_per_task: float = typer.Option(0.0, "--gpus-per-task", help="GPUs each Ray perception task asks for"),
        weights: Path = typer.Option(None, "--weights", help="detector weights (default: shipped)"),
        backend: str = typer.Option("onnx", "--backend", help="onnx or torch"),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
        batch: int = typer.Option(1, "--batch", min=1, help="frames per inference batch"),
        conf: float = typer.Option(0.25, "--conf", help="detection confidence threshold"),
        chunk_frames: int = typer.Option(32, "--chunk-frames", min=1, help="frames per perception task"),
        min_support: float = typer.Option(0.5, "--min-support", help="fusion: share of in-view frames that must see a tire"),
        drift_correction: bool = typer.Option(True, "--drift-correction/--no-drift-correction"),
        confidence_model: Path = typer.Option(None, "--confidence-model", help="fusion: bin confidence model (JSON; default: the shipped one), e.g. one fitted on the boxes of --weights"),
        count_model: Path = typer.Option(None, "--count-model", help="fusion: count confidence model (JSON; default: the shipped one)"),
        register_passes: bool = typer.Option(True, "--register-passes/--no-register-passes",
                                             help="line a face's passes up on the tires they saw in common"),
        db: str = typer.Option(None, "--db", help="results store URL (default: sqlite in the report folder)"),
        out: Path = typer.Option(None, "--out", help="report folder (default BUNDLE/report; with several bundles, OUT/<bundle name>)"),
        min_confidence: float = typer.Option(0.8, "--min-confidence", help="reconcile: below this a count asks for a recount"),
        erp_sku_confidence: float = typer.Option(None, "--erp-sku-confidence", min=0.0, max=1.0,
                                                 help="reconcile: goods no label of which was read, their size fitting "
                                                      "the one SKU the ERP lists in the bin, are that SKU at this "
                                                      "confidence at most (default 0.85; 0 sends them to recount)"),
        product_master: Path = typer.Option(None, "--product-master", help="reconcile: material <-> GTIN/EAN from the ERP (SAP MEAN: MATNR, EAN11; catalogue.csv)"),
    ) -> None:
        """Run the offline pipeline on recorded flights; stages already done are skipped."""
        from rich.console import Console

        from rackscan.cmd_reconcile import summary_table
        from rackscan.executors import make_executor
        from rackscan.process import process_bundles
        from slam_fusion.tools.io import FusionOptions

        con = Console()
        names = [b.name for b in bundle_dirs]
        if len(set(names)) < len(names) and out is not None:
            from warehouse.errors import RackscanError

            raise RackscanError(f"--out {out}: bundles {names} share a folder name; expected distinct names (their "
                                "reports go to OUT/<bundle name>)")
        ex = make_executor(executor, address=ray_address, num_gpus_per_task=gpus_per_task)
        try:
            reps = process_bundles(bundle_dirs, erp=erp, executor=ex, weights=weights, backend=backend, device=device,
                                   conf=conf, batch=batch, chunk_frames=chunk_frames,
                                   fuse_options=FusionOptions(min_support=min_support, drift_correction=drift_correction,
                                                              register_passes=register_passes,
                                                              confidence_model=str(confidence_model) if confidence_model else None,
                                                              count_model=str(count_model) if count_model else None),
                                   reconcile_options=lambda root: {
                                       "db_url": db, "min_confidence": min_confidence, "product_master_path": product_master,
                                       **({} if erp_sku_confidence is None else {"erp_sku_confidence": erp_sku_confidence}),
                                       "out_dir": out / root.name if out and len(bundle_dirs) > 1 else out},
                                   log=con.print)
            for bundle_dir, rep in zip(bundle_dirs, reps):
                if len(bundle_dirs) > 1:
                    con.rule(f"{bundle_dir}")
                if rep.reconciliation is not None:
                    con.print(summary_table(rep.reconciliation, f"reconciliation of {bundle_dir.name} against {erp.name}"))
                    for w in rep.reconciliation.warnings:
                        con.print(f"[yellow]warning:[/] {w}")
                ran = ", ".join(f"{k} {rep.seconds[k]:.1f} s ({v})" for k, v in rep.stages.items())
                ratio = rep.processing_s / rep.flight_time_s if rep.flight_time_s else float("nan")
                con.print(f"{rep.frames} frames, {rep.flight_time_s:.0f} s of flight; {ran}; "
                          f"processing / flight time = {ratio:.2f}")
            if len(reps) > 1:
                flight_s = sum(r.flight_time_s for r in reps)
                wall_s = max(r.seconds.get("detect", 0) for r in reps) + max(r.seconds.get("fuse", 0) for r in reps) + \
                    sum(r.seconds.get("reconcile", 0) for r in reps)
                con.print(f"{len(reps)} flights side by side: {flight_s:.0f} s of flight processed in {wall_s:.1f} s "
                          f"(detect and fuse shared by all; processing / flight time = {wall_s / flight_s if flight_s else float('nan'):.2f})")
            if getattr(ex, "nodes_used", None):
                con.print(f"ray: perception ran on {len(ex.nodes_used)} of the cluster's {ex.n_nodes} nodes")
        finally:
            ex.shutdown()
