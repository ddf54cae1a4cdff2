"""``detections.parquet``: one row per box or decoded code (schema in docs/CONTRACTS.md).

``write_detections(path, dets)`` and ``read_detections(path)`` are inverse: a frame with no boxes
and no codes is kept as one ``row_kind == "frame"`` row so that "seen, nothing found" survives the
round trip.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from perception.detections import GS1_FIELDS, Codes, FrameDetections
from perception.errors import PerceptionError
from perception.quality import FrameQuality

COLUMNS = ["frame_idx", "t_ns", "row_kind", "x1", "y1", "x2", "y2", "confidence", "class_id", "track_id",
           "symbology", "text", "decoder", "gtin", "sscc", "serial", "lot", "corners", "det_index", "image_w", "image_h",
           "img_brightness", "img_noise", "img_sharpness"]
_NO_CODE = {"symbology": "", "text": "", "decoder": "", "gtin": "", "sscc": "", "serial": "", "lot": "", "corners": [],
            "det_index": -1}
QUALITY_COLUMNS = {"img_brightness": "brightness", "img_noise": "noise_sigma", "img_sharpness": "sharpness"}


def detections_to_frame(dets: list[FrameDetections]) -> pd.DataFrame:
    rows: list[dict] = []
    for d in dets:
        base = {"frame_idx": d.frame_idx, "t_ns": d.t_ns, "image_w": d.image_wh[0], "image_h": d.image_wh[1],
                **{c: (getattr(d.quality, f) if d.quality is not None else np.nan) for c, f in QUALITY_COLUMNS.items()}}
        for i in range(len(d)):
            x1, y1, x2, y2 = (float(v) for v in d.xyxy[i])
            rows.append({**base, "row_kind": "box", "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                         "confidence": float(d.confidence[i]), "class_id": int(d.class_id[i]),
                         "track_id": int(d.track_id[i]), **_NO_CODE})
        c = d.codes
        for j in range(len(c)):
            xs, ys = c.corners[j][:, 0], c.corners[j][:, 1]
            rows.append({**base, "row_kind": "code", "x1": float(xs.min()), "y1": float(ys.min()),
                         "x2": float(xs.max()), "y2": float(ys.max()), "confidence": 1.0, "class_id": -1,
                         "track_id": -1, "symbology": str(c.symbology[j]), "text": str(c.text[j]),
                         "decoder": str(c.decoder[j]), **{f: str(getattr(c, f)[j]) for f in GS1_FIELDS},
                         "corners": [float(v) for v in c.corners[j].reshape(-1)], "det_index": int(c.det_index[j])})
        if not len(d) and not len(c):
            rows.append({**base, "row_kind": "frame", "x1": 0.0, "y1": 0.0, "x2": 0.0, "y2": 0.0, "confidence": 0.0,
                         "class_id": -1, "track_id": -1, **_NO_CODE})
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.astype({"frame_idx": "int64", "t_ns": "int64", "class_id": "int32", "track_id": "int32",
                      "det_index": "int32", "image_w": "int32", "image_h": "int32", "x1": "float32", "y1": "float32",
                      "x2": "float32", "y2": "float32", "confidence": "float32", "img_brightness": "float32",
                      "img_noise": "float32", "img_sharpness": "float32"})


def write_detections(path: str | Path, dets: list[FrameDetections]) -> Path:
    """Write atomically (temp file then rename): a killed writer leaves the previous file or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    detections_to_frame(dets).to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def frames_from_table(df: pd.DataFrame, source: str = "detections") -> list[FrameDetections]:
    missing = [c for c in ("frame_idx", "t_ns", "row_kind", "x1", "y1", "x2", "y2", "confidence", "class_id",
                           "track_id", "symbology", "text", "decoder", "corners", "det_index") if c not in df.columns]
    if missing:
        raise PerceptionError(f"{source}: missing column(s) {', '.join(missing)}; expected the detections.parquet "
                              "schema of docs/CONTRACTS.md")
    # columns taken out once and cut per frame (a groupby of DataFrames took 4 s on a 628-frame 4K flight)
    order = np.argsort(df["frame_idx"].to_numpy(np.int64), kind="stable")  # rows keep their order in a frame
    col = {c: df[c].to_numpy()[order] for c in ("frame_idx", "t_ns", "row_kind", "confidence", "class_id", "track_id",
                                                 "symbology", "text", "decoder", "corners", "det_index")}
    xyxy_all = df[["x1", "y1", "x2", "y2"]].to_numpy(np.float32)[order]
    wh_all = df[["image_w", "image_h"]].to_numpy()[order] if {"image_w", "image_h"} <= set(df.columns) else None
    q_all = df[list(QUALITY_COLUMNS)].to_numpy(np.float64)[order] if set(QUALITY_COLUMNS) <= set(df.columns) else None
    noise_k = list(QUALITY_COLUMNS).index("img_noise")
    # the GS1 fields as written (files from before serial and lot were kept: parsed again)
    gs1_all = ({f: df[f].fillna("").astype(str).to_numpy(object)[order] for f in GS1_FIELDS}
               if all(f in df.columns for f in GS1_FIELDS) else None)
    fi_sorted = col["frame_idx"]
    starts = np.flatnonzero(np.r_[True, fi_sorted[1:] != fi_sorted[:-1]]) if len(fi_sorted) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(fi_sorted)]
    out: list[FrameDetections] = []
    for a, b in zip(starts, ends):
        kind = col["row_kind"][a:b]
        bx, cx = a + np.flatnonzero(kind == "box"), a + np.flatnonzero(kind == "code")
        wh = (int(wh_all[a, 0]), int(wh_all[a, 1])) if wh_all is not None else (0, 0)
        q = None
        if q_all is not None and not np.isnan(q_all[a, noise_k]):  # files from before frame quality: None
            q = FrameQuality(**{f: float(q_all[a, k]) for k, f in enumerate(QUALITY_COLUMNS.values())})
        c = Codes(
            symbology=col["symbology"][cx].astype(object), text=col["text"][cx].astype(object),
            corners=np.array([np.asarray(v, np.float32).reshape(4, 2) for v in col["corners"][cx]],
                             np.float32).reshape(-1, 4, 2),
            decoder=col["decoder"][cx].astype(object), det_index=col["det_index"][cx].astype(np.int32),
            **({f: v[cx] for f, v in gs1_all.items()} if gs1_all is not None else {}),
        )
        out.append(FrameDetections(
            frame_idx=int(fi_sorted[a]), t_ns=int(col["t_ns"][a]), xyxy=xyxy_all[bx],
            confidence=col["confidence"][bx].astype(np.float32), class_id=col["class_id"][bx].astype(np.int32),
            track_id=col["track_id"][bx].astype(np.int32), codes=c, image_wh=wh, quality=q,
        ))
    return out


def read_detections(path: str | Path) -> list[FrameDetections]:
    path = Path(path)
    if not path.exists():
        raise PerceptionError(f"{path}: no such file; expected detections.parquet written by `rackscan detect`")
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise PerceptionError(f"{path}: not a readable Parquet file ({type(e).__name__}); expected "
                              "detections.parquet written by `rackscan detect`") from None
    return frames_from_table(df, str(path))
