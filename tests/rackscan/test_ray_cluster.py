"""Four flights processed side by side in one `rackscan process` on a three-node Ray cluster started
on loopback give exactly what the local executor gives, bundle by bundle, and the work reaches
every node."""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd
import pytest

from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world
from tests.conftest import REPO

RACKSCAN = str(REPO / ".venv/bin/rackscan")
FACES = ["R01/back", "R02/front", "R03/back", "R04/front"]


@pytest.fixture(scope="module")
def flights(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray4")
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    world.erp.to_csv(root / "erp.csv", index=False)
    for i, face in enumerate(FACES):
        record_synthetic_flight(world, root / "local" / f"flight{i + 1}", face_ids=[face], max_passes_per_face=1)
    shutil.copytree(root / "local", root / "ray")
    return root


@pytest.fixture()
def cluster():
    pytest.importorskip("ray")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, connect=False,
                head_node_args={"num_cpus": 1, "include_dashboard": False, "node_ip_address": "127.0.0.1"})
    for _ in range(2):
        c.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    try:
        yield c
    finally:
        c.shutdown()


def _process(bundles, *extra):
    r = subprocess.run([RACKSCAN, "process", *map(str, bundles), "--chunk-frames", "8", *extra], capture_output=True,
                       text=True, timeout=900, env={**os.environ, "RAY_ADDRESS": ""})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def test_four_flights_on_a_three_node_cluster_match_the_local_executor(flights, cluster):
    names = [f"flight{i + 1}" for i in range(len(FACES))]
    out = _process([flights / "ray" / n for n in names], "--erp", flights / "erp.csv", "--executor", "ray",
                   "--ray-address", cluster.address)
    assert "ray: perception ran on 3 of the cluster's 3 nodes" in out
    assert "4 flights side by side" in out  # every flight's chunks in one batch over the cluster, not flight after flight
    _process([flights / "local" / n for n in names], "--erp", flights / "erp.csv")
    for n in names:
        local, ray = flights / "local" / n, flights / "ray" / n
        pd.testing.assert_frame_equal(pd.read_parquet(ray / "detections.parquet").drop(columns=["corners"]),
                                      pd.read_parquet(local / "detections.parquet").drop(columns=["corners"]))
        pd.testing.assert_frame_equal(pd.read_parquet(ray / "observations.parquet").drop(columns=["flight_id"]),
                                      pd.read_parquet(local / "observations.parquet").drop(columns=["flight_id"]))
        d = [pd.read_csv(b / "report" / "discrepancies.csv", dtype=str) for b in (ray, local)]
        pd.testing.assert_frame_equal(d[0], d[1])
