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
    out: list[FrameDetections] = []
    for fi, g in df.groupby("frame_idx", sort=True):
        boxes = g[g.row_kind == "box"]
        codes = g[g.row_kind == "code"]
        wh = (int(g["image_w"].iloc[0]), int(g["image_h"].iloc[0])) if "image_w" in g else (0, 0)
        q = None
        if "img_noise" in g and not np.isnan(g["img_noise"].iloc[0]):  # files from before frame quality: None
            q = FrameQuality(**{f: float(g[c].iloc[0]) for c, f in QUALITY_COLUMNS.items()})
        c = Codes(
            symbology=codes.symbology.to_numpy(object), text=codes.text.to_numpy(object),
            corners=np.array([np.asarray(v, np.float32).reshape(4, 2) for v in codes.corners], np.float32).reshape(-1, 4, 2),
            decoder=codes.decoder.to_numpy(object), det_index=codes.det_index.to_numpy(np.int32),
            # the GS1 fields as written (files from before serial and lot were kept: parsed again)
            **({f: codes[f].fillna("").astype(str).to_numpy(object) for f in GS1_FIELDS}
               if all(f in codes for f in GS1_FIELDS) else {}),
        )
        out.append(FrameDetections(
            frame_idx=int(fi), t_ns=int(g.t_ns.iloc[0]), xyxy=boxes[["x1", "y1", "x2", "y2"]].to_numpy(np.float32),
            confidence=boxes.confidence.to_numpy(np.float32), class_id=boxes.class_id.to_numpy(np.int32),
            track_id=boxes.track_id.to_numpy(np.int32), codes=c, image_wh=wh, quality=q,
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
