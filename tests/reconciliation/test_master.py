"""The product master from the ERP: a flight that read only GTINs reconciles by material number."""

import pandas as pd
import pytest

from rackscan.cli import main
from reconciliation.errors import ReconciliationError
from reconciliation.master import apply_product_master, gtin14, load_product_master
from tests.reconciliation.factories import bundle_with_observations, erp_frame, observations, write_csv

# three EAN-13s with valid check digits, and their materials as SAP keeps MATNR (18 digits)
EANS = {"8935052100014": "000000000000401001", "8935052100021": "000000000000401002", "8935052100038": "000000000000401003"}


def _mean(path, extra_rows=()):
    """SAP's MEAN table: one row per material and unit of measure; the pallet unit has no EAN here."""
    rows = [("100", m, "ST", "1", e, "HE", "X") for e, m in EANS.items()]
    rows += [("100", "000000000000401001", "PAL", "1", "", "", "")] + list(extra_rows)
    return write_csv(path, pd.DataFrame(rows, columns=["MANDT", "MATNR", "MEINH", "LFNUM", "EAN11", "EANTP", "HPEAN"]))


@pytest.mark.parametrize("text, want", [
    ("8935052100014", "08935052100014"),  # EAN-13
    ("08935052100014", "08935052100014"),  # GTIN-14 from a GS1 QR's (01)
    ("8935052100018", None),  # wrong check digit
    ("000401001", None),  # a material number, not a GTIN
    ("", None),
])
def test_gtin14(text, want):
    assert gtin14(text) == want


def test_sap_mean_maps_gtins_to_materials_in_the_erps_spelling(tmp_path):
    master = load_product_master(_mean(tmp_path / "MEAN.csv"))
    assert len(master) == 3 and master.skipped_rows == 1
    obs = observations([("A01-B01-L1-P1", "8935052100014", 4), ("A01-B01-L1-P2", "", 0), ("A01-B03-L2-P1", "x", 1)])
    obs.loc[2, ["sku", "gtin"]] = ["08935052100038", "08935052100038"]  # fusion without a catalogue keeps the GTIN
    out, warns = apply_product_master(obs, master, erp_materials=["000401001", "000401003"])
    assert list(out.sku) == ["000401001", "", "000401003"] and not warns


def test_two_gtins_of_one_material_in_a_bin_are_one_count(tmp_path):
    master = load_product_master(_mean(tmp_path / "MEAN.csv", [("100", "000000000000401001", "ST", "2", "8935052100045",
                                                                    "HE", "")]))
    obs = observations([("A01-B01-L1-P1", "8935052100014", 3), ("A01-B01-L1-P1", "8935052100045", 1)])
    out, _ = apply_product_master(obs, master, erp_materials=["000401001"])
    assert list(zip(out.bin_id, out.sku, out["count"])) == [("A01-B01-L1-P1", "000401001", 4)]


@pytest.mark.parametrize("rows, message", [
    ([("100", "000000000000401009", "ST", "1", "8935052100018", "HE", "")], "row 6: column 'EAN11': '8935052100018' is not a GTIN"),
    ([("100", "000000000000401009", "ST", "1", "8935052100014", "HE", "")], "rows 2 and 6: EAN 8935052100014 belongs to materials"),
])
def test_bad_product_master_is_one_line(tmp_path, rows, message):
    with pytest.raises(ReconciliationError, match=message):
        load_product_master(_mean(tmp_path / "MEAN.csv", rows))


def test_reconcile_cli_with_a_product_master_counts_by_material(tmp_path, capsys):
    obs = observations([("A01-B01-L1-P1", "8935052100014", 4), ("A01-B01-L1-P2", "8935052100021", 6),
                        ("A01-B03-L2-P1", "8935052100038", 2)])
    b = bundle_with_observations(tmp_path / "flight", obs, scanned=list(obs.bin_id))
    erp = write_csv(tmp_path / "erp.csv", erp_frame())
    assert main(["reconcile", "--flight", str(b), "--erp", str(erp), "--out", str(tmp_path / "r1")]) == 0
    out = capsys.readouterr().out
    assert "the SKUs are GTINs" in out  # without the master: a warning, and nothing matches
    csv = pd.read_csv(tmp_path / "r1/discrepancies.csv", dtype=str)
    assert "match" not in set(csv.kind)
    assert main(["reconcile", "--flight", str(b), "--erp", str(erp), "--out", str(tmp_path / "r2"),
                 "--product-master", str(_mean(tmp_path / "MEAN.csv"))]) == 0
    csv = pd.read_csv(tmp_path / "r2/discrepancies.csv", dtype=str)
    assert csv.empty  # every bin matches: the report lists discrepancies only


def test_an_erp_export_with_an_ean_column_is_its_own_product_master(tmp_path):
    from reconciliation.pipeline import reconcile_flight

    obs = observations([("A01-B01-L1-P1", "8935052100014", 4), ("A01-B01-L1-P2", "8935052100021", 6),
                        ("A01-B03-L2-P1", "8935052100038", 2)])
    b = bundle_with_observations(tmp_path / "flight", obs, scanned=list(obs.bin_id))
    erp = erp_frame().assign(EAN=["8935052100014", "8935052100021", "8935052100038"])
    res = reconcile_flight(b, write_csv(tmp_path / "erp.csv", erp), out_dir=tmp_path / "r")
    assert res.result.summary.by_kind.get("match") == 3 and not res.warnings


def test_missing_product_master_file_is_one_line(tmp_path, capsys):
    b = bundle_with_observations(tmp_path / "flight", observations([("A01-B01-L1-P1", "8935052100014", 4)]))
    erp = write_csv(tmp_path / "erp.csv", erp_frame())
    assert main(["reconcile", "--flight", str(b), "--erp", str(erp), "--product-master", str(tmp_path / "no.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no.csv: product master not found" in err and "\n" not in err
