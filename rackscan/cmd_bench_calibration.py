"""``rackscan bench calibration BUNDLE...``: is a bin's confidence the chance its count is right?

Fuses flights with ground truth (``truth/stock.csv``) and prints, per confidence band, how many
bins and how many were right (count and SKU), with the expected calibration error and the Brier
score of the raw fusion score and of the calibrated confidence, and draws the reliability
diagram. ``--fit`` fits the calibration on these flights and prints it as the Python literal
that ``slam_fusion/core/calibration.py`` ships (fit on development flights, score on others).
"""

from __future__ import annotations

from pathlib import Path

import typer

from rackscan.bench_app import bench_app


def bin_outcomes(bundle_dir: Path) -> list[tuple[float, float, bool, str]]:
    """(raw score, confidence, right, reason) per observed bin of a fused synthetic flight."""
    from flight.bundle import Bundle
    from rackscan.cmd_bench_scenario import read_truth_stock, truth_by_bin
    from slam_fusion.tools.io import fuse_bundle

    truth = truth_by_bin(read_truth_stock(bundle_dir))
    r = fuse_bundle(Bundle(bundle_dir))
    out = []
    for o in r.observations:
        right = o.count == int(truth["count"].get(o.bin_id, 0)) and (o.sku or "") == truth["sku"].get(o.bin_id, "")
        out.append((o.raw_score, o.confidence, bool(right), o.reason))
    return out


@bench_app.command("calibration")
def calibration_bench(
    bundles: list[Path] = typer.Argument(..., help="synthetic flight bundles with truth/stock.csv"),
    fit: bool = typer.Option(False, "--fit", help="fit the calibration on these flights and print it"),
    png: Path = typer.Option(None, "--png", help="reliability diagram (default: next to the first bundle)"),
) -> None:
    """Reliability of the bin confidence on flights with ground truth."""
    import numpy as np
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    from slam_fusion.core.calibration import BAND_EDGES, band_of, fit_calibration, reliability

    con = Console()
    for b in bundles:
        if not (b / "truth" / "stock.csv").exists():
            con.print(f"[red]{b}: no truth/stock.csv; expected a synthetic flight bundle[/]")
            raise typer.Exit(1)
    rows, per_flight = [], []
    for b in track(bundles, description="fusing"):
        per_flight.append(bin_outcomes(b))
        rows += per_flight[-1]
    raw = np.array([r[0] for r in rows])
    conf = np.array([r[1] for r in rows])
    ok = np.array([r[2] for r in rows])
    t = Table(title=f"bin confidence on {len(bundles)} flights, {len(rows)} bins ({int((~ok).sum())} wrong)")
    for c in ("confidence band", "bins", "right", "mean confidence"):
        t.add_column(c)
    band = band_of(conf)
    for k in range(len(BAND_EDGES) - 1):
        sel = band == k
        if sel.any():
            t.add_row(f"{BAND_EDGES[k]:.2f}-{BAND_EDGES[k + 1]:.2f}", str(int(sel.sum())),
                      f"{int(ok[sel].sum())} = {ok[sel].mean():.1%}", f"{conf[sel].mean():.3f}")
    con.print(t)
    e_raw, b_raw = reliability(raw, ok)
    e_cal, b_cal = reliability(conf, ok)
    con.print(f"raw score:  expected calibration error {e_raw:.3f}, Brier {b_raw:.4f}")
    con.print(f"confidence: expected calibration error {e_cal:.3f}, Brier {b_cal:.4f}")
    wrong = [r for r in rows if not r[2]]
    if wrong:
        con.print("wrong bins (confidence, reason): " + ", ".join(f"{r[1]:.2f} {r[3] or '-'}" for r in wrong))
    c = None
    if fit:
        c = fit_calibration(raw, ok)
        con.print("fitted on all these flights: Calibration(raw="
                  f"{tuple(round(x, 4) for x in c.raw)}, p_right={tuple(round(x, 4) for x in c.p_right)}, "
                  f"n_bins={c.n_bins})", soft_wrap=True)
        if len(per_flight) >= 2:
            held = []
            for k, test in enumerate(per_flight):
                train = [r for j, f in enumerate(per_flight) if j != k for r in f]
                ck = fit_calibration([r[0] for r in train], [r[2] for r in train])
                t_ok = np.array([r[2] for r in test])
                held.append((reliability([r[1] for r in test], t_ok)[1],
                             reliability([ck(r[0]) for r in test], t_ok)[1]))
            a, m = np.mean(held, axis=0)
            con.print(f"held out flight by flight, mean Brier: confidence as shipped {a:.4f}, fitted map {m:.4f} "
                      f"({'the map helps' if m < a else 'the map does not help'})")
    out = png or bundles[0].parent / "reliability.png"
    _diagram(out, conf, ok, c)
    con.print(f"reliability diagram: {out}")


def _diagram(path: Path, conf, ok, cal, *, what: str = "") -> None:
    """Reliability diagram: each confidence band's mean confidence against its share of bins right, its
    size the band's count; titled with ``what`` and the ECE and Brier score of all the bins."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from slam_fusion.core.calibration import BAND_EDGES, band_of, reliability

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfectly calibrated")
    band = band_of(conf)
    xs, ys, ns = [], [], []
    for k in range(len(BAND_EDGES) - 1):
        sel = band == k
        if sel.any():
            xs.append(conf[sel].mean())
            ys.append(ok[sel].mean())
            ns.append(sel.sum())
    sizes = [20 + 2 * n for n in ns]  # marker areas in points^2
    ax.scatter(xs, ys, s=sizes, color="tab:blue", alpha=0.6, zorder=3, clip_on=False,
               label="bins in a confidence band (area: count)")
    for x, y, n, s in zip(xs, ys, ns, sizes):  # each count just under its marker
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(0, -(s ** 0.5) / 2 - 8), ha="center", fontsize=8)
    if cal is not None:
        grid = np.linspace(0, 1, 101)
        ax.plot(grid, [cal(g) for g in grid], color="tab:orange", lw=1.5, label="fitted map (raw -> p right)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence")
    ax.set_ylabel("fraction of bins right (count and SKU)")
    ax.legend(loc="lower right", fontsize=8, markerscale=0.4)
    ece, brier = reliability(conf, ok) if len(conf) else (float("nan"), float("nan"))
    ax.set_title(f"{what + ': ' if what else ''}{len(conf)} bins, ECE {ece:.3f}, Brier {brier:.3f}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    pass
