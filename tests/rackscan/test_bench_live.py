"""``rackscan bench live`` end to end on a short flight (a recount of two bins seen by different
passes, flown in real time against the simulated vehicle with the virtual camera): every figure
printed, nothing lost, the provisional counts equal to the offline pass's and reproduced by
replaying the live fusions offline (``--replay``)."""

from __future__ import annotations

import re

from rackscan.cli import main
from tests.conftest import REPO

SCENARIO = REPO / "datasets" / "scenarios" / "default.yaml"


def test_bench_live_prints_latency_queue_losses_agreement_and_what_is_left(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the table's rows on one line each
    (tmp_path / "bins.txt").write_text("A01-B01-L1-P2\nA01-B01-L3-P1\n")
    assert main(["bench", "live", str(SCENARIO), "--bins", str(tmp_path / "bins.txt"), "--out", str(tmp_path / "run")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "rackscan bench live: default.yaml recount of 2 bins" in out
    lat = re.search(r"\(p50 / p95 / max\) │ ([0-9.]+) s / ([0-9.]+) s / ([0-9.]+) s", out)
    assert lat and float(lat.group(1)) <= float(lat.group(2)) <= float(lat.group(3)) < 60
    assert re.search(r"frames lost │ 0 │", out)
    agree = re.search(r"provisional = final │ (\d+) of (\d+) bins", out)  # every bin a pass of the flight sees
    assert agree and int(agree.group(1)) == int(agree.group(2)) >= 2
    assert re.search(r"processing left after landing │ [0-9.]+ s", out)
    for name in ("provisional", "final"):  # scored against the world's truth
        row = re.search(name + r" counts against the truth: bins right, SKU right, wrong at >= 0.9 │ (\d+) of (\d+), (\d+) of (\d+), (\d+)", out)
        assert row and int(row.group(2)) == int(row.group(4)) >= 2 and int(row.group(1)) <= int(row.group(2))
    off = re.search(r"vehicle off its reported position \(the simulator's true one\), at most │ ([0-9.]+) m", out)
    assert off and float(off.group(1)) < 0.5  # no drift in the default scenario: the estimate's noise only
    rep = re.search(r"live fusions replayed offline \((\d+)\): provisional reproduced │ (\d+) of (\d+) bins", out)
    assert rep and int(rep.group(1)) >= 1 and rep.group(2) == rep.group(3) == agree.group(2), out
    # the same run fused again with today's code, nothing flown
    assert main(["bench", "live", str(SCENARIO), "--replay", "--out", str(tmp_path / "run")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    n = agree.group(2)
    for row in ("replayed = provisional \\(what the live counter wrote\\)", "replayed = final \\(today's offline pass\\)",
                "provisional = final"):
        assert re.search(row + f" │ {n} of {n}", out), (row, out)
    assert main(["bench", "live", str(SCENARIO), "--replay", "--out", str(tmp_path / "nothing")]) == 1
    assert "holds no bench live run" in capsys.readouterr().err
    assert main(["bench", "live", str(SCENARIO), "--replay", "--aisles", "A01", "--out", str(tmp_path / "run")]) == 1
    assert "--replay with --bins or --aisles" in capsys.readouterr().err
    assert main(["bench", "live", str(SCENARIO), "--bins", str(tmp_path / "bins.txt"), "--aisles", "A01"]) == 1
    assert "--bins and --aisles: expected one of them" in capsys.readouterr().err
