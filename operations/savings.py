"""The savings report: counting time and labour of the actual flights against a configurable manual
baseline (``operations/defaults/savings_baseline.yaml``).

Manual: every location of the count (those scanned and those the flight missed) counted by
``people`` at ``locations_per_person_hour`` each, so labour = locations / rate and time = labour /
people. Drone: time = flight time (the flight log's airborne time, else the fused trajectory's
span) + setup per flight; labour = operators x time + the stock controller's review of each
discrepancy found; and the locations the flight did not scan still have to be counted by hand, at
the manual rate (time and labour). Reductions are 1 - drone / manual; the proposal's claims sit
beside them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, PositiveFloat

from operations.errors import OperationsError

DEFAULT_BASELINE = Path(__file__).parent / "defaults" / "savings_baseline.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Manual(_Strict):
    people: PositiveFloat = 2
    locations_per_person_hour: PositiveFloat = 60


class Drone(_Strict):
    operators: PositiveFloat = 1
    setup_min_per_flight: float = 10
    review_min_per_discrepancy: float = 2


class Claims(_Strict):
    counting_time_reduction: float = 0.5
    labour_reduction: float = 0.35


class Baseline(_Strict):
    manual: Manual = Manual()
    drone: Drone = Drone()
    claims: Claims = Claims()


def load_baseline(path: str | Path | None = None) -> Baseline:
    from warehouse.validation import load_yaml_model

    return load_yaml_model(Path(path) if path else DEFAULT_BASELINE, Baseline, what="savings baseline", error=OperationsError)


@dataclass(frozen=True)
class Savings:
    locations: int
    flights: int
    flight_h: float
    manual_time_h: float
    manual_labour_h: float
    drone_time_h: float
    drone_labour_h: float
    time_reduction: float  # 1 - drone / manual
    labour_reduction: float
    claimed_time_reduction: float
    claimed_labour_reduction: float

    def as_dict(self) -> dict:
        return asdict(self)


def savings(locations: int, flight_s: float, flights: int, discrepancies: int, b: Baseline,
            not_scanned: int = 0) -> Savings:
    """The pure step: one count (or a sum of counts) against the baseline. ``locations``: all the
    count covers; ``not_scanned``: those of them the flights missed (counted by hand after)."""
    rate = b.manual.locations_per_person_hour
    man_labour = locations / rate
    man_time = man_labour / b.manual.people
    fl_h = flight_s / 3600.0
    flying = fl_h + flights * b.drone.setup_min_per_flight / 60.0
    by_hand = not_scanned / rate
    d_time = flying + by_hand / b.manual.people
    d_labour = b.drone.operators * flying + discrepancies * b.drone.review_min_per_discrepancy / 60.0 + by_hand

    def red(d: float, m: float) -> float:
        return float("nan") if m <= 0 else 1.0 - d / m

    return Savings(locations, flights, fl_h, man_time, man_labour, d_time, d_labour, red(d_time, man_time),
                   red(d_labour, man_labour), b.claims.counting_time_reduction, b.claims.labour_reduction)


def savings_table(trend: pd.DataFrame, flight_s: dict[str, float], b: Baseline) -> pd.DataFrame:
    """One row per reconciliation (``ResultsStore.trend()``): its savings; ``flight_s``: flight key ->
    seconds flown (the flight log's airborne time, else the flights table's). The count's locations:
    the bins scanned plus the ERP's bins the flight did not scan (``not_scanned``)."""
    rows = []
    for r in trend.itertuples(index=False):
        def n(kind: str) -> int:
            v = getattr(r, f"n_{kind}", 0)
            return int(v) if pd.notna(v) else 0

        missed = n("not_scanned")
        n_disc = sum(n(c[2:]) for c in trend.columns if c.startswith("n_") and c not in ("n_match", "n_not_scanned"))
        s = savings(int(r.bins_scanned) + missed, float(flight_s.get(r.flight_key) or 0.0), 1, n_disc, b,
                    not_scanned=missed)
        rows.append({"reconciliation_id": r.reconciliation_id, "flight_key": r.flight_key, **s.as_dict()})
    return pd.DataFrame(rows)


def flight_seconds(store) -> dict[str, float]:
    """Flight key -> seconds flown: the flight log's airborne time where the flight was logged (all
    its continuations, keyed KEY.resumeN, added to KEY), else the fused trajectory's span."""
    from operations.fleet import flight_log

    out = {r.flight_key: float(r.flight_time_s or 0.0) for r in store.list_flights().itertuples()}
    log = flight_log(store)
    logged: dict[str, float] = {}
    for r in log.itertuples():
        key = r.flight_key.split(".resume")[0]
        logged[key] = logged.get(key, 0.0) + float(r.airborne_s or 0.0)
    out.update(logged)
    return out


__all__ = ["Baseline", "Savings", "load_baseline", "savings", "savings_table", "flight_seconds", "DEFAULT_BASELINE"]
