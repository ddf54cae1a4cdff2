import pandas as pd
from openpyxl import load_workbook

from rackscan.cli import main
from reconciliation.store import ResultsStore
from tests.reconciliation.factories import bundle_with_observations, erp_frame, observations, write_csv


def test_reconcile_cli_writes_reports_and_store(tmp_path, capsys):
    obs = observations([("A01-B01-L1-P1", "000401001", 4), ("A01-B01-L1-P2", "000401002", 5), ("A01-B03-L2-P1", "", 0),
                        ("A01-B05-L1-P1", "000401003", 2)])
    b = bundle_with_observations(tmp_path / "flight", obs, scanned=list(obs.bin_id))
    erp = write_csv(tmp_path / "erp.csv", erp_frame(), bom=True)
    for _ in range(2):  # idempotent
        assert main(["reconcile", "--flight", str(b), "--erp", str(erp), "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "matching rate" in out and "misplaced" in out
    csv = pd.read_csv(tmp_path / "rep/discrepancies.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(csv.kind) == ["misplaced", "short"]
    assert csv.set_index("kind").loc["misplaced", "paired_bin_id"] == "A01-B05-L1-P1"
    wb = load_workbook(tmp_path / "rep/report.xlsx")
    assert wb.sheetnames[:2] == ["Summary", "Discrepancies"] and "Aisle A01" in wb.sheetnames
    ws = wb["Discrepancies"]
    ev_col = [c.value for c in ws[1]].index("evidence_path") + 1
    assert ws.cell(2, ev_col).hyperlink is not None
    store = ResultsStore(str(tmp_path / "rep/results.db"))
    assert len(store.trend()) == 1


def test_goods_unread_take_the_erps_sku_where_their_size_fits_unless_told_not_to(tmp_path):
    """Six tires no label of which was read, their size fitting the ERP's SKU for the bin (and another):
    a match on the ERP's word by default, held under 0.9; ``--erp-sku-confidence 0``: a recount. The
    report folder keeps the observations as judged, the store the camera's own."""
    obs = observations([("A01-B01-L1-P1", "000401001", 4), ("A01-B01-L1-P2", "", 6, 0.1), ("A01-B03-L2-P1", "000401003", 2)])
    obs = obs.assign(count_confidence=[0.98, 0.97, 0.98], size_fits=["", "000401009;000401002", ""])
    b = bundle_with_observations(tmp_path / "flight", obs, scanned=list(obs.bin_id))
    erp = write_csv(tmp_path / "erp.csv", erp_frame())
    got = {}
    for name, extra in (("default", []), ("off", ["--erp-sku-confidence", "0"])):
        rep = tmp_path / name
        assert main(["reconcile", "--flight", str(b), "--erp", str(erp), "--out", str(rep), *extra]) == 0
        csv = pd.read_csv(rep / "discrepancies.csv", dtype=str, encoding="utf-8-sig")
        judged = pd.read_parquet(rep / "observations.parquet").set_index("bin_id").loc["A01-B01-L1-P2"]
        got[name] = (sorted(csv.kind), judged.sku, round(float(judged.confidence), 2))
        assert "sku_as_erp" in judged.reason.split(";") and (csv.reason.str.contains("sku_as_erp")).all()
        stored = ResultsStore(str(rep / "results.db")).flight_observations(1).set_index("bin_id")  # a store of its own
        assert not stored.loc["A01-B01-L1-P2", "sku"]  # the store keeps the camera's: no SKU read
        assert stored.loc["A01-B01-L1-P2", "size_fits"] == "000401009;000401002"  # and the sizes, for a later ERP
    assert got == {"default": ([], "000401002", 0.85), "off": (["needs_recount"], "000401002", 0.0)}
    assert main(["reconcile", "--flight", str(b), "--erp", str(erp), "--erp-sku-confidence", "2"]) != 0


def test_missing_observations_is_one_line(tmp_path, capsys):
    b = bundle_with_observations(tmp_path / "f", observations([]))
    (b / "observations.parquet").unlink()
    erp = write_csv(tmp_path / "erp.csv", erp_frame())
    assert main(["reconcile", "--flight", str(b), "--erp", str(erp)]) == 1
    assert "observations.parquet: missing; run `rackscan fuse" in capsys.readouterr().err


def test_aisles_come_from_the_site_not_from_the_bin_name(tmp_path):
    """A site whose bins are named aisle-last: the aisle is the bin's, whatever the naming."""
    import yaml

    from reconciliation.pipeline import reconcile_flight
    from tests.conftest import DEFAULT_SITE

    site = yaml.safe_load(DEFAULT_SITE.read_text())
    site["bin_naming"] = "B{bay:02d}.L{level}.P{position}@{aisle}"
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    obs = observations([("B01.L1.P1@A02", "000401001", 1)])
    b = bundle_with_observations(tmp_path / "flight", obs, scanned=list(obs.bin_id))
    (b / "site.yaml").write_text(yaml.safe_dump(site))
    erp = write_csv(tmp_path / "erp.csv", pd.DataFrame({"Bin": ["B01.L1.P1@A02"], "Material": ["000401001"], "Quantity": ["4"]}))
    res = reconcile_flight(b, erp, out_dir=tmp_path / "rep")
    store = ResultsStore(res.db_url)
    d = store.list_discrepancies(res.reconciliation_id)
    assert d.aisle.tolist() == ["A02"]
    assert "Aisle A02" in load_workbook(tmp_path / "rep/report.xlsx").sheetnames
