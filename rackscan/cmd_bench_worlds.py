"""``rackscan bench worlds FAMILY``: the pipeline scored on worlds it was not tuned on."""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


@bench_app.command("worlds")
def worlds_bench(
    family_yaml: Path = typer.Argument(..., help="a world family file (datasets/families/*.yaml)"),
    worlds: int = typer.Option(20, "--worlds", help="how many worlds of the split"),
    split: str = typer.Option("test", "--split", help="train, dev or test (test worlds are only ever scored)"),
    start: int = typer.Option(0, "--start", help="skip this many worlds of the split"),
    world: list[int] = typer.Option(None, "--world", help="these worlds of the split instead (repeat it)"),
    out: Path = typer.Option(None, "--out", help="working folder (default runs/worlds/<family>)"),
    one_face: bool = typer.Option(False, "--one-face", help="fly only each world's first face (faster)"),
    fresh: bool = typer.Option(False, "--fresh", help="fly and process every world again"),
    executor: str = typer.Option("local", "--executor", help="local or ray"),
    jobs: int = typer.Option(1, "--jobs", min=1, help="worlds flown at a time, each in its own process (a world "
                                                      "renders on one core: 2 on a 2-core machine)"),
    fit_confidence: bool = typer.Option(False, "--fit-confidence",
                                        help="fit the bin confidence model on these worlds and ship it (not on test worlds)"),
    fit_count_confidence: bool = typer.Option(False, "--fit-count-confidence",
                                              help="fit the count confidence model (the count alone right, SKU aside) "
                                                   "on these worlds and ship it (not on test worlds)"),
    recalibrate_confidence: bool = typer.Option(False, "--recalibrate-confidence",
                                                help="rescale the shipped model's log-odds on these worlds (Platt: two "
                                                     "numbers, not a refit) and ship it (not on test worlds)"),
    confidence_out: Path = typer.Option(None, "--confidence-out",
                                        help="with --fit-confidence, --fit-count-confidence or --recalibrate-confidence: "
                                             "write the model here, a candidate, instead of shipping it"),
    score_confidence: list[Path] = typer.Option(None, "--score-confidence",
                                                help="score this model file beside the shipped one on these worlds' "
                                                     "stored bins (repeat it)"),
    weights: Path = typer.Option(None, "--weights",
                                 help="candidate detector weights (.onnx, with the train_config.yaml rackscan train "
                                      "writes beside it): each world's stored flight is processed again with them in "
                                      "OUT/weights-<sha256>/ and scored beside the shipped weights"),
    confidence_model: Path = typer.Option(None, "--confidence-model",
                                          help="with --weights: fuse the candidate's boxes with this bin confidence "
                                               "model (one --fit-confidence --confidence-out fitted on them) instead "
                                               "of the shipped one"),
    count_model: Path = typer.Option(None, "--count-model",
                                     help="with --weights: the count confidence model to fuse them with (one "
                                          "--fit-count-confidence --confidence-out wrote) instead of the shipped one"),
) -> None:
    """Per world and pooled: bin count and SKU accuracy, discrepancy precision/recall by kind, wrong
    bins at confidence >= 0.9, calibration (ECE, Brier, reliability diagram), processing / flight time."""
    import json
    import os
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from datasets.family import load_family
    from rackscan.executors import make_executor, progress_bar
    from rackscan.worlds import (CONFIDENT, LIGHT_BANDS_LUX, MIN_CONFIDENCE, by_light, light_plot,
                                 pick_worlds, pool, reliability_plot, run_world, run_worlds)

    con = Console()
    if not con.is_terminal and "COLUMNS" not in os.environ:  # a log of an hour's run: its tables whole, not cut at 80
        con = Console(width=200)
    fam = load_family(family_yaml)
    ks = pick_worlds(fam, split, world) if world else fam.worlds(split, worlds, start=start)
    from datasets.errors import DatasetError

    chosen = [f for f, on in (("--fit-confidence", fit_confidence), ("--fit-count-confidence", fit_count_confidence),
                              ("--recalibrate-confidence", recalibrate_confidence)) if on]
    if len(chosen) > 1:
        raise DatasetError(f"{' with '.join(chosen)}: choose one (a refit, a count model, or the shipped model rescaled)")
    refit = chosen[0] if chosen else ""
    if refit and split == "test":
        raise DatasetError(f"{refit} with --split test: test worlds are only scored; fit on the dev split")
    if confidence_out is not None and not refit:
        raise DatasetError(f"--confidence-out {confidence_out}: only with --fit-confidence, --fit-count-confidence or "
                           "--recalibrate-confidence")
    for m in score_confidence or []:
        if not m.is_file() and not (refit and confidence_out is not None and m.resolve() == confidence_out.resolve()):
            raise DatasetError(f"--score-confidence {m}: no such file; expected a confidence model JSON "
                               "(slam_fusion/core/confidence_model.json, or one --confidence-out wrote)")
    root = out or Path("runs/worlds") / fam.name
    if jobs > 1 and executor != "local":
        raise DatasetError(f"--jobs {jobs} with --executor {executor}: give one (the worlds' processes each detect on "
                           "their own cores)")
    if weights is not None:
        from rackscan.worlds import check_candidate_weights

        check_candidate_weights(weights)
        if split == "test":
            raise DatasetError("--weights with --split test: weights are chosen on dev worlds; ship the chosen ones "
                               "into perception/weights/ and score test with them once")
        if refit and confidence_out is None:
            raise DatasetError(f"{refit} with --weights: the model would be fitted on boxes the shipped weights do not "
                               "draw; write it as a candidate with --confidence-out")
    models = [f for f, m in (("--confidence-model", confidence_model), ("--count-model", count_model)) if m is not None]
    cand_fusion = None
    if models:
        if weights is None:
            raise DatasetError(f"{models[0]} without --weights: the shipped weights' results are fused with the shipped "
                               "models; score a model on their stored bins with --score-confidence, or give the "
                               "candidate weights its boxes came from")
        from slam_fusion.tools.io import FusionOptions, load_confidence_models

        cand_fusion = FusionOptions(confidence_model=str(confidence_model) if confidence_model else None,
                                    count_model=str(count_model) if count_model else None)
        load_confidence_models(cand_fusion)  # a missing or wrong file says so now, not after the first flight

    def score(cand: Path | None) -> list:
        """Every world of ``ks`` flown (once) and processed with the shipped weights, or candidate ``cand``."""
        what = f" with {cand.name}" if cand is not None else ""
        fuse = cand_fusion if cand is not None else None  # the shipped weights' pass fuses as shipped
        if jobs > 1:
            with progress_bar() as prog:
                overall = prog.add_task(f"{split} worlds of {fam.name}{what}, {jobs} at a time", total=len(ks))
                tasks: dict[int, int] = {}

                def on_frame(k: int, i: int, n: int) -> None:
                    if k not in tasks:
                        tasks[k] = prog.add_task(f"world {k}: flying", total=n)
                    prog.update(tasks[k], completed=i, total=n)

                def on_done(r) -> None:
                    if r.world in tasks:
                        prog.remove_task(tasks.pop(r.world))
                    prog.advance(overall)

                return run_worlds(fam, ks, root, jobs=jobs, fresh=fresh, one_face=one_face, weights=cand,
                                  fuse_options=fuse, on_frame=on_frame, on_done=on_done)
        done = []
        ex = make_executor(executor)
        try:
            with progress_bar() as prog:
                overall = prog.add_task(f"{split} worlds of {fam.name}{what}", total=len(ks))
                for k in ks:
                    task = prog.add_task(f"world {k}: {'flying' if cand is None else 'processing'}", total=None)
                    done.append(run_world(fam, k, root, executor=ex, fresh=fresh, one_face=one_face, weights=cand,
                                          fuse_options=fuse,
                                          log=lambda s: None,
                                          on_frame=lambda i, n, t=task: prog.update(t, completed=i, total=n)))
                    prog.remove_task(task)
                    prog.advance(overall)
        finally:
            ex.shutdown()
        return done

    shipped_runs = score(None) if weights is not None else []
    runs = score(weights)
    if weights is not None:
        from rackscan.worlds import weights_root

        root = weights_root(root, weights)  # the candidate's figures, plots and fitted models go here
    fused_with = "".join(f", {f} {m}" for f, m in (("bin confidence model", confidence_model),
                                                    ("count confidence model", count_model)) if m is not None)
    t = Table(title=f"rackscan bench worlds {family_yaml.name}: {len(runs)} {split} worlds ({ks[0]}-{ks[-1]})"
                    + (f", detector weights {weights}{fused_with}" if weights is not None else ""))
    for c in ("world", "bins", "count", "SKU", "recount", f"wrong >= {CONFIDENT}", "disc. P / R", "proc / flight", "world"):
        t.add_column(c)
    for r in runs:
        if r.refused:
            t.add_row(str(r.world), str(r.bins), "refused", "-", f"{r.bins} (all)", "0", "-", "-", r.refused[:90] + "...")
            continue
        tr, pr, tp = r.kinds.get("all", [0, 0, 0])
        t.add_row(str(r.world), str(r.bins), f"{r.count_right}/{r.observed} = {r.count_accuracy:.1%}",
                  f"{r.sku_accuracy:.1%}", str(r.recount), str(r.confidently_wrong),
                  f"{tp / pr if pr else 1:.2f} / {tp / tr if tr else 1:.2f}",
                  f"{r.processing_s:.0f} / {r.flight_s:.0f} s", r.summary)
    con.print(t)
    p = pool(runs)
    s = Table(title=f"pooled over {p.worlds} {split} worlds ({p.refused} refused by the planner as too dark)")
    for c in ("figure", "value", "goal"):
        s.add_column(c)
    s.add_row("bin count accuracy, median world / worst world",
              f"{p.median_count_accuracy:.2%} / {p.worst_count_accuracy:.2%} (world {p.worst_world})", ">= 99.5% / >= 97%")
    s.add_row("bin count accuracy, pooled", f"{p.count_right}/{p.observed} = {p.count_right / max(1, p.observed):.2%}", "")
    s.add_row("SKU accuracy, pooled", f"{p.sku_right}/{p.observed} = {p.sku_right / max(1, p.observed):.2%}", ">= 99.5%")
    s.add_row("SKU accuracy, bins whose tires carry a label",
              f"{p.labelled_sku_right}/{p.labelled} = {p.labelled_sku_right / max(1, p.labelled):.2%} "
              f"({p.unlabelled} bins hold tires with no label at all, a SKU no camera reads: "
              f"{p.unlabelled_sized} named by their size, {p.unlabelled_sized_right} of them right; "
              f"{p.unlabelled_erp} by the ERP's SKU, their size fitting it, {p.unlabelled_erp_right} of them right; "
              f"{p.unlabelled_recount} sent to recount)", "")
    s.add_row(f"wrong bins at confidence >= {CONFIDENT}", f"{p.confidently_wrong} = {p.confidently_wrong / max(1, p.bins):.2%} "
              f"of {p.bins} bins", "<= 0.5%")
    s.add_row(f"bins sent to recount (confidence < {MIN_CONFIDENCE}, or refused)",
              f"{p.sent_to_recount} of {p.bins}", "")
    for kind, (tr, pr, tp) in p.kinds.items():
        s.add_row(f"discrepancies {kind}: precision / recall", f"{tp / pr if pr else 1:.3f} / {tp / tr if tr else 1:.3f} "
                  f"({tp} of {tr} found, {pr} reported)", ">= 0.98 / >= 0.99" if kind == "all" else "")
    s.add_row("calibration: expected calibration error / Brier", f"{p.ece:.3f} / {p.brier:.4f}", "ECE <= 0.03")
    s.add_row("count confidence (the count alone right, SKU aside): ECE / Brier, counted wrong at >= "
              f"{CONFIDENT}", f"{p.count_ece:.3f} / {p.count_brier:.4f}, {p.count_confidently_wrong}", "")
    s.add_row("processing time / flight time" + (f" (--jobs {jobs}: worlds shared the cores; measure it with --jobs 1)"
                                                 if jobs > 1 else ""),
              f"{p.processing_s:.0f} s / {p.flight_s:.0f} s = {p.processing_s / max(1e-9, p.flight_s):.2f}",
              "<= 0.5 on 2 cores")
    con.print(s)
    lit = Table(title=f"by light (the store's lux; bands at {LIGHT_BANDS_LUX[0]:.0f} and {LIGHT_BANDS_LUX[1]:.0f} lux)")
    for c in ("light", "worlds (refused)", "bins", "count, pooled", "median world", f"wrong >= {CONFIDENT}",
              "to recount", "ECE"):
        lit.add_column(c)
    lights = by_light(runs)
    for band, q in lights:
        lit.add_row(band, f"{q.worlds} ({q.refused})", str(q.bins),
                    f"{q.count_right}/{q.observed} = {q.count_right / q.observed:.1%}" if q.observed else "-",
                    f"{q.median_count_accuracy:.1%}" if q.observed else "-", str(q.confidently_wrong), str(q.sent_to_recount),
                    f"{q.ece:.3f}" if q.observed else "-")
    con.print(lit)
    png = reliability_plot(runs, root / f"reliability-{split}.png")
    summary = root / f"summary-{split}.json"
    summary.write_text(json.dumps({"family": str(family_yaml), "split": split, "worlds": ks,
                                   "pooled": p.__dict__,
                                   "by_light": {band: q.__dict__ for band, q in lights}}, indent=1, default=str))
    light_png = light_plot(runs, root / f"accuracy-by-light-{split}.png")
    con.print(f"reliability diagram: {png}\naccuracy by light: {light_png}\n"
              f"per-world results: {root}/world-*/world.json, pooled: {summary}")
    if refit:
        from rackscan.worlds import fit_confidence_model, recalibrate_confidence_model

        if recalibrate_confidence:
            fit = recalibrate_confidence_model(fam, runs, root, dest=confidence_out)
        else:
            fit = fit_confidence_model(fam, runs, root, dest=confidence_out, target="count" if fit_count_confidence else "bin")
        con.print(fit.report)
        if confidence_out is None:
            con.print(f"shipped {fit.path} (fusion re-runs with it: `rackscan bench worlds ... --split test` to score it)")
        else:
            con.print(f"candidate written to {fit.path}, not shipped: score it with --score-confidence {fit.path}")
    if score_confidence:
        from rackscan.worlds import score_models
        from slam_fusion.core.confidence import COUNT_MODEL_PATH, MODEL_PATH

        names = [m.name for m in score_confidence]  # the file's name; its path where two share one
        models = {(m.name if names.count(m.name) == 1 else str(m)): m for m in score_confidence}
        shipped = {"shipped": MODEL_PATH, **({"shipped count": COUNT_MODEL_PATH} if COUNT_MODEL_PATH.exists() else {})}
        n, scores = score_models(runs, root, {**shipped, **models})
        m = Table(title=f"confidence models on the same {n} stored bins of these worlds, each judged on its target "
                        "(bin: count and SKU right; count: the count alone)")
        m.caption = (f"counted wrong: wrong at >= {MIN_CONFIDENCE}, so not sent to recount; recount: under "
                     f"{MIN_CONFIDENCE}; kept: right at >= {MIN_CONFIDENCE}")
        for c in ("model", "target", "wrong", "ECE", "Brier", f"wrong >= {CONFIDENT}", "counted wrong", "recount", "kept"):
            m.add_column(c, no_wrap=c in ("model", "target", "ECE", "Brier"))
        for sc in scores:
            m.add_row(sc.name, sc.target, str(sc.wrong), f"{sc.ece:.3f}", f"{sc.brier:.4f}", str(sc.wrong_confident),
                      str(sc.wrong_counted), str(sc.recount), str(sc.right_kept))
        con.print(m)
    if weights is not None:
        from rackscan.worlds import compare_runs

        c = Table(title=f"detector weights {weights}{fused_with} beside the shipped ones, on the same recorded flights")
        c.caption = ("right: count and SKU right; newly wrong / fixed: bins right with the shipped weights and wrong with "
                     "these, and the other way round")
        for col in ("world", "bins", "count right", "SKU right", "recount", f"wrong >= {CONFIDENT}", "disc. P / R",
                    "newly wrong", "fixed"):
            c.add_column(col, no_wrap=col == "world")

        def p_r(tr: int, pr: int, tp: int) -> str:
            return f"{tp / pr if pr else 1:.2f}/{tp / tr if tr else 1:.2f}"

        rows = compare_runs(shipped_runs, runs)
        compared = root / f"compare-{split}.json"  # saved once: what the table below shows, for any later view
        compared.write_text(json.dumps({"family": str(family_yaml), "split": split, "worlds": ks, "weights": str(weights),
                                        "confidence_model": str(confidence_model) if confidence_model else None,
                                        "count_model": str(count_model) if count_model else None,
                                        "rows": [asdict(r) for r in rows]}, indent=1))
        for row in rows:
            c.add_row(row.label, str(row.bins), f"{row.count_right[0]} -> {row.count_right[1]}",
                      f"{row.sku_right[0]} -> {row.sku_right[1]}", f"{row.recount[0]} -> {row.recount[1]}",
                      f"{row.confidently_wrong[0]} -> {row.confidently_wrong[1]}",
                      f"{p_r(*row.discrepancies[0])} -> {p_r(*row.discrepancies[1])}", str(len(row.newly_wrong)),
                      str(len(row.fixed)))
        con.print(c)
        total = rows[-1]
        if total.newly_wrong:
            con.print(f"newly wrong ({len(total.newly_wrong)}): " + "; ".join(total.newly_wrong[:40])
                      + (" ..." if len(total.newly_wrong) > 40 else ""))
        con.print(f"with these weights: {root}/world-*/world.json; the shipped weights': {root.parent}/world-*/world.json; "
                  f"side by side: {compared}")
    wrong = [(r.world, w) for r in runs for w in r.wrong]
    if wrong:
        con.print(f"wrong bins ({len(wrong)}): " + "; ".join(
            f"w{k} {w['bin_id']} {w['count']}/{w['true_count']} conf {w['confidence']:.2f} {w['reason'] or '-'}"
            for k, w in wrong[:40]) + (" ..." if len(wrong) > 40 else ""))


def register(app: typer.Typer) -> None:
    pass
