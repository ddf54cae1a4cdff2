"""Where the frame-parallel work runs: in this process (default) or spread over a Ray cluster.

Both executors take the same pure, picklable task function and list of work items and return
results in input order, so a Ray run gives exactly the local run's results. Ray is kept on
loopback unless an address is given (no cloud metadata probes, no dashboard, no usage stats).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from rich import get_console
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

LOG_EVERY_S = 30.0  # a progress line in a log at most this often per task, and one when the task ends


def _hms(s: float | None) -> str:
    if s is None:
        return "-:--:--"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LogProgress(Progress):
    """The progress bar where the output is no terminal (a file, a pipe, CI, ``nohup``): rich would draw
    the bar once, when the job ends; this prints a line per task every ``LOG_EVERY_S`` seconds while it
    advances, and one when it is done (``world 10311: flying: 120/360 (33%), 0:01:05 elapsed, eta 0:02:10``).
    A task of unknown total prints nothing."""

    def __init__(self, *columns, **kw) -> None:
        super().__init__(*columns, **kw)
        self._said: dict[TaskID, tuple[float, float]] = {}  # task -> (completed, time) of its last line

    def start(self) -> None:  # no live display to start: the lines are the display
        pass

    def stop(self) -> None:
        pass

    def update(self, task_id: TaskID, **kw) -> None:
        super().update(task_id, **kw)
        self._log(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log(task_id)

    def _log(self, task_id: TaskID) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.total is None or self.disable:
                return
            now = self.get_time()
            last_done, last_t = self._said.get(task_id, (-1.0, task.start_time or now))
            finished = task.completed >= task.total
            if task.completed == last_done or not (finished or now - last_t >= LOG_EVERY_S):
                return
            self._said[task_id] = (task.completed, now)
            pct = 100.0 * task.completed / task.total if task.total else 100.0
            left_s = task.time_remaining  # rich's, from the last 30 s; for steps further apart, the mean rate
            if left_s is None and task.completed > 0 and task.elapsed:
                left_s = task.elapsed / task.completed * (task.total - task.completed)
            eta = "" if finished else f", eta {_hms(left_s)}"
            line = (f"{task.description}: {task.completed:g}/{task.total:g} ({pct:.0f}%), "
                    f"{_hms(task.elapsed)} elapsed{eta}")
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)


def progress_bar(*, console: Console | None = None, **kw) -> Progress:
    """The rich progress bar every long rackscan job shows; lines instead of a bar where the output
    is no terminal (``LogProgress``)."""
    console = console or get_console()
    cls = Progress if console.is_terminal else LogProgress
    return cls(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console, **kw,
    )


@dataclass
class LocalExecutor:
    name: str = "local"
    quiet: bool = False  # no progress bar of its own (a worker process whose parent shows the progress)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, description: str = "work",
            on_result: Callable[[int, Any], None] | None = None, uses_gpu: bool = True) -> list[Any]:
        out = []
        with progress_bar(transient=False, disable=self.quiet) as prog:
            task = prog.add_task(description, total=len(items))
            for i, item in enumerate(items):
                r = fn(item)
                if on_result is not None:
                    on_result(i, r)
                out.append(r)
                prog.advance(task)
        return out

    def shutdown(self) -> None:
        pass


def _on_node(fn: Callable[[Any], Any], item: Any) -> tuple[str, Any]:
    """A Ray task: ``fn(item)`` and the id of the node that ran it."""
    import ray

    return ray.get_runtime_context().get_node_id(), fn(item)


class RayExecutor:
    """Runs tasks as Ray remote functions; ``num_gpus`` per task when perception wants a GPU."""

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 num_gpus_per_task: float = 0.0) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address is None or address.split(":")[0] in ("127.0.0.1", "localhost"):
            # a cluster on this machine stays on loopback: Ray would otherwise swap 127.0.0.1 for the
            # machine's outward address, which a sandbox or a firewall may not let it reach
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        from warehouse.extras import require

        require("ray", "--executor ray")
        import ray

        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=num_cpus,
                         log_to_driver=False, configure_logging=False)
                self._owns = True
        self.num_gpus_per_task = num_gpus_per_task
        self.nodes_used: set[str] = set()  # the cluster nodes that ran this executor's tasks

    @property
    def n_nodes(self) -> int:
        return sum(1 for n in self._ray.nodes() if n.get("Alive"))

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, description: str = "work",
            on_result: Callable[[int, Any], None] | None = None, uses_gpu: bool = True) -> list[Any]:
        """``fn`` over ``items`` as Ray tasks, all submitted at once; ``uses_gpu``: each task asks
        for ``num_gpus_per_task`` (perception), else for none (fusion)."""
        ray = self._ray
        gpus = self.num_gpus_per_task if uses_gpu else 0.0
        remote = ray.remote(num_gpus=gpus)(_on_node) if gpus else ray.remote(_on_node)
        fn_ref = ray.put(fn)
        refs = [remote.remote(fn_ref, it) for it in items]
        index = {r: i for i, r in enumerate(refs)}
        out: list[Any] = [None] * len(items)
        pending = list(refs)
        with progress_bar(transient=False) as prog:
            task = prog.add_task(f"{description} (ray)", total=len(items))
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = index[ref]
                    node, out[i] = ray.get(ref)
                    self.nodes_used.add(node)
                    if on_result is not None:
                        on_result(i, out[i])
                    prog.advance(task)
        return out

    def shutdown(self) -> None:
        if self._owns:
            self._ray.shutdown()


def make_executor(kind: str, *, address: str | None = None, num_gpus_per_task: float = 0.0):
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(address, num_gpus_per_task=num_gpus_per_task)
    from warehouse.errors import RackscanError

    raise RackscanError(f"--executor: unknown executor {kind!r}; expected 'local' or 'ray'")


def chunked(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
