"""Local and Ray executors give the same ordered results; stage bookkeeping resumes."""

import os

import pytest

from rackscan.executors import LocalExecutor, RayExecutor, chunked, make_executor
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
