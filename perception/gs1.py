"""GS1 content: check digits and element strings (AI 00 SSCC, 01 GTIN, 10 lot, 17 expiry, 21 serial)."""

from __future__ import annotations

import re

# fixed-length AIs we read (length of the data after the AI); others are variable, up to FNC1/GS
FIXED = {"00": 18, "01": 14, "02": 14, "11": 6, "13": 6, "15": 6, "17": 6, "20": 2}
VARIABLE = {"10": 20, "21": 20, "37": 8, "240": 30, "241": 30, "90": 30, "91": 90, "92": 90}
NAMES = {"00": "sscc", "01": "gtin", "02": "content_gtin", "10": "lot", "11": "prod_date", "13": "pack_date",
         "15": "best_before", "17": "expiry", "20": "variant", "21": "serial", "37": "count", "240": "additional_id",
         "241": "customer_part", "90": "internal", "91": "company_91", "92": "company_92"}
GS = "\x1d"


def mod10_ok(digits: str) -> bool:
    """GS1 mod-10 check over a full code (EAN-8/13, UPC-A, GTIN-14, SSCC-18)."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


def parse_element_string(text: str) -> dict[str, str] | None:
    """Fields of a GS1 element string, human form ``(01)...(21)...`` or raw with GS separators.

    Returns None when the text is not a GS1 element string; raises nothing. A GTIN or SSCC with a
    bad check digit makes the whole string invalid (None): never report a read that fails it.
    """
    t = text.strip()
    if t.startswith("]C1") or t.startswith("]Q3") or t.startswith("]d2"):
        t = t[3:]
    fields: dict[str, str] = {}
    if t.startswith("("):
        for ai, val in re.findall(r"\((\d{2,4})\)([^(]*)", t):
            if ai not in FIXED and ai not in VARIABLE:
                return None
            if ai in FIXED and len(val) != FIXED[ai]:
                return None
            fields[NAMES[ai]] = val
        if not fields or "".join(f"({k}){v}" for k, v in re.findall(r"\((\d{2,4})\)([^(]*)", t)) != t:
            return None
    else:
        i = 0
        while i < len(t):
            ai = next((a for a in (t[i : i + 2], t[i : i + 3]) if a in FIXED or a in VARIABLE), None)
            if ai is None:
                return None
            i += len(ai)
            if ai in FIXED:
                val = t[i : i + FIXED[ai]]
                if len(val) != FIXED[ai] or not val.isdigit():
                    return None
                i += FIXED[ai]
                if i < len(t) and t[i] == GS:
                    i += 1
            else:
                end = t.find(GS, i)
                end = len(t) if end < 0 else end
                val = t[i:end]
                if not val or len(val) > VARIABLE[ai]:
                    return None
                i = end + 1
            fields[NAMES[ai]] = val
    for key in ("sscc", "gtin", "content_gtin"):
        if key in fields and not mod10_ok(fields[key]):
            return None
    return fields or None
