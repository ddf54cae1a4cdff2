"""``rackscan train``: build the training set (randomised synthetic worlds + the tires-real train
split + real photos with no tire), train the detector from scratch or fine-tune given weights,
export ONNX and ship the weights with their config and metrics (``perception/weights/`` by
default). The shipped ``train_config.yaml`` ends with the ``rackscan train`` command that
reproduces it."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        data: Path = typer.Option(Path("runs/trainset"), "--data", help="training set folder (built when it has no data.yaml)"),
        run: Path = typer.Option(Path("runs/detector"), "--run", help="Ultralytics run folder"),
        epochs: int = typer.Option(80, "--epochs", min=1),
        batch: int = typer.Option(64, "--batch", min=1),
        seed: int = typer.Option(0, "--seed"),
        device: str = typer.Option("auto", "--device", help="auto (GPU 0 when present, else cpu), cpu, 0, 0,1 ..."),
        workers: int = typer.Option(8, "--workers", min=0, help="data loader workers"),
        time_h: float = typer.Option(None, "--time-h", help="wall-clock cap in hours (Ultralytics fits the epochs to it)"),
        n_train: int = typer.Option(1100, "--n-train", min=0, help="synthetic training frames"),
        n_val: int = typer.Option(150, "--n-val", min=0),
        n_test: int = typer.Option(200, "--n-test", min=0),
        real_repeat: int = typer.Option(4, "--real-repeat", min=0, help="times each tires-real train photo is listed"),
        no_tire_repeat: int = typer.Option(1, "--no-tire-repeat", min=0, help="times each real photo without a tire "
                                           "(the hard negatives) is listed in train; 0 leaves them out of every split"),
        worlds_train: int = typer.Option(40, "--worlds-train", min=1, help="family train worlds the synthetic frames are drawn from"),
        aimed_worlds: int = typer.Option(0, "--aimed-worlds", min=0, help="further train worlds that add views aimed at "
                                         "each pallet wrapped in stretch film (few worlds hold one)"),
        aimed_views: int = typer.Option(5, "--aimed-views", min=1, help="views of each wrapped pallet of an aimed world"),
        init: Path = typer.Option(None, "--init", help="weights (.pt) to fine-tune from; default: from scratch"),
        freeze: int = typer.Option(0, "--freeze", min=0, help="first layers kept as they are when fine-tuning"),
        hyp: list[str] = typer.Option([], "--hyp", help="an Ultralytics hyper-parameter, KEY=VALUE (lr0=0.002); repeatable"),
        imgsz: int = typer.Option(640, "--imgsz", min=32, help="training image size"),
        build_workers: int = typer.Option(2, "--build-workers", min=1, help="processes rendering the set"),
        build_only: bool = typer.Option(False, "--build-only", help="build the training set and stop"),
        ship: bool = typer.Option(True, "--ship/--no-ship", help="copy the weights, ONNX, config and metrics to --dest"),
        dest: Path = typer.Option(None, "--dest", help="where to ship (default perception/weights/)"),
    ) -> None:
        """Train the tire/label detector and ship it."""
        from warehouse.extras import require

        require("ultralytics", "rackscan train")
        from rich.console import Console
        from rich.table import Table

        from perception.train import WEIGHTS_DIR, TrainOptions, ship as ship_weights, train
        from perception.errors import PerceptionError
        from perception.trainset import build_training_set, load_recipe
        from rackscan.executors import progress_bar

        con = Console()
        extra = {}
        for h in hyp:
            key, eq, value = h.partition("=")
            if not eq or not key.strip() or not value.strip():
                raise PerceptionError(f"--hyp {h!r}: expected KEY=VALUE, as lr0=0.002")
            extra[key.strip()] = yaml.safe_load(value)
        if init is not None and not init.is_file():
            raise PerceptionError(f"--init {init}: no such file; expected the .pt weights to fine-tune from")
        if not (data / "data.yaml").exists():
            with progress_bar() as prog:
                task = prog.add_task("rendering the training set (worlds)", total=None)
                ts = build_training_set(data, n_train=n_train, n_val=n_val, n_test=n_test, worlds_train=worlds_train,
                                        real_repeat=real_repeat, no_tire_repeat=no_tire_repeat, aimed_worlds=aimed_worlds,
                                        aimed_views=aimed_views, workers=build_workers,
                                        on_progress=lambda i, n: prog.update(task, completed=i, total=n))
            con.print(f"training set {ts.root}: " + ", ".join(f"{k} {v}" for k, v in ts.counts.items())
                      + f" (of which {ts.recipe['images']['train_aimed']} train frames aimed at wrapped pallets)"
                      + "; train boxes " + ", ".join(f"{k} {v}" for k, v in ts.boxes.items()))
        else:
            con.print(f"using the training set in {data}")
        recipe = load_recipe(data)
        if build_only:
            return
        if device == "auto":
            import torch

            device = "0" if torch.cuda.is_available() else "cpu"
        opts = TrainOptions(epochs=epochs, imgsz=imgsz, batch=batch, seed=seed, device=device, workers=workers, time_h=time_h,
                            init=str(init) if init else None, freeze=freeze, extra=extra)
        con.print(f"training yolo11n {'from ' + str(init) if init else 'from scratch'} on {device}, {epochs} epochs"
                  " (Ultralytics prints its progress)")
        res = train(data, run, opts)
        t = Table(title=f"detector after {res.epochs_run} epochs ({res.seconds:.0f} s); weights {res.best_pt}")
        for c in ("validation", "value"):
            t.add_column(c)
        for k, v in res.metrics.items():
            t.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
        con.print(t)
        if ship:
            if recipe is None:  # a set built before recipes were saved: what this command would have built
                recipe = {"builder": "perception.trainset.build_training_set", "n_train": n_train, "n_val": n_val,
                          "n_test": n_test, "worlds_train": worlds_train, "aimed_worlds": aimed_worlds,
                          "aimed_views": aimed_views, "real_repeat": real_repeat, "no_tire_repeat": no_tire_repeat,
                          "note": f"{data} has no recipe.yaml; these are the flags of the run that trained on it"}
            out = ship_weights(res, data, opts, recipe, dest or WEIGHTS_DIR, reproduce=reproduce_command(recipe, opts))
            con.print(f"shipped {out['pt']} and {out['onnx']} with train_config.yaml and metrics.json")


def reproduce_command(recipe: dict, opts) -> str:
    """The ``rackscan train`` command that rebuilds ``recipe``'s set and trains with ``opts``
    (weights as good, not identical bit for bit: CPU and GPU kernels round differently)."""
    args = ["rackscan train --data runs/trainset --run runs/detector"]
    for flag, key in (("--n-train", "n_train"), ("--n-val", "n_val"), ("--n-test", "n_test"),
                      ("--worlds-train", "worlds_train"), ("--aimed-worlds", "aimed_worlds"),
                      ("--aimed-views", "aimed_views"), ("--real-repeat", "real_repeat"),
                      ("--no-tire-repeat", "no_tire_repeat")):
        if key in recipe:
            args.append(f"{flag} {recipe[key]}")
    args += [f"--epochs {opts.epochs}", f"--batch {opts.batch}", f"--imgsz {opts.imgsz}", f"--seed {opts.seed}"]
    if opts.time_h:
        args.append(f"--time-h {opts.time_h}")
    if opts.init:
        args.append(f"--init {opts.init}")
    if opts.freeze:
        args.append(f"--freeze {opts.freeze}")
    args += [f"--hyp {k}={v}" for k, v in opts.extra.items()]
    return " ".join(args)
