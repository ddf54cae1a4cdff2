"""Demo data for the dashboard: a synthetic flight bundle, per-bin evidence crops, observations
taken from the synthetic ground truth (with a few low-confidence and unscanned bins), the ERP
snapshot with injected discrepancies, reconciled into a SQLite results store."""

from __future__ import annotations

from pathlib import Path

import cv2
import pandas as pd

from dashboard.auth import add_user
from datasets.render import Renderer, camera_pose_facing
from datasets.synthflight import record_synthetic_flight
from datasets.world import build_world
from reconciliation.pipeline import reconcile_flight
from tests.conftest import REPO

PASSWORDS = {"lan": ("controller", "lan-secret-1"), "minh": ("operator", "minh-secret-1"), "eng": ("engineer", "eng-secret-1"),
             "ada": ("admin", "ada-Keel-Harbour-7")}


def make_users(path: Path) -> Path:
    for name, (role, pw) in PASSWORDS.items():
        add_user(name, role, pw, path)
    return path


def make_demo_store(tmp: Path) -> tuple[str, Path]:
    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    bundle = record_synthetic_flight(world, tmp / "flight", face_ids=["R02/front"], max_passes_per_face=1).bundle
    (bundle / "evidence").mkdir(exist_ok=True)
    r = Renderer(world)
    rows, scanned = [], []
    unscanned = {b.bin_id for b in world.site.faces_of_aisle("A02")[1].bins[:6]}
    for i, b in enumerate(world.site.bins):
        if b.bin_id in unscanned:
            continue
        scanned.append(b.bin_id)
        f = world.site.face(b.face_id)
        u, v = b.center_uv_m
        img = r.render(camera_pose_facing(f, u, v - 0.1, 2.2), rng_seed=i).image_bgr
        ev = f"evidence/{b.bin_id}.jpg"
        cv2.imwrite(str(bundle / ev), cv2.resize(img, (640, 360)), [cv2.IMWRITE_JPEG_QUALITY, 80])
        crop = f"evidence/{b.bin_id}_crop.jpg"
        cv2.imwrite(str(bundle / crop), cv2.resize(img[200:880, 480:1440], (320, 226)), [cv2.IMWRITE_JPEG_QUALITY, 80])
        st = world.stock[world.stock.bin_id == b.bin_id].iloc[0]
        conf = 0.55 if i % 29 == 7 else 0.97
        rows.append({"flight_id": "demo", "bin_id": b.bin_id, "sku": st.sku, "gtin": "", "count": int(st["count"]),
                     "confidence": conf, "n_views": 6, "evidence_frame": 0, "evidence_path": ev,
                     "evidence_crop_path": crop, "reason": "few_views" if conf < 0.8 else ""})
    pd.DataFrame(rows).to_parquet(bundle / "observations.parquet", index=False)
    pd.DataFrame({"bin_id": scanned, "scanned": True, "n_frames": 6}).to_parquet(bundle / "coverage.parquet", index=False)
    _truth_path_as_fused(bundle)
    erp = tmp / "erp_stock.csv"
    world.erp.to_csv(erp, index=False)
    url = f"sqlite:///{tmp / 'results.db'}"
    reconcile_flight(bundle, erp, db_url=url, out_dir=tmp / "report")
    return url, bundle


def _truth_path_as_fused(bundle: Path) -> None:
    """The flight's true camera path written where fusion saves the path it counted with
    (``fusion/trajectory.parquet``): the demo's observations come from the truth, so does its path."""
    from slam_fusion.core.trajectory import Trajectory
    from slam_fusion.tools.io import save_result
    from slam_fusion.pipeline import FusionResult
    import numpy as np
    from scipy.spatial.transform import Rotation

    poses = pd.read_csv(bundle / "truth" / "poses.csv")
    T = poses[[f"T{r}{c}" for r in range(4) for c in range(4)]].to_numpy().reshape(-1, 4, 4)
    q = Rotation.from_matrix(T[:, :3, :3]).as_quat()  # x y z w
    traj = Trajectory(t_ns=poses["t_ns"].to_numpy(np.int64), positions_site_m=T[:, :3, 3],
                      quat_wxyz=np.column_stack([q[:, 3], q[:, :3]]))
    save_result(bundle / "fusion", FusionResult(observations=(), coverage={}, clock_offset_s=0.0, trajectory=traj))
