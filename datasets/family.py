"""World families: one YAML that draws many warehouses, and the three disjoint sets of worlds.

A family file holds a base scenario (any field of the scenario schema, ``datasets.scenario``)
and a ``draw:`` section with the same shape whose leaves are ranges instead of values:

- ``[lo, hi]``: uniform (whole numbers when both ends are);
- ``{log: [lo, hi]}``: log-uniform (light levels, noise);
- ``{one_of: [a, b, ...]}``: one of the values;
- ``{maybe: p, then: <draw>, else: v}``: the draw with probability ``p``, else ``v`` (null if not given);
- ``{catalogue: {n: [lo, hi], sizes: [...], brands: [...]}}`` (only under ``catalogue``): that
  many SKUs of sizes and brands drawn from the lists;
- anything else: taken as it is.

World ``k`` is drawn from a generator seeded by the family's name and ``k``, and its scenario seed
is ``k``: the same family file gives the same world, in any process. ``splits`` gives each set its
range of world numbers: ``train`` worlds are for the detector, ``dev`` worlds for choosing rules
and thresholds, ``test`` worlds are scored only. The ranges must not overlap.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from datasets.errors import DatasetError
from datasets.scenario import Scenario, ScenarioSpec, generate_site_dict, with_light
from datasets.textures import stable_hash
from warehouse.errors import SiteError
from warehouse.site import site_from_dict
from warehouse.validation import format_loc, load_yaml_mapping, yaml_line

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Family:
    name: str
    base: dict
    draw: dict
    splits: dict[str, tuple[int, int]]  # split -> (first, last) world number, inclusive
    source: Path

    def split_of(self, k: int) -> str:
        for s, (lo, hi) in self.splits.items():
            if lo <= k <= hi:
                return s
        raise DatasetError(f"{self.source}: world {k} is in no split; splits are {self._ranges()}")

    def worlds(self, split: str, n: int, *, start: int = 0) -> list[int]:
        """The first ``n`` world numbers of ``split`` (from its ``start``-th)."""
        if split not in self.splits:
            raise DatasetError(f"--split {split!r}; expected one of {list(self.splits)}")
        lo, hi = self.splits[split]
        if n < 1 or lo + start + n - 1 > hi:
            raise DatasetError(f"--worlds {n}: split {split} holds worlds {lo}-{hi}; expected 1 to {hi - lo + 1 - start}")
        return list(range(lo + start, lo + start + n))

    def _ranges(self) -> str:
        return ", ".join(f"{s} {lo}-{hi}" for s, (lo, hi) in self.splits.items())


def is_family(path: str | Path) -> bool:
    p = Path(path)
    if not p.exists() or p.suffix.lower() not in (".yaml", ".yml"):
        return False
    import yaml

    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and "family" in data


def load_family(path: str | Path) -> Family:
    p = Path(path)
    data = load_yaml_mapping(p, what="world family file", error=DatasetError)
    if not isinstance(data.get("family"), str) or not data["family"]:
        raise DatasetError(f"{p}: family: expected the family's name (a string)")
    base = data.get("base", {})
    if isinstance(base, str):  # a scenario file to start from, relative to the family file
        bp = p.parent / base
        base = load_yaml_mapping(bp, what="base scenario", error=DatasetError)
        if "site" in base and "site_size" not in data.get("draw", {}):
            base["site"] = str((bp.parent / base["site"]).resolve())
    if not isinstance(base, dict):
        raise DatasetError(f"{p}: base: expected a scenario mapping or a scenario file name")
    draw = data.get("draw", {})
    if not isinstance(draw, dict):
        raise DatasetError(f"{p}: draw: expected a mapping shaped like the scenario, with ranges as leaves")
    splits = {}
    for s in SPLITS:
        r = (data.get("splits") or {}).get(s)
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) and x >= 0 for x in r) and r[0] <= r[1]):
            raise DatasetError(f"{p}: splits.{s}: expected [first, last] world numbers (whole numbers >= 0)")
        splits[s] = (r[0], r[1])
    spans = sorted(splits.items(), key=lambda kv: kv[1])
    for (a, (_, hi)), (b, (lo, _)) in zip(spans, spans[1:]):
        if lo <= hi:
            raise DatasetError(f"{p}: splits: {a} and {b} share world {lo}; the train, dev and test worlds must not overlap")
    fam = Family(data["family"], base, draw, splits, p)
    world_scenario(fam, splits["train"][0])  # a family whose worlds do not validate fails here, not mid-bench
    return fam


def _draw(spec, rng: np.random.Generator, path: str):
    if isinstance(spec, list) and len(spec) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in spec):
        lo, hi = spec
        if isinstance(lo, int) and isinstance(hi, int):
            return int(rng.integers(lo, hi + 1))
        return float(rng.uniform(lo, hi))
    if isinstance(spec, dict):
        if set(spec) == {"log"}:
            lo, hi = spec["log"]
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        if set(spec) == {"one_of"}:
            opts = spec["one_of"]
            return copy.deepcopy(opts[int(rng.integers(len(opts)))])
        if set(spec) in ({"maybe", "then"}, {"maybe", "then", "else"}):
            hit = rng.random() < float(spec["maybe"])
            value = _draw(spec["then"], rng, path)  # drawn either way: one leaf never shifts the others
            return value if hit else copy.deepcopy(spec.get("else"))
        return {k: _draw(v, rng, f"{path}.{k}" if path else k) for k, v in spec.items()}
    return copy.deepcopy(spec)


def _catalogue(spec: dict, rng: np.random.Generator, k: int) -> list[dict]:
    n = _draw(spec.get("n", [3, 6]), rng, "catalogue.n")
    sizes, brands = list(spec["sizes"]), list(spec.get("brands", ["Generic"]))
    picked = rng.choice(len(sizes), size=min(n, len(sizes)), replace=False)
    return [{"sku": f"{4000 + k % 5000:04d}{i:05d}", "size": sizes[int(j)], "brand": brands[int(rng.integers(len(brands)))],
             "unit_price": round(float(rng.uniform(40, 400)), 2)} for i, j in enumerate(picked)]


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], v)
        else:
            out[key] = v
    return out


def world_dict(fam: Family, k: int) -> dict:
    """World ``k``'s scenario as a plain mapping (what `rackscan synth --world` writes out)."""
    rng = np.random.default_rng([stable_hash(fam.name), k])
    draw = dict(fam.draw)
    cat = draw.pop("catalogue", None)
    drawn = _draw(draw, rng, "")
    if cat is not None:
        drawn["catalogue"] = _catalogue(cat, rng, k)
    d = _merge(fam.base, drawn)
    if "site_size" in d:
        d.pop("site", None)
    d["seed"] = k
    d["name"] = f"{fam.name}-{k}"
    return d


def _value_at(d, loc):
    for part in loc:
        try:
            d = d[part]
        except (KeyError, IndexError, TypeError):
            return None
    return d


def world_scenario(fam: Family, k: int) -> Scenario:
    """World ``k`` of the family as a validated scenario, its site built."""
    d = world_dict(fam, k)
    try:
        spec = ScenarioSpec.model_validate(d)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-"))]
        line = yaml_line(fam.source, ["draw", *loc]) if loc and loc[0] in fam.draw else None
        where = f"{fam.source}:{line}" if line else str(fam.source)
        raise DatasetError(f"{where}: world {k}: {format_loc(loc)}: {err['msg']} (drawn {_value_at(d, loc)!r}); "
                           "expected draw ranges that give valid scenarios") from None
    try:
        if spec.site_size is not None:
            site = site_from_dict(generate_site_dict(spec.site_size, spec.name), source=f"{fam.source} (world {k})")
        else:
            from warehouse.site import load_site

            site = load_site(Path(spec.site))
    except SiteError as exc:
        raise DatasetError(str(exc)) from None
    return Scenario(spec, with_light(site, spec), fam.source)
