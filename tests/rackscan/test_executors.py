"""Local and Ray executors give the same ordered results; stage bookkeeping resumes."""

import os
from io import StringIO

import pytest
from rich.console import Console

from rackscan.executors import LocalExecutor, LogProgress, RayExecutor, chunked, make_executor, progress_bar
from rackscan.stages import StageState, fingerprint
from warehouse.errors import RackscanError


def _square_sum(chunk):
    return sum(x * x for x in chunk)


def test_local_and_ray_agree():
    items = list(chunked(list(range(50)), 7))
    local = LocalExecutor().map(_square_sum, items)
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray_ex = RayExecutor(num_cpus=2)
    try:
        seen = []
        remote = ray_ex.map(_square_sum, items, on_result=lambda i, r: seen.append(i))
    finally:
        ray_ex.shutdown()
    assert remote == local == [_square_sum(c) for c in items]
    assert sorted(seen) == list(range(len(items)))


def test_unknown_executor():
    with pytest.raises(RackscanError, match="--executor: unknown executor 'spark'"):
        make_executor("spark")


def test_stage_state_resumes_only_when_inputs_match(tmp_path):
    inp = tmp_path / "in.txt"
    inp.write_text("a")
    out = tmp_path / "out.txt"
    st = StageState(tmp_path)
    fp = fingerprint("detect", {"conf": 0.25}, files=[inp])
    assert not st.is_done("detect", fp, [out])
    out.write_text("result")
    st.mark_done("detect", fp, frames=3)
    assert StageState(tmp_path).is_done("detect", fp, [out])
    assert not st.is_done("detect", fingerprint("detect", {"conf": 0.5}, files=[inp]), [out])
    inp.write_text("changed input")
    os.utime(inp, ns=(1, 1))
    assert not st.is_done("detect", fingerprint("detect", {"conf": 0.25}, files=[inp]), [out])
    out.unlink()
    assert not st.is_done("detect", fp, [out])
    assert st.chunk_dir("detect", fp).is_dir()


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("steps_s, expect", [
    # (seconds before each of 10 frames, the lines a log gets)
    ([1.0] * 10, ["flying: 10/10 (100%), 0:00:10 elapsed"]),
    ([10.0] * 10, ["flying: 3/10 (30%), 0:00:30 elapsed, eta 0:01:10", "flying: 6/10 (60%), 0:01:00 elapsed, eta 0:00:40",
                   "flying: 9/10 (90%), 0:01:30 elapsed, eta 0:00:10", "flying: 10/10 (100%), 0:01:40 elapsed"]),
    ([0.0] * 9 + [45.0], ["flying: 10/10 (100%), 0:00:45 elapsed"]),
    # a step every 40 s, further apart than rich's speed estimate looks back: the eta from the mean rate
    ([40.0] * 10, [f"flying: {i}/10 ({10 * i}%), 0:{40 * i // 60:02d}:{40 * i % 60:02d} elapsed, "
                   f"eta 0:{40 * (10 - i) // 60:02d}:{40 * (10 - i) % 60:02d}" for i in range(1, 10)]
     + ["flying: 10/10 (100%), 0:06:40 elapsed"]),
])
def test_progress_in_a_log_is_lines(steps_s, expect):
    """Where the output is no terminal, a long job's progress is a line every 30 s and one at its end, not
    a bar drawn once when it is over."""
    out, clock = StringIO(), _Clock()
    with progress_bar(console=Console(file=out, force_terminal=False, width=200), get_time=clock) as prog:
        assert isinstance(prog, LogProgress)
        task = prog.add_task("flying", total=10)
        for dt in steps_s:
            clock.t += dt
            prog.advance(task)
        prog.add_task("a step of unknown length", total=None)
    assert out.getvalue().splitlines() == expect


def test_progress_on_a_terminal_is_a_bar():
    out = StringIO()
    with progress_bar(console=Console(file=out, force_terminal=True, width=100)) as prog:
        assert not isinstance(prog, LogProgress)
        prog.advance(prog.add_task("flying", total=2), 2)
    assert "flying" in out.getvalue() and "2/2" in out.getvalue()
