"""End to end in a real browser: streamlit run on loopback, driven by Playwright in Debian's Chromium."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reconciliation.store import ResultsStore
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
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


@pytest.fixture(scope="module")
def server(demo):
    port = _free_port()
    env = dict(os.environ, RACKSCAN_DB=demo["url"], RACKSCAN_USERS=str(demo["users"]))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"),
                             "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=str(REPO / "dashboard"))  # picks up dashboard/.streamlit/config.toml
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


def test_login_filter_open_bin_accept(server, demo):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(demo["url"])
    rid = store.latest_reconciliation()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(server)
        page.get_by_label("User name").fill("lan")
        page.get_by_label("Password", exact=True).fill("lan-secret-1")
        page.get_by_role("button", name="Sign in").click()
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
        browser.close()
    assert len(store.list_reconciliations()) >= 1
    row = store.list_discrepancies(rid, kinds=["ghost"]).set_index("id").loc[int(ghosts.id.iloc[0])]
    assert row["status"] == "accepted"
    log = store.list_reviews(rid)
    assert log.iloc[-1][["user", "action", "comment"]].tolist() == ["lan", "accepted", "checked on the floor"]
