"""Multi-view fusion on a rack face: tire sightings -> tire tracks -> count and SKU per bin.

Each detected tire, projected onto its face, is a ``Sighting``. Sightings are grouped into
``TireTrack``s frame by frame with an optimal assignment (two sightings from one frame are never
the same tire, and a sighting joins a track only within half a tire's size of it), so neighbouring
tires in a stack or a crowded row stay apart however many frames see them. A track counts as a
tire when it was seen in enough of the frames that had it wholly in view, or, seen less, when it
fills the gap of a packed row (a tire standing behind a crowded row). A serialised product label
(GS1 GTIN + serial: one label, one tire) read in such a gap is evidence of the tire behind it too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from perception.detections import box_intersection, box_iou
from slam_fusion.core.calibration import Calibration
from slam_fusion.core.confidence import BinEvidence, ConfidenceModel
from slam_fusion.core.sizing import sku_by_size

EDGES = ("u0", "u1", "v0", "v1")


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """One detected tire projected onto a face: its box edges in face metres (u0 < u1, v0 < v1)
    and which edges are real (an edge on the image border is where the view ended, not the tire)."""

    frame_idx: int
    face_id: str = ""
    u0_m: float
    u1_m: float
    v0_m: float
    v1_m: float
    edge_ok: tuple[bool, bool, bool, bool] = (True, True, True, True)
    score: float = 1.0
    gtin: str = ""  # decoded product label on this tire, "" when none was read

    @property
    def edges(self) -> np.ndarray:
        return np.array([self.u0_m, self.u1_m, self.v0_m, self.v1_m])

    @property
    def u_m(self) -> float:
        return (self.u0_m + self.u1_m) / 2

    @property
    def v_m(self) -> float:
        return (self.v0_m + self.v1_m) / 2


@dataclass(frozen=True, kw_only=True)
class TireTrack:
    """One physical tire: its box on the face and the frames that saw it."""

    face_id: str
    u0_m: float
    u1_m: float
    v0_m: float
    v1_m: float
    frames: tuple[int, ...]
    gtins: tuple[str, ...]  # one entry per read, "" dropped
    score: float
    n_expected: int = 0  # frames that had most of the tire in view (set by the caller)
    size_known: tuple[bool, bool] = (True, True)  # (u, v): some sighting had both edges real
    expected_frames: tuple[int, ...] = ()  # frames that had all of it in view (set by the caller)
    scores: tuple[float, ...] = ()  # the detector's score of each sighting
    # (u0, u1, v0, v1): the share of its sightings that had the edge off the image border
    edges_real: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)

    @property
    def u_m(self) -> float:
        return (self.u0_m + self.u1_m) / 2

    @property
    def v_m(self) -> float:
        return (self.v0_m + self.v1_m) / 2

    @property
    def w_m(self) -> float:
        return self.u1_m - self.u0_m

    @property
    def h_m(self) -> float:
        return self.v1_m - self.v0_m

    @property
    def support(self) -> float:
        return len(self.frames) / max(1, self.n_expected, len(self.frames))


@dataclass(frozen=True, kw_only=True)
class LabelRead:
    """One read of a serialised product label (GS1 AI 01 GTIN + AI 21 serial), its centre projected
    onto a face."""

    frame_idx: int
    face_id: str
    gtin: str
    serial: str
    u_m: float
    v_m: float


@dataclass(frozen=True, kw_only=True)
class ItemLabel:
    """One serialised product label, so one tire: where its reads put it on the face (median) and
    the frames that read it."""

    face_id: str
    gtin: str
    serial: str
    u_m: float
    v_m: float
    frames: tuple[int, ...]


def group_label_reads(reads: list[LabelRead]) -> list[ItemLabel]:
    """Reads of one (face, GTIN, serial) -> one ``ItemLabel`` (order independent)."""
    by: dict[tuple[str, str, str], list[LabelRead]] = {}
    for r in reads:
        by.setdefault((r.face_id, r.gtin, r.serial), []).append(r)
    out = [ItemLabel(face_id=k[0], gtin=k[1], serial=k[2], u_m=float(np.median([r.u_m for r in rs])),
                     v_m=float(np.median([r.v_m for r in rs])), frames=tuple(sorted({r.frame_idx for r in rs})))
           for k, rs in by.items()]
    return sorted(out, key=lambda x: (x.face_id, x.u_m, x.v_m, x.gtin, x.serial))


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
    raw_score: float = 0.0  # the uncalibrated score ``confidence`` was mapped from
    evidence: BinEvidence | None = None  # what the confidence was judged on
    count_confidence: float | None = None  # the count alone right, SKU aside (None: ``confidence`` serves)
    # distinct serialised labels of its GTIN read in the bin: at least that many tires of its SKU stand there,
    # however doubtful the count (``reconciliation.diff``: more than the ERP lists is an ``over``)
    n_serials: int = 0
    # the counts its evidence allows (``BinEvidence.count_range``; ``count_hi`` None: no upper bound). Where the
    # models trust the count but for rules that say which way it may be off, a doubted bin's range can lie
    # wholly off the ERP's quantity (``reconciliation.diff``: short or over whatever the doubt)
    count_lo: int = 0
    count_hi: int | None = None
    counted: tuple[TireTrack, ...] = ()  # the boxes counted, after every rule (``tracks.parquet``'s ``counted``)
    # goods counted, no label read: the catalogue SKUs their measured size fits, nearest first
    # (``slam_fusion.core.sizing``); the ERP's SKU for the bin, one of them, names them in reconciliation
    size_fits: tuple[str, ...] = ()


def nested_boxes(xyxy: np.ndarray, score: np.ndarray, *, inside_frac: float = 0.8) -> np.ndarray:
    """Mask of the boxes (one frame's tires, pixels) that lie ``inside_frac`` of their area inside
    a larger box: one tire detected twice (the inner box a part of it, as where the image edge cuts
    the tire), not two tires. Tires do not nest in an image (a tire behind another shows beside or
    above it). Boxes of one size: the higher score stays."""
    b = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    sc = np.asarray(score, dtype=float).reshape(-1)
    n = len(b)
    if n < 2:
        return np.zeros(n, dtype=bool)
    area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-9)
    inside = box_intersection(b, b) / area[:, None] >= inside_frac  # [i, j]: box i lies within box j
    order = np.lexsort((b[:, 3], b[:, 2], b[:, 1], b[:, 0], -sc, -area))  # larger first, then score, position
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    outranked = rank[None, :] < rank[:, None]  # [i, j]: box j ranks above box i
    np.fill_diagonal(inside, False)
    return np.any(inside & outranked, axis=1)


def _canonical(s: list[Sighting]) -> list[Sighting]:
    return sorted(s, key=lambda x: (x.face_id, x.frame_idx, x.u0_m, x.v0_m, x.u1_m, x.v1_m, x.edge_ok, x.gtin,
                                    x.score))


class _Track:
    def __init__(self, face_id: str) -> None:
        self.face_id = face_id
        self.sum_ok = np.zeros(4)
        self.n_ok = np.zeros(4)
        self.sum_all = np.zeros(4)
        self.size_sum = np.zeros(2)  # (u, v) sizes from sightings with both edges real
        self.size_n = np.zeros(2)
        self.n = 0
        self.frames: list[int] = []
        self.gtins: list[str] = []
        self.scores: list[float] = []
        self.score = 0.0
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None:
            self._cache = self._edges()
        return self._cache

    def _edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Edge estimates and which are real. An edge no sighting saw is placed from the opposite
        real edge and the tire's size on that axis (from sightings that saw both), else from the
        clipped boxes."""
        ok = self.n_ok > 0
        est = np.where(ok, self.sum_ok / np.maximum(self.n_ok, 1), self.sum_all / max(self.n, 1))
        for lo, hi, k in ((0, 1, 0), (2, 3, 1)):
            size = self.size_sum[k] / self.size_n[k] if self.size_n[k] else None
            if ok[lo] and not ok[hi]:
                est[hi] = est[lo] + (size if size is not None else max(0.0, est[hi] - est[lo]))
            elif ok[hi] and not ok[lo]:
                est[lo] = est[hi] - (size if size is not None else max(0.0, est[hi] - est[lo]))
        return est, ok

    def merge(self, o: "_Track") -> None:
        for name in ("sum_ok", "n_ok", "sum_all", "size_sum", "size_n"):
            setattr(self, name, getattr(self, name) + getattr(o, name))
        self.n += o.n
        self.frames += o.frames
        self.gtins += o.gtins
        self.scores += o.scores
        self.score += o.score
        self._cache = None

    def add(self, x: Sighting) -> None:
        e = x.edges
        ok = np.array(x.edge_ok, dtype=bool)
        self.sum_ok += np.where(ok, e, 0.0)
        self.n_ok += ok
        self.sum_all += e
        for k, (lo, hi) in enumerate(((0, 1), (2, 3))):
            if ok[lo] and ok[hi]:
                self.size_sum[k] += e[hi] - e[lo]
                self.size_n[k] += 1
        self.n += 1
        self._cache = None
        self.frames.append(x.frame_idx)
        self.scores.append(x.score)
        self.score += x.score
        if x.gtin:
            self.gtins.append(x.gtin)


def _similarity(ea: np.ndarray, oka: np.ndarray, eb: np.ndarray, okb: np.ndarray) -> float:
    """Overlap of two boxes on a face, 0..1: the product over the u and v axes of the 1-D IoU where
    both boxes have both edges real, else of the overlap over the shorter extent (a clipped or
    partly occluded box lies inside the tire's), lowered by any disagreement of edges real in both."""
    sim = 1.0
    for lo, hi in ((0, 1), (2, 3)):
        la, lb = max(ea[hi] - ea[lo], 1e-6), max(eb[hi] - eb[lo], 1e-6)
        inter = max(0.0, min(ea[hi], eb[hi]) - max(ea[lo], eb[lo]))
        if oka[lo] and oka[hi] and okb[lo] and okb[hi]:
            sim *= inter / (la + lb - inter)
            continue
        sim *= inter / min(la, lb)
        for k in (lo, hi):
            if oka[k] and okb[k]:
                sim *= max(0.0, 1.0 - abs(ea[k] - eb[k]) / max(la, lb))
    return float(sim)


def _near(ea: np.ndarray, eb: np.ndarray, margin_m: float = 0.05) -> bool:
    return not (ea[1] < eb[0] - margin_m or eb[1] < ea[0] - margin_m or ea[3] < eb[2] - margin_m
                or eb[3] < ea[2] - margin_m)


def _merge_tracks(tracks: list[_Track], min_overlap: float) -> list[_Track]:
    """Join tracks of one tire from different passes: same face, never in the same frame, boxes
    overlapping by ``min_overlap``. Best pair first; pairs touching a merged track are re-scored."""
    alive = list(tracks)
    pairs = []
    # candidate pairs by a sweep along u per face (a pair farther apart on u than _near's margin
    # never joins): the same pairs as every pair against every other, in n log n
    by_face: dict[str, list[int]] = {}
    for i, t in enumerate(alive):
        by_face.setdefault(t.face_id, []).append(i)
    for ks in by_face.values():
        ks = sorted(ks, key=lambda k: alive[k].edges()[0][0])
        for n, i in enumerate(ks):
            ea = alive[i].edges()[0]
            for j in ks[n + 1:]:
                eb = alive[j].edges()[0]
                if eb[0] > ea[1] + 0.05 + 1e-9:
                    break
                if not _near(ea, eb):
                    continue
                a, b = (alive[i], alive[j]) if i < j else (alive[j], alive[i])
                sim = _similarity(*a.edges(), *b.edges())
                if sim >= min_overlap:
                    pairs.append((-sim, min(i, j), max(i, j)))
    pairs.sort()
    gone: set[int] = set()
    changed: set[int] = set()
    for neg, i, j in pairs:
        if i in gone or j in gone:
            continue
        a, b = alive[i], alive[j]
        if set(a.frames) & set(b.frames):
            continue
        if (i in changed or j in changed) and _similarity(*a.edges(), *b.edges()) < min_overlap:
            continue
        a.merge(b)
        gone.add(j)
        changed.add(i)
    return [t for k, t in enumerate(alive) if k not in gone]


def group_sightings(sightings: list[Sighting], *, min_overlap: float = 0.35) -> list[TireTrack]:
    """Frame-by-frame optimal assignment of sightings to tracks per face (order independent),
    then tracks of one tire from different passes joined.

    A sighting joins a track when their boxes on the face overlap by ``min_overlap``
    (``_similarity``); a frame adds at most one sighting to a track.
    """
    from scipy.optimize import linear_sum_assignment

    tracks: list[_Track] = []
    on_face: dict[str, tuple[list[int], list, set[int]]] = {}
    slot: dict[int, int] = {}  # track index -> its row on its face
    s = _canonical(sightings)
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j].face_id, s[j].frame_idx) == (s[i].face_id, s[i].frame_idx):
            j += 1
        batch = s[i:j]
        i = j
        lo_u = min(x.u0_m for x in batch) - 0.05
        hi_u = max(x.u1_m for x in batch) + 0.05
        lo_v = min(x.v0_m for x in batch) - 0.05
        hi_v = max(x.v1_m for x in batch) + 0.05
        # this face's tracks (indices into ``tracks``) and their edges, refreshed where they changed
        ks, edges, dirty = on_face.setdefault(batch[0].face_id, ([], [], set()))
        for n in dirty:
            edges[n] = tracks[ks[n]].edges()[0]
        dirty.clear()
        if ks:
            e = np.array(edges)
            live = [ks[n] for n in np.nonzero((e[:, 1] >= lo_u) & (e[:, 0] <= hi_u) & (e[:, 3] >= lo_v) & (e[:, 2] <= hi_v))[0]]
        else:
            live = []
        matched: dict[int, int] = {}
        if live:
            cost = np.full((len(batch), len(live)), 1e6)
            for a, x in enumerate(batch):
                for b, k in enumerate(live):
                    sim = _similarity(x.edges, np.array(x.edge_ok, dtype=bool), *tracks[k].edges())
                    if sim >= min_overlap:
                        cost[a, b] = 1.0 - sim
            r, c = linear_sum_assignment(cost)
            matched = {int(a): live[int(b)] for a, b in zip(r, c) if cost[a, b] < 1e6}
        for a, x in enumerate(batch):
            k = matched.get(a)
            if k is None:
                tracks.append(_Track(x.face_id))
                k = len(tracks) - 1
                slot[k] = len(ks)
                ks.append(k)
                edges.append(None)
            tracks[k].add(x)
            dirty.add(slot[k])
    tracks = _merge_tracks(tracks, min_overlap)
    out = []
    for t in tracks:
        e, _ = t.edges()
        out.append(TireTrack(face_id=t.face_id, u0_m=float(e[0]), u1_m=float(e[1]), v0_m=float(e[2]), v1_m=float(e[3]),
                             frames=tuple(t.frames), gtins=tuple(sorted(t.gtins)), score=t.score / max(t.n, 1),
                             size_known=(bool(t.size_n[0]), bool(t.size_n[1])), scores=tuple(t.scores),
                             edges_real=tuple(float(x) for x in t.n_ok / max(t.n, 1))))
    return sorted(out, key=lambda t: (t.face_id, t.u_m, t.v_m, t.frames))


def _row_gap(tracks: list[TireTrack], factor: float = 1.3) -> bool:
    """A row of tires side by side (boxes sharing most of their height) with one spacing much wider
    than the row's others, or two neighbours with open space between them narrower than a tire:
    tires are stored packed, so such a gap most likely hides a tire behind its neighbours (crowded
    rows at two depths) and the count deserves a second look."""
    rows: list[list[TireTrack]] = []
    for t in sorted(tracks, key=lambda t: (t.v_m, t.u_m)):
        for row in rows:
            r0 = row[0]
            if _same_row(r0, t):
                row.append(t)
                break
        else:
            rows.append([t])
    for row in rows:
        row = sorted(row, key=lambda t: t.u_m)
        for a, b in zip(row, row[1:]):
            # open space between neighbours too narrow for a tire standing in line but wider than
            # packing leaves: the look of a crowded row whose back tire went unseen
            w = (a.w_m + b.w_m) / 2
            if 0.3 * w < b.u0_m - a.u1_m < w:
                return True
        if len(row) < 3:
            continue
        u = np.sort([t.u_m for t in row])
        sp = np.diff(u)
        if sp.max() > factor * float(np.median(sp)):
            return True
    return False


def _seen_rank(t: TireTrack) -> tuple[int, float, float]:
    """How well a track was seen, for choosing which of two boxes of one tire stays: frames, then
    support, then score (the weakest first when sorted)."""
    return len(t.frames), t.support, t.score


def _u_overlap(a: TireTrack, b: TireTrack) -> float:
    """How far the two boxes overlap across the face, in metres; negative: the open space between them."""
    return min(a.u1_m, b.u1_m) - max(a.u0_m, b.u0_m)


def _v_overlap(a: TireTrack, b: TireTrack) -> float:
    """How far the two boxes overlap in height, in metres; negative: the open space between them."""
    return min(a.v1_m, b.v1_m) - max(a.v0_m, b.v0_m)


def _same_row(a: TireTrack, b: TireTrack) -> bool:
    """The two boxes share more than half the smaller one's height: side by side in one row."""
    return _v_overlap(a, b) > 0.5 * min(a.h_m, b.h_m)


def _u_iou(a: TireTrack, b: TireTrack) -> float:
    inter = max(0.0, _u_overlap(a, b))
    return inter / max(1e-9, a.w_m + b.w_m - inter)


def _neighbours(row: list[TireTrack], u_m: float) -> tuple[TireTrack | None, TireTrack | None]:
    """The nearest tracks of a row left and right of ``u_m`` (by centre), None where there is none."""
    left = max((c for c in row if c.u_m < u_m), key=lambda c: c.u_m, default=None)
    right = min((c for c in row if c.u_m > u_m), key=lambda c: c.u_m, default=None)
    return left, right


def hidden_in_row(candidates: list[TireTrack], counted: list[TireTrack], *, factor: float = 1.3,
                  max_iou: float = 0.5) -> list[TireTrack]:
    """Candidates that fill a gap in a row of counted tires: between two counted neighbours in its
    row whose centres are more than ``factor`` tire widths apart (tires are stored packed, so such a
    gap holds a tire hidden behind them, as in a crowded row at two depths), and not the same tire
    as either neighbour (their widths overlap by less than ``max_iou``). Two independent pieces of
    evidence, the sightings and the row's geometry, agree; one candidate per gap, the best seen."""
    taken: dict[tuple[int, int], TireTrack] = {}
    for t in candidates:
        left, right = _neighbours([c for c in counted if _same_row(c, t)], t.u_m)
        if left is None or right is None:
            continue
        if right.u_m - left.u_m <= factor * (left.w_m + right.w_m) / 2:
            continue
        if _u_iou(t, left) >= max_iou or _u_iou(t, right) >= max_iou:
            continue
        key = (id(left), id(right))
        if key not in taken or (t.support, len(t.frames)) > (taken[key].support, len(taken[key].frames)):
            taken[key] = t
    return sorted(taken.values(), key=lambda t: (t.u_m, t.v_m, t.frames))


def labelled_in_row(labels: list[ItemLabel], counted: list[TireTrack], *, min_open: float = 0.15,
                    own_frac: float = 0.4) -> list[TireTrack]:
    """Tires known from their serialised label alone: a label read between two counted neighbours
    of a row (within the height of both) that stand as a crowded row's front tires do, with open
    space between them narrower than a tire (no room for one in line, so one stands behind) but
    wider than packing leaves (``min_open`` of a tire width; packed rows leave 15 mm), and not on a
    counted tire (at least ``own_frac`` of its width from its centre, where its own label is), nor
    between the pieces of one: a counted box of the row's height above or below it, in line with
    it, is the tire it is on (dev 10166 A01-B01-L6-P1, 18 lux: a standing tire boxed as a lower
    and an upper piece 0.23 m apart, its label read between them, counted three times).
    One tire per gap, the label read most; its box is the neighbours' size centred on the label,
    its frames the label's reads."""
    taken: dict[tuple[int, int], tuple[ItemLabel, TireTrack, TireTrack]] = {}
    for lab in sorted(labels, key=lambda x: (x.u_m, x.v_m, x.gtin, x.serial)):
        row = [c for c in counted if c.face_id == lab.face_id and c.v0_m <= lab.v_m <= c.v1_m]
        left, right = _neighbours(row, lab.u_m)
        if left is None or right is None:
            continue
        w = (left.w_m + right.w_m) / 2
        if not (min_open * w <= right.u0_m - left.u1_m < w):
            continue
        v0, v1 = min(left.v0_m, right.v0_m), max(left.v1_m, right.v1_m)
        if any(c.face_id == lab.face_id and abs(c.u_m - lab.u_m) < own_frac * c.w_m and c.v0_m <= v1 and c.v1_m >= v0
               for c in counted):
            continue  # a counted box in line with it in the row's height (whole, or a piece above or below it): its tire
        key = (id(left), id(right))
        if key not in taken or len(lab.frames) > len(taken[key][0].frames):
            taken[key] = (lab, left, right)
    out = []
    for lab, left, right in taken.values():
        w = (left.w_m + right.w_m) / 2
        out.append(TireTrack(face_id=lab.face_id, u0_m=lab.u_m - w / 2, u1_m=lab.u_m + w / 2,
                             v0_m=(left.v0_m + right.v0_m) / 2, v1_m=(left.v1_m + right.v1_m) / 2,
                             frames=lab.frames, gtins=(lab.gtin,) * len(lab.frames), score=0.0,
                             n_expected=max(left.n_expected, right.n_expected, len(lab.frames)),
                             size_known=(False, False)))
    return sorted(out, key=lambda t: (t.u_m, t.v_m, t.frames))


# A track the detector scored under this on average (over its sightings) is not counted from its own
# sightings: in dim stores it draws boxes over empty rack, cartons and the ends of rows at 0.3-0.47,
# and scores real tires 0.53 and up (dev worlds 10009-10042; 0.55 began to drop real tires there).
MIN_TRACK_SCORE = 0.5
# No tire's face is more than this many times as tall as wide (standing) or wide as tall (lying): the
# diameter over the section width is 3.45 for 165/65R14, 4.2 for 7.50R16, 4.6 for a 125/80R15 spare;
# counted tires of the dev worlds measured 3.45 at most. A box 10 cm wide and 1.2 m tall is an upright.
MAX_TIRE_ASPECT = 5.0
# A box this many times wider than its row's typical tire is one loose box over two crowded tires
# (dev 10038 A01-B01-L2-P1: 0.27 m over tires of 0.21-0.22 m), not a tire: ``is_fragment`` and
# ``drop_covered`` both judge it so.
LOOSE_BOX = 1.2


def tire_shaped(t: TireTrack, *, min_side_m: float = 0.1, max_aspect: float = MAX_TIRE_ASPECT) -> bool:
    """The track's box could be a tire's face: no side under ``min_side_m`` (the narrowest tire is
    135 mm; a box never seen wider is a sliver on the image edge or in a gap) and no more elongated
    than ``max_aspect``."""
    lo, hi = min(t.w_m, t.h_m), max(t.w_m, t.h_m)
    return lo >= min_side_m and hi <= max_aspect * lo


def is_counted(t: TireTrack, *, min_support: float = 0.5, min_side_m: float = 0.1,
               min_score: float = MIN_TRACK_SCORE) -> bool:
    """The rule ``fuse_bin`` counts a track as a tire by (see there)."""
    need = 2 if t.n_expected >= 2 else 1
    return (len(t.frames) >= need and t.support >= min_support and tire_shaped(t, min_side_m=min_side_m)
            and t.score >= min_score)


def _row_of(t: TireTrack, tracks: list[TireTrack]) -> tuple[list[TireTrack], float | None]:
    """The other tracks of ``t``'s row, and their typical (median) width: None under two of them."""
    row = [c for c in tracks if c is not t and _same_row(c, t)]
    return row, (float(np.median([c.w_m for c in row])) if len(row) >= 2 else None)


def is_fragment(t: TireTrack, counted: list[TireTrack], *, narrow: float = 0.6, covered: float = 0.8,
                loose: float = LOOSE_BOX) -> bool:
    """A track lying ``covered`` inside the extents of the other counted tracks of its row, and
    narrower than ``narrow`` of its row's typical tire or (standing tires) seen in fewer frames than
    every track it lies under: a piece of a neighbour detected on its own, or a box the detector put over the seam
    of two packed tires now and then (dev 10038 A01-B03-L3-P1: 85% under its neighbours, 12 frames
    against their 29), not a tire. A tire behind a crowded row shows in the open space between its
    neighbours, not over them: a crowded row's tires lie 60-70% under their two neighbours. Boxes
    ``loose`` times wider than the row's typical tire (one box over two crowded tires) cover nothing."""
    row, typical = _row_of(t, counted)
    if typical is None:
        return False
    over = [c for c in row if c.u1_m > t.u0_m and c.u0_m < t.u1_m and c.w_m <= loose * typical]
    spans = sorted((max(c.u0_m, t.u0_m), min(c.u1_m, t.u1_m)) for c in over)
    inside, end = 0.0, t.u0_m
    for a, b in spans:  # length of t's extent under the union of the others'
        a = max(a, end)
        if b > a:
            inside += b - a
            end = b
    if inside < covered * t.w_m:
        return False
    if t.w_m < narrow * typical:
        return True
    # a standing tire (taller than wide) and its standing neighbours only: a laced stack's tires lie
    # wholly over one another across the face, each seen in its own frames (dev 10038 A01-B03-L3-P2)
    return all(c.h_m > c.w_m for c in [t, *over]) and all(len(c.frames) > len(t.frames) for c in over)


def merge_cut_tires(tracks: list[TireTrack], *, same_column: float = 0.7, tall: float = 1.2,
                    overlap: float = 0.1, min_support: float = 0.25) -> list[TireTrack]:
    """Join the pieces of standing tires the detector boxed in two: two tracks of one column
    (``same_column`` IoU across the face) that both stand taller than wide (``tall``) and overlap in
    height by more than ``overlap`` of the shorter one are the top and bottom of one tire (seen
    close, a standing tire's tread fills the frame and splits), not two tires. Standing tires are
    not stacked on one another; lying tires, which are, are wider than tall and keep their count.
    A box seen in under ``min_support`` of the frames that had it in view is no half of a tire here
    (dev 10051 A01-B03-L5-P1: one seen once joined a tire's lower piece and left its upper piece,
    from another pass, to count as a tire of its own)."""
    out = sorted(tracks, key=lambda t: (t.u_m, t.v_m, t.frames))

    def cut(a: TireTrack, b: TireTrack) -> bool:
        if a.face_id != b.face_id or min(a.h_m / max(a.w_m, 1e-9), b.h_m / max(b.w_m, 1e-9)) < tall:
            return False
        if min(a.support, b.support) < min_support:
            return False
        if not (_u_iou(a, b) >= same_column and _v_overlap(a, b) > overlap * min(a.h_m, b.h_m)):
            return False
        # the two must make a tire's face: a box seen once above a standing tire (dev 10050
        # A01-B03-L3-P1, 0.72 m over a 0.75 m tire) would make a 1.26 m pillar and lose the tire
        joined = max(a.v1_m, b.v1_m) - min(a.v0_m, b.v0_m), max(a.u1_m, b.u1_m) - min(a.u0_m, b.u0_m)
        return max(joined) <= MAX_TIRE_ASPECT * min(joined)

    i = 0
    while i < len(out):
        j = next((j for j in range(i + 1, len(out)) if cut(out[i], out[j])), None)
        if j is None:
            i += 1
            continue
        a, b = out[i], out.pop(j)
        out[i] = replace(a, u0_m=min(a.u0_m, b.u0_m), u1_m=max(a.u1_m, b.u1_m), v0_m=min(a.v0_m, b.v0_m),
                         v1_m=max(a.v1_m, b.v1_m), frames=tuple(sorted(set(a.frames) | set(b.frames))),
                         gtins=a.gtins + b.gtins, score=max(a.score, b.score), n_expected=max(a.n_expected, b.n_expected),
                         size_known=(a.size_known[0] or b.size_known[0], a.size_known[1] or b.size_known[1]),
                         expected_frames=tuple(sorted(set(a.expected_frames) & set(b.expected_frames))),
                         scores=a.scores + b.scores, edges_real=tuple(max(x, y) for x, y in zip(a.edges_real, b.edges_real)))
    return out


# dev 10021: the two pieces of one tire at a u IoU of 0.49-0.87 (the drift left between passes shifts
# them); best pairs join first, so a crowded neighbour's piece (0.41 at most) loses to the tire's own
FRAME_CUT_COLUMN = 0.4
FRAME_CUT_GAP_M = 0.15  # dev 10021: pieces of one standing tire 0.08-0.09 m apart (no pass saw its middle)


def join_frame_cut(tracks: list[TireTrack], *, same_column: float = FRAME_CUT_COLUMN, overlap: float = 0.1,
                   max_gap_m: float = FRAME_CUT_GAP_M, tall: float = 1.2, min_support: float = 0.25) -> list[TireTrack]:
    """Join the two pieces of a tire no frame saw whole in height: one pass had its lower part at the
    top edge of its frames (a track whose top edge most of its sightings did not see, and fewer than
    saw its bottom edge), another its upper part at the bottom edge (a track whose bottom edge most
    did not see, and fewer than saw its top: a tire taller than a frame sees may show neither edge in
    the pass that flew past its middle, dev 10059 A01-B03-L5-P2). On a face, in one
    column (``same_column`` IoU across the face), overlapping in height by more than ``overlap`` of
    the shorter, or, where the joined box stands ``tall`` (taller than wide, as standing tires, which
    are not stacked), less than ``max_gap_m`` apart, they are one tire, not two: without this the
    upper levels of a tall rack (dev 10021, 7 levels, tires up to 8.4 m) count tires twice. The
    joined box spans the lower piece's bottom to the upper piece's top, across the pieces' mean width
    (their offset across the face is the drift left between passes, not the tire); the frames that
    had it in view are both pieces' (two weak pieces make no well seen tire). A piece seen in under
    ``min_support`` of the frames that had it in view joins nothing (dev 10051 A01-B03-L5-P1: a
    box seen once, lying over the tire's column better than its own upper piece, would take the
    lower piece and leave the upper one to count as a tire). Two pieces each shaped as a lying tire
    join only into a box shaped as one (wider than ``LYING_ASPECT`` times its height): a lying tire's
    pieces are flatter than the tire, and two lying tires of a stack, each at a frame's edge in one
    pass, make a box no lying tire has (dev 10135 A01-B05-L3-P1: two of a stack of four, each seen
    whole in 43 frames, joined into one box 0.55 m tall for tires of 0.265 m, counted 9 for 10 at
    0.99). Best pairs (highest IoU) first; a piece joins once."""
    def piece(t: TireTrack, lower: bool) -> bool:
        lo, hi = (t.edges_real[2], t.edges_real[3]) if lower else (t.edges_real[3], t.edges_real[2])
        return lo > hi and hi < 0.5 and t.support >= min_support

    pairs = []
    for i, a in enumerate(tracks):
        if not piece(a, lower=True):
            continue
        for j, b in enumerate(tracks):
            if j == i or b.face_id != a.face_id or not piece(b, lower=False) or b.v_m <= a.v_m:
                continue
            iou = _u_iou(a, b)
            if iou < same_column:
                continue
            common = _v_overlap(a, b)
            width = (a.w_m + b.w_m) / 2
            if _lying(a) and _lying(b) and width <= LYING_ASPECT * (b.v1_m - a.v0_m):
                continue  # two lying tires of a stack, not one tire's pieces
            if common > overlap * min(a.h_m, b.h_m) or (-common < max_gap_m and b.v1_m - a.v0_m > tall * width):
                pairs.append((-iou, i, j))
    gone: set[int] = set()
    out = list(tracks)
    for _, i, j in sorted(pairs):
        if i in gone or j in gone:
            continue
        gone |= {i, j}
        a, b = tracks[i], tracks[j]
        out.append(replace(a, u0_m=(a.u0_m + b.u0_m) / 2, u1_m=(a.u1_m + b.u1_m) / 2, v0_m=a.v0_m, v1_m=b.v1_m,
                           frames=tuple(sorted(set(a.frames) | set(b.frames))), gtins=a.gtins + b.gtins,
                           score=max(a.score, b.score), n_expected=a.n_expected + b.n_expected,
                           size_known=(a.size_known[0] or b.size_known[0], True), expected_frames=(),
                           scores=a.scores + b.scores,
                           edges_real=(max(a.edges_real[0], b.edges_real[0]), max(a.edges_real[1], b.edges_real[1]),
                                       a.edges_real[2], b.edges_real[3])))
    return sorted((t for k, t in enumerate(out) if k not in gone), key=lambda t: (t.u_m, t.v_m, t.frames))


ROW_HALVES_ABUT_M = 0.05  # dev 10166 A01-B01-L7-P1: a standing tire's two halves 0.02 m into each other
ROW_HEIGHT_TOL = 0.1  # the joined halves as tall as the row's other tires, within this share


def join_row_halves(tracks: list[TireTrack], *, same_column: float = 0.7, abut_m: float = ROW_HALVES_ABUT_M,
                    tolerance: float = ROW_HEIGHT_TOL, tall: float = 1.2, min_support: float = 0.25,
                    min_row: int = 2) -> list[TireTrack]:
    """Join a standing tire the detector boxed as two halves, one on the other, where its row says
    how tall its tires are: two tracks of one column (``same_column`` IoU across the face), each seen
    in ``min_support`` of the frames that had it in view, meeting within ``abut_m`` in height, each
    shorter than the row's tires and together as tall as them (within ``tolerance``), the joined box
    standing (``tall`` times taller than wide), beside at least ``min_row`` other standing tires of
    the row seen in half their frames or more. Standing tires are not stacked on one another. In a
    dim store (dev 10166 A01-B01-L7-P1, 18 lux) the detector boxed one tire's upper 0.31 m and lower
    0.48 m apart, overlapping by 0.02 m (too little for ``merge_cut_tires``, and the upper box no
    taller than wide), and the row of 9 tires counted 10 at 0.99."""
    out = sorted(tracks, key=lambda t: (t.u_m, t.v_m, t.frames))

    def joined(a: TireTrack, b: TireTrack) -> TireTrack | None:
        if a.face_id != b.face_id or b.v_m <= a.v_m or min(a.support, b.support) < min_support:
            return None
        if _u_iou(a, b) < same_column or abs(_v_overlap(a, b)) > abut_m:
            return None
        u0, u1, v0, v1 = min(a.u0_m, b.u0_m), max(a.u1_m, b.u1_m), a.v0_m, b.v1_m
        if v1 - v0 < tall * (u1 - u0):
            return None
        row = [t.h_m for t in out if t is not a and t is not b and t.face_id == a.face_id
               and t.h_m >= tall * t.w_m and t.support >= 0.5
               and min(t.v1_m, v1) - max(t.v0_m, v0) > 0.5 * (v1 - v0) and not (t.u1_m > u0 and t.u0_m < u1)]
        if len(row) < min_row:
            return None
        h = float(np.median(row))
        if abs((v1 - v0) - h) > tolerance * h or max(a.h_m, b.h_m) > (1 - tolerance) * h:
            return None
        return _one_of_two(a, b, u0, u1, v0, v1)

    while True:
        pair = next(((i, j, one) for i, a in enumerate(out) for j, b in enumerate(out)
                     if i != j and (one := joined(a, b)) is not None), None)
        if pair is None:
            return out
        i, j, one = pair
        out = sorted([t for k, t in enumerate(out) if k not in (i, j)] + [one], key=lambda t: (t.u_m, t.v_m, t.frames))


def _one_of_two(a: TireTrack, b: TireTrack, u0: float, u1: float, v0: float, v1: float) -> TireTrack:
    """One tire's track from its lower piece ``a`` and upper piece ``b``, boxed (u0, u1) x (v0, v1):
    their sightings, reads and scores together, its height known, the lower edge seen as ``a`` saw
    it and the upper as ``b`` did."""
    return replace(a, u0_m=u0, u1_m=u1, v0_m=v0, v1_m=v1, frames=tuple(sorted(set(a.frames) | set(b.frames))),
                   gtins=a.gtins + b.gtins, score=max(a.score, b.score), n_expected=max(a.n_expected, b.n_expected),
                   size_known=(a.size_known[0] or b.size_known[0], True),
                   expected_frames=tuple(sorted(set(a.expected_frames) | set(b.expected_frames))),
                   scores=a.scores + b.scores,
                   edges_real=(max(a.edges_real[0], b.edges_real[0]), max(a.edges_real[1], b.edges_real[1]),
                               a.edges_real[2], b.edges_real[3]))


def _standing_whole(h_m: float, w_m: float, diameter_m: float, tolerance: float, tall: float) -> bool:
    """A box ``h_m`` tall and ``w_m`` wide is one standing tire of ``diameter_m``: as tall as it
    (within ``tolerance`` of it) and ``tall`` times taller than wide."""
    return abs(h_m - diameter_m) <= tolerance * diameter_m and h_m >= tall * w_m


def join_standing_halves(tracks: list[TireTrack], diameter_m: float, *, same_column: float = 0.5,
                         tolerance: float = ROW_HEIGHT_TOL, tall: float = 1.2) -> tuple[list[TireTrack], int]:
    """Join a standing tire the detector boxed as two pieces, one on the other, where the bin's SKU
    says how tall its tires are (``diameter_m``, the catalogue's size): two counted tracks of one
    column (``same_column`` IoU across the face), each shorter than the tire by more than
    ``tolerance``, together as tall as it (within ``tolerance``) and standing (``tall`` times taller
    than wide). Standing tires are not stacked on one another, so two such pieces are one tire.
    ``join_row_halves`` does this where the row's other tires give the height; here every tire of
    the row may be in pieces (dev 10219 A01-B03-L2-P1, 24 lux: three 295/80R22.5 tires, 1.04 m,
    each boxed as a lower 0.64 m and an upper 0.53 m piece overlapping by 0.15 m, two of them
    0.07 m apart across the face; counted 5 of 3 at 0.99). Returns the tracks and how many pairs
    were joined; the best-aligned pairs first."""
    out = sorted(tracks, key=lambda t: (t.u_m, t.v_m, t.frames))
    joined = 0
    while True:
        best = None
        for i, a in enumerate(out):
            for j, b in enumerate(out):
                if i == j or a.face_id != b.face_id or b.v_m <= a.v_m or max(a.h_m, b.h_m) > (1 - tolerance) * diameter_m:
                    continue
                iou = _u_iou(a, b)
                u0, u1, v0, v1 = min(a.u0_m, b.u0_m), max(a.u1_m, b.u1_m), min(a.v0_m, b.v0_m), max(a.v1_m, b.v1_m)
                if iou < same_column or not _standing_whole(v1 - v0, u1 - u0, diameter_m, tolerance, tall):
                    continue
                if best is None or iou > best[0]:
                    best = (iou, i, j, _one_of_two(a, b, u0, u1, v0, v1))
        if best is None:
            return out, joined
        _, i, j, one = best
        joined += 1
        out = sorted([t for k, t in enumerate(out) if k not in (i, j)] + [one], key=lambda t: (t.u_m, t.v_m, t.frames))


def pieces_of_whole(tracks: list[TireTrack], diameter_m: float, *, same_column: float = 0.5, inside: float = 0.5,
                    tolerance: float = ROW_HEIGHT_TOL, tall: float = 1.2) -> list[TireTrack]:
    """Counted tracks that are a piece of a standing tire counted whole beside them, where the bin's
    SKU says how tall its tires are (``diameter_m``): in the column of a standing track (``tall``
    times taller than wide) as tall as the tire (within ``tolerance``), ``same_column`` IoU across
    the face, lying ``inside`` of their own height within its height, or sticking out of it by no
    more than one tire's height has room for (the two boxes together no taller than the tire, within
    ``tolerance``), and themselves no whole tire of that size (shorter than it and narrower than it,
    by more than ``tolerance``). Two tires do not fill one space, and standing tires are not stacked
    on one another (dev 10219 A01-B01-L2-P1, 24 lux: the lower 0.24 m of a 1.04 m truck tire boxed
    on its own as well, counted 5 of 4 at 0.86; dev 10209 A01-B07-L1-P1, 13 lux: the upper 0.18 m of
    a 0.66 m tire, 5 of 4; dev 10329 A01-B01-L6-P2: a 1.04 m tire boxed whole but 0.12 m short, and
    its lowest 0.17 m boxed as well, a third of it within the whole's box; 3 of 2 at 0.96)."""
    short = (1 - tolerance) * diameter_m
    one_tire = (1 + tolerance) * diameter_m
    whole = [t for t in tracks if _standing_whole(t.h_m, t.w_m, diameter_m, tolerance, tall)]
    out = []
    for t in tracks:
        if t in whole or t.h_m >= short or t.w_m >= short:
            continue
        if any(w.face_id == t.face_id and _u_iou(t, w) >= same_column
               and (_v_overlap(t, w) >= inside * t.h_m or max(t.v1_m, w.v1_m) - min(t.v0_m, w.v0_m) <= one_tire)
               for w in whole):
            out.append(t)
    return out


def drop_covered(counted: list[TireTrack], *, covered: float = 0.9, grid: int = 12, loose: float = LOOSE_BOX) -> list[TireTrack]:
    """Drop counted tracks whose box lies ``covered`` under the union of the other counted tracks'
    boxes: the same tire boxed twice a little apart, or a piece of it, not another tire (packed
    neighbours overlap a tire's sides in projection, two thirds of its width at most; a tire behind
    a row shows in a gap, not under the row). The weakest go first (fewest frames, then support),
    so of two copies of one tire the better seen one stays; but a box ``loose`` times wider than its
    row's typical tire goes before any: one box spanning two crowded tires hides both of their own
    boxes, and dropping those would count two tires as one (dev 10038 A01-B01-L2-P1)."""
    keep = list(counted)

    def too_wide(t: TireTrack) -> bool:
        typical = _row_of(t, counted)[1]
        return typical is not None and t.w_m > loose * typical

    for t in sorted(counted, key=lambda t: (not too_wide(t), *_seen_rank(t))):
        others = [o for o in keep if o is not t and o.face_id == t.face_id]
        if not others or t.w_m <= 0 or t.h_m <= 0:
            continue
        u = t.u0_m + (np.arange(grid) + 0.5) / grid * t.w_m
        v = t.v0_m + (np.arange(grid) + 0.5) / grid * t.h_m
        uu, vv = np.meshgrid(u, v)
        under = np.zeros_like(uu, dtype=bool)
        for o in others:
            under |= (uu >= o.u0_m) & (uu <= o.u1_m) & (vv >= o.v0_m) & (vv <= o.v1_m)
        if under.mean() >= covered:
            keep.remove(t)
    return keep


COPY_IOU = 0.45  # dev worlds 10009-10042: two crowded tires measured at 0.41, a laced stack at 0.36; copies 0.48-0.67


def drop_copies(counted: list[TireTrack], *, max_iou: float = COPY_IOU) -> list[TireTrack]:
    """Drop counted tracks whose box overlaps another counted track's by ``max_iou`` (IoU on the face)
    or more: one tire boxed twice, less than half a tire apart (a lying tire whose box slid onto the
    seam with the next, a standing tire boxed once whole and once shifted), not two tires. Distinct
    tires overlap less in projection: packed neighbours not at all, a crowded row's tires (a third of
    a width into each other) at an IoU of 0.18 by their true sizes and 0.41 as a dim store's loose
    boxes measured them, the tires of a laced stack at 0.2-0.36.
    The weakest go first (fewest frames, then support, then score), so the better seen copy stays."""
    n = len(counted)
    boxes = np.array([[t.u0_m, t.v0_m, t.u1_m, t.v1_m] for t in counted], dtype=float).reshape(n, 4)
    faces = np.array([t.face_id for t in counted])
    copy = (box_iou(boxes, boxes) >= max_iou) & (faces[:, None] == faces[None, :])
    np.fill_diagonal(copy, False)
    alive = np.ones(n, dtype=bool)
    for i in sorted(range(n), key=lambda i: _seen_rank(counted[i])):
        if np.any(copy[i] & alive):
            alive[i] = False
    return [t for t, a in zip(counted, alive) if a]


# Chosen on dev worlds 10004-10042 (lying stacks of 10006, 10015, 10019, 10038: a box at the frame's
# edge or over a seam adds a track the stack's height has no room for; a tire hidden in the dark
# leaves a gap in the tracks but not in the stack). Laced stacks nest each tire into the one below:
# their tracks step up 0.64-0.72 of a tire's section, a plain stack's 0.81-1.84.
LYING_ASPECT = 1.5  # a counted box this many times wider than tall is a lying tire's
STACK_STEP = 0.85  # median step between a column's boxes, in sections: under it, a laced stack
STACK_ROUNDING = 0.4  # a column's height in sections within this of a whole number (dev: 0.3, 0.4 and 0.5 broke
# no bin; 0.4 mended two more than 0.3, a stray box over 10019's stacks; at 0.5 every column counts)
# A laced stack's tires sit to one side and the other of the one below, by about an eighth of a diameter
# (the family's LACED_SHIFT, 0.12): on the 106 flown dev worlds 10263-10382 the 157 laced columns' boxes
# stepped across the face by a median 0.05-0.19 of their width from one box to the next, while the
# plain stacks that stepped up like laced ones (a box over the seam of two tires) stayed within 0.034.
LACED_SWAY = 0.06  # laced only where its boxes step this share of their width across the face


def _lying(t: TireTrack) -> bool:
    """``t``'s box is shaped as a lying tire's face: ``LYING_ASPECT`` times wider than tall."""
    return t.w_m > LYING_ASPECT * t.h_m


def stack_counts(counted: list[TireTrack], section_m: float, *, same_column: float = 0.5,
                 step: float = STACK_STEP, rounding: float = STACK_ROUNDING,
                 sway: float = LACED_SWAY) -> list[tuple[list[TireTrack], int]]:
    """Columns of lying tires and how many tires each holds by its height: with the bin's tire size
    known (``section_m``, the section width: a lying tire's height), a plain stack of two or more
    counted boxes, one column across the face (``same_column`` IoU), holds its height over the
    section, when that is within ``rounding`` of a whole number. Not for laced stacks (boxes stepping
    up less than ``step`` sections, each box ``sway`` of its width or more to one side of the one
    under it) or where the height is no whole number of tires (a stray box above the stack, a column
    cut by the frame): those keep their track count. A column that steps up like a laced one without
    swaying is a plain stack with a box over the seam of two of its tires (fresh dev 10372
    A01-B01-L3-P1: two tires of 0.215 m boxed at 3.22, 3.33 and 3.48 m, all three within 0.03 m of
    one another across the face, counted 3 at 0.94)."""
    lying = sorted((t for t in counted if _lying(t)), key=lambda t: (t.u_m, t.v_m))
    columns: list[list[TireTrack]] = []
    for t in lying:
        col = next((c for c in columns if c[0].face_id == t.face_id and any(_u_iou(t, x) >= same_column for x in c)), None)
        if col is None:
            columns.append([t])
        else:
            col.append(t)
    out = []
    for col in columns:
        if len(col) < 2 or section_m <= 0:
            continue
        up = sorted(col, key=lambda t: t.v0_m)
        v0 = [t.v0_m for t in up]
        width_m = float(np.median([t.w_m for t in up]))
        sways = float(np.median(np.abs(np.diff([t.u_m for t in up])))) >= sway * width_m
        if float(np.median(np.diff(v0))) < step * section_m and sways:
            continue
        tires = (max(t.v1_m for t in col) - v0[0]) / section_m
        if abs(tires - round(tires)) <= rounding and round(tires) >= 1:
            out.append((col, int(round(tires))))
    return out


def in_stacks(counted: list[TireTrack], stacks: list[tuple[list[TireTrack], int]], *, same_column: float = 0.5,
              inside: float = 0.8) -> list[TireTrack]:
    """The counted boxes of no stack's column that lie in a stack counted by its height
    (``stack_counts``): in its column (``same_column`` IoU across the face with one of its boxes, or
    ``same_column`` of their own width within the column's span across the face) and ``inside`` of
    their height within the stack's. The stack's height already counts every tire there is room for,
    so such a box is no tire of its own (dev 10272 A01-B04-L4-P1: a box 0.53 m tall over the seam of
    two lying tires of 0.30, counted as a seventh tire of six; fresh dev 10364 A01-B01-L2-P1: the left
    0.57 m of a lying tire 1.05 m wide, boxed in the frames that cut its right side off, 0.80 of it
    within the column and 0.42 IoU with the tire's own box, counted as a fourth of three at 0.96). A
    tire of the next column shares a few centimetres of the span at most, a tenth of its width."""
    # each column's box across the face and up it: (u0, u1, v0, v1)
    bounds = [(min(x.u0_m for x in col), max(x.u1_m for x in col), min(x.v0_m for x in col), max(x.v1_m for x in col))
              for col, _ in stacks]
    out = []
    for t in counted:
        for (col, _), (u0, u1, lo, hi) in zip(stacks, bounds):
            if t in col or col[0].face_id != t.face_id:
                continue
            span = max(0.0, min(t.u1_m, u1) - max(t.u0_m, u0))
            if not (any(_u_iou(t, x) >= same_column for x in col) or span >= same_column * t.w_m):
                continue
            if min(hi, t.v1_m) - max(lo, t.v0_m) >= inside * t.h_m:
                out.append(t)
                break
    return out


LABEL_STEP_ROUNDING = 0.2  # a step between two labels of a lying stack within this of a whole number of sections


def stacked_columns(labels: list[ItemLabel], section_m: float, diameter_m: float, *,
                    rounding: float = LABEL_STEP_ROUNDING) -> list[list[ItemLabel]]:
    """The columns of labels that read as lying stacks, each from the bottom up. A column: labels less
    than half the tire's diameter (its width lying) apart across the face; a lying tire's label lies in
    the middle two fifths of its width, so a column's labels are under 0.4 diameters apart and the next
    column's at least 0.6 away. Only a column of two labels or more whose every step is within
    ``rounding`` of a whole number of sections, one or more, reads as a stack: a laced stack steps
    0.64-0.72 sections, and the labels of a standing row, in the middle two fifths of the tires'
    height, are never two sections apart."""
    if section_m <= 0 or diameter_m <= 0 or len(labels) < 2:
        return []
    by_u = sorted(labels, key=lambda lab: (lab.face_id, lab.u_m))
    columns: list[list[ItemLabel]] = [[by_u[0]]]
    for lab in by_u[1:]:
        last = columns[-1][-1]
        if lab.face_id == last.face_id and lab.u_m - last.u_m < 0.5 * diameter_m:
            columns[-1].append(lab)
        else:
            columns.append([lab])
    out = []
    for col in columns:
        col = sorted(col, key=lambda lab: lab.v_m)
        steps = np.diff([lab.v_m for lab in col]) / section_m
        if len(steps) and all(round(s) >= 1 and abs(s - round(s)) <= rounding for s in steps):
            out.append(col)
    return out


def tires_between_labels(labels: list[ItemLabel], section_m: float, diameter_m: float, *,
                         rounding: float = LABEL_STEP_ROUNDING) -> int:
    """Tires of lying stacks between the labels read on them: a lying tire's label sits on its tread,
    half a section above the tire's bottom, and the tires of a stack rest one on the other, so two
    labels of one column (``stacked_columns``) ``k`` sections apart have ``k - 1`` tires between
    them, whether those carry no label or one not read (dev 10318 A01-B05-L1-P1: labels at 0.40,
    0.65, 1.41 and 1.66 m on tires of 0.255, two tires between the second and the third)."""
    return int(sum(round((hi.v_m - lo.v_m) / section_m) - 1
                   for col in stacked_columns(labels, section_m, diameter_m, rounding=rounding)
                   for lo, hi in zip(col, col[1:])))


# A lying stack at the bottom of a bin rests on the bin's floor (its beam's top) or on a pallet: the
# EUR / ISO 1200 x 800 pallet stands 144 mm (the synthetic family's pallets are those,
# datasets.world.PALLET_HEIGHT_M).
PALLET_HEIGHT_M = 0.144


def tires_under_labels(labels: list[ItemLabel], section_m: float, diameter_m: float, bases_v_m: tuple[float, ...], *,
                       counted: list[TireTrack] = (), rounding: float = LABEL_STEP_ROUNDING) -> int:
    """Tires of lying stacks under the lowest label read on them: a stack (``stacked_columns``) rests
    on one of ``bases_v_m`` (the bin's floor, or a pallet on it), and its lowest label read ``k + 1/2``
    sections above that base has ``k`` tires under it, whether those carry no label or one not read
    (dev 10367 A01-B02-L1-P1: a wrapped pallet, labels at 0.665 and 0.930 m on tires of 0.255 over a
    pallet's top at 0.264, one tire under them). A base counts only where the label sits within
    ``rounding`` of that grid; where both fit, the fewer tires are taken.

    Two standing tires side by side, a label on each, can read as a column one section high (their
    labels at random heights in the middle two fifths of the tires'): a column that a ``counted`` box
    standing upright (taller than wide) holds a label of is no stack (16 such bins of two tires on the
    dev worlds 10263-10370, counted three without this)."""
    under = 0
    for col in stacked_columns(labels, section_m, diameter_m, rounding=rounding):
        if any(t.h_m > t.w_m and t.u0_m <= lab.u_m <= t.u1_m for t in counted for lab in col):
            continue
        ks = [(col[0].v_m - b) / section_m - 0.5 for b in bases_v_m]
        fits = [round(k) for k in ks if round(k) >= 0 and abs(k - round(k)) <= rounding]
        under += min(fits, default=0)
    return int(under)


END_GHOST_SCORE = 0.75  # an end box scored under this share of the row's other tires' median, reaching into its neighbour
END_GHOST_OVERLAP_M = 0.02  # ... by more than this, is no tire (dev, 114 flown worlds: 5 such boxes, all false)


def end_ghosts(counted: list[TireTrack], *, score_share: float = END_GHOST_SCORE, overlap_m: float = END_GHOST_OVERLAP_M,
               min_row: int = 3) -> list[TireTrack]:
    """The boxes at either end of a bin's row of standing tires (boxes taller than wide, by their place
    across the face; ``min_row`` of them or more) that reach more than ``overlap_m`` into their
    neighbour and that the detector scored under ``score_share`` of the median of the row's other
    boxes: its box over the end tire's flank and the dark space beside it, not a tire (dev 10384
    A01-B05-L3-P1 at 68 lux: a tenth box 0.38 m wide over the ninth tire's side and the empty bay,
    scored 0.52 against 0.75, counted 10 of 9 at 0.89).
    On the 114 flown dev worlds the counted boxes of such rows (3,259) held 11 that no tire lay
    under, 9 of them at an end; of the 299 end boxes reaching into their neighbour, the 5 scored
    under 0.75 of the row were all false and no true one scored under 0.81 (the 6th false at 0.79,
    left to its doubt: too near). In a row's middle a low score means a tire partly hidden behind
    its neighbours (132 boxes under 0.8 of the row, all true), so only the ends are judged."""
    row = sorted((t for t in counted if t.h_m > t.w_m), key=lambda t: (t.u_m, t.v_m, t.frames))
    if len(row) < min_row:
        return []
    out = []
    for end, into in ((row[0], row[0].u1_m - row[1].u0_m), (row[-1], row[-2].u1_m - row[-1].u0_m)):
        others = [t.score for t in row if t is not end]
        if into > overlap_m and end.score < score_share * float(np.median(others)):
            out.append(end)
    return out


# Standing tires of a row stand side by side: a crowded row's tires reach a third of a width into each
# other, boxed up to 0.48 of the narrower box (dev 10263-10286). Two counted boxes of a row overlapping
# across the face by more than half the narrower one are one tire boxed twice: on those dev worlds 5 of
# the 6 bins with such a pair had counted one tire too many (chosen there); on the fresh dev worlds
# 10287-10310 two bins had one: one had counted a tire too many, the other 21 of 14, wrong either way.
ROW_COPY = 0.5


def row_copies(counted: list[TireTrack], *, overlap: float = ROW_COPY) -> list[tuple[TireTrack, TireTrack]]:
    """The counted standing tires (boxes ``LYING_ASPECT`` times taller than wide) that overlap another
    of their row (``_same_row``) across the face by more than ``overlap`` of the narrower box's width:
    the weaker of the two (fewest frames, then support, then score, as ``drop_copies``), one tire's
    second box, each with the box kept for that tire (the best seen of those it overlaps so). Dev
    10266 A01-B03-L2-P1: five standing 215/75R17.5 tires, the last boxed again 0.11 m to its right
    in 14 frames of its 44, counted as a sixth."""
    standing = [t for t in counted if t.h_m > LYING_ASPECT * t.w_m]
    out: list[tuple[TireTrack, TireTrack]] = []
    dropped: set[int] = set()  # ids of the copies found so far
    for t in sorted(standing, key=_seen_rank):
        twins = [o for o in standing if o is not t and id(o) not in dropped and o.face_id == t.face_id
                 and _same_row(t, o) and _u_overlap(t, o) > overlap * min(t.w_m, o.w_m)]
        if twins:
            out.append((t, max(twins, key=_seen_rank)))
            dropped.add(id(t))
    return out


def piece_of_counted(t: TireTrack, counted: list[TireTrack], *, same_column: float = 0.5) -> bool:
    """``t`` is the part of a counted tire that a frame's edge cut: most of its sightings had its top
    or bottom edge on the image border, and it lies in that tire's column (``same_column`` IoU across
    the face), overlapping it in height. Not a tire hidden in the row's gap (dev 10051 A01-B01-L3-P1:
    the lower 0.16 m of a standing tire, seen at the top edge of three frames, counted as a fourth
    tire of three)."""
    if min(t.edges_real[2], t.edges_real[3]) >= 0.5:
        return False
    return any(c.face_id == t.face_id and _u_iou(t, c) >= same_column and _v_overlap(t, c) > 0
               for c in counted)


def between_tires(weak: list[TireTrack], counted: list[TireTrack], *, min_side_m: float = 0.1) -> list[TireTrack]:
    """The weak tracks shaped as a tire that lie over two counted tires of their row: a tire behind a
    crowded row (dev 10064 A01-B05-L2-P1: the middle one of three, seen in 17 frames at score 0.52,
    left out) or the detector's box over the seam of two packed tires (dev 10038 A01-B03-L3-P1).
    The evidence cannot tell the two apart, so the bin's confidence is doubted
    (``slam_fusion.core.confidence``, ``between_tires``)."""
    return [t for t in weak if tire_shaped(t, min_side_m=min_side_m)
            and sum(1 for c in _row_of(t, counted)[0] if c.u1_m > t.u0_m and c.u0_m < t.u1_m) >= 2]


def select_tracks(tracks: list[TireTrack], *, min_support: float = 0.5, min_side_m: float = 0.1,
                  hidden_support: float = 0.15, labels: list[ItemLabel] = ()
                  ) -> tuple[list[TireTrack], list[TireTrack], list[TireTrack]]:
    """One bin's tracks (and its serialised labels) -> (counted, of those the ones hidden in a row,
    weak ones left out).

    The pieces of a standing tire boxed in two (``merge_cut_tires``), then those of a tire cut by
    the frame's edge in two passes (``join_frame_cut``), then a standing tire's two halves that
    make one tire of its row's height (``join_row_halves``) are joined first. Counted:
    ``is_counted``, not a fragment of its neighbours (``is_fragment``) nor a copy under the others
    (``drop_covered``) or over one of them (``drop_copies``), plus tracks
    seen in at least two frames and ``hidden_support`` of
    those that had them in view, shaped as a tire (``tire_shaped``), that fill a gap in a packed row
    (``hidden_in_row``), plus the tires whose label alone was read in such a gap still open
    (``labelled_in_row``). Weak: the rest with at least half of ``min_support``."""
    tracks = join_row_halves(join_frame_cut(merge_cut_tires(tracks)))
    good = [t for t in tracks if is_counted(t, min_support=min_support, min_side_m=min_side_m)]
    good = [t for t in good if not is_fragment(t, good)]
    good = drop_copies(drop_covered(good))
    maybe = [t for t in tracks if t not in good and len(t.frames) >= 2 and t.support >= hidden_support
             and tire_shaped(t, min_side_m=min_side_m) and not piece_of_counted(t, good)]
    hidden = hidden_in_row(maybe, good)
    hidden += labelled_in_row(list(labels), good + hidden)
    counted = sorted(good + hidden, key=lambda t: (t.u_m, t.v_m, t.frames))
    weak = [t for t in tracks if t not in counted and t.support >= 0.5 * min_support]
    return counted, hidden, weak


def fuse_bin(
    bin_id: str,
    tracks: list[TireTrack],
    frames_seeing_bin: set[int],
    *,
    min_support: float = 0.5,
    min_side_m: float = 0.1,
    hidden_support: float = 0.15,
    gtin_to_sku: dict[str, str] | None = None,
    calibration: Calibration | None = None,
    labels: list[ItemLabel] = (),
    pass_of: dict[int, int] | None = None,
    frame_quality: dict[int, tuple[float, float, float]] | None = None,
    model: ConfidenceModel | None = None,
    section_of: dict[str, float] | None = None,
    seen_whole: bool = True,
    count_model: ConfidenceModel | None = None,
    diameter_of: dict[str, float] | None = None,
    stack_bases_v_m: tuple[float, ...] = (),
) -> BinObservation:
    """Count and SKU for one bin from the tire tracks on it and the frames that saw the bin.

    A track is a tire when it was seen in at least ``min_support`` of the frames that had it
    wholly in view (and in two frames, where two or more had it in view), its box is shaped as some
    tire's face (``tire_shaped``: sides of at least ``min_side_m``, the narrowest tire being 135 mm,
    and no more elongated than ``MAX_TIRE_ASPECT``), and the detector scored it
    ``MIN_TRACK_SCORE`` or more on average; one tire is counted once however many of its boxes
    overlap (``drop_covered``, ``drop_copies``; and ``row_copies``: two standing boxes of a row more
    than half a width into each other, reason ``row_copy``, a doubt). A weaker track also counts
    where it fills a gap in a packed row, and so does a tire whose serialised label (``labels``, the
    bin's) alone was read in such a gap (``select_tracks``, reason ``hidden_in_row``); a gap left
    open is flagged ``gap_in_row``. Where the bin's SKU has a known tire size (``section_of``: SKU ->
    section width in metres, from the catalogue), a plain stack of lying tires holds as many tires as
    its height has room for (``stack_counts``, reason ``stack_height`` where that changed the count)
    and a counted box within such a stack is none of its own (``in_stacks``, reason ``in_stack``),
    and where it has a known diameter (``diameter_of``: SKU -> metres) two counted pieces one on the
    other that make one standing tire of it count once, a box taken for a tire hidden in the row
    among them (``join_standing_halves``, reason ``halves_joined``), and a counted piece of a
    standing tire counted whole is no tire (``pieces_of_whole``, reason ``piece_of_whole``).
    Each serialised label read in the bin is a tire: a bin counts at least as many tires as distinct
    labels read in it, and, where the SKU's size is known, the tires of a lying stack between two of
    them (``tires_between_labels``) and under its lowest, down to the floor or pallet it rests on
    (``tires_under_labels``; ``stack_bases_v_m``: the heights on the face a stack in the bin may rest
    on); reason ``labels_over_tires`` where these outnumber the tires counted. Those labels give the
    SKU where no counted tire's own label was read. Where no label at all was read, the SKU is the one
    catalogue SKU whose size the counted boxes measure, where exactly one fits surely
    (``slam_fusion.core.sizing.sku_by_size``, reason ``sku_by_size``; else ``no_label_read``, no SKU);
    either way the observation keeps every SKU the size fits (``size_fits``) for reconciliation.

    The confidence (``slam_fusion.core.confidence``) is judged on the bin's ``BinEvidence``:
    ``pass_of`` (frame -> pass) lets it check that the passes agree, ``frame_quality`` (frame ->
    brightness, noise, sharpness) how good the frames were, and ``model`` turns the evidence into
    a probability (without one, the hand-made score, mapped by ``calibration`` when given; the
    rules' cap applies either way). ``seen_whole``: the bin was seen whole enough to count
    (fusion's geometry: its bottom, and its top or clear space above its tires); a bin seen only in
    part goes to recount (``partly_seen``). ``count_model`` gives the count alone its own confidence
    (``count_confidence``; the same evidence and caps), for goods counted whose labels were not read.
    """
    n_frames = len(frames_seeing_bin)
    tracks = sorted(tracks, key=lambda t: (t.u_m, t.v_m, t.frames))

    good, hidden, weak = select_tracks(tracks, min_support=min_support, min_side_m=min_side_m,
                                       hidden_support=hidden_support, labels=labels)
    pairs = row_copies([t for t in good if t not in hidden])
    copies = [c for c, _ in pairs]
    good = [t for t in good if all(t is not c for c in copies)]
    reads: dict[int, tuple[str, ...]] = {}  # a copy's label reads are its tire's: they vote with the box kept for it
    for c, twin in pairs:
        reads[id(twin)] = reads.get(id(twin), ()) + c.gtins + reads.pop(id(c), ())
    count = len(good)
    # one vote per tire (its majority read), so a tire seen in many frames does not outvote others
    per_tire = []
    for t in good:
        if t.gtins or reads.get(id(t)):
            n_reads = Counter(t.gtins + reads.get(id(t), ()))
            per_tire.append(max(n_reads.items(), key=lambda kv: (kv[1], kv[0]))[0])
    votes = Counter(per_tire)
    serials = {(lab.gtin, lab.serial) for lab in labels}
    if not votes and len(serials) > count:  # no counted tire's label read: the labels read say which SKU
        votes = Counter(g for g, _ in serials)
    gtin, read_agree = "", 0.0
    if votes:
        best = max(votes.items(), key=lambda kv: (kv[1], kv[0]))  # ties broken by the string
        gtin, read_agree = best[0], best[1] / sum(votes.values())
    sku = (gtin_to_sku or {}).get(gtin, gtin)
    halves, pieces = 0, []
    if count and sku in (diameter_of or {}):
        # a box taken for a tire hidden in a gap of the row that, with a counted piece in its column,
        # makes one standing tire of the size is the rest of that tire (dev 10337 A01-B01-L2-P1)
        whole, halves = join_standing_halves(good, diameter_of[sku])
        hidden = [h for h in hidden if any(h is w for w in whole)]
        pieces = pieces_of_whole([t for t in whole if t not in hidden], diameter_of[sku])
        good = sorted([t for t in whole if t not in pieces], key=lambda t: (t.u_m, t.v_m, t.frames))
        count = len(good)
    stacks = stack_counts(good, section_of[sku]) if count and sku in (section_of or {}) else []
    count += sum(n - len(col) for col, n in stacks)
    stacked = in_stacks([t for t in good if t not in hidden], stacks)
    if stacked:
        good = [t for t in good if t not in stacked]
        count -= len(stacked)
    ghosts = [t for t in end_ghosts(good) if all(t is not h for h in hidden)]
    if ghosts:  # seen, not counted: a weak track of the bin, a doubt the confidence model weighs
        good = [t for t in good if all(t is not g for g in ghosts)]
        count -= len(ghosts)
        weak = weak + ghosts
    # each serialised label read in the bin is a tire: fewer tires counted than labels read means
    # the detector missed some (dev 10004 A01-B03-L1-P2: a lying stack of 3 counted empty at 0.97, its 3
    # labels read); the labels are a floor, with the tires of a lying stack between two of them
    # (``tires_between_labels``) and under the lowest (``tires_under_labels``), and the bin goes to
    # recount (``labels_over_tires``)
    floor = len(serials)
    if gtin and sku in (section_of or {}) and sku in (diameter_of or {}):
        mine = [lab for lab in labels if lab.gtin == gtin]
        floor += tires_between_labels(mine, section_of[sku], diameter_of[sku])
        floor += tires_under_labels(mine, section_of[sku], diameter_of[sku], stack_bases_v_m, counted=good)
    unseen = max(0, floor - count)
    count += unseen
    # no label read in the bin: the SKU whose size the counted boxes measure, where the catalogue has one sure fit
    sized, fits = "", ()
    if (count and not votes and not serials and section_of and diameter_of
            and set((gtin_to_sku or {}).values()) <= section_of.keys() & diameter_of.keys()):  # a SKU of no size could be any
        measured = [(t.w_m, t.h_m) for t in good if t not in hidden]
        size = sku_by_size(measured, section_of, diameter_of)
        sized, fits = size.sku, size.fits
        if sized:  # its GTIN the catalogue's, so a product master names it as it names goods read
            sku, gtin = sized, min((g for g, s in (gtin_to_sku or {}).items() if s == sized), default="")
    reasons = []
    if n_frames < 2:
        reasons.append("few_views")
    if weak:
        reasons.append("occluded")
    if votes and read_agree < 0.8:
        reasons.append("conflicting_reads")
    if count and not votes:
        reasons.append("sku_by_size" if sized else "no_label_read")
    if hidden:
        reasons.append("hidden_in_row")
    if count - unseen != len(good):
        reasons.append("stack_height")
    if halves:
        reasons.append("halves_joined")
    if pieces:
        reasons.append("piece_of_whole")
    if stacked:
        reasons.append("in_stack")
    if copies:
        reasons.append("row_copy")
    if ghosts:
        reasons.append("end_ghost")
    # a widened gap in a row, or any sighting left out that sits in one: count it again by hand
    left_out = [t for t in tracks if t not in good and tire_shaped(t, min_side_m=min_side_m)]
    gap = _row_gap(good) or bool(hidden_in_row(left_out, good))
    if gap:
        reasons.append("gap_in_row")
    mean_support = float(np.mean([t.support for t in good])) if good else 1.0
    conf = (0.4 + 0.6 * min(1.0, n_frames / 3)) * (0.5 + 0.5 * mean_support)
    conf *= max(0.5, 1.0 - 0.1 * len(weak))  # ambiguous tracks: on the dev flights they rarely changed the count
    if not count:  # an empty bin where the detector kept seeing tire-like boxes (a dark pallet of lying tires, dev 10004)
        conf *= max(0.5, 1.0 - 0.1 * sum(1 for t in tracks if t not in weak))
    conf *= (0.6 + 0.4 * read_agree) if count else 1.0
    conf *= 0.7 if gap else 1.0
    conf *= 0.8 ** len(hidden)
    by_frame = Counter(f for t in good for f in t.frames)
    if by_frame:
        ev = max(by_frame.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    else:
        ev = min(frames_seeing_bin) if frames_seeing_bin else -1
    raw = float(np.clip(conf, 0, 1))
    evidence = bin_evidence(good, hidden, weak, tracks, frames_seeing_bin, raw=raw, gap=gap, read_agree=read_agree if votes else 1.0,
                            no_read=bool(count and not votes and not sized), pass_of=pass_of, frame_quality=frame_quality, count=count,
                            seen_whole=seen_whole, labels_over_tires=unseen, row_copies=len(copies),
                            end_ghosts=len(ghosts))
    why = evidence.capped() or evidence.doubted()  # the recount cap, else the doubt
    if why and why not in reasons:
        reasons.append(why)
    if model is not None:
        uncapped = model.uncapped(evidence)
    else:
        uncapped = float(calibration(raw) if calibration is not None else raw)
    confidence = min(uncapped, evidence.cap())
    count_conf = float(count_model.probability(evidence)) if count_model is not None else None
    trust = min(uncapped, count_model.uncapped(evidence)) if count_model is not None else uncapped
    count_lo, count_hi = evidence.count_range(trust)
    n_serials = len({lab.serial for lab in labels if lab.gtin == gtin}) if count and gtin else 0
    return BinObservation(bin_id=bin_id, sku=sku if count else "", gtin=gtin if count else "", count=count,
                          confidence=float(confidence), n_views=n_frames, evidence_frame=int(ev), reason=";".join(reasons),
                          raw_score=raw, evidence=evidence, count_confidence=count_conf, n_serials=n_serials,
                          count_lo=count_lo, count_hi=count_hi, counted=tuple(good), size_fits=fits)


def bin_evidence(good: list[TireTrack], hidden: list[TireTrack], weak: list[TireTrack], tracks: list[TireTrack],
                 frames_seeing_bin: set[int], *, raw: float, gap: bool, read_agree: float, no_read: bool,
                 pass_of: dict[int, int] | None, frame_quality: dict[int, tuple[float, float, float]] | None,
                 count: int, seen_whole: bool = True, labels_over_tires: int = 0, row_copies: int = 0,
                 end_ghosts: int = 0) -> BinEvidence:
    """What the bin's confidence is judged on (``slam_fusion.core.confidence.BinEvidence``); ``count``
    is the bin's count (the counted tracks', or a stack's by its height)."""
    seen = [t for t in good if t not in hidden]  # tires counted from their own sightings
    supports = [t.support for t in good] or [1.0]
    scores = [s for t in seen for s in (t.scores or (t.score,))] or [1.0]
    track_scores = [t.score for t in seen]
    pass_support, spread, n_passes = [1.0], 0, 0
    if pass_of:
        for t in seen:
            per_pass = Counter(pass_of[f] for f in t.expected_frames if f in pass_of)
            expected = {p for p, n in per_pass.items() if n >= 2}  # passes that had it whole in two frames or more
            if expected:
                got = {pass_of[f] for f in t.frames if f in pass_of}
                pass_support.append(len(got & expected) / len(expected))
        n_passes = len({pass_of[f] for f in frames_seeing_bin if f in pass_of})
        # passes that had every track of the bin in view: how many tires did each see?
        every = [t for t in tracks if t.expected_frames and t.w_m >= 0.1 and t.h_m >= 0.1]
        if every:
            common = set.intersection(*({p for p, n in Counter(pass_of[f] for f in t.expected_frames if f in pass_of).items()
                                         if n >= 2} for t in every))
            per_pass = [sum(any(pass_of.get(f) == p for f in t.frames) for t in every if t in good or t in weak)
                        for p in common]
            if len(per_pass) >= 2:
                spread = max(per_pass) - min(per_pass)
    q = [frame_quality[f] for f in frames_seeing_bin if frame_quality and f in frame_quality]
    b, n, s = (float(np.median([x[i] for x in q])) for i in range(3)) if q else (128.0, 0.0, 100.0)
    return BinEvidence(n_views=len(frames_seeing_bin), count=count, mean_support=float(np.mean(supports)),
                       min_support=float(min(supports)), min_pass_support=float(min(pass_support)), pass_spread=int(spread),
                       n_passes=n_passes, n_weak=len(weak), n_hidden=len(hidden), gap=gap, read_agree=float(read_agree),
                       no_read=no_read, mean_score=float(np.mean(scores)), min_score=float(min(scores)), noise=n,
                       brightness=b, sharpness=s, heuristic=raw,
                       score_spread=float(max(track_scores) - min(track_scores)) if len(track_scores) >= 2 else 0.0,
                       seen_whole=seen_whole, n_between=len(between_tires(weak, good)), labels_over_tires=labels_over_tires,
                       lowest_unread=_lowest_unread(seen), n_row_copies=row_copies,
                       n_end_ghosts=end_ghosts)


def _lowest_unread(seen: list[TireTrack]) -> bool:
    """Of two or more counted tires, the one the detector scored lowest is the only one whose label
    was not read: the two signs that a counted "tire" is not one point at the same track."""
    if len(seen) < 2:
        return False
    lowest = min(seen, key=lambda t: (t.score, t.u_m))
    return not lowest.gtins and all(t.gtins for t in seen if t is not lowest)
