"""Draw docs/images/overview.png, the README's one picture of what rackscan does: the planned
mission over the site plan, a frame the drone recorded with what perception found in it, the bins
fused on a rack face, and the stock controller's dashboard. Made from the default scenario with
the shipped detector; the dashboard screenshot is the browser test's (docs/screenshots/).

    source scripts/env.sh && .venv/bin/python scripts/overview_picture.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main(out: Path = REPO / "docs" / "images" / "overview.png") -> Path:
    from datasets.render import Renderer, camera_pose_facing
    from datasets.world import build_world
    from flight.planner import PlanOptions, plan
    from perception.annotate import annotate
    from perception.detector import Detector
    from perception.pipeline import read_codes
    from warehouse.plan_view import plot_site

    world = build_world(REPO / "datasets" / "scenarios" / "default.yaml")
    site = world.site
    p = plan(site, world.camera, PlanOptions(aisles=("A01",)))
    face = site.faces_of_aisle("A01")[1]
    b = next(b for b in face.bins if b.level == 1 and b.bay >= 3)
    img = Renderer(world).render(camera_pose_facing(face, b.center_uv_m[0], 0.75, world.default_standoff_m()),
                                 rng_seed=3).image_bgr
    det = Detector().detect([img])[0]
    from dataclasses import replace

    det = replace(det, codes=read_codes(img, det))
    shot = cv2.cvtColor(annotate(img, det, thickness=4), cv2.COLOR_BGR2RGB)
    dash = cv2.cvtColor(cv2.imread(str(REPO / "docs" / "screenshots" / "rack_view.png")), cv2.COLOR_BGR2RGB)

    fig, ax = plt.subplots(1, 3, figsize=(18, 5.2), dpi=90, gridspec_kw={"width_ratios": [1.0, 1.35, 1.35]})
    plot_site(site, ax[0])
    for xy in p.path_xy_m:
        ax[0].plot(xy[:, 0], xy[:, 1], color="#1565c0", lw=1.4)
    ax[0].set_title("1. plan: passes along the rack faces\n(rackscan plan -> QGroundControl .plan, flown by rackscan fly)",
                    fontsize=11)
    ax[1].imshow(shot)
    ax[1].set_title(f"2. perceive: {int((det.class_id == 0).sum())} tires, {len(det.codes)} labels read in one frame\n"
                    "(rackscan detect; fused across frames into one count per bin)", fontsize=11)
    ax[2].imshow(dash)
    ax[2].set_title("3. review: counts against the ERP, with photo evidence\n(rackscan reconcile, rackscan dashboard)",
                    fontsize=11)
    for a in ax[1:]:
        a.axis("off")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(main())
