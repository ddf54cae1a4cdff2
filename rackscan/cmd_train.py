"""``rackscan train``: build the training set (randomised synthetic worlds + the tires-real train
split), train the detector from scratch, export ONNX and ship the weights with their config and
metrics (``perception/weights/`` by default)."""

from __future__ import annotations

from pathlib import Path

import typer


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
        from perception.trainset import build_training_set
        from rackscan.executors import progress_bar

        con = Console()
        if not (data / "data.yaml").exists():
            with progress_bar() as prog:
                task = prog.add_task("rendering the training set", total=None)
                ts = build_training_set(data, n_train=n_train, n_val=n_val, n_test=n_test, real_repeat=real_repeat,
                                        no_tire_repeat=no_tire_repeat, workers=build_workers,
                                        on_progress=lambda i, n: prog.update(task, completed=i, total=n))
            con.print(f"training set {ts.root}: " + ", ".join(f"{k} {v}" for k, v in ts.counts.items())
                      + "; train boxes " + ", ".join(f"{k} {v}" for k, v in ts.boxes.items()))
        else:
            con.print(f"using the training set in {data}")
        if build_only:
            return
        if device == "auto":
            import torch

            device = "0" if torch.cuda.is_available() else "cpu"
        opts = TrainOptions(epochs=epochs, imgsz=imgsz, batch=batch, seed=seed, device=device, workers=workers, time_h=time_h)
        con.print(f"training yolo11n from scratch on {device}, {epochs} epochs (Ultralytics prints its progress)")
        res = train(data, run, opts)
        t = Table(title=f"detector after {res.epochs_run} epochs ({res.seconds:.0f} s); weights {res.best_pt}")
        for c in ("validation", "value"):
            t.add_column(c)
        for k, v in res.metrics.items():
            t.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
        con.print(t)
        if ship:
            recipe = {"builder": "perception.trainset.build_training_set", "n_train": n_train, "n_val": n_val,
                      "n_test": n_test, "real_repeat": real_repeat, "no_tire_repeat": no_tire_repeat, "synthetic_seeds": {"train": "1000-", "val": "2000-", "test": "3000-"},
                      "tires_real_split": "sha1(file name) % 10: 0-1 test, 2 val, rest train"}
            out = ship_weights(res, data, opts, recipe, dest or WEIGHTS_DIR)
            con.print(f"shipped {out['pt']} and {out['onnx']} with train_config.yaml and metrics.json")
