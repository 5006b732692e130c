"""The dashboard page (``GET /dasbor`` and its two assets): how it is served, what its files may and may not
contain, and, when ``node`` is installed, its script run under node against a tiny DOM shim: the chart
models, the sign-in/out flow, the error messages, escaping, and a render of real answers of the dashboard
API (PostgreSQL, complaints made with the workflow's handlers) whose every request is then replayed
against that API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from pengaduan import apps, registry
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.entrypoints import page
from services.dashboard.entrypoints.api import create_app, create_full_app
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.auth import Principal
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.auth import bearer_token
from tests.support.colours import contrast
from tests.support.complaints import record_complaint

STATIC = Path(page.__file__).resolve().parent.parent / "static"
HTML, JS, CSS = (STATIC / "dasbor.html", STATIC / "dasbor.js", STATIC / "dasbor.css")
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # an XML namespace name in the JS, never fetched
SITE_LINKS = ("/", "/buku-rekap")  # the web app's pages (same origin) the header links to
SESSION_PATHS = {
    "/sesi/token",
    "/sesi/keluar",
}  # the web app's session, for one sign-in (services/web/entrypoints/sesi.py)
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed here: the page's script is not run")

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=WIB)
XSS_SUBJECT = '<script>alert("subjek")</script>'
XSS_AGENCY = "<img src=x onerror=alert(1)>"
XSS_KECAMATAN = "Uji <b>Satu</b>"


# -- serving -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def full_client():
    """The dashboard API exactly as `pengaduan api dashboard` serves it; the page needs no database."""
    with TestClient(create_full_app()) as c:
        yield c


def test_the_page_is_served_with_a_strict_content_security_policy(full_client):
    r = full_client.get("/dasbor")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe" not in csp and "http" not in csp and "*" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert '<html lang="id">' in r.text
    assert "authorization" not in {k.lower() for k in r.request.headers}  # public: the data needs the token

    again = full_client.get("/dasbor", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert full_client.head("/dasbor").status_code == 200
    slash = full_client.get("/dasbor/", follow_redirects=False)
    assert slash.status_code == 308 and slash.headers["location"] == "/dasbor"


def test_the_assets_are_served_with_their_types_and_nothing_else_is(full_client):
    js = full_client.get("/dasbor/static/dasbor.js")
    assert js.status_code == 200 and js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert js.content == JS.read_bytes() and js.headers["x-content-type-options"] == "nosniff"
    css = full_client.get("/dasbor/static/dasbor.css")
    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert full_client.get("/dasbor/static/dasbor.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304
    for path in (
        "/dasbor/static/dasbor.html",
        "/dasbor/static/nope.js",
        "/dasbor/static/..%2Fentrypoints%2Fpage.py",
        "/dasbor/static/%2e%2e/entrypoints/page.py",
        "/dasbor/static/",
    ):
        r = full_client.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"


def test_the_page_is_a_route_of_the_dashboard_app_outside_its_openapi_document(full_client):
    assert full_client.app.url_path_for("page") == "/dasbor"
    assert full_client.app.url_path_for("asset", name="dasbor.js") == "/dasbor/static/dasbor.js"
    assert not any(p.startswith("/dasbor") for p in full_client.get("/openapi.json").json()["paths"])


def test_the_gateway_sends_the_page_and_its_data_where_they_are_served():
    assert registry.route_for("POST", "/v1/auth/token") == "workflow"
    assert registry.route_for("GET", "/v1/kecamatan") == "workflow"
    for path in (
        "/v1/dashboard/summary",
        "/v1/dashboard/steps",
        "/v1/dashboard/overdue",
        "/v1/dashboard/referrals",
        "/v1/register",
    ):
        assert registry.route_for("GET", path) == "dashboard", path
    for path in ("/dasbor", "/dasbor/", "/dasbor/static/dasbor.js", "/dasbor/static/dasbor.css"):
        assert registry.route_for("GET", path) == "dashboard", path


# -- the files ------------------------------------------------------------------------------------------------------
class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text += data


@pytest.fixture(scope="module")
def parsed() -> Page:
    p = Page()
    p.feed(HTML.read_text(encoding="utf-8"))
    return p


def test_the_files_are_small_and_name_no_other_site():
    files = [HTML, JS, CSS]
    total = sum(f.stat().st_size for f in files)
    # 60 KB until the complainants' satisfaction was added (issue #18 item 1: ~2.5 KB); gzip, ~19 KB
    assert total < 64_000, f"HTML+JS+CSS is {total} bytes"
    for f in files:
        text = f.read_text(encoding="utf-8")
        urls = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text, flags=re.IGNORECASE)
        assert [u for u in urls if u != SVG_NAMESPACE] == [], f.name
        assert "@import" not in text and "url(" not in text.replace("url(#", "")
    assert JS.read_text().count(SVG_NAMESPACE) == 1


def test_the_html_is_labelled_in_indonesian_and_has_no_inline_code_or_style(parsed):
    text = HTML.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and '<html lang="id">' in text
    tags = parsed.tags
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in tags)
    ids = [a["id"] for _, a in tags if a.get("id")]
    assert len(ids) == len(set(ids)), "ids are unique"
    labels = {a.get("for") for t, a in tags if t == "label"}
    fields = [(t, a) for t, a in tags if t in ("input", "select", "textarea") and a.get("type") != "hidden"]
    assert len(fields) == 5
    for t, a in fields:
        assert a.get("id") in labels or a.get("aria-label"), f"{t} {a} has no label"
    for t, a in tags:
        assert "style" not in a and not any(k.startswith("on") for k in a), f"<{t}> has inline style or handler"
        if "tabindex" in a:
            assert int(a["tabindex"]) <= 0, "no positive tabindex: the focus order is the document order"
        if t == "button":
            assert a.get("type") in ("button", "submit")
    assert "style" not in {t for t, _ in tags}
    scripts = [a for t, a in tags if t == "script"]
    assert scripts == [{"src": "/dasbor/static/dasbor.js", "defer": None}] and parsed.script_text.strip() == ""
    for t, a in tags:  # noqa: B007
        for key in ("src", "href"):
            if a.get(key):
                assert a[key].startswith(("/dasbor/static/", "#")) or (key == "href" and a[key] in SITE_LINKS), a[key]
    links = [a["href"] for t, a in tags if t == "a" and a.get("href") in SITE_LINKS]
    assert links == ["/", "/buku-rekap"], "the header links the web app's home and Buku Rekap"
    assert any(t == "nav" and a.get("aria-label") for t, a in tags), "the links are a labelled navigation"
    words = " ".join(re.findall(r">([^<]+)<", text)).lower()
    for english in ("login", "logout", "password", "download", "loading", "error"):
        assert english not in words


def test_the_script_never_writes_markup_nor_keeps_the_token_anywhere_but_session_storage():
    source = JS.read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "localStorage",
        "document.cookie",
        "DOMParser",
        "createContextualFragment",
        "srcdoc",
    ):
        assert forbidden not in code, forbidden
    assert not re.search(r"setAttribute\(\s*[\"'](?:style|on\w+)", code)
    assert not re.search(r"[\"']on\w+[\"']\s*:", code), "no event handler attributes"
    assert "sessionStorage" in code
    assert not re.search(r"tabindex\"?\s*[:,]\s*\"?\+?[1-9]", code), "no positive tabindex"


def test_the_script_calls_only_same_origin_v1_paths_and_the_two_session_paths():
    code = re.sub(r"/\*.*?\*/", "", JS.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert code.count("fetch(") == 1, "one place calls fetch: request()"
    assert "XMLHttpRequest" not in code and "WebSocket" not in code and "EventSource" not in code
    paths = re.findall(r"[\"'](/[\w./?=&-]*)[\"']", code)  # every quoted path-like string
    assert paths and all(p.startswith("/v1/") or p in SESSION_PATHS for p in paths), paths
    assert set(paths) >= SESSION_PATHS
    assert [u for u in re.findall(r"[\"'][a-z]*:?//[^\"']*[\"']", code) if SVG_NAMESPACE not in u] == []
    called = re.findall(r"(?:request|getJson)\(\s*\"([^\"]+)\"", code)
    assert set(called) == {
        "/v1/auth/token",
        "/v1/kecamatan",  # the kabupaten's time zone (public: sent without the token)
        "/v1/dashboard/summary",
        "/v1/dashboard/steps",
        "/v1/dashboard/overdue",
        "/v1/dashboard/referrals",
        "/v1/register",
        *SESSION_PATHS,
    }
    assert re.search(r'var sesi = path === "/sesi/token" \|\| path === "/sesi/keluar";', code), "exactly these two"
    assert re.search(r'path\.indexOf\("/v1/"\) !== 0 && !sesi', code), "request() refuses anything else"
    # the cookie goes only to the session paths; the bearer token never does
    assert 'credentials: sesi ? "same-origin" : "omit"' in code
    assert code.count("credentials:") == 1


def test_the_style_sheet_keeps_hidden_things_hidden_and_its_colours_contrasted():
    css = CSS.read_text(encoding="utf-8")
    assert re.search(r"\[hidden\]\s*\{\s*display:\s*none\s*!important", css), (
        "hidden stays hidden whatever the display rules"
    )
    var = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", css))
    text_pairs = [
        ("tinta", "latar"),
        ("tinta", "halaman"),
        ("tinta", "pilih"),
        ("redup", "latar"),
        ("redup", "halaman"),
        ("aksen", "latar"),
        ("aksen-teks", "aksen"),
        ("galat", "galat-latar"),
        ("galat", "latar"),
        ("s-lambat", "latar"),
    ]
    for fg, bg in text_pairs:
        assert contrast(var[fg], var[bg]) >= 4.5, (fg, bg, round(contrast(var[fg], var[bg]), 2))
    for mark in ("s-proses", "s-tunggu", "s-limpah", "s-selesai", "s-lambat", "s-lain", "fokus", "garis"):
        for bg in ("latar", "halaman"):
            assert contrast(var[mark], var[bg]) >= 3, (mark, bg)


# -- the script under node -------------------------------------------------------------------------------------------
SHIM = r"""
"use strict";
const assert = require("node:assert/strict");
const HTML_NS = "http://www.w3.org/1999/xhtml";

class TextNode {
  constructor(data) { this.nodeType = 3; this.data = String(data); this.parentNode = null; this.childNodes = []; }
  get textContent() { return this.data; }
}

class Elem {
  constructor(doc, name, ns) {
    this.ownerDocument = doc; this.nodeType = 1; this.localName = name; this.namespaceURI = ns;
    this.childNodes = []; this.attrs = new Map(); this.listeners = {}; this.parentNode = null;
    this.hidden = false; this.value = ""; this.disabled = false;
  }
  get firstChild() { return this.childNodes[0] || null; }
  get id() { return this.getAttribute("id") || ""; }
  appendChild(c) { if (c.parentNode) c.parentNode.removeChild(c); c.parentNode = this; this.childNodes.push(c); return c; }
  removeChild(c) {
    const i = this.childNodes.indexOf(c);
    if (i < 0) throw new Error("not a child");
    this.childNodes.splice(i, 1); c.parentNode = null; return c;
  }
  setAttribute(k, v) {
    if (/^on/i.test(k) || k === "style") throw new Error("attribute " + k + " set");
    this.attrs.set(k, String(v));
  }
  getAttribute(k) { return this.attrs.has(k) ? this.attrs.get(k) : null; }
  removeAttribute(k) { this.attrs.delete(k); }
  addEventListener(t, f) { (this.listeners[t] = this.listeners[t] || []).push(f); }
  fire(t, extra) {
    const ev = Object.assign({ type: t, target: this, defaultPrevented: false,
      preventDefault() { this.defaultPrevented = true; } }, extra || {});
    (this.listeners[t] || []).forEach((f) => f(ev));
    return ev;
  }
  click() { this.ownerDocument.clicked.push(this); this.fire("click"); }
  focus() { this.ownerDocument.activeElement = this; }
  scrollIntoView() {}
  get clientWidth() { return this.ownerDocument.width; }
  get textContent() { return this.childNodes.map((c) => c.textContent).join(""); }
  set textContent(v) { this.childNodes.forEach((c) => { c.parentNode = null; }); this.childNodes = []; if (v !== "") this.appendChild(new TextNode(v)); }
  set innerHTML(v) { throw new Error("innerHTML set"); }
  get innerHTML() { throw new Error("innerHTML read"); }
  set outerHTML(v) { throw new Error("outerHTML set"); }
  insertAdjacentHTML() { throw new Error("insertAdjacentHTML"); }
  *walk() { for (const c of this.childNodes) if (c.nodeType === 1) { yield c; yield* c.walk(); } }
  matches(sel) {
    const m = /^([a-z0-9]+)?(?:\[([a-z-]+)="([^"]*)"\])?$/.exec(sel);
    if (!m) throw new Error("selector not supported by the shim: " + sel);
    return (!m[1] || this.localName === m[1]) && (!m[2] || this.getAttribute(m[2]) === m[3]);
  }
  querySelectorAll(sel) { return [...this.walk()].filter((e) => e.matches(sel)); }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
}

class Store {
  constructor(items) { this.m = new Map(Object.entries(items || {})); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
  get size() { return this.m.size; }
}

function makeDocument(elements, width) {
  const doc = {
    width, clicked: [], activeElement: null, byId: new Map(), readyState: "complete",
    createElement(n) { return new Elem(doc, n, HTML_NS); },
    createElementNS(ns, n) { return new Elem(doc, n, ns); },
    createTextNode(t) { return new TextNode(t); },
    getElementById(id) { return doc.byId.get(id) || null; },
    get cookie() { throw new Error("document.cookie read"); },
    set cookie(v) { throw new Error("document.cookie set"); },
    write() { throw new Error("document.write"); },
    all() { return [...doc.body.walk()]; },
  };
  doc.body = new Elem(doc, "body", HTML_NS);
  for (const [id, tag, hidden] of elements) {
    const e = new Elem(doc, tag, HTML_NS);
    e.attrs.set("id", id); e.hidden = hidden;
    doc.body.appendChild(e); doc.byId.set(id, e);
  }
  return doc;
}

function response(status, body, headers) {
  const h = Object.fromEntries(Object.entries(headers || {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    ok: status >= 200 && status < 300, status,
    headers: { get: (n) => h[n.toLowerCase()] || null },
    json: async () => { if (typeof body === "string") throw new SyntaxError("not JSON"); return JSON.parse(JSON.stringify(body)); },
    blob: async () => new Blob([typeof body === "string" ? body : JSON.stringify(body)]),
  };
}

function setup(opts) {
  const elements = JSON.parse(require("node:fs").readFileSync(opts.elementsFile, "utf8"));
  const doc = makeDocument(elements, opts.width || 360);
  const calls = [];
  const win = { sessionStorage: new Store(opts.session), innerWidth: 360, addEventListener() {} };
  Object.defineProperty(win, "localStorage", { get() { throw new Error("localStorage used"); } });
  Object.defineProperty(globalThis, "localStorage", { get() { throw new Error("localStorage used"); }, configurable: true });
  globalThis.window = win;
  globalThis.document = doc;
  const env = { doc, calls, win, responder: null };
  globalThis.fetch = async (url, init) => {
    calls.push({ url, init });
    return env.responder(url, init || {});
  };
  env.dasbor = require(opts.script);
  return env;
}

async function flush(n) { for (let i = 0; i < (n || 30); i++) await new Promise((r) => setImmediate(r)); }

function text(doc, id) { return doc.getElementById(id).textContent; }

function noMarkupElements(doc) {
  const bad = doc.all().filter((e) => ["script", "img", "iframe", "object", "embed", "style", "link", "b"].includes(e.localName));
  assert.deepEqual(bad.map((e) => e.localName), []);
}

module.exports = { assert, setup, flush, response, text, noMarkupElements, Store };
"""

PURE = r"""
const { assert, setup } = require("./shim.js");
const { dasbor: d } = setup({ elementsFile: process.argv[2], script: process.argv[3] });

assert.equal(d.formatDate("2026-11-28"), "28 November 2026");
assert.equal(d.formatDate("2026-02-01"), "1 Februari 2026");
assert.equal(d.formatDate("bukan tanggal"), "");
assert.equal(d.formatDateTime("2026-02-05T02:00:00Z"), "5 Februari 2026 09.00 WIB");  // TZ=Asia/Jakarta
assert.equal(d.formatNumber(12345.67), "12.345,7");
assert.equal(d.formatNumber(0), "0");
assert.equal(d.formatNumber(null), "–");
assert.equal(d.formatPercent(0.75), "75%");
assert.equal(d.formatPercent(2 / 3), "66,7%");
assert.equal(d.formatPercent(null), "–");
assert.equal(d.formatMinutes(15), "15 menit");
assert.equal(d.formatMinutes(125), "2 jam 5 menit");
assert.equal(d.formatMinutes(900), "15 jam");
assert.equal(d.formatMinutesShort(192), "3,2 jam");
assert.deepEqual(d.defaultPeriod(new Date(2026, 10, 28)), { from: "2026-01-01", to: "2026-11-28" });
assert.equal(d.queryString({ kecamatan: "a b&c", from: "", to: "2026-01-02", x: null }), "?kecamatan=a%20b%26c&to=2026-01-02");
assert.equal(d.queryString({}), "");

const months = d.monthSeries({ "2026-02": 3, "2026-04": 1 }, "2025-12-15", "2026-04-30");
assert.deepEqual(months.map((m) => [m.key, m.value, m.label, m.year]), [
  ["2025-12", 0, "Des", "2025"], ["2026-01", 0, "Jan", "2026"], ["2026-02", 3, "Feb", null], ["2026-03", 0, "Mar", null],
  ["2026-04", 1, "Apr", null]]);
assert.equal(months[2].title, "Februari 2026");
assert.deepEqual(d.monthSeries({ "2026-03": 2 }, "", "").map((m) => m.key), ["2026-03"]);

// stacked bars: segments side by side, proportional, the longest bar fills the scale
const bars = d.buildBars([
  { id: "a", label: "Kecamatan A", segments: [{ key: "x", value: 2 }, { key: "y", value: 0 }, { key: "z", value: 3 }], text: "5" },
  { id: "b", label: "Kecamatan B", segments: [{ key: "x", value: 1 }], text: "1" },
], { width: 400, valueWidth: 100 });
assert.equal(bars.width, 400);
assert.equal(bars.barW, 296);
assert.equal(bars.rows[0].segments.length, 2, "empty segments are left out");
const [s1, s2] = bars.rows[0].segments;
assert.equal(s1.x, 4); assert.equal(s2.x, s1.x + s1.w);
assert.ok(Math.abs(s1.w / s2.w - 2 / 3) < 1e-9);
assert.ok(Math.abs(bars.rows[0].end - (4 + 296)) < 1e-9);
assert.ok(Math.abs(bars.rows[1].end - (4 + 296 / 5)) < 1e-9);
assert.ok(bars.rows[1].y > bars.rows[0].y && bars.height >= bars.rows[1].y + bars.rows[1].h);
// a fixed scale clips what goes past it, and says so; a long label is shortened to the width
const clipped = d.buildBars([{ id: "c", label: "x".repeat(200), segments: [{ key: "m", value: 7 }], marker: 1 }], { width: 300, max: 5 });
assert.equal(clipped.rows[0].clipped, true);
assert.ok(Math.abs(clipped.rows[0].end - (4 + clipped.barW)) < 1e-9);
assert.ok(Math.abs(clipped.rows[0].markerX - (4 + clipped.barW / 5)) < 1e-9);
assert.ok(clipped.rows[0].label.length < 60 && clipped.rows[0].label.endsWith("…"));
assert.equal(clipped.rows[0].fullLabel.length, 200);
assert.equal(d.buildBars([], { width: 100 }).width, 240, "never narrower than 240");

const cols = d.buildColumns(d.monthSeries({ "2026-01": 4, "2026-02": 2 }, "2026-01-01", "2026-03-31"), { width: 300, height: 190 });
assert.equal(cols.columns.length, 3);
assert.equal(cols.columns[0].y + cols.columns[0].h, cols.baseY);
assert.ok(Math.abs(cols.columns[1].h * 2 - cols.columns[0].h) < 1e-9);
assert.equal(cols.columns[2].h, 0);
assert.equal(cols.columns[0].title, "Januari 2026: 4");

// steps: the bar is median / standard, a slow step is flagged in colour, in text and in its title
const steps = d.stepRows([
  { kecamatan: "k", step: 4, step_name: "Verifikasi substansi", role: "camat", standard_minutes: 900, median_minutes: 1800 },
  { kecamatan: "k", step: 2, step_name: "Verifikasi identitas", role: "kasi", standard_minutes: 1350, median_minutes: 60 },
], "4");
assert.deepEqual(steps.map((r) => r.id), ["2", "4"]);
assert.equal(steps[1].segments[0].value, 2);
assert.equal(steps[1].segments[0].cls, "s-lambat");
assert.ok(steps[1].text.endsWith("▲") && steps[1].title.includes("melewati standar"));
assert.ok(steps[1].cls.includes("dipilih") && !steps[0].cls.includes("lambat"));
assert.equal(d.stepScale(steps), 2 * 1.05);

// SVG: a title, role img or group, rows as buttons only when they can be picked
const svgModel = d.buildBars(steps, { width: 360, max: d.stepScale(steps) });
const picked = [];
const svg = d.drawBars(svgModel, "Judul <b>grafik</b>", "Keterangan", (id) => picked.push(id));
assert.equal(svg.localName, "svg");
assert.equal(svg.namespaceURI, "http://www.w3.org/2000/svg");
assert.equal(svg.getAttribute("role"), "group");
assert.equal(svg.getAttribute("viewBox"), "0 0 360 " + svgModel.height);
const title = svg.childNodes[0];
assert.equal(title.localName, "title");
assert.equal(title.textContent, "Judul <b>grafik</b>");
assert.equal(svg.getAttribute("aria-labelledby"), title.getAttribute("id"));
const rows = svg.querySelectorAll('g[role="button"]');
assert.equal(rows.length, 2);
assert.equal(rows[0].getAttribute("tabindex"), "0");
assert.equal(rows[1].getAttribute("aria-pressed"), "true");
assert.equal(svg.querySelectorAll("line").length, 2, "one standard marker per step");
rows[0].fire("click");
const ev = rows[1].fire("keydown", { key: "Enter" });
rows[1].fire("keydown", { key: " " });
rows[1].fire("keydown", { key: "Tab" });
assert.deepEqual(picked, ["2", "4", "4"]);
assert.equal(ev.defaultPrevented, true);
const still = d.drawBars(svgModel, "Tanpa pilihan", null, null);
assert.equal(still.getAttribute("role"), "img");
assert.equal(still.querySelectorAll('g[role="button"]').length, 0);

const t = d.table("Tabel", ["Nama", "Jumlah"], [["<script>x</script>", "1"]], [false, true]);
assert.equal(t.querySelector("caption").textContent, "Tabel");
assert.equal(t.querySelector("tbody").querySelector("th").textContent, "<script>x</script>");
assert.equal(t.querySelector("tbody").querySelector("th").getAttribute("scope"), "row");
assert.equal(d.table("Kosong", ["A"], []).querySelector("td").textContent, "Tidak ada data.");

assert.equal(d.failureMessage(401, { message: "x" }, false), d.PESAN.sesi);
assert.equal(d.failureMessage(401, { message: "Nama pengguna atau kata sandi salah." }, true), "Nama pengguna atau kata sandi salah.");
assert.equal(d.failureMessage(403, { message: "Bukan kecamatan Anda." }), "Akses ditolak: Bukan kecamatan Anda.");
assert.equal(d.failureMessage(403, {}), d.PESAN.terlarang);
assert.ok(d.failureMessage(422, { message: "Ada isian yang belum benar.", errors: [{ message: "Tanggal salah." }] }).endsWith("Tanggal salah."));
assert.ok(d.failureMessage(503, {}).includes("(kode 503)"));

// a referral the kecamatan follows is a status of its own (open, not the kecamatan's overdue work)
const byStatus = d.statusRows({ kecamatan: [{ kecamatan: { slug: "a", name: "A" }, total: 3, by_status: { referred: 1, closed: 2 } }] }, null);
assert.deepEqual(byStatus[0].segments.map((x) => [x.key, x.value, x.cls]), [["in_progress", 0, "s-in_progress"],
  ["awaiting_documents", 0, "s-awaiting_documents"], ["referred", 1, "s-referred"], ["objection", 0, "s-objection"],
  ["closed", 2, "s-closed"]]);
assert.equal(byStatus[0].title, "A: 3 pengaduan (Dilimpahkan, dipantau 1, Selesai / ditutup 2)");
assert.equal(d.referralStates({ lapsed: 2, followed: 1 }), " Masih dipantau 1, tanpa tanggapan sampai batas pemantauan 2.");
assert.equal(d.referralStates({ unfollowed: 3 }), " Ditutup saat dilimpahkan 3.");
assert.equal(d.referralStates(undefined), "");
console.log("ok");
"""

FLOW = r"""
const { assert, setup, flush, response, text, noMarkupElements } = require("./shim.js");
const env = setup({ elementsFile: process.argv[2], script: process.argv[3] });
const { doc, calls, win, dasbor: d } = env;
const $ = (id) => doc.getElementById(id);
const K = (slug, name) => ({ slug, name, kabupaten: "kab" });
// GET /v1/kecamatan: the kabupaten's zone (WIB here); another kabupaten's kecamatan in WITA
const DIRECTORY = [Object.assign(K("satu", "<b>Satu</b>"), { time_zone: "Asia/Jakarta", time_zone_label: "WIB" }),
  Object.assign(K("dua", "Dua"), { time_zone: "Asia/Jakarta", time_zone_label: "WIB" }),
  { slug: "jauh", name: "Jauh", kabupaten: "lain", time_zone: "Asia/Makassar", time_zone_label: "WITA" }];
const sla = (o) => Object.assign({ closed: 0, closed_within: 0, closed_late: 0, closed_within_share: null, open: 0, open_late: 0 }, o);
const fig = (o) => Object.assign({ total: 0, by_channel: {}, by_status: {}, by_outcome: {}, by_month: {}, sla: sla() }, o);
const SUMMARY = { period: {}, as_of: "2026-03-31T05:00:00Z", kecamatan: [
  Object.assign(fig({ total: 3, by_channel: { web: 2, sms: 1 }, by_status: { closed: 2, in_progress: 1 }, by_month: { "2026-02": 3 },
    sla: sla({ closed: 2, closed_within: 1, closed_late: 1, closed_within_share: 0.5, open: 1, open_late: 1 }) }), { kecamatan: K("satu", "<b>Satu</b>") }),
  Object.assign(fig({ total: 1, by_channel: { kotak: 1 }, by_status: { awaiting_documents: 1 }, by_month: { "2026-01": 1 } }), { kecamatan: K("dua", "Dua") }),
], total: fig({ total: 4, by_channel: { web: 2, sms: 1, kotak: 1 } }) };
const STEPS = { period: {}, items: [
  { kecamatan: "dua", step: 2, step_name: "Melakukan Verifikasi Identitas Pengadu", role: "kasi", standard_minutes: 1350, count: 2,
    within_standard: 1, within_standard_share: 0.5, median_minutes: 2000, p90_minutes: 2500, mean_minutes: 2100, max_minutes: 2600 },
  { kecamatan: "dua", step: 3, step_name: "Memberi nomor", role: "staf", standard_minutes: 15, count: 2, within_standard: 2,
    within_standard_share: 1, median_minutes: 10, p90_minutes: 12, mean_minutes: 10, max_minutes: 12 }] };
const OVERDUE = { as_of: "2026-03-31T05:00:00Z", total: 1, items: [{ complaint_id: "c", tracking_code: "ABCD-1234", kecamatan: "satu",
  register_number: null, subject: "<script>alert(1)</script>", channel: "web", received_at: "2026-02-02T02:00:00Z",
  step: { number: 2, name: "Melakukan Verifikasi Identitas Pengadu" }, role: "kasi", unit: null, step_started_at: null,
  due_at: "2026-02-05T02:00:00Z", overdue_minutes: 100, overdue_working_days: 30.5, deadline_at: null, complainant: {} }] };
const REFERRALS = { period: {}, total: 2, by_kind: { opd: 2 }, by_state: { answered: 1, followed: 1 },
  by_agency: [{ agency: "<img src=x onerror=alert(1)>", agency_kind: "opd", count: 2 }], items: [] };
const TOKEN_OK = { access_token: "tok-1", token_type: "bearer", expires_in: 28800,
  user: { username: "kabupaten.kab", full_name: "Operator <i>Kabupaten</i>", role: "kabupaten", kecamatan: null, kabupaten: "kab" } };

let mode = "ok";
env.responder = (url, init) => {
  const path = url.split("?")[0];
  if (mode === "network") return Promise.reject(new TypeError("Failed to fetch"));
  if (path === "/sesi/token") return response(401, { code: "not_authenticated", message: "Silakan masuk terlebih dahulu.", errors: [] });
  if (path === "/sesi/keluar") return response(204, "");
  if (path === "/v1/kecamatan") return response(200, DIRECTORY);
  if (path === "/v1/auth/token") {
    return mode === "wrong" ? response(401, { code: "invalid_credentials", message: "Nama pengguna atau kata sandi salah.", errors: [] })
      : response(200, mode === "staff" ? Object.assign({}, TOKEN_OK, { access_token: "tok-staf" }) : TOKEN_OK);
  }
  if (mode === "expired") return response(401, { code: "token_expired", message: "Sesi Anda sudah berakhir.", errors: [] });
  if (mode === "forbidden") return response(403, { code: "kecamatan_forbidden", message: "Anda tidak berhak melihat data Kecamatan Dua.", errors: [] });
  if (mode === "broken") return response(502, "<html>Bad gateway</html>");
  if (path === "/v1/dashboard/summary") return response(200, mode === "staff" ? Object.assign({}, SUMMARY, { kecamatan: [SUMMARY.kecamatan[1]] }) : SUMMARY);
  if (path === "/v1/dashboard/steps") return response(200, STEPS);
  if (path === "/v1/dashboard/overdue") return response(200, OVERDUE);
  if (path === "/v1/dashboard/referrals") return response(200, REFERRALS);
  if (path === "/v1/register") return response(200, "PK-xlsx", { "Content-Disposition": 'attachment; filename="buku-rekap-pengaduan-dua.xlsx"' });
  return response(404, { code: "not_found", message: "Alamat tidak ditemukan.", errors: [] });
};
const headersOf = (c) => c.init.headers || {};

(async () => {
  // not signed in (no token here, none in the web session): the form, without a message
  d.boot();
  await flush();
  assert.equal($("masuk").hidden, false);
  assert.equal($("dasbor").hidden, true);
  assert.deepEqual(calls.map((c) => c.url), ["/sesi/token"]);
  assert.equal(text(doc, "galat-masuk"), "");
  assert.equal(text(doc, "status"), "");
  calls.length = 0;
  const today = new Date();
  assert.equal($("f-dari").value, today.getFullYear() + "-01-01");
  assert.match($("f-sampai").value, /^\d{4}-\d{2}-\d{2}$/);

  // empty form: a message, no request
  let ev = $("form-masuk").fire("submit");
  assert.equal(ev.defaultPrevented, true);
  assert.equal(text(doc, "galat-masuk"), "Isi nama pengguna dan kata sandi.");
  assert.equal(doc.activeElement, $("username"));
  assert.equal(calls.length, 0);

  // wrong password: the server's message
  $("username").value = " kabupaten.kab "; $("password").value = "salah";
  mode = "wrong"; $("form-masuk").fire("submit"); await flush();
  assert.equal(text(doc, "galat-masuk"), "Nama pengguna atau kata sandi salah.");
  assert.equal(win.sessionStorage.size, 0);
  assert.equal(doc.activeElement, $("password"));

  // signed in: the token in sessionStorage only, then the data with the bearer token
  mode = "ok"; $("password").value = "demo & rahasia"; calls.length = 0;
  $("form-masuk").fire("submit"); await flush();
  const login = calls[0];
  assert.equal(login.url, "/v1/auth/token");
  assert.equal(login.init.method, "POST");
  assert.equal(headersOf(login)["Content-Type"], "application/x-www-form-urlencoded");
  assert.equal(headersOf(login).Authorization, undefined);
  assert.equal(login.init.credentials, "omit");
  assert.deepEqual(Object.fromEntries(new URLSearchParams(login.init.body)),
    { grant_type: "password", username: "kabupaten.kab", password: "demo & rahasia" });
  assert.equal(win.sessionStorage.getItem("pengaduan.dasbor.token"), "tok-1");
  assert.equal($("password").value, "");
  assert.equal($("masuk").hidden, true);
  assert.equal($("dasbor").hidden, false);
  assert.equal($("akun").hidden, false);
  assert.equal(text(doc, "nama-pengguna"), "Operator <i>Kabupaten</i> (Kabupaten)");
  // first the kabupaten's time zone (public: no token), then the data with the bearer token
  assert.equal(calls[1].url, "/v1/kecamatan");
  assert.equal(headersOf(calls[1]).Authorization, undefined);
  assert.equal(calls[1].init.credentials, "omit");
  const data = calls.slice(2);
  assert.deepEqual(data.map((c) => c.url.split("?")[0]),
    ["/v1/dashboard/summary", "/v1/dashboard/steps", "/v1/dashboard/overdue", "/v1/dashboard/referrals"]);
  for (const c of data) {
    assert.ok(c.url.startsWith("/v1/"));
    assert.equal(headersOf(c).Authorization, "Bearer tok-1");
    assert.equal(c.init.credentials, "omit");
  }
  assert.ok(data[0].url.includes("from=" + today.getFullYear() + "-01-01&to="));
  assert.ok(!data[1].url.includes("kecamatan="), "all kecamatan");
  assert.ok(data[2].url.includes("limit=100"));

  // the render: values shown literally, never as markup
  noMarkupElements(doc);
  assert.ok(text(doc, "t-terlambat").includes("<script>alert(1)</script>"));
  assert.ok(text(doc, "t-terlambat").includes("ABCD-1234"));
  assert.ok(text(doc, "t-terlambat").includes("5 Februari 2026 09.00 WIB (30,5 hari kerja)"));
  assert.ok(text(doc, "keterangan").endsWith("data per 31 Maret 2026 12.00 WIB"));
  assert.ok(text(doc, "t-limpah").includes("<img src=x onerror=alert(1)>"));
  assert.equal(text(doc, "n-limpah"), "2 pengaduan dilimpahkan: OPD 2. Masih dipantau 1, sudah ditanggapi 1.");
  const options = $("f-kecamatan").querySelectorAll("option");
  assert.deepEqual(options.map((o) => [o.getAttribute("value"), o.textContent]), [["", "Semua kecamatan"], ["satu", "<b>Satu</b>"], ["dua", "Dua"]]);
  assert.ok(text(doc, "keterangan").startsWith("Periode 1 Januari " + today.getFullYear() + " – "));
  assert.ok(text(doc, "keterangan").includes("Semua kecamatan"));
  assert.ok(text(doc, "angka").includes("Pengaduan diterima"));
  const statusSvg = $("g-status").querySelector("svg");
  assert.equal(statusSvg.querySelector("title").textContent.startsWith("Pengaduan per kecamatan menurut status"), true);
  assert.equal(statusSvg.getAttribute("width"), "360", "drawn at the container's width");
  assert.equal($("t-status").querySelector("caption").textContent, "Pengaduan per kecamatan menurut status");
  assert.ok(text(doc, "g-langkah").includes("Pilih satu kecamatan"), "steps need one kecamatan");
  assert.ok(text(doc, "t-langkah").includes("Melakukan Verifikasi Identitas Pengadu"), "the table still has them all");
  assert.equal($("g-bulan").querySelector("svg").getAttribute("role"), "img");
  assert.equal($("g-kanal").querySelector("svg").querySelectorAll("g").length, 3);

  // drill down: the bar of a kecamatan selects it (Enter on the focused bar)
  calls.length = 0;
  const bar = statusSvg.querySelectorAll('g[role="button"]')[1];
  bar.focus();
  bar.fire("keydown", { key: "Enter" });
  await flush();
  assert.equal($("f-kecamatan").value, "dua");
  assert.ok(calls[1].url.startsWith("/v1/dashboard/steps?kecamatan=dua&from="));
  assert.ok(calls[3].url.startsWith("/v1/dashboard/referrals?kecamatan=dua&"));
  const pressed = $("g-status").querySelector('g[aria-pressed="true"]');
  assert.ok(pressed && pressed.getAttribute("aria-label").startsWith("Dua:"));
  assert.equal(doc.activeElement, pressed, "focus comes back to the chosen bar");
  assert.ok(text(doc, "keterangan").includes("Kecamatan Dua"));
  const stepBars = $("g-langkah").querySelector("svg").querySelectorAll('g[role="button"]');
  assert.equal(stepBars.length, 2);
  assert.ok(stepBars[0].getAttribute("class").includes("lambat"), "step 2 is slower than its standard");

  // a step shows its figures
  stepBars[0].fire("click");
  assert.ok(text(doc, "rinci-langkah").startsWith("Langkah 2: Melakukan Verifikasi Identitas Pengadu"));
  assert.ok(text(doc, "rinci-langkah").includes("Langkah ini lambat"));
  assert.ok(text(doc, "rinci-langkah").includes("Sesuai standar1 (50%)"));

  // the register of the chosen kecamatan and period, fetched with the token, saved from a blob
  calls.length = 0;
  $("unduh").fire("click");
  await flush();
  assert.equal(calls.length, 1);
  assert.ok(calls[0].url.startsWith("/v1/register?kecamatan=dua&from="));
  assert.ok(calls[0].url.endsWith("&format=xlsx"));
  assert.equal(headersOf(calls[0]).Authorization, "Bearer tok-1");
  const link = doc.clicked.find((e) => e.localName === "a");
  assert.equal(link.getAttribute("download"), "buku-rekap-pengaduan-dua.xlsx");
  assert.ok(link.getAttribute("href").startsWith("blob:"));
  assert.equal(link.parentNode, null, "the link is removed again");
  assert.equal($("unduh").disabled, false);

  // the period reversed: a message, nothing fetched
  calls.length = 0;
  $("f-dari").value = "2026-03-01"; $("f-sampai").value = "2026-02-01";
  $("saring").fire("submit"); await flush();
  assert.equal(calls.length, 0);
  assert.equal(text(doc, "pesan"), d.PESAN.periode);
  $("f-dari").value = "2026-01-01"; $("f-sampai").value = "2026-03-31";

  // 403, a server error without JSON, the network down: messages in Indonesian, still signed in
  mode = "forbidden"; $("saring").fire("submit"); await flush();
  assert.equal(text(doc, "pesan"), "Akses ditolak: Anda tidak berhak melihat data Kecamatan Dua.");
  mode = "broken"; $("saring").fire("submit"); await flush();
  assert.equal(text(doc, "pesan"), d.PESAN.server + " (kode 502)");
  mode = "network"; $("saring").fire("submit"); await flush();
  assert.equal(text(doc, "pesan"), d.PESAN.jaringan);
  assert.equal($("dasbor").hidden, false);
  mode = "ok"; $("saring").fire("submit"); await flush();
  assert.equal(text(doc, "pesan"), "");

  // 401 while reading: the session is over, back to the form
  mode = "expired"; $("saring").fire("submit"); await flush();
  assert.equal(win.sessionStorage.size, 0);
  assert.equal($("masuk").hidden, false);
  assert.equal($("dasbor").hidden, true);
  assert.equal(text(doc, "galat-masuk"), d.PESAN.sesi);
  assert.equal(doc.activeElement, $("username"));
  assert.equal($("g-status").childNodes.length, 0, "no figures left on the page");
  assert.equal(text(doc, "t-terlambat"), "");

  // a staff user (one kecamatan): it is chosen for the steps; Keluar clears everything
  mode = "staff"; calls.length = 0;
  $("username").value = "staf.dua"; $("password").value = "demo";
  $("form-masuk").fire("submit"); await flush();
  assert.ok(calls.find((c) => c.url.startsWith("/v1/dashboard/steps?kecamatan=dua&")));
  assert.equal($("g-langkah").querySelector("svg").querySelectorAll('g[role="button"]').length, 2);
  calls.length = 0;
  $("keluar").fire("click");
  assert.equal(win.sessionStorage.size, 0);
  assert.equal($("masuk").hidden, false);
  assert.equal(text(doc, "galat-masuk"), "Anda telah keluar.");
  assert.equal(text(doc, "nama-pengguna"), "");
  assert.equal($("g-langkah").childNodes.length, 0);
  await flush();
  assert.deepEqual(calls.map((c) => [c.url, c.init.method]), [["/sesi/keluar", "POST"]], "the web session ends too");
  noMarkupElements(doc);
  console.log("ok");
  process.exit(0);  // the download's revoke timer would keep node waiting
})().catch((e) => { console.error(e); process.exit(1); });
"""

EXPIRED = r"""
const { assert, setup, flush, response } = require("./shim.js");
const env = setup({ elementsFile: process.argv[2], script: process.argv[3],
  session: { "pengaduan.dasbor.token": "old", "pengaduan.dasbor.pengguna": JSON.stringify({ user: null, exp: Date.now() - 1000 }) } });
env.responder = (url) => {
  // the web session may hold a newer token (a sign-in on /masuk since): asked, here it has none
  if (url === "/sesi/token") return response(401, { code: "not_authenticated", message: "Silakan masuk terlebih dahulu.", errors: [] });
  throw new Error("nothing is fetched with an expired token");
};
env.dasbor.boot();
(async () => {
  await flush();
  assert.deepEqual(env.calls.map((c) => c.url), ["/sesi/token"]);
  assert.equal(env.calls[0].init.headers.Authorization, undefined, "the expired token is not sent");
  assert.equal(env.win.sessionStorage.size, 0);
  assert.equal(env.doc.getElementById("masuk").hidden, false);
  assert.equal(env.doc.getElementById("galat-masuk").textContent, env.dasbor.PESAN.sesi);
  console.log("ok");
})().catch((e) => { console.error(e); process.exit(1); });
"""

SESSION = r"""
// One sign-in: no token in sessionStorage, so the page asks the web app's session (POST /sesi/token).
// process.argv[4]: what /sesi/token answers ("ok", "401", "403", "network", "not-json"), or "keluar-fails".
const { assert, setup, flush, response, text, noMarkupElements } = require("./shim.js");
const env = setup({ elementsFile: process.argv[2], script: process.argv[3] });
const { doc, calls, win, dasbor: d } = env;
const $ = (id) => doc.getElementById(id);
const mode = process.argv[4];
const sla = { closed: 0, closed_within: 0, closed_late: 0, closed_within_share: null, open: 1, open_late: 0 };
const fig = { total: 1, by_channel: { web: 1 }, by_status: { in_progress: 1 }, by_outcome: {}, by_month: { "2026-02": 1 }, sla };
const ANSWERS = {
  "/v1/kecamatan": [{ slug: "satu", name: "Satu", kabupaten: "kab", time_zone: "Asia/Jakarta", time_zone_label: "WIB" }],
  "/v1/dashboard/summary": { period: {}, as_of: "2026-03-31T05:00:00Z", total: fig,
    kecamatan: [Object.assign({ kecamatan: { slug: "satu", name: "Satu", kabupaten: "kab" } }, fig)] },
  "/v1/dashboard/steps": { period: {}, items: [] },
  "/v1/dashboard/overdue": { as_of: "2026-03-31T05:00:00Z", total: 0, items: [] },
  "/v1/dashboard/referrals": { period: {}, total: 0, by_kind: {}, by_agency: [], items: [] },
};
const SESI = { access_token: "tok-sesi", token_type: "bearer", expires_in: 3600,
  user: { username: "kab.uji", full_name: "Operator <i>Sesi</i>", role: "kabupaten", kecamatan: null, kabupaten: "kab", unit: null } };
env.responder = (url) => {
  const path = url.split("?")[0];
  if (path === "/sesi/token") {
    if (mode === "401") return response(401, { code: "not_authenticated", message: "Silakan masuk terlebih dahulu.", errors: [] });
    if (mode === "403") return response(403, { code: "sesi_header_required", message: "Permintaan ditolak.", errors: [] });
    if (mode === "network") return Promise.reject(new TypeError("Failed to fetch"));
    if (mode === "not-json") return response(200, "<html>bukan JSON</html>");
    return response(200, SESI);
  }
  if (path === "/sesi/keluar") {
    return mode === "keluar-fails" ? Promise.reject(new TypeError("Failed to fetch")) : response(204, "");
  }
  if (path in ANSWERS) return response(200, ANSWERS[path]);
  throw new Error("unexpected request " + url);
};
const headersOf = (c) => c.init.headers || {};

(async () => {
  const before = Date.now();
  d.boot();
  await flush();
  const asked = calls[0];
  assert.equal(asked.url, "/sesi/token");
  assert.equal(asked.init.method, "POST");
  assert.equal(headersOf(asked)["X-Pengaduan-Sesi"], "1", "the custom header: the CSRF defence of /sesi/token");
  assert.equal(headersOf(asked).Authorization, undefined);
  assert.equal(asked.init.credentials, "same-origin", "the web session's cookie goes with it");
  assert.equal(asked.init.body, undefined);
  assert.equal(text(doc, "pesan"), "", "no error message");
  assert.equal(text(doc, "galat-masuk"), "", "no error message");

  if (mode !== "ok" && mode !== "keluar-fails") {
    assert.equal(text(doc, "status"), "", "the check's status is cleared");
    // no session (or any failure): the form, as before, and nothing else fetched
    assert.equal(calls.length, 1);
    assert.equal($("masuk").hidden, false);
    assert.equal($("dasbor").hidden, true);
    assert.equal($("akun").hidden, true);
    assert.equal(win.sessionStorage.size, 0);
    assert.equal(d.state.token, null);
    console.log("ok");
    return;
  }

  // signed in with the session's token, exactly as after the form: stored, then the figures with it
  assert.equal($("masuk").hidden, true);
  assert.equal($("dasbor").hidden, false);
  assert.equal($("akun").hidden, false);
  assert.equal(text(doc, "nama-pengguna"), "Operator <i>Sesi</i> (Kabupaten)");
  assert.equal(win.sessionStorage.getItem("pengaduan.dasbor.token"), "tok-sesi");
  const saved = JSON.parse(win.sessionStorage.getItem("pengaduan.dasbor.pengguna"));
  assert.deepEqual(saved.user, SESI.user);
  assert.ok(saved.exp >= before + 3600e3 && saved.exp <= Date.now() + 3600e3);
  assert.equal(calls[1].url, "/v1/kecamatan");
  assert.equal(headersOf(calls[1]).Authorization, undefined, "the kecamatan list is public");
  const data = calls.slice(2);
  assert.deepEqual(data.map((c) => c.url.split("?")[0]),
    ["/v1/dashboard/summary", "/v1/dashboard/steps", "/v1/dashboard/overdue", "/v1/dashboard/referrals"]);
  for (const c of data) {
    assert.equal(headersOf(c).Authorization, "Bearer tok-sesi");
    assert.equal(headersOf(c)["X-Pengaduan-Sesi"], undefined);
    assert.equal(c.init.credentials, "omit", "no cookie to the APIs");
  }
  assert.equal(text(doc, "status"), "Data dimuat.");
  assert.ok(text(doc, "keterangan").includes("Kecamatan Satu"), "one kecamatan: the figures are drawn");
  noMarkupElements(doc);

  // Keluar: this page's token and the web session (its failure ignored: signed out here all the same)
  calls.length = 0;
  $("keluar").fire("click");
  await flush();
  assert.equal(calls.length, 1);
  const out = calls[0];
  assert.equal(out.url, "/sesi/keluar");
  assert.equal(out.init.method, "POST");
  assert.equal(headersOf(out)["X-Pengaduan-Sesi"], "1");
  assert.equal(headersOf(out).Authorization, undefined);
  assert.equal(out.init.credentials, "same-origin");
  assert.equal(win.sessionStorage.size, 0);
  assert.equal(d.state.token, null);
  assert.equal($("masuk").hidden, false);
  assert.equal($("dasbor").hidden, true);
  assert.equal(text(doc, "galat-masuk"), "Anda telah keluar.");
  assert.equal(text(doc, "pesan"), "");
  assert.equal(doc.activeElement, $("username"));
  console.log("ok");
})().catch((e) => { console.error(e); process.exit(1); });
"""

REAL = r"""
const { assert, setup, flush, response, text, noMarkupElements } = require("./shim.js");
const fs = require("node:fs");
const fixture = JSON.parse(fs.readFileSync(process.argv[4], "utf8"));
const env = setup({ elementsFile: process.argv[2], script: process.argv[3], width: 800,
  session: { "pengaduan.dasbor.token": fixture.token,
             "pengaduan.dasbor.pengguna": JSON.stringify({ user: fixture.user, exp: Date.now() + 3600e3 }) } });
const { doc, calls } = env;
const $ = (id) => doc.getElementById(id);
env.responder = (url) => {
  const u = new URL(url, "http://page.invalid");
  if (u.pathname === "/v1/register") {
    return response(200, "xlsx", { "Content-Disposition": 'attachment; filename="buku-rekap.xlsx"' });
  }
  const key = u.pathname + "|" + (u.searchParams.get("kecamatan") || "");
  if (!(key in fixture.answers)) throw new Error("no answer for " + key);
  return response(200, fixture.answers[key]);
};

(async () => {
  env.dasbor.boot();  // the token restored from sessionStorage: no sign-in
  await flush();
  $("f-dari").value = fixture.from; $("f-sampai").value = fixture.to;
  $("saring").fire("submit");
  await flush();
  assert.equal(text(doc, "pesan"), "");
  noMarkupElements(doc);
  const names = $("f-kecamatan").querySelectorAll("option").map((o) => o.textContent);
  assert.deepEqual(names.slice(1).sort(), fixture.names.slice().sort());
  // a kabupaten reader: the subject hidden and no tracking code (shared/masking.py)
  assert.ok(text(doc, "t-terlambat").includes("[disembunyikan]"));
  assert.ok(!text(doc, "t-terlambat").includes(fixture.subject));
  assert.ok(!text(doc, "t-terlambat").includes(fixture.tracking_code));
  assert.ok(text(doc, "t-limpah").includes(fixture.agency));
  assert.match(text(doc, "t-terlambat"), / \d{2}\.\d{2} WIB \(/, "in the kabupaten's zone (WIB: it sets none)");
  assert.equal($("g-status").querySelector("svg").querySelectorAll('g[role="button"]').length, 2);
  assert.ok(text(doc, "t-bulan").includes("Februari 2026"));
  // pick the first kecamatan by its bar in the SLA chart, then its first step
  const bar = $("g-sla").querySelector("svg").querySelectorAll('g[role="button"]')
    .find((g) => g.getAttribute("aria-label").startsWith(fixture.names_by_slug[fixture.k1] + ":"));
  bar.fire("click");
  await flush();
  assert.equal($("f-kecamatan").value, fixture.k1);
  const steps = $("g-langkah").querySelector("svg").querySelectorAll('g[role="button"]');
  assert.deepEqual(steps.map((g) => g.getAttribute("aria-label").split(",")[0]), ["Langkah 1", "Langkah 2", "Langkah 3", "Langkah 4"]);
  steps[3].fire("click");
  assert.ok(text(doc, "rinci-langkah").startsWith("Langkah 4: "));
  $("unduh").fire("click");
  await flush();
  noMarkupElements(doc);
  process.stdout.write(JSON.stringify(calls.map((c) => ({ url: c.url, auth: (c.init.headers || {}).Authorization }))));
  process.exit(0);  // the download's revoke timer would keep node waiting
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory, parsed) -> Path:
    folder = tmp_path_factory.mktemp("dasbor-node")
    (folder / "shim.js").write_text(SHIM)
    elements = [[a["id"], t, "hidden" in a] for t, a in parsed.tags if a.get("id")]
    (folder / "elements.json").write_text(json.dumps(elements))
    return folder


def run_node(folder: Path, name: str, source: str, *extra: str, zone: str = "Asia/Jakarta") -> str:
    script = folder / f"{name}.js"
    script.write_text(source)
    result = subprocess.run(  # noqa: PLW1510
        [NODE, str(script), str(folder / "elements.json"), str(JS), *extra],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "TZ": zone},  # the browser's zone
    )
    assert result.returncode == 0, f"node {name}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@needs_node
def test_the_formats_and_chart_models_under_node(node_dir):
    assert run_node(node_dir, "pure", PURE).strip() == "ok"


OFFICE_DATES = r"""
const { assert, setup } = require("./shim.js");
const { dasbor: d } = setup({ elementsFile: process.argv[2], script: process.argv[3] });
// 23:08 UTC on 1 December is 06:08 WIB on 2 December: the office's today, whatever the browser's zone
assert.deepEqual(d.defaultPeriod(new Date("2026-12-01T23:08:00Z")), { from: "2026-01-01", to: "2026-12-02" });
assert.deepEqual(d.defaultPeriod(new Date("2026-12-31T17:30:00Z")), { from: "2027-01-01", to: "2027-01-01" });
assert.equal(d.formatDateTime("2026-02-05T02:00:00Z"), "5 Februari 2026 09.00 WIB");
assert.equal(d.formatDateTime("2026-12-01T23:08:00Z"), "2 Desember 2026 06.08 WIB");

// a kabupaten in WITA or WIT: its own today and hours, with their label
const WIB = { name: "Asia/Jakarta", label: "WIB" };
const WITA = { name: "Asia/Makassar", label: "WITA" }, WIT = { name: "Asia/Jayapura", label: "WIT" };
// 16:30 UTC on 31 December is 23:30 WIB, still 2026, and 00:30 WITA, already 1 January 2027
assert.deepEqual(d.defaultPeriod(new Date("2026-12-31T16:30:00Z")), { from: "2026-01-01", to: "2026-12-31" });
assert.deepEqual(d.defaultPeriod(new Date("2026-12-31T16:30:00Z"), WITA), { from: "2027-01-01", to: "2027-01-01" });
// 15:30 UTC is 23:30 WITA and 00:30 WIT the next day
assert.deepEqual(d.defaultPeriod(new Date("2026-12-01T15:30:00Z"), WITA), { from: "2026-01-01", to: "2026-12-01" });
assert.deepEqual(d.defaultPeriod(new Date("2026-12-01T15:30:00Z"), WIT), { from: "2026-01-01", to: "2026-12-02" });
assert.equal(d.formatDateTime("2026-02-05T02:00:00Z", WITA), "5 Februari 2026 10.00 WITA");
assert.equal(d.formatDateTime("2026-02-05T02:00:00Z", WIT), "5 Februari 2026 11.00 WIT");

// whose zone: the kecamatan looked at; else the user's kecamatan or kabupaten; else the one every kecamatan
// shares; WIB when they span zones (an admin looking at all of them) or nothing is known
const dir = {
  barat: { slug: "barat", kabupaten: "jawa", time_zone: "Asia/Jakarta", time_zone_label: "WIB" },
  timur: { slug: "timur", kabupaten: "sulawesi", time_zone: "Asia/Makassar", time_zone_label: "WITA" },
  timur2: { slug: "timur2", kabupaten: "sulawesi", time_zone: "Asia/Makassar", time_zone_label: "WITA" },
};
assert.deepEqual(d.viewZone(dir, { role: "kabupaten", kabupaten: "sulawesi" }, ""), WITA);
assert.deepEqual(d.viewZone(dir, { role: "staf", kecamatan: "timur2" }, ""), WITA);
assert.deepEqual(d.viewZone(dir, { role: "kabupaten", kabupaten: "jawa" }, ""), WIB);
assert.deepEqual(d.viewZone(dir, { role: "admin" }, ""), WIB);
assert.deepEqual(d.viewZone(dir, { role: "admin" }, "timur"), WITA);
assert.deepEqual(d.viewZone({ timur: dir.timur, timur2: dir.timur2 }, { role: "admin" }, ""), WITA);
assert.deepEqual(d.viewZone(null, { role: "kabupaten", kabupaten: "sulawesi" }, ""), WIB);
assert.equal(d.sharedZone(dir, ["barat", "timur"]), null);
console.log("ok");
"""

# A kabupaten user of a WITA kabupaten, the browser's zone UTC, the clock at process.argv[4]: the default period
# and every time shown are WITA's (process.argv[5..7]: the period's from and to, the data's time as shown).
WITA_PAGE = r"""
const RealDate = Date;
const NOW = RealDate.parse(process.argv[4]);
globalThis.Date = class extends RealDate {  // the browser's clock
  constructor(...a) { if (a.length) super(...a); else super(NOW); }
  static now() { return NOW; }
};
const { assert, setup, flush, response, text } = require("./shim.js");
const env = setup({ elementsFile: process.argv[2], script: process.argv[3] });
const { doc, calls, dasbor: d } = env;
const $ = (id) => doc.getElementById(id);
const [from, to, shown] = process.argv.slice(5);
const K = { slug: "timur-satu", name: "Timur Satu", kabupaten: "timur" };
const sla = { closed: 0, closed_within: 0, closed_late: 0, closed_within_share: null, open: 1, open_late: 1 };
const fig = { total: 1, by_channel: { kotak: 1 }, by_status: { in_progress: 1 }, by_outcome: {}, by_month: {}, sla };
const ANSWERS = {
  "/v1/kecamatan": [
    { slug: "barat", name: "Barat", kabupaten: "barat", kabupaten_name: "Kabupaten Barat", time_zone: "Asia/Jakarta",
      time_zone_label: "WIB" },
    Object.assign({}, K, { kabupaten_name: "Kabupaten Timur", time_zone: "Asia/Makassar", time_zone_label: "WITA" })],
  "/v1/dashboard/summary": { period: {}, as_of: new RealDate(NOW).toISOString(), total: fig,
    kecamatan: [Object.assign({ kecamatan: K }, fig)] },
  "/v1/dashboard/steps": { period: {}, items: [] },
  "/v1/dashboard/overdue": { as_of: new RealDate(NOW).toISOString(), total: 1, items: [{ complaint_id: "c",
    tracking_code: "ABCD-1234", kecamatan: "timur-satu", register_number: null, subject: "Lampu mati", channel: "kotak",
    received_at: "2026-11-20T01:00:00Z", step: { number: 2, name: "Verifikasi" }, role: "kasi", unit: null,
    step_started_at: null, due_at: "2026-11-25T08:00:00Z", overdue_minutes: 100, overdue_working_days: 4,
    deadline_at: null, complainant: {} }] },
  "/v1/dashboard/referrals": { period: {}, total: 0, by_kind: {}, by_state: {}, by_agency: [], items: [] },
};
const SESI = { access_token: "tok-timur", token_type: "bearer", expires_in: 3600,
  user: { username: "kab.timur", full_name: "Operator Timur", role: "kabupaten", kecamatan: null, kabupaten: "timur",
    unit: null } };
env.responder = (url) => {
  const path = url.split("?")[0];
  if (path === "/sesi/token") return response(200, SESI);
  if (path in ANSWERS) return response(200, ANSWERS[path]);
  throw new Error("unexpected request " + url);
};

(async () => {
  d.boot();
  await flush();
  assert.equal(text(doc, "pesan"), "");
  // the default period ends on the kabupaten's today (not the browser's) and is asked so of the API
  assert.equal($("f-dari").value, from);
  assert.equal($("f-sampai").value, to);
  const summary = calls.find((c) => c.url.startsWith("/v1/dashboard/summary"));
  assert.equal(summary.url, "/v1/dashboard/summary?from=" + from + "&to=" + to);
  assert.equal(text(doc, "status"), "Data dimuat.");
  assert.ok(text(doc, "keterangan").endsWith("data per " + shown), text(doc, "keterangan"));
  assert.ok(text(doc, "n-terlambat").endsWith("per " + shown + "."), text(doc, "n-terlambat"));
  // 08:00 UTC is 16.00 WITA
  assert.ok(text(doc, "t-terlambat").includes("25 November 2026 16.00 WITA (4 hari kerja)"), text(doc, "t-terlambat"));
  console.log("ok");
})().catch((e) => { console.error(e); process.exit(1); });
"""


@needs_node
@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Jayapura"])
def test_dates_are_the_office_s_whatever_the_browser_s_zone_under_node(node_dir, zone):
    """Issue #15 item 6: in a browser set to UTC at 06:08 WIB the default period ended "yesterday"."""
    assert run_node(node_dir, f"zone-{zone.replace('/', '-')}", OFFICE_DATES, zone=zone).strip() == "ok"


@needs_node
@pytest.mark.parametrize(
    "now, period, shown",
    [
        # 23:30 UTC is 07:30 WITA the next day: in a browser set to UTC it is still 1 December
        ("2026-12-01T23:30:00Z", ("2026-01-01", "2026-12-02"), "2 Desember 2026 07.30 WITA"),
        # 16:30 UTC on 31 December: 23:30 WIB and UTC's 2026, but 00:30 WITA on 1 January 2027: a new year
        ("2026-12-31T16:30:00Z", ("2027-01-01", "2027-01-01"), "1 Januari 2027 00.30 WITA"),
    ],
)
def test_a_wita_kabupaten_sees_its_own_today_and_hours_in_a_browser_set_to_utc_under_node(node_dir, now, period, shown):
    """Issue #15 item 6: a kabupaten in WITA (its setting, named by GET /v1/kecamatan) gets its own dates."""
    name = f"wita-{now[:10]}"
    assert run_node(node_dir, name, WITA_PAGE, now, *period, shown, zone="UTC").strip() == "ok"


@needs_node
def test_signing_in_reading_drilling_down_downloading_errors_and_signing_out_under_node(node_dir):
    assert run_node(node_dir, "flow", FLOW).strip() == "ok"


@needs_node
def test_an_expired_session_is_not_used_under_node(node_dir):
    assert run_node(node_dir, "expired", EXPIRED).strip() == "ok"


@needs_node
@pytest.mark.parametrize("answer", ["ok", "keluar-fails"])
def test_a_web_session_signs_the_page_in_without_the_form_and_keluar_ends_it_under_node(node_dir, answer):
    assert run_node(node_dir, f"session-{answer}", SESSION, answer).strip() == "ok"


@needs_node
@pytest.mark.parametrize("answer", ["401", "403", "network", "not-json"])
def test_without_a_web_session_the_form_shows_with_no_message_under_node(node_dir, answer):
    assert run_node(node_dir, f"session-{answer}", SESSION, answer).strip() == "ok"


# -- real answers of the dashboard API --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine):
    suffix = uuid.uuid4().hex[:6]
    kab = f"dasborkab-{suffix}"
    items = [
        Kecamatan(f"dasbor-{suffix}-1", f"98.{suffix}.1", XSS_KECAMATAN, kab, f"Kabupaten Dasbor {suffix}", {}),
        Kecamatan(f"dasbor-{suffix}-2", f"98.{suffix}.2", "Uji Dua", kab, f"Kabupaten Dasbor {suffix}", {}),
    ]
    upsert_kecamatan(engine, items)
    return {"kabupaten": kab, "k1": items[0].slug, "k2": items[1].slug, "names": {k.slug: k.name for k in items}}


@pytest.fixture(scope="module")
def dash(settings, engine):
    container = dashboard_bootstrap(DashboardSettings(**settings.model_dump()), engine=engine)
    container.clock = lambda: NOW
    return container


@pytest.fixture(scope="module")
def client(dash):
    with TestClient(create_app(dash, extra_routers=[page.router])) as c:
        yield c


@pytest.fixture(scope="module")
def workflow_client(settings, place):
    """The workflow API, which lists the kecamatan and their kabupaten's time zone (``GET /v1/kecamatan``)."""
    wf = workflow_bootstrap(settings)
    try:
        with TestClient(apps.workflow(wf)) as c:
            yield c
    finally:
        wf.engine.dispose()


@pytest.fixture(scope="module")
def kabupaten_token(settings, place):
    principal = Principal("dasbor.kabupaten", "Operator Dasbor", "kabupaten", None, place["kabupaten"])
    return bearer_token(settings, principal)


@pytest.fixture(scope="module")
def seeded(settings, engine, dash, place):
    """In kecamatan 1: one complaint left at step 2 since February (overdue), one referred to an agency whose name
    is markup; in kecamatan 2 one new complaint."""
    wf = workflow_bootstrap(settings)

    def complaint(kecamatan, received_at, subject, channel="web"):
        message = record_complaint(
            wf,
            kecamatan,
            channel=channel,
            subject=subject,
            description="Jalan rusak.",
            received_at=received_at,
            complainant=Complainant(
                name="Siti Aminah",
                nik="3528071505900001",
                phone="+6281234567890",
                email="siti@example.id",
                address="Dusun Bunangka",
            ),
        )
        return message.complaint_id, message.tracking_code

    def act(cid, revision, role, action, when, **fields):
        return handlers.act(
            wf,
            cid,
            action,
            fields,
            expected_version=revision,
            user_id=f"uji.{role}",
            role=role,
            unit=None,
            kecamatan=place["k1"],
            at=when,
            correlation_id=uuid.uuid4(),
        ).revision

    try:
        _, late_code = complaint(place["k1"], datetime(2026, 2, 2, 9, tzinfo=WIB), XSS_SUBJECT)
        ref, _ = complaint(place["k1"], datetime(2026, 2, 3, 9, tzinfo=WIB), "Jalan kabupaten rusak", channel="sms")
        rev = act(ref, 1, "kasi", "verify-identity", datetime(2026, 2, 3, 10, tzinfo=WIB))
        rev = act(ref, rev, "staf", "register", datetime(2026, 2, 3, 10, 10, tzinfo=WIB))
        act(
            ref,
            rev,
            "camat",
            "refer",
            datetime(2026, 2, 4, 9, tzinfo=WIB),
            agency=XSS_AGENCY,
            agency_kind="opd",
            reason="Jalan kabupaten",
        )
        complaint(place["k2"], datetime(2026, 3, 2, 9, tzinfo=WIB), "Lampu jalan mati", channel="kotak")
    finally:
        wf.engine.dispose()
    Subscription(
        dash.engine, PostgresEventStore(dash.engine), ComplaintsProjection(dash.calendars), batch_size=500
    ).catch_up()
    return {"tracking_code": late_code}


@needs_node
def test_the_page_renders_real_answers_and_every_request_it_makes_is_answered(
    client, workflow_client, node_dir, place, seeded, kabupaten_token
):
    auth = {"Authorization": f"Bearer {kabupaten_token}"}
    period = {"from": "2026-01-01", "to": "2026-03-31"}
    answers = {"/v1/kecamatan|": workflow_client.get("/v1/kecamatan").json()}  # the kabupaten's time zone
    for kecamatan in ("", place["k1"], place["k2"]):
        params = {**period, **({"kecamatan": kecamatan} if kecamatan else {})}
        for name in ("summary", "steps", "overdue", "referrals"):
            r = client.get(f"/v1/dashboard/{name}", params=params, headers=auth)
            assert r.status_code == 200, r.text
            answers[f"/v1/dashboard/{name}|{kecamatan}"] = r.json()
    fixture = {
        "token": kabupaten_token,
        "user": {"full_name": "Operator Dasbor", "role": "kabupaten"},
        "answers": answers,
        "from": period["from"],
        "to": period["to"],
        "k1": place["k1"],
        "names": list(place["names"].values()),
        "names_by_slug": place["names"],
        "subject": XSS_SUBJECT,
        "agency": XSS_AGENCY,
        "tracking_code": seeded["tracking_code"],
    }
    (node_dir / "real.json").write_text(json.dumps(fixture))
    calls = json.loads(run_node(node_dir, "real", REAL, str(node_dir / "real.json")))

    # every request the page made, replayed against the real API with the same token
    assert {c["url"].split("?")[0] for c in calls} == {
        "/v1/kecamatan",
        "/v1/dashboard/summary",
        "/v1/dashboard/steps",
        "/v1/dashboard/overdue",
        "/v1/dashboard/referrals",
        "/v1/register",
    }
    for call in calls:
        if call["url"] == "/v1/kecamatan":  # public, served by the workflow API: asked without the token
            assert call.get("auth") is None and workflow_client.get(call["url"]).status_code == 200
            continue
        assert call["auth"] == auth["Authorization"]
        r = client.get(call["url"], headers=auth)
        assert r.status_code == 200, (call["url"], r.text)
        if call["url"].startswith("/v1/register"):
            assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
            assert r.content[:2] == b"PK"
    # and without a token they are refused with the 401 the page turns into "sesi berakhir"
    r = client.get(next(c["url"] for c in calls if c["url"].startswith("/v1/dashboard/")))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_the_page_and_the_api_are_served_by_the_same_app(client):
    assert client.get("/dasbor").status_code == 200
    assert client.get("/v1/dashboard/summary").status_code == 401
