"""Multi-view fusion on a rack face: clusters of tire sightings -> count and SKU per bin."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """One detected tire projected onto its face."""

    frame_idx: int
    bin_id: str
    u_m: float
    v_m: float
    score: float = 1.0
    gtin: str = ""  # decoded product label, "" when none was read


@dataclass(frozen=True, kw_only=True)
class BinObservation:
    bin_id: str
    sku: str
    gtin: str
    count: int
    confidence: float
    n_views: int
    evidence_frame: int
    reason: str


def cluster_points(uv_m: np.ndarray, radius_m: float) -> np.ndarray:
    """Single-linkage clusters of (N,2) points within radius_m; labels independent of order."""
    n = len(uv_m)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        d = np.linalg.norm(uv_m[:, None, :] - uv_m[None, :, :], axis=2)
        for i, j in zip(*np.nonzero(np.triu(d <= radius_m, 1))):
            ri, rj = find(int(i)), find(int(j))
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    return roots


def fuse_bin(
    bin_id: str,
    sightings: list[Sighting],
    frames_seeing_bin: set[int],
    *,
    cluster_radius_m: float,
    gtin_to_sku: dict[str, str] | None = None,
) -> BinObservation:
    """Count and SKU for one bin from all sightings on it and the frames that saw the bin."""
    n_frames = len(frames_seeing_bin)
    if not sightings:
        reason = "few_views" if n_frames < 2 else ""
        conf = min(1.0, 0.5 + 0.15 * n_frames)
        ev = min(frames_seeing_bin) if frames_seeing_bin else -1
        return BinObservation(bin_id=bin_id, sku="", gtin="", count=0, confidence=conf,
                              n_views=n_frames, evidence_frame=ev, reason=reason)
    # canonical order => permutation invariance
    s = sorted(sightings, key=lambda x: (x.frame_idx, x.u_m, x.v_m, x.gtin, x.score))
    uv = np.array([[x.u_m, x.v_m] for x in s])
    labels = cluster_points(uv, cluster_radius_m)
    views_per_cluster = {c: len({s[i].frame_idx for i in np.nonzero(labels == c)[0]})
                         for c in set(labels.tolist())}
    k = 1 if n_frames <= 2 else max(2, int(np.ceil(0.34 * n_frames)))
    supported = [c for c, nv in views_per_cluster.items() if nv >= k]
    weak = [c for c, nv in views_per_cluster.items() if nv < k]
    count = len(supported)
    votes = Counter(x.gtin for x in s if x.gtin)
    gtin = ""
    read_agree = 0.0
    if votes:
        total = sum(votes.values())
        # ties broken by the string so the vote is order independent
        best = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
        gtin, top = best
        read_agree = top / total
    sku = (gtin_to_sku or {}).get(gtin, gtin)
    reasons = []
    if n_frames < 2:
        reasons.append("few_views")
    if weak:
        reasons.append("occluded")
    if votes and read_agree < 0.8:
        reasons.append("conflicting_reads")
    if count and not votes:
        reasons.append("no_label_read")
    view_agree = count / max(1, len(views_per_cluster))
    conf = (0.4 + 0.6 * min(1.0, n_frames / 3)) * (0.5 + 0.5 * view_agree)
    conf *= (0.6 + 0.4 * read_agree) if count else 1.0
    by_frame = Counter(x.frame_idx for x in s)
    ev = max(by_frame.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    return BinObservation(bin_id=bin_id, sku=sku, gtin=gtin, count=count,
                          confidence=float(np.clip(conf, 0, 1)), n_views=n_frames,
                          evidence_frame=int(ev), reason=";".join(reasons))
