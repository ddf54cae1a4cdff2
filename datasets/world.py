"""The synthetic warehouse's contents: catalogue, stock placed in bins, ERP snapshot with injected
discrepancies, and every physical object (tires, pallets, labels) placed on the rack faces.

All positions are in face coordinates (u along the face, v up, n out of the rack; metres), so the
renderer and the ground truth share one description of the scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from datasets.labels import gs1_check_digit
from datasets.scenario import Scenario, load_scenario
from datasets.tires import parse_size
from flight.planner import aisle_gap_m, label_standoff_m
from warehouse.site import Bin, Site

PALLET_HEIGHT_M = 0.144
LATERAL_MARGIN_M = 0.06
LACED_PITCH = 0.72  # laced stacks: height gained per tire, in tire widths (they nest into each other)
LACED_SHIFT = 0.12  # and each tire sits this share of a diameter left or right of the one below
DISCREPANCY_KINDS = ("short", "over", "misplaced", "ghost", "unknown_sku", "substituted")


@dataclass(frozen=True)
class SceneObject:
    """A planar object on a face: rectangle [u0,u1]x[v0,v1] at depth n (n < 0 is inside the rack)."""

    object_id: str
    kind: str  # tire_standing | tire_lying | pallet | product_label | pallet_label | carton | film
    face_id: str
    bin_id: str
    sku: str
    u0: float
    u1: float
    v0: float
    v1: float
    n: float
    text: str = ""
    symbology: str = ""
    module_mm: float = 0.0
    parent: str = ""  # the tire or pallet a label is stuck on
    damage: str = ""  # a product label's wear: "", "torn" or "faded"


@dataclass
class World:
    scenario: Scenario
    catalogue: pd.DataFrame  # sku, gtin, size, brand, description, unit_price, in_erp
    stock: pd.DataFrame  # bin_id, sku, count, stacking, pallet
    erp: pd.DataFrame  # Bin, Material, Quantity, Description, Unit Price
    discrepancies: pd.DataFrame  # kind, bin_id, sku, erp_qty, true_qty, other_bin_id
    objects: list[SceneObject] = field(default_factory=list)

    @property
    def site(self) -> Site:
        return self.scenario.site

    @property
    def camera(self):
        return self.scenario.camera

    def objects_of_face(self, face_id: str) -> list[SceneObject]:
        return [o for o in self.objects if o.face_id == face_id]

    def default_standoff_m(self) -> float:
        """The "default camera distance": the largest standoff at which every REQUIRED symbology
        still has >= 3 px/module (2-D) or >= 2 px/bar (1-D), capped by aisle clearance."""
        spec = self.scenario.spec
        loc = self.site.spec.location_label
        labels = [(loc.module_mm, loc.symbology)] + [
            (s.module_mm, sym) for sym, s in (("qr", spec.labels.product_qr), ("ean13", spec.labels.product_ean13),
                                              ("gs1-128", spec.labels.pallet_gs1_128)) if s.required]
        return float(min(label_standoff_m(self.camera, labels), self.aisle_clearance_m()))

    def aisle_clearance_m(self, margin_m: float = 0.6) -> float:
        """Largest camera-to-face distance that stays ``margin_m`` clear of the opposite face."""
        gaps = [g for g in (aisle_gap_m(self.site, a) for a in self.site.aisle_ids) if g is not None]
        return (min(gaps) - margin_m) if gaps else 3.0


def _size_gap(a, b) -> float:
    """How far two tire sizes lie apart: the outer diameters' relative difference, and the sections'
    at half its weight (the diameter is what a box on the face measures best)."""
    return float(np.hypot(a.outer_diameter_mm / b.outer_diameter_mm - 1, 0.5 * (a.width_mm / b.width_mm - 1)))


def make_gtin13(rng: np.random.Generator, prefix: str = "893") -> str:
    body = prefix + "".join(str(d) for d in rng.integers(0, 10, 12 - len(prefix)))
    return body + gs1_check_digit(body)


def make_sscc18(rng: np.random.Generator, company: str = "0893000") -> str:
    body = company + "".join(str(d) for d in rng.integers(0, 10, 17 - len(company)))
    return body + gs1_check_digit(body)


def _catalogue(sc: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for s in sc.spec.catalogue:
        size = parse_size(s.size)
        rows.append({"sku": s.sku, "gtin": s.gtin or make_gtin13(rng), "size": size.code, "brand": s.brand,
                     "description": f"{s.brand} {size.code}", "unit_price": s.unit_price, "in_erp": True})
    return pd.DataFrame(rows)


def _capacity(b: Bin, size, stacking: str, pallet: bool) -> tuple[int, int]:
    """(columns, per-column) a bin holds for a size and stacking."""
    w = size.width_mm / 1000
    d = size.outer_diameter_mm / 1000
    usable_u = b.width_m - 2 * LATERAL_MARGIN_M
    usable_v = b.height_m - 0.08 - (PALLET_HEIGHT_M if pallet else 0.0)
    if stacking == "standing":
        return max(0, int((usable_u + 0.015) // (w + 0.015))), 1 if usable_v >= d else 0
    if stacking == "laced":  # rick-rack: each tire tilted into the one below, LACED_PITCH of a width apart
        cols = max(0, int((usable_u - LACED_SHIFT * d + 0.03) // (d + 0.03)))
        return cols, max(0, int((usable_v - w) // (LACED_PITCH * w)) + 1) if usable_v >= w else 0
    return max(0, int((usable_u + 0.03) // (d + 0.03))), max(0, int(usable_v // w))


def _place_bin(b: Bin, sku: str, size, stacking: str, count: int, pallet: bool, crowded: bool,
               rng: np.random.Generator, serial0: int, catalogue_row, spec, face_depth_m: float,
               sscc: str = "") -> list[SceneObject]:
    objs: list[SceneObject] = []
    w = size.width_mm / 1000
    d = size.outer_diameter_mm / 1000
    base_v = b.v0_m + (PALLET_HEIGHT_M if pallet else 0.0)
    gtin14 = "0" + catalogue_row["gtin"]
    lab = spec.labels
    label_w_m, label_h_m = product_label_size_m(lab.product_qr.module_mm, lab.product_ean13.module_mm)
    if pallet:
        objs.append(SceneObject(f"{b.bin_id}/pallet", "pallet", b.face_id, b.bin_id, sku,
                                b.u0_m + LATERAL_MARGIN_M, b.u1_m - LATERAL_MARGIN_M, b.v0_m, base_v, -0.06))
        pw, ph = pallet_label_size_m(lab.pallet_gs1_128.module_mm)
        cu = (b.u0_m + b.u1_m) / 2 + rng.uniform(-0.2, 0.2)
        objs.append(SceneObject(f"{b.bin_id}/pallet/label", "pallet_label", b.face_id, b.bin_id, sku,
                                cu - pw / 2, cu + pw / 2, b.v0_m + 0.01, b.v0_m + 0.01 + ph, -0.057,
                                text=f"(00){sscc}", symbology="gs1-128", module_mm=lab.pallet_gs1_128.module_mm,
                                parent=f"{b.bin_id}/pallet"))
    cols, per_col = _capacity(b, size, stacking, pallet)
    serial = serial0

    def tire(u0, u1, v0, v1, n, kind):
        nonlocal serial
        tid = f"{b.bin_id}/t{len([o for o in objs if o.kind.startswith('tire')]):02d}"
        objs.append(SceneObject(tid, kind, b.face_id, b.bin_id, sku, u0, u1, v0, v1, n))
        if rng.random() < lab.product_label_rate:
            serial += 1
            if kind == "tire_standing":
                cu = (u0 + u1) / 2 + rng.uniform(-0.01, 0.01)
                cv = rng.uniform(v0 + 0.3 * (v1 - v0), v0 + 0.7 * (v1 - v0))
            else:
                cu = rng.uniform(u0 + 0.3 * (u1 - u0), u0 + 0.7 * (u1 - u0))
                cv = (v0 + v1) / 2
            damage = ""
            if lab.damaged_rate > 0 and rng.random() < lab.damaged_rate:
                damage = "torn" if rng.random() < 0.5 else "faded"
            objs.append(SceneObject(f"{tid}/label", "product_label", b.face_id, b.bin_id, sku,
                                    cu - label_w_m / 2, cu + label_w_m / 2, cv - label_h_m / 2, cv + label_h_m / 2,
                                    n + 0.004, text=f"(01){gtin14}(21){serial:06d}",
                                    symbology="qr+ean13", module_mm=lab.product_qr.module_mm, parent=tid, damage=damage))

    if stacking == "standing":
        gap = -0.3 * w if crowded else 0.015
        span = count * w + (count - 1) * gap
        start = b.u0_m + LATERAL_MARGIN_M + rng.uniform(0, max(0.0, b.width_m - 2 * LATERAL_MARGIN_M - span))
        for i in range(count):
            u0 = start + i * (w + gap)
            n = (-0.03 if i % 2 == 0 else -0.12) if crowded else -0.05 - rng.uniform(0, 0.03)
            tire(u0, u0 + w, base_v, base_v + d, n, "tire_standing")
    elif stacking == "laced":
        left = count
        gap = 0.03
        start = b.u0_m + LATERAL_MARGIN_M + max(0.0, (b.width_m - 2 * LATERAL_MARGIN_M - cols * d - (cols - 1) * gap
                                                      - LACED_SHIFT * d) / 2)
        for c in range(cols):
            k = min(per_col, left)
            left -= k
            for j in range(k):
                u0 = start + c * (d + gap) + (LACED_SHIFT * d if j % 2 else 0.0)
                v0 = base_v + j * LACED_PITCH * w
                tire(u0, u0 + d, v0, v0 + w, -0.05 + 0.002 * j, "tire_lying")  # each one in front of the one below
    else:
        heights = [per_col] * cols
        # distribute count over columns, fullest first
        left = count
        alloc = []
        for h in heights:
            take = min(h, left)
            alloc.append(take)
            left -= take
        gap = 0.03
        span = cols * d + (cols - 1) * gap
        start = b.u0_m + LATERAL_MARGIN_M + max(0.0, (b.width_m - 2 * LATERAL_MARGIN_M - span) / 2)
        for c, k in enumerate(alloc):
            jitter = rng.uniform(-0.01, 0.01)
            for j in range(k):
                u0 = start + c * (d + gap) + jitter
                n = -0.05 - rng.uniform(0, 0.02)
                tire(u0, u0 + d, base_v + j * w, base_v + (j + 1) * w, n, "tire_lying")
    return objs


def _place_cartons(b: Bin, rng: np.random.Generator) -> list[SceneObject]:
    """A bin holding goods that are not tires: one to four cartons or totes side by side, some stacked."""
    objs = []
    u = b.u0_m + LATERAL_MARGIN_M
    k = 0
    while u < b.u1_m - LATERAL_MARGIN_M - 0.25 and k < 4:
        w = float(min(rng.uniform(0.3, 0.7), b.u1_m - LATERAL_MARGIN_M - u))
        v = b.v0_m
        for _ in range(int(rng.integers(1, 3))):
            h = float(rng.uniform(0.25, 0.55))
            if v + h > b.v1_m - 0.08:
                break
            objs.append(SceneObject(f"{b.bin_id}/c{k:02d}", "carton", b.face_id, b.bin_id, "", u, u + w, v, v + h,
                                    -0.04 - float(rng.uniform(0, 0.05))))
            v += h
            k += 1
        u += w + float(rng.uniform(0.02, 0.1))
    return objs


def product_label_size_m(qr_module_mm: float, ean_module_mm: float) -> tuple[float, float]:
    from datasets.labels import product_label_art

    art = product_label_art("(01)00000000000000(21)000000", "0000000000000",
                            qr_module_mm=qr_module_mm, ean_module_mm=ean_module_mm)
    w, h = art.size_mm
    return w / 1000, h / 1000


def pallet_label_size_m(module_mm: float) -> tuple[float, float]:
    from datasets.labels import pallet_label_art

    w, h = pallet_label_art("000000000000000000", module_mm=module_mm).size_mm
    return w / 1000, h / 1000


def build_world(scenario: Scenario | str | Path) -> World:
    """Draw the catalogue, the stock, the injected ERP and the scene from the scenario's seed."""
    sc = load_scenario(scenario) if not isinstance(scenario, Scenario) else scenario
    spec = sc.spec
    rng = np.random.default_rng(spec.seed)
    cat = _catalogue(sc, rng)
    site = sc.site
    bins = list(site.bins)
    # stock draw
    stock: dict[str, dict] = {}
    st = spec.stock
    for b in bins:
        if rng.random() >= st.fill_rate:
            stock[b.bin_id] = {"sku": "", "count": 0, "stacking": "", "pallet": False, "crowded": False}
            continue
        # (each extra draw only where its rate is set, so older scenarios keep their stock)
        if st.non_tire_rate > 0 and rng.random() < st.non_tire_rate:
            stock[b.bin_id] = {"sku": "", "count": 0, "stacking": "", "pallet": False, "crowded": False, "cartons": True}
            continue
        row = cat.iloc[int(rng.integers(len(cat)))]
        size = parse_size(row["size"])
        stacking = "standing" if rng.random() < st.standing_frac else "lying"
        if stacking == "lying" and st.laced_frac > 0 and rng.random() < st.laced_frac:
            stacking = "laced"
        pallet = stacking == "lying" and b.level == 1 and rng.random() < st.pallet_rate
        cols, per_col = _capacity(b, size, stacking, pallet)
        cap = cols * per_col
        if cap == 0:
            stock[b.bin_id] = {"sku": "", "count": 0, "stacking": "", "pallet": False, "crowded": False}
            continue
        lo = max(1, int(np.ceil(spec.stock.min_fill_frac * cap)))
        count = int(rng.integers(lo, cap + 1))
        crowded = stacking == "standing" and count >= 2 and rng.random() < st.crowded_rate
        wrapped = pallet and st.wrapped_rate > 0 and rng.random() < st.wrapped_rate
        stock[b.bin_id] = {"sku": row["sku"], "count": count, "stacking": stacking, "pallet": pallet, "crowded": crowded,
                           "wrapped": wrapped}

    # ERP = truth, then inject discrepancies (each bin used at most once)
    erp: dict[str, tuple[str, int]] = {bid: (s["sku"], s["count"]) for bid, s in stock.items() if s["count"] > 0}
    disc: list[dict] = []
    filled = [bid for bid, s in stock.items() if s["count"] > 0]
    empty = [bid for bid, s in stock.items() if s["count"] == 0]
    rng.shuffle(filled)
    rng.shuffle(empty)
    used: set[str] = set()
    n_bins = len(bins)
    rates = spec.discrepancies

    def take(pool, k):
        out = [x for x in pool if x not in used][:k]
        used.update(out)
        return out

    for bid in take(filled, int(round(rates.short * n_bins))):
        sku, q = erp[bid]
        extra = int(rng.integers(1, 4))
        erp[bid] = (sku, q + extra)
        disc.append({"kind": "short", "bin_id": bid, "sku": sku, "erp_qty": q + extra, "true_qty": q, "other_bin_id": ""})
    for bid in take([b for b in filled if stock[b]["count"] >= 2], int(round(rates.over * n_bins))):
        sku, q = erp[bid]
        less = int(rng.integers(1, q))
        erp[bid] = (sku, q - less)
        disc.append({"kind": "over", "bin_id": bid, "sku": sku, "erp_qty": q - less, "true_qty": q, "other_bin_id": ""})
    n_mis = int(round(rates.misplaced * n_bins))

    centres = site.bin_centres_site()

    def centre(bin_id: str) -> np.ndarray:
        return np.asarray(centres[bin_id])

    def nearest_free_empty(src: str) -> list[str]:
        # stock put away in the wrong slot usually lands close to where it belongs
        free = [e for e in empty if e not in used]
        if not free:
            return []
        d = [float(np.linalg.norm(centre(e) - centre(src))) for e in free]
        pick = free[int(np.argmin(d))]
        used.add(pick)
        return [pick]

    srcs = take(filled, n_mis)
    for src, dst in ((s_, d_) for s_ in srcs for d_ in nearest_free_empty(s_)):
        # ERP keeps the stock at src; physically it stands in dst (src is empty)
        src_bin, dst_bin = site.bin(src), site.bin(dst)
        moved = dict(stock[src])
        size = parse_size(cat.set_index("sku").loc[moved["sku"], "size"])
        cols, per_col = _capacity(dst_bin, size, moved["stacking"], moved["pallet"] and dst_bin.level == 1)
        moved["pallet"] = moved["pallet"] and dst_bin.level == 1
        moved["wrapped"] = bool(moved.get("wrapped")) and moved["pallet"]
        moved["count"] = min(moved["count"], max(1, cols * per_col))
        erp[src] = (moved["sku"], moved["count"])
        stock[dst] = moved
        stock[src] = {"sku": "", "count": 0, "stacking": "", "pallet": False, "crowded": False}
        disc.append({"kind": "misplaced", "bin_id": src, "sku": moved["sku"], "erp_qty": moved["count"],
                     "true_qty": 0, "other_bin_id": dst})
    for bid in take(empty, int(round(rates.ghost * n_bins))):
        row = cat.iloc[int(rng.integers(len(cat)))]
        q = int(rng.integers(2, 8))
        erp[bid] = (row["sku"], q)
        disc.append({"kind": "ghost", "bin_id": bid, "sku": row["sku"], "erp_qty": q, "true_qty": 0, "other_bin_id": ""})
    n_unknown = int(round(rates.unknown_sku * n_bins))
    for i, bid in enumerate(take(empty, n_unknown)):
        # unknown_sku: the bin physically holds a SKU the ERP lists nowhere (a product the
        # warehouse master data knows, missing from the stock ledger); the ERP has no row for it.
        sku = f"0009{spec.seed % 1000:03d}{i:02d}"
        size = parse_size(["195/55R16", "175/70R13", "255/35R19"][i % 3])
        cat.loc[len(cat)] = {"sku": sku, "gtin": make_gtin13(rng), "size": size.code, "brand": "Unlisted",
                             "description": f"Unlisted {size.code}", "unit_price": 60.0, "in_erp": False}
        b = site.bin(bid)
        cols, per_col = _capacity(b, size, "standing", False)
        q = max(1, min(cols * per_col, int(rng.integers(1, 4))))
        stock[bid] = {"sku": sku, "count": q, "stacking": "standing", "pallet": False, "crowded": False}
        disc.append({"kind": "unknown_sku", "bin_id": bid, "sku": sku, "erp_qty": 0, "true_qty": q, "other_bin_id": ""})

    # substituted: the ERP lists another of its SKUs, as many, where goods stand (received or put away
    # under the wrong SKU). Two rows: the ERP's SKU none of which stands there, and the goods it does not
    # list there. Drawn on a generator of their own and only where the rate is set, so the stock, the
    # other discrepancies and the scene of every other scenario stay as they were.
    listed = [s for s, in_erp in zip(cat["sku"], cat["in_erp"]) if in_erp]
    if rates.substituted > 0 and len(listed) > 1:
        sub_rng = np.random.default_rng([spec.seed, 0x5B])
        size_of = {s: parse_size(z) for s, z in zip(cat["sku"], cat["size"])}
        for bid in take(filled, int(round(rates.substituted * n_bins))):
            held, q = stock[bid]["sku"], stock[bid]["count"]
            others = [s for s in listed if s != held]
            named = others[int(sub_rng.integers(len(others)))]
            if rates.substituted_alike > 0 and sub_rng.random() < rates.substituted_alike:
                named = min(others, key=lambda s: (_size_gap(size_of[s], size_of[held]), s))
            erp[bid] = (named, q)
            disc.append({"kind": "substituted", "bin_id": bid, "sku": named, "erp_qty": q, "true_qty": 0, "other_bin_id": ""})
            disc.append({"kind": "substituted", "bin_id": bid, "sku": held, "erp_qty": 0, "true_qty": q, "other_bin_id": ""})

    # scene objects
    cat_idx = cat.set_index("sku")
    objects: list[SceneObject] = []
    serial = 0
    for b in bins:
        s = stock[b.bin_id]
        if s.get("cartons"):
            objects.extend(_place_cartons(b, rng))
        if s["count"] == 0:
            continue
        row = cat_idx.loc[s["sku"]]
        row = {"gtin": row["gtin"], **row.to_dict()}
        size = parse_size(row["size"])
        objs = _place_bin(b, s["sku"], size, s["stacking"], s["count"], s["pallet"], s["crowded"], rng, serial,
                          row, spec, site.face(b.face_id).depth_m, sscc=make_sscc18(rng) if s["pallet"] else "")
        serial += sum(o.kind == "product_label" for o in objs)
        if s.get("wrapped"):  # stretch film over the pallet's whole load, just in front of it
            tires = [o for o in objs if o.kind.startswith("tire")]
            objs.append(SceneObject(f"{b.bin_id}/film", "film", b.face_id, b.bin_id, "", min(o.u0 for o in tires) - 0.02,
                                    max(o.u1 for o in tires) + 0.02, b.v0_m + 0.02, max(o.v1 for o in tires) + 0.03,
                                    max(o.n for o in tires) + 0.02))
        objects.extend(objs)

    stock_df = pd.DataFrame([{"bin_id": b.bin_id, "sku": stock[b.bin_id]["sku"], "count": stock[b.bin_id]["count"],
                              "stacking": stock[b.bin_id]["stacking"], "pallet": stock[b.bin_id]["pallet"]} for b in bins])
    desc = dict(zip(cat["sku"], cat["description"]))
    price = dict(zip(cat["sku"], cat["unit_price"]))
    erp_df = pd.DataFrame([{"Bin": bid, "Material": sku, "Quantity": q, "Description": desc.get(sku, ""),
                            "Unit Price": price.get(sku)} for bid, (sku, q) in sorted(erp.items())])
    disc_df = pd.DataFrame(disc, columns=["kind", "bin_id", "sku", "erp_qty", "true_qty", "other_bin_id"])
    return World(sc, cat, stock_df, erp_df, disc_df, objects)
