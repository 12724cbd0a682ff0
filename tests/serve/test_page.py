"""The search page in a real browser (Debian's chromium, headless, driven by Playwright over the
DevTools protocol): it loads from the server, a crop chosen in it is searched, and the result list
shows the hits' cameras, times and distances, nearest or newest first, filtered, or the error."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("VREID_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does), or set VREID_CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by the test extra")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def hit_list(page) -> list[dict]:
    return page.eval_on_selector_all("#hits .hit", """items => items.map(item => ({
        id: Number(item.dataset.id), camera: item.querySelector('.camera').textContent,
        time: item.querySelector('.time').textContent, distance: item.querySelector('.distance').textContent,
        loaded: item.querySelector('img').complete && item.querySelector('img').naturalWidth > 0}))""")


def test_a_crop_chosen_on_the_page_lists_its_hits_nearest_or_newest_first(city, browser, crops, meta, tmp_path):
    page = browser.new_page()
    page.goto(city.url + "/")
    page.wait_for_function("document.querySelector('#gallery-info').textContent.includes('crops')")
    assert "ToyNet" in page.inner_text("#gallery-info")
    query = crops[7]
    page.set_input_files("#file", str(query))
    page.wait_for_function("document.querySelectorAll('#hits .hit').length === 10")
    page.wait_for_function("[...document.querySelectorAll('#hits img')].every(i => i.complete)")
    hits = hit_list(page)
    assert hits[0]["id"] == 7 and hits[0]["distance"] == "distance 0.0000"
    assert hits[0]["camera"] == meta.camera_of(query) and hits[0]["time"] == "2024-05-01 08:07:00Z"
    assert all(h["loaded"] for h in hits)  # every thumbnail came from /v1/gallery/ID/image
    assert "10 hits among" in page.inner_text("#status")
    page.screenshot(path=str(tmp_path / "page.png"))

    page.select_option("#order", "newest")
    newest = hit_list(page)
    assert sorted(h["id"] for h in newest) == sorted(h["id"] for h in hits)
    assert [h["time"] for h in newest] == sorted((h["time"] for h in newest), reverse=True)

    camera = meta.camera_of(crops[0])
    page.fill("#cameras", camera)
    page.dispatch_event("#cameras", "change")
    page.wait_for_function(f"[...document.querySelectorAll('#hits .camera')].every(c => c.textContent === "
                           f"'{camera}')")
    assert {h["camera"] for h in hit_list(page)} == {camera}


def test_the_page_shows_the_servers_refusal(city, browser, crops):
    page = browser.new_page()
    page.goto(city.url + "/")
    page.wait_for_function("document.querySelector('#gallery-info').textContent.includes('crops')")
    page.fill("#cameras", "c77")
    page.set_input_files("#file", str(crops[0]))
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status").startswith("unknown camera 'c77': the gallery's cameras are c01")
    assert page.eval_on_selector_all("#hits .hit", "items => items.length") == 0
