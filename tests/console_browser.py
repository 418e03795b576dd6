"""The console in headless Debian Chromium, driven by Selenium with the system chromedriver.

Started by tests/console.rs with a server and a grid of boxes; reads from the environment:
CONSOLE_BASE, CONSOLE_TOKEN (every scope), CONSOLE_KEY (a key of an integration with only the
feasibility module), CONSOLE_BOXES, CONSOLE_GRID (lon0,lat0,step,side), CONSOLE_SHOTS.
Fails on any browser console error or warning but the graphics driver's own notes.
"""

import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["CONSOLE_BASE"]
TOKEN = os.environ["CONSOLE_TOKEN"]
KEY = os.environ["CONSOLE_KEY"]
BOXES = int(os.environ["CONSOLE_BOXES"])
LON0, LAT0, STEP, SIDE = (float(v) for v in os.environ["CONSOLE_GRID"].split(","))
SHOTS = os.environ["CONSOLE_SHOTS"]
# Software WebGL's notes about itself are the graphics driver's, not the page's.
DRIVER_NOTES = ("GL Driver Message",)


def api(method, path, body=None, token=TOKEN):
    req = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read() or b"null")


def browser(language):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,900",
        # WebGL in software: no GPU here.
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        f"--lang={language}",
    ]:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class Page:
    def __init__(self, language):
        self.d = browser(language)
        self.wait = WebDriverWait(self.d, 60, poll_frequency=0.02)

    def quiet(self, step, expected=()):
        """No console error or warning from the page so far (but the `expected` refusals
        of a step that sends bad input on purpose)."""
        bad = [
            e
            for e in self.d.get_log("browser")
            if e["level"] in ("SEVERE", "WARNING")
            and not any(note in e["message"] for note in DRIVER_NOTES + tuple(expected))
        ]
        assert not bad, f"{step}: the browser's console has {bad}"

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def idle(self):
        self.d.execute_async_script(
            "const done = arguments[0]; const m = window.ftthConsole.map;"
            "if (m.loaded()) done(); else m.once('idle', () => done());"
        )

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.d.save_screenshot(os.path.join(SHOTS, name))

    def by_id(self, id_):
        return self.d.find_element(By.ID, id_)

    def sign_in(self, credential, label, button):
        self.d.get(BASE + "/console")
        self.wait.until(lambda d: self.js("return document.body.dataset.ready === 'true'"))
        assert self.d.find_element(By.CSS_SELECTOR, "label[for=credential]").text == label
        field = self.by_id("credential")
        field.send_keys(credential)
        submit = self.d.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]")
        assert submit.text == button
        started = time.monotonic()
        submit.click()
        return started

    def wait_boxes(self):
        self.wait.until(lambda d: self.js("return document.getElementById('map-status').dataset.boxes"))
        return int(self.js("return document.getElementById('map-status').dataset.boxes"))

    def rendered_boxes(self):
        """Boxes drawn on the map: single boxes plus the counts of the clusters drawn."""
        return self.js(
            "const m = window.ftthConsole.map; const seen = new Set(); let n = 0;"
            "for (const f of m.queryRenderedFeatures({layers: ['clusters', 'boxes']})) {"
            "  const k = (f.properties.cluster ? 'c' : 'b') + f.id; if (seen.has(k)) continue;"
            "  seen.add(k); n += f.properties.point_count || 1; }"
            "return n;"
        )

    def measure(self, name):
        return self.js(
            "const e = performance.getEntriesByName(arguments[0], 'measure'); return e.length ? e[e.length - 1].duration : null;",
            name,
        )

    def click_map_at(self, lon, lat):
        canvas = self.d.find_element(By.CSS_SELECTOR, "#map canvas")
        x, y = self.js(
            "const p = window.ftthConsole.map.project([arguments[0], arguments[1]]); return [p.x, p.y];",
            lon,
            lat,
        )
        rect = self.js("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas)
        ActionChains(self.d).move_to_element_with_offset(
            canvas, int(x - rect[0] / 2), int(y - rect[1] / 2)
        ).click().perform()

    def nav(self, view):
        self.d.find_element(By.CSS_SELECTOR, f"#nav button[data-view={view}]").click()

    def row(self, code):
        return self.d.find_element(By.CSS_SELECTOR, f"#res-list tr[data-code='{code}']")

    def row_buttons(self, code):
        return [b.text for b in self.row(code).find_elements(By.CSS_SELECTOR, "button")]

    def press(self, code, text):
        button = next(b for b in self.row(code).find_elements(By.CSS_SELECTOR, "button") if b.text == text)
        button.click()

    def wait_status(self, code, status):
        self.wait.until(lambda d: self.js(
            "const r = document.querySelector(`#res-list tr[data-code='${arguments[0]}']`); return r && r.dataset.status;",
            code) == status)


def reserve(box_index, ref):
    i, j = divmod(box_index, int(SIDE))
    return api("POST", "/reservations", {
        "lat": LAT0 + i * STEP, "lon": LON0 + j * STEP, "box_id": f"CTO-{box_index:06}",
        "address": "Rua Exemplo 100", "customer": {"name": "Maria Silva"}, "external_ref": ref,
    })


def english():
    p = Page("en-US")
    try:
        started = p.sign_in(TOKEN, "Key or token", "Sign in")
        shown = p.wait_boxes()
        wall = time.monotonic() - started
        p.idle()
        assert shown == BOXES, f"{shown} boxes loaded, {BOXES} imported"
        drawn = p.rendered_boxes()
        assert drawn == BOXES, f"{drawn} boxes drawn, {BOXES} imported"
        assert p.by_id("map").get_attribute("aria-label") == "Map"
        signin_ms = p.measure("signin-to-boxes")
        print(f"sign-in to {BOXES} boxes drawn: {signin_ms:.0f} ms (page; {p.measure('signin-to-fetched'):.0f} ms to"
              f" the boxes fetched), {wall * 1000:.0f} ms (driver)")
        print("page measures (ms from sign-in):", p.js(
            "return performance.getEntriesByType('measure').map((m) => `${m.name} ${m.duration.toFixed(0)}`).join(', ')"))
        p.shot("map.png")
        p.quiet("sign-in")

        # A point between four boxes of the grid, at a zoom where none is clustered.
        i = j = int(SIDE) // 2
        lon, lat = LON0 + (j + 0.5) * STEP, LAT0 + (i + 0.5) * STEP
        p.js("window.ftthConsole.map.jumpTo({center: [arguments[0], arguments[1]], zoom: 17});", lon, lat)
        p.idle()
        p.click_map_at(lon, lat)
        p.wait.until(lambda d: p.js("return document.getElementById('check-result').dataset.state") == "done")
        click_ms = p.measure("click-to-candidates")
        print(f"click to candidates shown: {click_ms:.1f} ms (page)")
        shown_ids = [b.text for b in p.d.find_elements(By.CSS_SELECTOR, "#check-result .candidate")]
        # What the API answers at the point the page checked, with the plan the page used.
        checked = p.js("const d = document.getElementById('check-result').dataset; return [Number(d.lon), Number(d.lat)];")
        expected = api("POST", "/feasibility", {"lat": checked[1], "lon": checked[0]})
        assert shown_ids == [c["box_id"] for c in expected["candidates"]], (shown_ids, expected)
        assert shown_ids, "no candidate shown"
        neighbours = {f"CTO-{(i + di) * int(SIDE) + j + dj:06}" for di in (0, 1) for dj in (0, 1)}
        assert shown_ids[0] in neighbours, (shown_ids, neighbours)
        p.idle()
        # The box panel: splitters and port states, from a box clicked on the map...
        box = i * int(SIDE) + j
        p.click_map_at(LON0 + j * STEP, LAT0 + i * STEP)
        p.wait.until(lambda d: p.js("return document.getElementById('box-detail').dataset.box") == f"CTO-{box:06}")
        used = box % 9
        states = [c.get_attribute("class") for c in p.d.find_elements(By.CSS_SELECTOR, "#box-detail .port")]
        assert states == ["port used"] * used + ["port free"] * (8 - used), states
        # ... and from a candidate of the list.
        p.d.find_element(By.CSS_SELECTOR, "#check-result .candidate").click()
        p.wait.until(lambda d: p.js("return document.getElementById('box-detail').dataset.box") == shown_ids[0])
        assert p.d.find_elements(By.CSS_SELECTOR, "#box-detail .port")
        p.shot("check.png")
        p.quiet("click-to-check")

        # Reservations: confirm, then complete, each row following without a reload.
        r = reserve(5, "console-en")
        p.nav("reservations")
        p.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#res-list tr[data-code='{r['code']}']"))
        assert p.row_buttons(r["code"]) == ["Confirm", "Cancel"], p.row_buttons(r["code"])
        p.js("window.__notReloaded = true;")
        p.press(r["code"], "Confirm")
        p.wait_status(r["code"], "confirmed")
        assert p.row_buttons(r["code"]) == ["Cancel", "Complete"], p.row_buttons(r["code"])
        assert api("GET", f"/reservations/{r['id']}")["status"] == "confirmed"
        p.shot("reservations.png")
        p.press(r["code"], "Complete")
        p.wait_status(r["code"], "installed")
        assert p.row_buttons(r["code"]) == []
        assert p.js("return window.__notReloaded === true")
        # Filters: by code.
        form = p.by_id("res-filters")
        form.find_element(By.NAME, "code").send_keys(r["code"])
        today = time.strftime("%m%d%Y", time.gmtime())
        form.find_element(By.NAME, "created_from").send_keys(today)
        form.find_element(By.NAME, "created_to").send_keys(today)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        p.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#res-list tbody tr")) == 1)
        # The install is among those the inventory has not caught up with.
        p.nav("installs")
        p.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#inst-list tr[data-code='{r['code']}']"))
        p.quiet("reservations")

        # Settings: a bad value is refused with the API's detail, a good one is saved.
        p.nav("settings")
        p.wait.until(lambda d: p.by_id("set-default").get_attribute("value") == "250")
        field = p.by_id("set-default")
        field.clear()
        field.send_keys("5000")
        p.d.find_element(By.CSS_SELECTOR, "#settings-form button[type=submit]").click()
        p.wait.until(lambda d: p.by_id("settings-error").text)
        refusal = p.by_id("settings-error").text
        assert "default_radius_m" in refusal and "max" in refusal, refusal
        # Chrome notes the refused request itself: the one expected entry.
        p.quiet("a refused setting", expected=["/settings - Failed to load resource: the server responded with a status of 422"])
        field.clear()
        field.send_keys("300")
        p.d.find_element(By.CSS_SELECTOR, "#settings-form button[type=submit]").click()
        p.wait.until(lambda d: p.by_id("settings-msg").text == "Saved.")
        assert api("GET", "/settings")["default_radius_m"] == 300
        p.shot("settings.png")
        # Integrations: the list, and one opened with its keys and webhooks.
        p.nav("integrations")
        p.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#int-list table"))
        p.d.find_element(By.CSS_SELECTOR, "#int-list button[aria-label='Open site']").click()
        p.wait.until(lambda d: "fsk_" in p.by_id("int-detail").text)
        p.shot("integrations.png")
        p.quiet("admin")
        return signin_ms, click_ms
    finally:
        p.d.quit()


def portuguese():
    p = Page("pt-BR")
    try:
        p.sign_in(TOKEN, "Chave ou token", "Entrar")
        p.wait_boxes()
        labels = [b.text for b in p.d.find_elements(By.CSS_SELECTOR, "#nav button[data-view]")]
        assert labels[:2] == ["Mapa", "Reservas"], labels
        assert p.by_id("map").get_attribute("aria-label") == "Mapa"
        r = reserve(7, "console-pt")
        p.nav("reservations")
        p.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#res-list tr[data-code='{r['code']}']"))
        assert p.row_buttons(r["code"]) == ["Confirmar", "Cancelar"], p.row_buttons(r["code"])
        p.press(r["code"], "Confirmar")
        p.wait_status(r["code"], "confirmed")
        assert p.row_buttons(r["code"]) == ["Cancelar", "Concluir"], p.row_buttons(r["code"])
        p.press(r["code"], "Cancelar")
        p.wait_status(r["code"], "cancelled")
        p.shot("reservations-pt.png")
        p.quiet("portuguese")
    finally:
        p.d.quit()


def feasibility_key():
    """A key with only the feasibility module sees the map and nothing it cannot use."""
    p = Page("en-US")
    try:
        p.sign_in(KEY, "Key or token", "Sign in")
        assert p.wait_boxes() == BOXES
        visible = [b.get_attribute("data-view") for b in p.d.find_elements(By.CSS_SELECTOR, "#nav button[data-view]") if b.is_displayed()]
        assert visible == ["map"], visible
        p.quiet("a feasibility key")
    finally:
        p.d.quit()


def demand():
    """The demand layer, off until switched on, then the cells of the checks made by the
    clicks before (counted, and flushed within a second)."""
    p = Page("en-US")
    try:
        p.sign_in(TOKEN, "Key or token", "Sign in")
        p.wait_boxes()
        assert p.js("return document.getElementById('map-status').dataset.demand") is None
        p.d.find_element(By.ID, "demand").click()
        p.wait.until(lambda d: p.js("return document.getElementById('map-status').dataset.demand") is not None)
        cells = int(p.js("return document.getElementById('map-status').dataset.demand"))
        assert cells > 0, "the clicks' checks are counted as demand and drawn"
        assert p.js("return window.ftthConsole.map.getLayoutProperty('demand-fill', 'visibility')") == "visible"
        p.shot("demand.png")
        p.quiet("the demand layer")
    finally:
        p.d.quit()


if __name__ == "__main__":
    signin_ms, click_ms = english()
    portuguese()
    feasibility_key()
    demand()
    print(f"console: {BOXES} boxes, sign-in to boxes drawn {signin_ms:.0f} ms, click to candidates {click_ms:.1f} ms")
    sys.exit(0)
