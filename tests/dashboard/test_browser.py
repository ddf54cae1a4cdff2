"""End to end in a real browser: streamlit run on loopback, driven by Playwright in Debian's Chromium."""

import io
import os
import socket
import subprocess
import time
import zipfile
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from dashboard.access import PAGES
from reconciliation.store import ResultsStore
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
expect.set_options(timeout=30_000)  # a cold Streamlit page takes a few seconds on 2 cores
SHOTS = Path(os.environ.get("RACKSCAN_SCREENSHOTS", REPO / "out" / "screenshots"))

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (Debian package chromium)")]


def _idle(page):
    """Wait until Streamlit has finished the rerun a widget change started (its status widget goes)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


UPLOAD_MB = 2


@pytest.fixture(scope="module")
def server(demo):
    """The dashboard exactly as a user starts it: `rackscan dashboard` (loopback, XSRF on, upload limit)."""
    port = _free_port()
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "rackscan"), "dashboard", "--db", demo["url"], "--users", str(demo["users"]),
                             "--port", str(port), "--max-upload-mb", str(UPLOAD_MB), "--signin-delay-s", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(demo["tmp"]))
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not come up: " + proc.stdout.read().decode()[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _sign_in(page, name, password):
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _assert_nothing_from_the_store(page, where):
    """No stock data, no download, no upload, no page list on what this browser shows."""
    _idle(page)
    text = page.locator("body").inner_text()
    for leak in ("A01-B", "Matching rate", "discrepancies", "Reconciliation", "Download", "ERP stock export"):
        assert leak not in text, f"{where}: {leak!r} on the page"
    assert page.locator("input[type=file]").count() == 0, where
    assert page.locator("[data-testid='stDownloadButton']").count() == 0, where
    assert page.locator("[data-testid='stSidebarNav'] a").count() == 0, where


def test_every_page_url_without_signing_in_shows_only_the_sign_in_form(server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    paths = [p.key for p in PAGES] + ["app", "export?reconciliation_id=1"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for path in paths:
            ctx = browser.new_context(viewport={"width": 1300, "height": 900})  # a fresh browser: no cookies, no session
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{server}/{path}")
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
            _assert_nothing_from_the_store(page, f"/{path}")
            if path == "export":
                page.screenshot(path=str(SHOTS / "sign_in.png"))
            ctx.close()
        # the page files themselves: not served as pages (no pages/ folder) nor as source
        for path in ("pages/export", "views/export", "views/export.py", "dashboard/views/export.py"):
            body = urllib.request.urlopen(f"{server}/{path}", timeout=10).read().decode()
            assert "download_button" not in body and "import streamlit" not in body, path
            page = browser.new_page()
            page.goto(f"{server}/{path}")
            page.wait_for_timeout(4000)
            text = page.locator("body").inner_text()
            assert "A01-B" not in text and "Download" not in text and page.locator("input[type=file]").count() == 0, path
            page.close()
        browser.close()


def test_an_operator_gets_no_controller_action_even_by_url(server):

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for path in ("", "export", "erp_upload", "discrepancies", "rack_view", "users"):
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"{server}/{path}")
            _sign_in(page, "minh", "minh-secret-1")
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            _idle(page)
            nav = page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
            assert [n.split("\n")[-1].strip() for n in nav] == ["Overview", "Live", "Flights", "Campaigns", "Fleet", "Operations log"], (path, nav)  # after the icon name
            assert page.locator("input[type=file]").count() == 0
            assert page.locator("[data-testid='stDownloadButton']").count() == 0
            assert page.get_by_role("button", name="Record review").count() == 0
            page.close()
        browser.close()


def test_wrong_passwords_earn_a_delay(server, demo):

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(server)
        for i in range(4):
            _sign_in(page, "eng", f"not-it-{i}")
            _idle(page)
        expect(page.get_by_text("Wait 60 s before the next try")).to_be_visible()
        _sign_in(page, "eng", "eng-secret-1")  # at once: refused without a check
        expect(page.get_by_text("Too many failed sign-ins. Wait")).to_be_visible()
        browser.close()
    ev = ResultsStore(demo["url"]).access_events(user="eng")
    assert ev.event.tolist()[:5] == ["sign_in_refused"] + ["sign_in_failed"] * 4
    assert set(ev.client) == {"localhost"}


def _zip_bomb_xlsx(path):
    """A real workbook whose sheet unpacks 1,000 times its packed size (64 MB from about 64 kB)."""
    from openpyxl import Workbook

    buf = io.BytesIO()
    wb = Workbook()
    wb.active.append(["Bin", "Material", "Quantity"])
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData>" + b" " * (64 * 2**20))
            out.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


def test_login_filter_open_bin_accept(server, demo):

    SHOTS.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(demo["url"])
    rid = store.latest_reconciliation()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(server)
        _sign_in(page, "lan", "lan-secret-1")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.get_by_text("Matching rate")).to_be_visible()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "overview.png"))

        # open a bin in the rack view
        page.get_by_role("link", name="Rack view").click()
        expect(page.get_by_role("heading", name="Rack view")).to_be_visible()
        page.get_by_text("A01-B01-L1-P1").first.wait_for()
        bin_box = page.get_by_label("Bin", exact=True)
        bin_box.click()
        page.keyboard.type("A01-B03-L2-P1")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="A01-B03-L2-P1")).to_be_visible()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "rack_view.png"), full_page=True)

        # filter discrepancies to ghost stock and accept the first one
        page.get_by_role("link", name="Discrepancies").click()
        expect(page.get_by_role("heading", name="Discrepancies")).to_be_visible()
        kind = page.get_by_label("Kind", exact=True)
        kind.click()
        page.keyboard.type("ghost")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        ghosts = store.list_discrepancies(rid, kinds=["ghost"], statuses=["open"])
        expect(page.get_by_text(f"{len(ghosts)} discrepancies")).to_be_visible()
        pick = page.get_by_label("Discrepancies to review")
        pick.click()
        page.keyboard.type(f"#{int(ghosts.id.iloc[0])} ")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        _idle(page)
        page.get_by_label("Comment").fill("checked on the floor")
        page.get_by_role("button", name="Record review").click()
        expect(page.get_by_text("marked accepted by lan")).to_be_visible()
        page.screenshot(path=str(SHOTS / "discrepancies.png"), full_page=True)

        # upload ERP files: a malformed one gets the CLI's one-line error, a good one reconciles
        bad = demo["tmp"] / "bad_erp.csv"
        bad.write_text("Bin,Material,Quantity\nA01-B01-L1-P1,000401001,-2\n", encoding="utf-8")
        page.get_by_role("link", name="ERP upload").click()
        expect(page.get_by_role("heading", name="ERP upload")).to_be_visible()
        page.locator("input[type=file]").set_input_files(str(bad))
        expect(page.get_by_text("bad_erp.csv")).to_be_visible(timeout=30_000)
        _idle(page)
        page.get_by_role("button", name="Validate and reconcile").click()
        expect(page.get_by_text("bad_erp.csv: row 2: column 'Quantity': -2 is negative; expected a quantity")).to_be_visible(timeout=30_000)
        good = demo["tmp"] / "erp_recount.csv"
        good.write_text((demo["tmp"] / "erp_stock.csv").read_text(encoding="utf-8"), encoding="utf-8")
        page.locator("input[type=file]").set_input_files(str(good))
        expect(page.get_by_text("erp_recount.csv")).to_be_visible(timeout=30_000)
        _idle(page)
        page.get_by_role("button", name="Validate and reconcile").click()
        expect(page.get_by_text("stored.")).to_be_visible(timeout=30_000)

        # hostile files: each refused in one line, and the dashboard goes on serving
        refusals = [
            (_zip_bomb_xlsx(demo["tmp"] / "bomb.xlsx"), "bomb.xlsx: member 'xl/worksheets/sheet1.xml' unpacks"),
            (demo["tmp"] / "long.csv", "long.csv: more than 200,000 rows; refused"),
            (demo["tmp"] / "wide_cell.csv", "wide_cell.csv: row 2: a field over the limit of 1,000 characters"),
            (demo["tmp"] / "fake.xlsx", "fake.xlsx: content is not an XLSX workbook (no zip signature at byte 0)"),
        ]
        (demo["tmp"] / "long.csv").write_text("Bin,Material,Quantity\n" + "X,1,1\n" * 200_001, encoding="utf-8")
        (demo["tmp"] / "wide_cell.csv").write_text("Bin,Material,Quantity\nA01-B01-L1-P1," + "9" * 5000 + ",1\n", encoding="utf-8")
        (demo["tmp"] / "fake.xlsx").write_text("Bin,Material,Quantity\n", encoding="utf-8")
        for f, message in refusals:
            page.locator("input[type=file]").set_input_files(str(f))
            expect(page.get_by_text(f.name)).to_be_visible(timeout=30_000)
            _idle(page)
            page.get_by_role("button", name="Validate and reconcile").click()
            err = page.locator("[data-testid='stAlertContentError']").filter(has_text=message)
            expect(err).to_be_visible(timeout=60_000)
            assert "\n" not in err.inner_text().strip()
        # over the upload limit: Streamlit refuses it in the browser, before a byte reaches the server
        big = demo["tmp"] / "big.csv"
        big.write_bytes(b"Bin,Material,Quantity\n" + b"A01-B01-L1-P1,1,1\n" * (UPLOAD_MB * 2**20 // 17 + 10))
        page.locator("input[type=file]").set_input_files(str(big))
        expect(page.get_by_text(f"File must be {UPLOAD_MB}.0MB or smaller.")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(SHOTS / "erp_upload_refusals.png"), full_page=True)
        assert urllib.request.urlopen(server + "/_stcore/health", timeout=5).read() == b"ok"
        page.get_by_role("link", name="Overview").click()
        expect(page.get_by_text("Matching rate")).to_be_visible()
        browser.close()
    assert len(store.list_reconciliations()) >= 1
    row = store.list_discrepancies(rid, kinds=["ghost"]).set_index("id").loc[int(ghosts.id.iloc[0])]
    assert row["status"] == "accepted"
    log = store.list_reviews(rid)
    assert log.iloc[-1][["user", "action", "comment"]].tolist() == ["lan", "accepted", "checked on the floor"]


def _bins_flown(page) -> tuple[int, int] | None:
    import re

    m = re.search(r"Bins flown\s+(\d+) / (\d+)", page.locator("body").inner_text())
    return (int(m.group(1)), int(m.group(2))) if m else None


TO_COUNT = "rgb(236, 239, 241)"  # a bin whose passes are not all flown (#eceff1)


def _grid_fills(page) -> set[str]:
    """The fill colours of the bins on the Live page's face grids."""
    return set(page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(p => (p.querySelector('.gtitle') || {}).textContent?.includes('/'))
        .flatMap(p => Array.from(p.querySelectorAll('.scatterlayer .point')).map(e => getComputedStyle(e).fill))"""))


def test_the_live_page_follows_a_flight_as_it_flies(server, demo, tmp_path):
    """The simulated vehicle flies a short mission in real time with the virtual camera and
    `rackscan fly --live-db --live` writing to the dashboard's store; an operator's browser, left on
    the Live page without reloading, sees the bins flown grow during the flight and a bin on the
    face grid change colour from "to count" to its status as the live counter counts it."""
    from datasets.world import build_world
    from flight.planfile import write_plan
    from flight.recount import plan_recount
    from flight.sim import SimConfig, SimVehicle, free_udp_port

    scenario = REPO / "datasets" / "scenarios" / "default.yaml"
    world = build_world(scenario)
    mission = plan_recount(world.site, world.camera, ["A01-B01-L1-P2", "A01-B01-L3-P1"]).missions[0]
    plan_file = write_plan(mission, tmp_path / "recount.plan")
    world.erp.to_csv(tmp_path / "erp.csv", index=False)
    world.catalogue.to_csv(tmp_path / "catalogue.csv", index=False)
    port = free_udp_port()
    home = mission.home
    veh = SimVehicle(f"udpout:127.0.0.1:{port}", SimConfig(speedup=1, ekf_ready_s=2.0, home_lat_deg=home[0],
                                                          home_lon_deg=home[1], home_alt_m=home[2])).start()
    seen: list[tuple[int, int]] = []
    fills: list[set[str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.set_default_timeout(60_000)
        page.goto(server)
        _sign_in(page, "minh", "minh-secret-1")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("link", name="Live").click()
        expect(page.get_by_role("heading", name="Live")).to_be_visible()
        fly = subprocess.Popen([str(REPO / ".venv" / "bin" / "rackscan"), "fly", str(plan_file), "--connect",
                                f"udpin:127.0.0.1:{port}", "--record", str(tmp_path / "bundle"), "--camera", "synthetic",
                                "--scenario", str(scenario), "--live-db", demo["url"], "--live", "--erp",
                                str(tmp_path / "erp.csv"), "--catalogue", str(tmp_path / "catalogue.csv")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 400
            while fly.poll() is None and time.monotonic() < deadline:
                got = _bins_flown(page)  # the page refreshes itself: no reload, no click
                if got and (not seen or got != seen[-1]):
                    seen.append(got)
                f = _grid_fills(page)
                if f and (not fills or f != fills[-1]):
                    fills.append(f)
                    if len(fills) == 2:
                        page.screenshot(path=str(SHOTS / "live.png"), full_page=True)
                page.wait_for_timeout(500)
            out = fly.communicate(timeout=300)[0]
        finally:
            if fly.poll() is None:
                fly.kill()
            veh.stop()
        assert fly.returncode == 0, out[-3000:]
        assert "live: flight shown on the dashboard's Live page" in out and "live count: every bin written as provisional" in out
        expect(page.get_by_text("complete", exact=True)).to_be_visible(timeout=30_000)
        final = _bins_flown(page)
        browser.close()
    during = [d for d, t in seen if 0 < d < t]
    assert len(during) >= 1 and during == sorted(during), seen  # it grew while the drone flew
    assert final is not None and final[0] == final[1] > 0
    # a bin went from "to count" to a status colour while the page was open
    status = {f"rgb({int(c[1:3], 16)}, {int(c[3:5], 16)}, {int(c[5:7], 16)})" for c in
              ("#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#ad1457", "#1565c0", "#616161", "#f9a825")}
    first_with_status = next(i for i, f in enumerate(fills) if f & status)
    assert any(TO_COUNT in f for f in fills[:first_with_status + 1]), fills
