"""A bin's confidence: the chance that its count and SKU are right, from the evidence behind them.
Beside it, the bin's count confidence: the chance that its count alone is right (same evidence, a
model of its own, the same rules' caps).

``BinEvidence`` gathers what fusion knows about a bin: how many frames saw it and how good they
were (brightness, noise, sharpness, measured on the frames: ``perception.quality``), how well each
counted tire was supported (share of the frames and of the passes that had it in view that saw
it), whether the passes agree on the count, the detector's scores, the label reads and the row
geometry flags. ``ConfidenceModel`` maps it to a probability: a logistic regression fitted on the
development worlds of a family (``rackscan bench worlds --split dev --fit-confidence``; never on
test worlds), shipped as ``confidence_model.json`` beside this file.

Six rules hold whatever the fit says, for evidence a fit may not have seen enough of:
- a bin not seen whole enough to count (its bottom corners in no frame, or its top in none with
  its tires reaching the highest part seen: a flight cut short, passes that missed a row, a stack
  taller than the passes saw; ``slam_fusion.pipeline``) caps the confidence at
  :data:`RECOUNT_CAP`: what was not seen cannot be counted;
- a tire counted in the bin that a pass had whole in view and did not see (the passes disagree),
  or passes that saw the whole bin but counted it differently, cap the confidence at
  :data:`RECOUNT_CAP`, so the bin goes to recount;
- so do serialised product labels read in the bin beyond the tires the detector counted: each is
  a tire, so the count is raised to them, and it is a floor (the detector missed tires there);
- so does a counted tire the detector scored unlike the others (see the doubt below) that is also
  the only one whose label was not read: two signs pointing at one track (on dev worlds, 12 of 19
  such bins at 0.8 or more were right);
- so do frames that were all poor: noisier than :data:`MAX_FRAME_NOISE` or darker than
  :data:`MIN_FRAME_BRIGHTNESS` (grey levels). The noise is the one the detector saw
  (``slam_fusion.pipeline.noise_seen_by_detector``: a 1080p frame shrunk by area to the network's
  input keeps a third of it), as the model's ``log_noise`` input is;
- so do tires counted hidden in a row (``n_hidden``: a box seen through a gap in the row, or a label read
  in one) among more boxes left out as too weakly seen (``n_weak``) than them: a crowded row, whose count
  rests on which of many weak boxes were taken for tires (``crowded_row``). On the 87 flown dev
  worlds 10419-10508 (2026-12-08) all 5 such bins of 3,103 were wrong, overcounts of 2 to 13 in
  bins counted 19 to 65 (10444, 10448), 4 of them counted at 0.89; no bin it caps was right. The
  model cannot see it: it takes ``n_weak`` up to 4 only.

And four hold it under :data:`DOUBT_CAP`:
- a standing box left out as its row's tire boxed twice (``fuse.row_copies``: more than half a width
  into a better seen box of its row), where it may have been a crowded row's tire after all. Dev
  10263-10310: of the 8 bins with one, 6 were counted right once it was left out, one was a tire
  short, and one was wrong either way;
- a box left out at a standing row's end as no tire (``fuse.end_ghosts``: scored well under the
  row's other boxes, reaching into its neighbour), where it may have been a tire after all: the rule
  rests on 5 dev boxes, so a bin it changed is counted, never trusted at 0.9;
- counted tires the detector scored unlike one another (the best counted track's score over the
  worst's by more than :data:`MAX_SCORE_SPREAD`). Tires of one bin look alike; a box over a dim
  back wall between two tires, or the piece of a tire cut by the frame's side, counted as a tire,
  scores under them. On 1,959 dev bins such bins were right 89.5% of the time where the model put
  them at 0.8 or more (77 of 86), under the 0.9 it gave most of them (measured again on the 126 flown
  dev worlds 10263-10406, 2026-12-06: 210 of 213; the cap was kept);
- a tire-shaped box left out as too weakly seen that lies over two counted tires of its row
  (``n_between``): a tire behind a crowded row shows there, and so does the detector's box over the
  seam of two packed tires, and the evidence cannot tell which. Counted bins with one were right
  on 22 of 24 dev bins the model put at 0.9 or more, and both wrong ones were a crowded row's
  middle tire missed (dev 10064, 13 lux).

Beside the confidence, a bin's range of counts (``BinEvidence.count_range``): what its evidence allows
where the models trust the count but for rules that say which way it may be off (the doubts above,
the odd tire unread, the labels' floor); any count where a rule names no direction (a bin not seen
whole, passes that disagree, poor frames, a crowded row) or the models doubt the count themselves.
Reconciliation reports a bin sent to recount whose whole range lies off the ERP's quantity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

RECOUNT_CAP = 0.75  # under reconciliation's 0.8: a recount
# grey levels in the detector's input. Before the detector shrank frames by area (2026-12-05) it saw a
# frame's whole noise, and fit and cap were chosen on that; on 20 dim dev worlds (10133-10179) bins
# capped for noise in the frame were then right 73 of 74 times, and judged on the noise the detector
# sees: ECE 0.064 -> 0.032, 106 -> 32 bins to recount, 1 -> 2 wrong at >= 0.9 (of 461)
MAX_FRAME_NOISE = 10.0
MIN_FRAME_BRIGHTNESS = 25.0
# Chosen on dev worlds 10004-10072 (1,293 bins; 2026-12-04): counted tires scoring more than 0.1 apart
# flag 136 bins, 59 of them at >= 0.8, of which 52 right; 6 of the 8 wrong at >= 0.9 among them. On
# dev worlds 10073-10132, flown after: 27 flagged at >= 0.8, 25 right, and both wrong at >= 0.9
MAX_SCORE_SPREAD = 0.1
DOUBT_CAP = 0.89  # all dev: 77 right of 86 (0.895), rounded down: still counted (reconciliation's 0.8)
MODEL_PATH = Path(__file__).with_name("confidence_model.json")
# the same inputs fitted on whether the bin's count alone was right (``rackscan bench worlds --split dev
# --fit-count-confidence``): goods whose label no camera read can still be counted, and a bin the ERP
# lists empty that holds them is a discrepancy whatever their SKU (``reconciliation.diff``)
COUNT_MODEL_PATH = Path(__file__).with_name("count_model.json")
# a count its models trust this much before the rules' caps is bounded by those rules alone
# (``BinEvidence.count_range``). Chosen on the 57 flown fresh dev worlds 10419-10478 (2,015 bins): at 0.8
# (reconciliation's threshold), 1,890 bins got a bounded range and every true count lay inside it; on the
# 11 flown after (10479-10490), 447 of 447
RANGE_TRUST = 0.8
TARGETS = ("bin", "count")  # what a model gives the chance of: the bin's count and SKU right, or its count alone


@dataclass(frozen=True, kw_only=True)
class BinEvidence:
    n_views: int  # frames that saw the bin
    count: int
    mean_support: float = 1.0  # counted tires: share of the frames that had them in view that saw them
    min_support: float = 1.0
    min_pass_support: float = 1.0  # counted tires: share of the passes that had them in view that saw them
    pass_spread: int = 0  # passes that had the whole bin in view: most minus fewest tires seen
    n_passes: int = 0
    n_weak: int = 0  # tracks left out as too weakly seen
    n_hidden: int = 0  # tires counted from a row's gap or a label alone
    gap: bool = False
    read_agree: float = 1.0  # share of the counted tires' reads for the winning GTIN
    no_read: bool = False  # tires counted, no SKU known: no label read, and no size sure (``sku_by_size``)
    mean_score: float = 1.0  # detector score of the counted tires (mean over their sightings)
    min_score: float = 1.0
    noise: float = 0.0  # median over the frames that saw the bin, as the detector saw it (grey levels)
    brightness: float = 128.0
    sharpness: float = 100.0
    heuristic: float = 1.0  # fuse_bin's hand-made score, as before this model
    score_spread: float = 0.0  # counted tires seen on their own: best track score minus the worst (not a model input)
    seen_whole: bool = True  # seen whole enough to count: bottom, and top or clear space above its tires (not a model input)
    n_between: int = 0  # weak tire-shaped tracks over two counted tires of their row (not a model input)
    labels_over_tires: int = 0  # serialised labels read in the bin beyond the tires counted (not a model input)
    lowest_unread: bool = False  # the lowest-scored counted tire is the only one whose label was not read (not a model input)
    n_row_copies: int = 0  # standing boxes left out as a row's tire boxed twice (``fuse.row_copies``; not a model input)
    n_end_ghosts: int = 0  # boxes left out at a row's end as no tire (``fuse.end_ghosts``; not a model input)

    def vector(self) -> np.ndarray:
        """The model's inputs (counts on a log scale)."""
        return np.array([math.log1p(self.n_views), math.log1p(self.count), self.mean_support, self.min_support,
                         self.min_pass_support, min(self.pass_spread, 3), math.log1p(self.n_passes), min(self.n_weak, 4),
                         min(self.n_hidden, 3), float(self.gap), self.read_agree, float(self.no_read), self.mean_score,
                         self.min_score, math.log1p(self.noise), self.brightness / 255.0, math.log1p(self.sharpness),
                         self.heuristic], dtype=float)

    def capped(self) -> str:
        """Why the rules cap this bin's confidence ("" when they do not)."""
        if not self.seen_whole:
            return "partly_seen"
        if self.labels_over_tires:
            return "labels_over_tires"
        if self.lowest_unread and self.score_spread > MAX_SCORE_SPREAD:
            return "odd_tire_unread"
        return self.two_way()

    def two_way(self) -> str:
        """The first cap that says nothing of which way the count may be off ("" when none applies):
        ``partly_seen``, ``passes_disagree``, ``poor_frames`` or ``crowded_row``."""
        if not self.seen_whole:
            return "partly_seen"
        if (self.count and self.min_pass_support < 1.0) or self.pass_spread > 0:
            return "passes_disagree"
        if self.n_views and (self.noise > MAX_FRAME_NOISE or self.brightness < MIN_FRAME_BRIGHTNESS):
            return "poor_frames"
        if self.count and self.n_hidden and self.n_weak > self.n_hidden:
            return "crowded_row"
        return ""

    def doubted(self) -> str:
        """Why the rules hold this bin's confidence under :data:`DOUBT_CAP` ("" when they do not)."""
        if self.count and self.n_row_copies:
            return "row_copy"
        if self.count and self.n_end_ghosts:
            return "end_ghost"
        if self.score_spread > MAX_SCORE_SPREAD:
            return "scores_disagree"
        return "between_tires" if self.count and self.n_between else ""

    def cap(self) -> float:
        """The most confidence the rules allow this bin: :data:`RECOUNT_CAP`, :data:`DOUBT_CAP` or 1."""
        return RECOUNT_CAP if self.capped() else DOUBT_CAP if self.doubted() else 1.0

    def count_range(self, trust: float) -> tuple[int, int | None]:
        """The counts the bin's evidence allows, ``(lo, hi)`` with ``hi`` None for no upper bound;
        ``trust``: the chance the count is right before the rules' caps (the models', or the
        hand-made score's), the lower of the bin's and the count's.

        Where the models trust the count (``trust`` >= :data:`RANGE_TRUST`) and every rule that caps
        or doubts it says which way it may be off, the range is the count widened by those rules only:
        a counted tire scored unlike the others (``scores_disagree``, ``odd_tire_unread``) may be none
        (one fewer); a weak box between two counted tires, a standing box left out as a row copy or at
        a row's end (``between_tires``, ``row_copy``, ``end_ghost``) may be a tire (one more each);
        serialised labels over the tires counted (``labels_over_tires``) make the count a floor. Rules
        that say nothing of the direction (``partly_seen``, ``passes_disagree``, ``poor_frames``,
        ``crowded_row``), or a count the models doubt, allow any count: ``(0, None)``."""
        if trust < RANGE_TRUST or self.two_way():
            return 0, None
        lo = self.count - (1 if self.count and self.score_spread > MAX_SCORE_SPREAD else 0)
        if self.labels_over_tires:
            return lo, None
        hi = self.count + (self.n_between + self.n_row_copies + self.n_end_ghosts if self.count else 0)
        return lo, hi


VECTOR_NAMES = ("log_views", "log_count", "mean_support", "min_support", "min_pass_support", "pass_spread", "log_passes",
                "n_weak", "n_hidden", "gap", "read_agree", "no_read", "mean_score", "min_score", "log_noise",
                "brightness", "log_sharpness", "heuristic")


@dataclass(frozen=True)
class ConfidenceModel:
    """p(right) = sigmoid(bias + weights . (vector - mean) / scale), then the rules' cap."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""  # which worlds, how many bins, how many wrong
    target: str = "bin"  # what it gives the chance of: "bin" (count and SKU right) or "count" (the count alone)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"ConfidenceModel: target {self.target!r}; expected one of {', '.join(TARGETS)}")
        n = len(VECTOR_NAMES)
        if not (len(self.mean) == len(self.scale) == len(self.weights) == n):
            raise ValueError(f"ConfidenceModel: mean, scale and weights need {n} values each ({', '.join(VECTOR_NAMES)})")

    def logit(self, ev: BinEvidence) -> float:
        """The log-odds the fit gives the bin, before the rules' caps."""
        return self.bias + float(np.dot(self.weights, (ev.vector() - np.array(self.mean)) / np.array(self.scale)))

    def uncapped(self, ev: BinEvidence) -> float:
        """The fit's probability, before the rules' caps."""
        z = self.logit(ev)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def probability(self, ev: BinEvidence) -> float:
        return min(self.uncapped(ev), ev.cap())

    def dump(self, path: Path = MODEL_PATH) -> Path:
        data = {"inputs": list(VECTOR_NAMES), **asdict(self)}
        Path(path).write_text(json.dumps(data, indent=1) + "\n")
        return Path(path)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "ConfidenceModel":
        from slam_fusion.errors import FusionError

        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise FusionError(f"{path}: not a readable confidence model ({type(exc).__name__}); expected the JSON "
                              "`rackscan bench worlds --fit-confidence` writes") from None
        if data.get("inputs") != list(VECTOR_NAMES):
            raise FusionError(f"{path}: inputs {data.get('inputs')}; expected {list(VECTOR_NAMES)} (refit the model)")
        target = data.get("target", "bin")  # files written before a count model existed are bin models
        if target not in TARGETS:
            raise FusionError(f"{path}: target {target!r}; expected one of {', '.join(TARGETS)}")
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["weights"]), float(data["bias"]),
                   data.get("fitted_on", ""), target)


def shipped_model() -> ConfidenceModel | None:
    return ConfidenceModel.load(MODEL_PATH) if MODEL_PATH.exists() else None


def load_model(path: Path, target: str, *, name: str = "", fix: str = "") -> ConfidenceModel:
    """The model in ``path``, checked to give the chance of ``target`` ("bin" or "count"); otherwise a
    one-line ``FusionError`` naming it (``name``, else its path), with ``fix`` in brackets."""
    model = ConfidenceModel.load(path)
    if model.target != target:
        from slam_fusion.errors import FusionError

        raise FusionError(f"{name or path}: a model of target {model.target!r}; expected {target!r}"
                          + (f" ({fix})" if fix else ""))
    return model


def shipped_count_model() -> ConfidenceModel | None:
    """p(the bin's count is right), SKU aside; None where none was shipped (the bin's confidence serves)."""
    if not COUNT_MODEL_PATH.exists():
        return None
    return load_model(COUNT_MODEL_PATH, "count",
                      fix="fit it with `rackscan bench worlds FAMILY --split dev --fit-count-confidence`")


def fit_confidence(evidence: list[BinEvidence], right: list[bool], *, l2: float = 1.0, fitted_on: str = "",
                   target: str = "bin") -> ConfidenceModel:
    """Logistic regression with an L2 penalty (Newton's method) on bins whose truth is known."""
    X = np.array([e.vector() for e in evidence], dtype=float)
    y = np.asarray(right, dtype=float)
    if X.ndim != 2 or len(X) != len(y) or len(X) < 2:
        raise ValueError("fit_confidence: evidence and right must be equally long, two bins or more")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    Z = np.hstack([np.ones((len(X), 1)), (X - mean) / scale])
    w = np.zeros(Z.shape[1])
    w[0] = math.log((y.sum() + 1) / (len(y) - y.sum() + 1))
    pen = np.full(Z.shape[1], l2)
    pen[0] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(Z @ w, -50, 50)))
        grad = Z.T @ (p - y) + pen * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(pen) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(H, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return ConfidenceModel(tuple(mean.tolist()), tuple(scale.tolist()), tuple(w[1:].tolist()), float(w[0]), fitted_on, target)


def platt(z, right, *, pull: float = 1e-3) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * z + b) fitted to outcomes ``right`` by Newton's method, pulled by
    ``pull`` towards a = 1, b = 0 (no change) so that two numbers stay put on a few bins."""
    z, y = np.asarray(z, dtype=float), np.asarray(right, dtype=float)
    if len(z) != len(y) or len(z) < 2:
        raise ValueError("platt: logits and outcomes must be equally long, two or more")
    a, b = 1.0, 0.0
    for _ in range(100):
        q = 1 / (1 + np.exp(-np.clip(a * z + b, -50, 50)))
        w = q * (1 - q)
        grad = np.array([np.sum((q - y) * z) + pull * (a - 1), np.sum(q - y) + pull * b])
        H = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]]) + pull * np.eye(2)
        step = np.linalg.solve(H, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def recalibrate(model: ConfidenceModel, evidence: list[BinEvidence], right, *, on: str = "") -> ConfidenceModel:
    """``model`` with its log-odds rescaled (Platt scaling, ``platt``) to match the outcomes of bins
    the rules do not cap: the fit's inputs and their weighting stay, only how far it trusts them
    moves. Two numbers instead of a refit's nineteen, so a few hundred bins pin them down (a full
    refit on dev worlds 10004-10053 did worse than the shipped model on fresh dev worlds). The
    result is a model of the same form: weights times a, bias a * bias + b; its ``fitted_on`` adds
    a, b and ``on`` (which bins) to the model's."""
    right = np.asarray(right, dtype=bool)
    if len(right) != len(evidence):
        raise ValueError("recalibrate: evidence and right must be equally long")
    free = [i for i, e in enumerate(evidence) if not e.capped()]
    a, b = platt([model.logit(evidence[i]) for i in free], right[free])
    how = f"log-odds times {a:.3f} plus {b:.3f} (Platt) on {len(free)} bins outside the caps{' of ' + on if on else ''}"
    return ConfidenceModel(model.mean, model.scale, tuple(a * w for w in model.weights), a * model.bias + b,
                           f"{model.fitted_on}; then {how}" if model.fitted_on else how, model.target)


L2_CHOICES = (1.0, 3.0, 10.0, 30.0, 100.0)  # the penalties ``choose_l2`` tries


def held_out(evidence: list[BinEvidence], right, groups, *, l2: float = 1.0,
             fit: Callable[[list[BinEvidence], np.ndarray], ConfidenceModel] | None = None) -> np.ndarray:
    """Each bin's probability from a model fitted without its group (its world): how the fit does
    on a warehouse it has not seen. ``fit`` (evidence, right) -> model is ``fit_confidence`` with
    penalty ``l2`` unless given (``recalibrate`` of a shipped model, say). The rules' cap applies, as
    in ``ConfidenceModel.probability``."""
    right, groups = np.asarray(right, dtype=bool), np.asarray(groups)
    if len(groups) != len(evidence) or len(right) != len(evidence) or len(np.unique(groups)) < 2:
        raise ValueError("held_out: evidence, right and groups must be equally long, with two groups or more")
    fit = fit or (lambda ev, r: fit_confidence(ev, r, l2=l2))
    p = np.zeros(len(evidence))
    for g in np.unique(groups):
        sel = groups == g
        m = fit([e for e, s in zip(evidence, sel) if not s], right[~sel])
        p[sel] = [m.probability(e) for e, s in zip(evidence, sel) if s]
    return p


@dataclass(frozen=True)
class PenaltyScore:
    l2: float
    ece: float
    brier: float
    wrong_confident: int  # wrong bins held out at >= 0.9
    held: np.ndarray = field(repr=False, compare=False)  # each bin's held-out probability (``held_out``)


def choose_l2(evidence: list[BinEvidence], right, groups, choices: tuple[float, ...] = L2_CHOICES
              ) -> tuple[PenaltyScore, list[PenaltyScore]]:
    """The L2 penalty whose fits score best on the groups they left out (lowest held-out Brier
    score, a proper score: calibration and sharpness together), and every choice's scores."""
    from slam_fusion.core.calibration import reliability

    right = np.asarray(right, dtype=bool)
    scores = []
    for l2 in choices:
        p = held_out(evidence, right, groups, l2=l2)
        ece, brier = reliability(p, right)
        scores.append(PenaltyScore(l2, float(ece), float(brier), int(((p >= 0.9) & ~right).sum()), p))
    best = min(scores, key=lambda s: (round(s.brier, 6), s.l2))
    return best, scores


def evidence_fields() -> list[str]:
    return [f.name for f in fields(BinEvidence)]
