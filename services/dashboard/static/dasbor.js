/* Dasbor pengaduan: the kabupaten's (or a kecamatan's) figures, drawn as inline SVG.
 *
 * Talks only to the same origin: POST /v1/auth/token, then GET /v1/dashboard/... and /v1/register with the
 * bearer token kept in sessionStorage. Without a stored token it first asks the web app's session for one
 * (POST /sesi/token: one sign-in on /masuk serves both), and Keluar ends that session too (POST /sesi/keluar).
 * Every value from the server goes into the page through textContent or setAttribute, never as markup. Under
 * node (tests) it exports its pure functions and renderers instead of starting. */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg"; // the SVG namespace name (an identifier, never fetched)
  var KUNCI_TOKEN = "pengaduan.dasbor.token";
  var KUNCI_PENGGUNA = "pengaduan.dasbor.pengguna";
  var BULAN = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
    "Oktober", "November", "Desember"];
  var BULAN_PENDEK = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"];
  var STATUS = [
    { key: "in_progress", label: "Dalam proses" },
    { key: "awaiting_documents", label: "Menunggu kelengkapan" },
    // dilimpahkan and followed: open until the receiving office answers (not the kecamatan's overdue work)
    { key: "referred", label: "Dilimpahkan, dipantau" },
    // the complainant's keberatan after the response, waiting on the Camat (docs/adr/0020)
    { key: "objection", label: "Keberatan ke Camat" },
    { key: "closed", label: "Selesai / ditutup" }
  ];
  var KANAL = { web: "Formulir web", sms: "SMS", whatsapp: "WhatsApp", email: "E-mail", kotak: "Kotak pengaduan",
    telepon: "Telepon", datang: "Datang langsung", lapor: "SP4N-LAPOR!" };
  var PERAN = { staf: "Staf", kasi: "Kasi", sekcam: "Sekcam", camat: "Camat", kabupaten: "Kabupaten",
    admin: "Admin" };
  var JENIS = { opd: "OPD", desa: "Desa", "sp4n-lapor": "SP4N-LAPOR", lainnya: "Lainnya" };
  // where referrals stand (GET /v1/dashboard/referrals by_state), in this order
  var LIMPAH = [["followed", "masih dipantau"], ["answered", "sudah ditanggapi"],
    ["lapsed", "tanpa tanggapan sampai batas pemantauan"], ["ended", "dicabut atau duplikat"],
    ["unfollowed", "ditutup saat dilimpahkan"]];
  var PESAN = {
    sesi: "Sesi Anda telah berakhir. Silakan masuk lagi.",
    jaringan: "Tidak dapat terhubung ke server. Periksa jaringan Anda, lalu coba lagi.",
    terlarang: "Akses ditolak: akun Anda tidak berhak melihat data ini.",
    server: "Server sedang bermasalah. Coba lagi beberapa saat lagi.",
    periode: "Tanggal akhir tidak boleh sebelum tanggal awal.",
    pilihKecamatan: "Pilih satu kecamatan dulu: buku rekap dibuat per kecamatan.",
    isiMasuk: "Isi nama pengguna dan kata sandi."
  };

  // ---- formatting (pure) -----------------------------------------------------------------------------
  function pad2(n) { return (n < 10 ? "0" : "") + n; }

  // Dates shown and chosen are in the kabupaten's zone (WIB, WITA or WIT, per GET /v1/kecamatan), never the
  // browser's (#15 item 6: in a browser set to UTC at 06:08 WIB the period ended "yesterday").
  var WIB = { name: "Asia/Jakarta", label: "WIB" }, zone = WIB;

  /** The zone the kecamatan `slugs` share (null: none, or several); `dir`: slug -> GET /v1/kecamatan's item. */
  function sharedZone(dir, slugs) {
    var z = null;
    for (var i = 0; i < slugs.length; i++) {
      var k = dir && dir[slugs[i]];
      if (!k || !k.time_zone) continue;
      if (z && z.name !== k.time_zone) return null;
      z = { name: k.time_zone, label: k.time_zone_label };
    }
    return z;
  }

  /** The zone of the kecamatan looked at, else the user's kecamatan or kabupaten, else all share; else WIB. */
  function viewZone(dir, user, focus) {
    var u = user || {}, all = Object.keys(dir || {});
    return sharedZone(dir, [focus || u.kecamatan]) ||
      (u.kabupaten && sharedZone(dir, all.filter(function (s) { return dir[s].kabupaten === u.kabupaten; }))) ||
      sharedZone(dir, all) || WIB;
  }

  /** The date (with `time`, the hour) of instant `d` in zone `z` (default: the one looked at), in parts. */
  function partsIn(d, z, time) {
    var parts = {}, o = { timeZone: (z || zone).name, year: "numeric", month: "2-digit", day: "2-digit" };
    if (time) { o.hour = o.minute = "2-digit"; o.hourCycle = "h23"; }
    new Intl.DateTimeFormat("en-CA", o).formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
    return parts;
  }

  /** The date of instant `d` in zone `z`, "YYYY-MM-DD". */
  function isoDate(d, z) { var p = partsIn(d, z); return p.year + "-" + p.month + "-" + p.day; }

  function parseDate(s) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(s || ""));
    if (!m) return null;
    var y = +m[1], mo = +m[2], d = +m[3];
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
    return { y: y, m: mo, d: d };
  }

  /** "2026-11-28" -> "28 November 2026" */
  function formatDate(s) {
    var p = parseDate(s);
    return p ? p.d + " " + BULAN[p.m - 1] + " " + p.y : "";
  }

  /** An ISO instant -> "5 Februari 2026 09.00 WIB", in zone `z` (default: the one looked at). */
  function formatDateTime(iso, z) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return "";
    var p = partsIn(d, z, true);
    return +p.day + " " + BULAN[+p.month - 1] + " " + p.year + " " + p.hour + "." + p.minute + " " + (z || zone).label;
  }

  /** 12345 -> "12.345", 2.25 -> "2,3" (one decimal at most). */
  function formatNumber(n) {
    if (typeof n !== "number" || !isFinite(n)) return "–";
    var neg = n < 0, tenths = Math.round(Math.abs(n) * 10);
    var whole = Math.floor(tenths / 10), frac = tenths % 10;
    var s = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
    return (neg && tenths ? "-" : "") + s + (frac ? "," + frac : "");
  }

  function formatPercent(share) {
    return share === null || share === undefined ? "–" : formatNumber(share * 100) + "%";
  }

  /** Office minutes -> "15 menit", "2 jam 5 menit". */
  function formatMinutes(min) {
    if (typeof min !== "number" || !isFinite(min)) return "–";
    var m = Math.round(min);
    if (m < 60) return m + " menit";
    var h = Math.floor(m / 60), r = m % 60;
    return formatNumber(h) + " jam" + (r ? " " + r + " menit" : "");
  }

  /** Shorter, for chart labels: "15 mnt", "3,2 jam". */
  function formatMinutesShort(min) {
    if (typeof min !== "number" || !isFinite(min)) return "–";
    return min < 60 ? Math.round(min) + " mnt" : formatNumber(min / 60) + " jam";
  }

  function monthLabel(key) {
    var m = /^(\d{4})-(\d{2})$/.exec(key);
    return m ? BULAN[+m[2] - 1] + " " + m[1] : key;
  }

  function kanalLabel(key) { return KANAL[key] || key; }

  function peranLabel(role, unit) {
    if (!role) return "–";
    return (PERAN[role] || role) + (unit ? " (" + unit + ")" : "");
  }

  /** The default period: this year, from 1 January to today, both in zone `z` (default: the one looked at). */
  function defaultPeriod(now, z) {
    var today = isoDate(now || new Date(), z);
    return { from: today.slice(0, 4) + "-01-01", to: today };
  }

  /** "?kecamatan=a&from=...": empty values left out, everything encoded. */
  function queryString(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== "") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(v));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  /** Every month from `from` to `to` (YYYY-MM-DD), with its count (0 where none); without a period, the
   * months that have data. At most 60 months are filled in. */
  function monthSeries(byMonth, from, to) {
    var keys = Object.keys(byMonth || {}).sort();
    var a = parseDate(from), b = parseDate(to);
    var start = a ? { y: a.y, m: a.m } : null, end = b ? { y: b.y, m: b.m } : null;
    if (keys.length) {
      var first = keys[0].split("-"), last = keys[keys.length - 1].split("-");
      if (!start) start = { y: +first[0], m: +first[1] };
      if (!end) end = { y: +last[0], m: +last[1] };
    }
    var out = [];
    if (start && end && (end.y - start.y) * 12 + end.m - start.m <= 60) {
      for (var y = start.y, m = start.m; y < end.y || (y === end.y && m <= end.m); m === 12 ? (y++, m = 1) : m++) {
        var key = y + "-" + pad2(m);
        out.push({ key: key, value: byMonth[key] || 0 });
      }
    } else {
      keys.forEach(function (k) { out.push({ key: k, value: byMonth[k] }); });
    }
    return out.map(function (p, i) {
      var mo = +p.key.slice(5, 7);
      return { key: p.key, value: p.value, label: BULAN_PENDEK[mo - 1] || p.key,
        year: i === 0 || mo === 1 ? p.key.slice(0, 4) : null, title: monthLabel(p.key) };
    });
  }

  // ---- chart models (pure: data in, positions out) --------------------------------------------------
  var GLYPH = 6.6; // average width of a 12 px glyph, for fitting labels

  function fit(text, width) {
    var s = String(text), n = Math.max(4, Math.floor(width / GLYPH));
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  function sum(segments) {
    return segments.reduce(function (t, s) { return t + (s.value > 0 ? s.value : 0); }, 0);
  }

  /**
   * Horizontal bars, one row each: a label line above a bar of stacked segments, the row's text right of
   * the bar, and an optional marker (a vertical line at a value, e.g. the SOP standard).
   * rows: [{id, label, segments: [{key, label, value, cls}], text, marker, cls, title}]
   * opt: {width, max, valueWidth, column}. Values above `max` are drawn clipped at the end of the scale. With
   * `column`, every row's text starts at the same x right of the scale (never across a marker).
   */
  function buildBars(rows, opt) {
    opt = opt || {};
    var width = Math.max(240, Math.round(opt.width || 600));
    var valueWidth = opt.valueWidth || 100, left = 4, rowH = 40, top = 2;
    var barMax = width - left - valueWidth;
    var max = opt.max;
    if (!(max > 0)) {
      max = 0;
      rows.forEach(function (r) { max = Math.max(max, sum(r.segments), r.marker || 0); });
      if (!(max > 0)) max = 1;
    }
    var scale = barMax / max;
    var out = rows.map(function (r, i) {
      var y = top + i * rowH, x = left, room = barMax;
      var segments = [];
      r.segments.forEach(function (s) {
        if (!(s.value > 0) || room <= 0) return;
        var w = Math.min(s.value * scale, room);
        segments.push({ key: s.key, label: s.label, value: s.value, cls: s.cls || "", x: x, y: y + 18, w: w, h: 16 });
        x += w; room -= w;
      });
      return {
        id: r.id, index: i, y: y, h: rowH, label: fit(r.label, width - 8), fullLabel: String(r.label), labelY: y + 13,
        segments: segments, total: sum(r.segments), end: x, text: r.text || "", textX: (opt.column ? left + barMax : x) + 6,
        textY: y + 30,
        markerX: typeof r.marker === "number" ? left + Math.min(r.marker, max) * scale : null,
        clipped: sum(r.segments) > max, cls: r.cls || "", title: r.title || String(r.label) + ": " + (r.text || "")
      };
    });
    return { kind: "bars", width: width, height: top + rows.length * rowH + 2, max: max, barX: left, barW: barMax, rows: out };
  }

  /** Vertical bars (per month): points [{key, label, value, year, title}]. */
  function buildColumns(points, opt) {
    opt = opt || {};
    var width = Math.max(240, Math.round(opt.width || 600)), height = opt.height || 190;
    var top = 18, bottom = 34, left = 4, plotH = height - top - bottom;
    var n = Math.max(1, points.length), slot = (width - 2 * left) / n, barW = Math.max(2, slot * 0.7);
    var max = 0;
    points.forEach(function (p) { max = Math.max(max, p.value); });
    if (!(max > 0)) max = 1;
    var every = Math.max(1, Math.ceil(30 / slot));
    return {
      kind: "columns", width: width, height: height, max: max, baseY: top + plotH,
      columns: points.map(function (p, i) {
        var h = p.value > 0 ? Math.max(1, p.value / max * plotH) : 0, cx = left + i * slot + slot / 2;
        return {
          key: p.key, value: p.value, x: cx - barW / 2, w: barW, y: top + plotH - h, h: h, cx: cx,
          label: i % every === 0 ? p.label : "", year: i % every === 0 ? p.year : null,
          valueText: slot >= 16 || p.value === max ? formatNumber(p.value) : "", title: (p.title || p.key) + ": " +
            formatNumber(p.value)
        };
      })
    };
  }

  /** Rows of the stacked status chart, one per kecamatan of the summary. */
  function statusRows(summary, selected) {
    return (summary && summary.kecamatan || []).map(function (item) {
      var segments = STATUS.map(function (s) {
        return { key: s.key, label: s.label, value: item.by_status[s.key] || 0, cls: "s-" + s.key };
      });
      Object.keys(item.by_status).forEach(function (k) {
        if (!STATUS.some(function (s) { return s.key === k; })) {
          segments.push({ key: k, label: k, value: item.by_status[k], cls: "s-lain" });
        }
      });
      var parts = segments.filter(function (s) { return s.value > 0; }).map(function (s) {
        return s.label + " " + formatNumber(s.value);
      });
      return {
        id: item.kecamatan.slug, label: item.kecamatan.name, segments: segments, text: formatNumber(item.total),
        cls: item.kecamatan.slug === selected ? "dipilih" : "",
        title: item.kecamatan.name + ": " + formatNumber(item.total) + " pengaduan" + (parts.length ? " (" +
          parts.join(", ") + ")" : "")
      };
    });
  }

  function slaRows(summary, selected) {
    return (summary && summary.kecamatan || []).map(function (item) {
      var s = item.sla, share = s.closed_within_share;
      var text = (share === null || share === undefined ? "–" : formatPercent(share)) + " · " +
        formatNumber(s.open_late) + " terlambat";
      return {
        id: item.kecamatan.slug, label: item.kecamatan.name,
        segments: [{ key: "tepat", label: "Tepat waktu", value: share ? share * 100 : 0, cls: "s-tepat" }],
        text: text, cls: item.kecamatan.slug === selected ? "dipilih" : "",
        title: item.kecamatan.name + ": " + (share === null || share === undefined
          ? "belum ada pengaduan yang selesai"
          : formatPercent(share) + " selesai dalam 12 hari kerja (" + formatNumber(s.closed_within) + " dari " +
            formatNumber(s.closed) + ")") + "; " + formatNumber(s.open_late) + " pengaduan terbuka melewati batas waktu"
      };
    });
  }

  function channelRows(figures) {
    var by = figures && figures.by_channel || {};
    return Object.keys(by).sort(function (a, b) { return by[b] - by[a] || (a < b ? -1 : 1); }).map(function (k) {
      return { id: k, label: kanalLabel(k), segments: [{ key: k, label: kanalLabel(k), value: by[k], cls: "s-satu" }],
        text: formatNumber(by[k]), title: kanalLabel(k) + ": " + formatNumber(by[k]) + " pengaduan" };
    });
  }

  /** Step rows of one kecamatan: the bar is the median as a multiple of the standard, the marker at 1. */
  function stepRows(items, selectedStep) {
    return (items || []).slice().sort(function (a, b) { return a.step - b.step; }).map(function (it) {
      var ratio = it.standard_minutes > 0 ? it.median_minutes / it.standard_minutes : 0, slow = ratio > 1;
      return {
        id: String(it.step), label: it.step + ". " + it.step_name,
        segments: [{ key: "median", label: "Median", value: ratio, cls: slow ? "s-lambat" : "s-satu" }],
        marker: 1, text: formatMinutesShort(it.median_minutes) + " / " + formatMinutesShort(it.standard_minutes) +
          (slow ? " ▲" : ""),
        cls: (slow ? "lambat " : "") + (String(it.step) === String(selectedStep) ? "dipilih" : ""),
        title: "Langkah " + it.step + ", " + it.step_name + ": median " + formatMinutes(it.median_minutes) +
          ", standar " + formatMinutes(it.standard_minutes) + (slow ? " (melewati standar)" : " (dalam standar)")
      };
    });
  }

  function stepScale(rows) {
    var max = 1.5;
    rows.forEach(function (r) { max = Math.max(max, r.segments[0].value); });
    return Math.min(max * 1.05, 5);
  }

  // ---- DOM helpers ----------------------------------------------------------------------------------
  var nextId = 0;

  function el(name, attrs, text) {
    var e = document.createElement(name);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(name, attrs, text) {
    var e = document.createElementNS(SVG_NS, name);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setAttrs(e, attrs) {
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) e.setAttribute(k, String(attrs[k]));
    });
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function r1(n) { return Math.round(n * 10) / 10; }

  function svgRoot(model, title, desc, interactive) {
    var id = "grafik-" + (++nextId);
    var root = svg("svg", {
      viewBox: "0 0 " + model.width + " " + model.height, width: model.width, height: model.height,
      role: interactive ? "group" : "img", "aria-labelledby": id + "-t", "aria-describedby": desc ? id + "-d" : null
    });
    root.appendChild(svg("title", { id: id + "-t" }, title));
    if (desc) root.appendChild(svg("desc", { id: id + "-d" }, desc));
    return root;
  }

  /** The SVG of a buildBars model. With onPick, each row is a button (click, Enter, Space). */
  function drawBars(model, title, desc, onPick) {
    var root = svgRoot(model, title, desc, !!onPick);
    model.rows.forEach(function (row) {
      var g = svg("g", { "class": ("baris " + row.cls).trim() });
      if (onPick) {
        setAttrs(g, { tabindex: "0", role: "button", "aria-label": row.title,
          "aria-pressed": row.cls.indexOf("dipilih") >= 0 ? "true" : "false" });
        g.addEventListener("click", function () { onPick(row.id); });
        g.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter" || ev.key === " " || ev.key === "Spacebar") { ev.preventDefault(); onPick(row.id); }
        });
      }
      g.appendChild(svg("title", {}, row.title));
      g.appendChild(svg("rect", { "class": "sasaran", x: 0, y: row.y, width: model.width, height: row.h - 2, rx: 3 }));
      g.appendChild(svg("text", { "class": "label", x: 4, y: row.labelY }, row.label));
      g.appendChild(svg("rect", { "class": "latar-batang", x: model.barX, y: row.y + 18, width: r1(model.barW), height: 16 }));
      row.segments.forEach(function (s) {
        g.appendChild(svg("rect", { "class": "seg " + s.cls, x: r1(s.x), y: s.y, width: r1(Math.max(s.w, 0.5)), height: s.h }));
      });
      if (row.markerX !== null) {
        g.appendChild(svg("line", { "class": "penanda", x1: r1(row.markerX), x2: r1(row.markerX), y1: row.y + 15,
          y2: row.y + 37 }));
      }
      g.appendChild(svg("text", { "class": "nilai", x: r1(row.textX), y: row.textY }, row.text + (row.clipped ? " »" : "")));
      root.appendChild(g);
    });
    return root;
  }

  function drawColumns(model, title, desc) {
    var root = svgRoot(model, title, desc, false);
    root.appendChild(svg("line", { "class": "sumbu", x1: 0, x2: model.width, y1: model.baseY, y2: model.baseY }));
    model.columns.forEach(function (c) {
      var g = svg("g", { "class": "kolom" });
      g.appendChild(svg("title", {}, c.title));
      if (c.h > 0) g.appendChild(svg("rect", { "class": "seg s-satu", x: r1(c.x), y: r1(c.y), width: r1(c.w), height: r1(c.h) }));
      if (c.valueText) g.appendChild(svg("text", { "class": "nilai", x: r1(c.cx), y: r1(c.y - 4), "text-anchor": "middle" }, c.valueText));
      if (c.label) g.appendChild(svg("text", { "class": "label", x: r1(c.cx), y: model.baseY + 14, "text-anchor": "middle" }, c.label));
      if (c.year) g.appendChild(svg("text", { "class": "label tahun", x: r1(c.cx), y: model.baseY + 28, "text-anchor": "middle" }, c.year));
      root.appendChild(g);
    });
    return root;
  }

  /** A table; cells are text (set as textContent) or nodes. */
  function table(caption, headers, rows, numeric) {
    var t = el("table");
    if (caption) t.appendChild(el("caption", {}, caption));
    var head = el("thead"), tr = el("tr");
    headers.forEach(function (h, i) { tr.appendChild(el("th", { scope: "col", "class": numeric && numeric[i] ? "num" : null }, h)); });
    head.appendChild(tr);
    t.appendChild(head);
    var body = el("tbody");
    rows.forEach(function (cells) {
      var row = el("tr");
      cells.forEach(function (c, i) {
        var td = el(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, "class": numeric && numeric[i] ? "num" : null });
        if (c !== null && typeof c === "object" && c.nodeType) td.appendChild(c);
        else td.textContent = c === null || c === undefined ? "" : String(c);
        row.appendChild(td);
      });
      body.appendChild(row);
    });
    if (!rows.length) {
      var empty = el("tr"), td = el("td", { colspan: headers.length }, "Tidak ada data.");
      empty.appendChild(td);
      body.appendChild(empty);
    }
    t.appendChild(body);
    return t;
  }

  // ---- the page ---------------------------------------------------------------------------------------
  var state = {
    token: null, user: null, data: null, filters: { kecamatan: "", from: "", to: "" }, step: null, gen: 0,
    widths: {}, directory: null, period: null
  };

  function $(id) { return document.getElementById(id); }

  function widthOf(id) {
    var node = $(id), w = node && node.clientWidth;
    return w > 0 ? w : 600;
  }

  /** The kecamatan the per-kecamatan parts are about: the one chosen, or the only one there is. */
  function focusKecamatan() {
    var f = state.filters, list = state.data && state.data.summary ? state.data.summary.kecamatan : [];
    if (f.kecamatan) return f.kecamatan;
    return list.length === 1 ? list[0].kecamatan.slug : "";
  }

  function kecamatanName(slug) {
    var list = state.data && state.data.summary ? state.data.summary.kecamatan : [];
    for (var i = 0; i < list.length; i++) if (list[i].kecamatan.slug === slug) return list[i].kecamatan.name;
    return slug;
  }

  function selectedFigures() {
    var s = state.data.summary, k = focusKecamatan();
    if (k) for (var i = 0; i < s.kecamatan.length; i++) if (s.kecamatan[i].kecamatan.slug === k) return s.kecamatan[i];
    return s.total;
  }

  function periodText(f) {
    var a = f.from ? formatDate(f.from) : "awal pencatatan", b = f.to ? formatDate(f.to) : "hari ini";
    return a + " – " + b;
  }

  function kecamatanButton(slug, name) {
    var b = el("button", { type: "button", "class": "tautan", "data-slug": slug }, name);
    b.addEventListener("click", function () { pickKecamatan(slug); });
    return b;
  }

  function renderKecamatanSelect() {
    var select = $("f-kecamatan"), keep = state.filters.kecamatan;
    clear(select);
    select.appendChild(el("option", { value: "" }, "Semua kecamatan"));
    state.data.summary.kecamatan.forEach(function (item) {
      select.appendChild(el("option", { value: item.kecamatan.slug }, item.kecamatan.name));
    });
    select.value = keep;
  }

  function renderNumbers() {
    var fig = selectedFigures(), list = clear($("angka"));
    [
      ["Pengaduan diterima", formatNumber(fig.total)],
      ["Selesai / ditutup", formatNumber(fig.sla.closed)],
      ["Selesai dalam 12 hari kerja", formatPercent(fig.sla.closed_within_share)],
      ["Masih terbuka", formatNumber(fig.sla.open)],
      ["Terbuka melewati batas", formatNumber(fig.sla.open_late)],
      ["Pengadu menyatakan selesai", formatPercent(fig.feedback && fig.feedback.satisfied_share)],
      ["Dibuka kembali", formatPercent(fig.feedback && fig.feedback.reopened_share)]
    ].forEach(function (pair) {
      var li = el("li");
      li.appendChild(el("span", { "class": "nilai-besar" }, pair[1]));
      li.appendChild(el("span", { "class": "nama" }, pair[0]));
      list.appendChild(li);
    });
  }

  function renderStatus() {
    var s = state.data.summary, k = focusKecamatan(), legend = clear($("legenda-status"));
    STATUS.forEach(function (st) {
      var li = el("li");
      li.appendChild(el("span", { "class": "contoh s-" + st.key, "aria-hidden": "true" }));
      li.appendChild(document.createTextNode(st.label));
      legend.appendChild(li);
    });
    var rows = statusRows(s, k);
    var box = clear($("g-status"));
    if (!rows.length) box.appendChild(el("p", {}, "Tidak ada kecamatan yang dapat ditampilkan."));
    else box.appendChild(drawBars(buildBars(rows, { width: widthOf("g-status"), valueWidth: 60 }),
      "Pengaduan per kecamatan menurut status, " + periodText(state.filters),
      "Batang bertumpuk: dalam proses, menunggu kelengkapan, dilimpahkan (dipantau), selesai. Angka kanan: jumlah " +
      "pengaduan.", pickKecamatan));
    clear($("t-status")).appendChild(table("Pengaduan per kecamatan menurut status",
      ["Kecamatan"].concat(STATUS.map(function (x) { return x.label; })).concat(["Jumlah"]),
      s.kecamatan.map(function (it) {
        return [kecamatanButton(it.kecamatan.slug, it.kecamatan.name)].concat(STATUS.map(function (x) {
          return formatNumber(it.by_status[x.key] || 0);
        })).concat([formatNumber(it.total)]);
      }), [false, true, true, true, true, true]));
  }

  function renderSla() {
    var s = state.data.summary, rows = slaRows(s, focusKecamatan()), box = clear($("g-sla"));
    if (rows.length) box.appendChild(drawBars(buildBars(rows, { width: widthOf("g-sla"), max: 100, valueWidth: 144, column: true }),
      "Bagian pengaduan yang selesai dalam 12 hari kerja, per kecamatan",
      "Skala 0 sampai 100 persen. Angka kanan: persentase dan jumlah pengaduan terbuka yang terlambat.", pickKecamatan));
    clear($("t-sla")).appendChild(table("Kepatuhan waktu 12 hari kerja",
      ["Kecamatan", "Selesai", "Tepat waktu", "Persentase", "Terbuka", "Terbuka terlambat"],
      s.kecamatan.map(function (it) {
        var x = it.sla;
        return [kecamatanButton(it.kecamatan.slug, it.kecamatan.name), formatNumber(x.closed),
          formatNumber(x.closed_within), formatPercent(x.closed_within_share), formatNumber(x.open),
          formatNumber(x.open_late)];
      }), [false, true, true, true, true, true]));
  }

  // the complainants' answers after the response (GET /v1/dashboard/summary: feedback, feedback_by_unit)
  function feedbackCells(x) {
    if (!x) return ["–", "–", "–", "–", "–", "–"]; // an API from before the answers were counted
    return [formatNumber(x.responded), formatNumber(x.answered), formatPercent(x.satisfied_share),
      formatNumber(x.mean_rating), formatPercent(x.reopened_share),
      formatNumber(x.objections)];
  }

  function renderFeedback() {
    var s = state.data.summary, k = focusKecamatan();
    var headers = ["Tanggapan sampai", "Pengadu menjawab", "Menyatakan selesai", "Nilai rata-rata (1–4)",
      "Dibuka kembali", "Keberatan"];
    clear($("t-kepuasan")).appendChild(table("Kepuasan pengadu per kecamatan", ["Kecamatan"].concat(headers),
      s.kecamatan.map(function (it) {
        return [kecamatanButton(it.kecamatan.slug, it.kecamatan.name)].concat(feedbackCells(it.feedback));
      }), [false, true, true, true, true, true, true]));
    var box = clear($("t-kepuasan-unit")), item = k && s.kecamatan.filter(function (it) {
      return it.kecamatan.slug === k;
    })[0];
    if (!item) {
      box.appendChild(el("p", { "class": "petunjuk" }, "Pilih satu kecamatan untuk melihat kepuasan per unit."));
      return;
    }
    var units = Object.keys(item.feedback_by_unit || {}).sort();
    if (!units.length) box.appendChild(el("p", {}, "Belum ada tanggapan yang sampai pada periode ini."));
    else box.appendChild(table("Kepuasan pengadu per unit, Kecamatan " + item.kecamatan.name, ["Unit"].concat(headers),
      units.map(function (u) { return [u].concat(feedbackCells(item.feedback_by_unit[u])); }),
      [false, true, true, true, true, true, true]));
  }

  function renderMonths() {
    var fig = selectedFigures(), f = state.filters, points = monthSeries(fig.by_month, f.from, f.to);
    var who = focusKecamatan() ? "Kecamatan " + kecamatanName(focusKecamatan()) : "semua kecamatan";
    var box = clear($("g-bulan"));
    if (points.length) box.appendChild(drawColumns(buildColumns(points, { width: widthOf("g-bulan") }),
      "Pengaduan per bulan, " + who, null));
    else box.appendChild(el("p", {}, "Belum ada pengaduan pada periode ini."));
    clear($("t-bulan")).appendChild(table("Pengaduan per bulan, " + who, ["Bulan", "Jumlah"],
      points.map(function (p) { return [p.title, formatNumber(p.value)]; }), [false, true]));
  }

  function renderChannels() {
    var fig = selectedFigures(), rows = channelRows(fig), box = clear($("g-kanal"));
    var who = focusKecamatan() ? "Kecamatan " + kecamatanName(focusKecamatan()) : "semua kecamatan";
    if (rows.length) box.appendChild(drawBars(buildBars(rows, { width: widthOf("g-kanal"), valueWidth: 60 }),
      "Pengaduan menurut saluran, " + who, null));
    else box.appendChild(el("p", {}, "Belum ada pengaduan pada periode ini."));
    clear($("t-kanal")).appendChild(table("Pengaduan menurut saluran, " + who, ["Saluran", "Jumlah"],
      rows.map(function (r) { return [r.label, r.text]; }), [false, true]));
  }

  function stepItems() {
    var k = focusKecamatan();
    return k ? state.data.steps.items.filter(function (it) { return it.kecamatan === k; }) : [];
  }

  function renderSteps() {
    var k = focusKecamatan(), items = stepItems(), box = clear($("g-langkah"));
    if (!k) {
      box.appendChild(el("p", { "class": "petunjuk" },
        "Pilih satu kecamatan (di kotak Kecamatan atau dengan mengeklik batangnya di atas) untuk melihat waktu per langkah."));
    } else if (!items.length) {
      box.appendChild(el("p", {}, "Belum ada langkah yang selesai pada periode ini di Kecamatan " + kecamatanName(k) + "."));
    } else {
      var rows = stepRows(items, state.step);
      box.appendChild(drawBars(buildBars(rows, { width: widthOf("g-langkah"), max: stepScale(rows), valueWidth: 144, column: true }),
        "Median waktu per langkah dibanding standar SOP, Kecamatan " + kecamatanName(k),
        "Panjang batang: median dibagi standar; garis hitam: standar. Angka kanan: median / standar, tanda ▲ bila lewat standar.",
        pickStep));
    }
    var all = k ? items : state.data.steps.items;
    clear($("t-langkah")).appendChild(table("Waktu per langkah SOP (jam kerja)",
      ["Langkah", "Kecamatan", "Peran", "Standar", "Median", "P90", "Selesai", "Sesuai standar"],
      all.map(function (it) {
        var b = el("button", { type: "button", "class": "tautan", "data-step": k ? String(it.step) : null },
          it.step + ". " + it.step_name);
        b.addEventListener("click", function () {
          if (!state.filters.kecamatan && !k) { pickKecamatan(it.kecamatan, it.step); } else { pickStep(String(it.step)); }
        });
        return [b, kecamatanName(it.kecamatan), peranLabel(it.role), formatMinutes(it.standard_minutes),
          formatMinutes(it.median_minutes), formatMinutes(it.p90_minutes), formatNumber(it.count),
          formatPercent(it.within_standard_share)];
      }), [false, false, false, true, true, true, true, true]));
    renderStepDetail();
  }

  function renderStepDetail() {
    var box = clear($("rinci-langkah")), items = stepItems(), it = null;
    for (var i = 0; i < items.length; i++) if (String(items[i].step) === String(state.step)) it = items[i];
    if (!it) return;
    var ratio = it.standard_minutes > 0 ? it.median_minutes / it.standard_minutes : null;
    box.appendChild(el("h3", { tabindex: "-1" }, "Langkah " + it.step + ": " + it.step_name));
    var dl = el("dl");
    [
      ["Peran", peranLabel(it.role)],
      ["Standar SOP", formatMinutes(it.standard_minutes)],
      ["Median", formatMinutes(it.median_minutes)],
      ["Persentil 90", formatMinutes(it.p90_minutes)],
      ["Rata-rata", formatMinutes(it.mean_minutes)],
      ["Terlama", formatMinutes(it.max_minutes)],
      ["Jumlah selesai", formatNumber(it.count)],
      ["Sesuai standar", formatNumber(it.within_standard) + " (" + formatPercent(it.within_standard_share) + ")"]
    ].forEach(function (p) { dl.appendChild(el("dt", {}, p[0])); dl.appendChild(el("dd", {}, p[1])); });
    box.appendChild(dl);
    box.appendChild(el("p", { "class": ratio > 1 ? "lambat" : "" }, ratio === null ? "" : ratio > 1
      ? "Langkah ini lambat: median " + formatNumber(ratio) + " kali standar."
      : "Median langkah ini masih dalam standar."));
    box.appendChild(el("p", { "class": "petunjuk" }, "Semua waktu dihitung dalam jam kerja kantor kecamatan."));
  }

  function renderOverdue() {
    var o = state.data.overdue, k = focusKecamatan();
    $("n-terlambat").textContent = o.total === 0 ? "Tidak ada pengaduan yang terlambat." :
      formatNumber(o.total) + " pengaduan terbuka melewati waktu langkahnya" + (o.items.length < o.total
        ? " (ditampilkan " + formatNumber(o.items.length) + " yang paling lama)" : "") + ", per " +
      formatDateTime(o.as_of) + ".";
    clear($("t-terlambat")).appendChild(table(k ? "Pengaduan terlambat, Kecamatan " + kecamatanName(k) :
      "Pengaduan terlambat, semua kecamatan", ["Kode", "Kecamatan", "Langkah", "Peran", "Terlambat sejak"],
      o.items.map(function (it) {
        var code = el("span");
        code.appendChild(el("span", { "class": "kode" }, it.tracking_code));
        code.appendChild(el("span", { "class": "perihal" }, it.subject));
        return [code, kecamatanName(it.kecamatan), it.step.number + ". " + it.step.name, peranLabel(it.role, it.unit),
          formatDateTime(it.due_at) + " (" + formatNumber(it.overdue_working_days) + " hari kerja)"];
      })));
  }

  /** " Masih dipantau 1, sudah ditanggapi 2." from by_state (states with none left out); "" when none. */
  function referralStates(byState) {
    var parts = LIMPAH.filter(function (x) { return byState && byState[x[0]]; }).map(function (x) {
      return x[1] + " " + formatNumber(byState[x[0]]);
    });
    if (!parts.length) return "";
    var text = parts.join(", ");
    return " " + text.charAt(0).toUpperCase() + text.slice(1) + ".";
  }

  function renderReferrals() {
    var r = state.data.referrals;
    var kinds = Object.keys(r.by_kind).map(function (k) { return (JENIS[k] || k) + " " + formatNumber(r.by_kind[k]); });
    $("n-limpah").textContent = r.total === 0 ? "Tidak ada pengaduan yang dilimpahkan pada periode ini." :
      formatNumber(r.total) + " pengaduan dilimpahkan: " + kinds.join(", ") + "." + referralStates(r.by_state);
    clear($("t-limpah")).appendChild(table("Pelimpahan menurut instansi", ["Instansi", "Jenis", "Jumlah"],
      r.by_agency.map(function (a) {
        return [a.agency, JENIS[a.agency_kind] || a.agency_kind || "Lainnya", formatNumber(a.count)];
      }), [false, false, true]));
  }

  function renderAll(data, filters) {
    if (data) state.data = data;
    if (filters) state.filters = filters;
    var f = state.filters, k = focusKecamatan();
    renderKecamatanSelect();
    $("keterangan").textContent = "Periode " + periodText(f) + " · " +
      (k ? "Kecamatan " + kecamatanName(k) : "Semua kecamatan") + " · data per " + formatDateTime(state.data.summary.as_of);
    renderNumbers();
    renderStatus();
    renderSla();
    renderFeedback();
    renderMonths();
    renderChannels();
    renderSteps();
    renderOverdue();
    renderReferrals();
  }

  // ---- talking to the server --------------------------------------------------------------------------
  function Failure(status, message) { this.status = status; this.message = message; }

  /** The one place the page calls fetch: same origin; paths under /v1/ with the bearer token and no cookies, or
   * one of the two web-session paths with the session cookie, the X-Pengaduan-Sesi header and no token. */
  function request(path, options) {
    options = options || {};
    var sesi = path === "/sesi/token" || path === "/sesi/keluar";
    if (path.indexOf("/v1/") !== 0 && !sesi) return Promise.reject(new Failure(0, "Alamat tidak sah."));
    var headers = { Accept: options.accept || "application/json" };
    if (options.body) headers["Content-Type"] = "application/x-www-form-urlencoded";
    if (sesi) headers["X-Pengaduan-Sesi"] = "1";
    else if (options.auth !== false && state.token) headers.Authorization = "Bearer " + state.token;
    return fetch(path, { method: options.method || "GET", headers: headers, body: options.body,
      credentials: sesi ? "same-origin" : "omit", cache: "no-store", redirect: "error" }).then(function (res) {
      if (res.ok) return res;
      return res.json().catch(function () { return {}; }).then(function (body) {
        throw new Failure(res.status, failureMessage(res.status, body, options.login));
      });
    }, function () { throw new Failure(0, PESAN.jaringan); });
  }

  function failureMessage(status, body, login) {
    var msg = body && typeof body.message === "string" ? body.message : "";
    if (status === 401) return login ? msg || "Nama pengguna atau kata sandi salah." : PESAN.sesi;
    if (status === 403) return msg ? "Akses ditolak: " + msg : PESAN.terlarang;
    if (status === 422 || status === 400) {
      var fields = (body && body.errors || []).map(function (e) { return e.message; }).filter(Boolean);
      return (msg || "Permintaan tidak sah.") + (fields.length ? " " + fields.join(" ") : "");
    }
    if (status === 429) return "Terlalu banyak percobaan. Tunggu sebentar, lalu coba lagi.";
    if (status >= 500) return (msg || PESAN.server) + " (kode " + status + ")";
    return (msg || "Permintaan gagal.") + " (kode " + status + ")";
  }

  function getJson(path) { return request(path).then(function (res) { return res.json(); }); }

  function say(text) { $("status").textContent = text || ""; }

  function showError(text) { $("pesan").textContent = text || ""; }

  function fail(err) {
    say("");
    if (err && err.status === 401) { signOut(PESAN.sesi); return; }
    showError(err && err.message ? err.message : PESAN.server);
  }

  function readFilters() {
    return { kecamatan: $("f-kecamatan").value, from: $("f-dari").value, to: $("f-sampai").value };
  }

  /** The default period in zone `z`, in the fields unless changed since the last default. */
  function fillPeriod(z) {
    var p = defaultPeriod(new Date(), z), last = state.period;
    if (!last || ($("f-dari").value === last.from && $("f-sampai").value === last.to)) {
      $("f-dari").value = p.from; $("f-sampai").value = p.to;
    }
    state.period = p;
  }

  function load() {
    if (!state.directory) {  // first the kabupaten's zones (public: no token), once
      var g = ++state.gen;
      return request("/v1/kecamatan", { auth: false }).then(function (res) { return res.json(); }).then(function (items) {
        if (g !== state.gen) return;
        state.directory = {};
        (Array.isArray(items) ? items : []).forEach(function (k) { state.directory[k.slug] = k; });
        return load();
      }).catch(function (err) { if (g === state.gen) fail(err); });
    }
    zone = viewZone(state.directory, state.user, $("f-kecamatan").value);
    fillPeriod(zone);
    var f = readFilters(), gen = ++state.gen;
    if (f.from && f.to && f.to < f.from) { showError(PESAN.periode); $("f-sampai").focus(); return Promise.resolve(); }
    showError("");
    say("Memuat data…");
    $("dasbor").setAttribute("aria-busy", "true");
    var period = { from: f.from, to: f.to }, data = {};
    return getJson("/v1/dashboard/summary" + queryString(period)).then(function (summary) {
      data.summary = summary;
      var k = f.kecamatan || (summary.kecamatan.length === 1 ? summary.kecamatan[0].kecamatan.slug : "");
      var q = { kecamatan: k, from: f.from, to: f.to };
      return Promise.all([
        getJson("/v1/dashboard/steps" + queryString(q)),
        getJson("/v1/dashboard/overdue" + queryString({ kecamatan: k, from: f.from, to: f.to, limit: 100 })),
        getJson("/v1/dashboard/referrals" + queryString(q))
      ]);
    }).then(function (rest) {
      if (gen !== state.gen) return;
      data.steps = rest[0]; data.overdue = rest[1]; data.referrals = rest[2];
      renderAll(data, f);
      say("Data dimuat.");
    }).catch(function (err) {
      if (gen === state.gen) fail(err);
    }).then(function () {
      if (gen === state.gen) $("dasbor").removeAttribute("aria-busy");
    });
  }

  /** Where focus was (a chart or a table of buttons), so it can come back after the parts are redrawn. */
  function focusPlace() {
    var a = document.activeElement, node = a;
    while (node && node.nodeType === 1 && !(node.id && /^[gt]-/.test(node.id))) node = node.parentNode;
    return node && node.id ? { box: node.id, slug: a.getAttribute("data-slug"), step: a.getAttribute("data-step") } : null;
  }

  function refocus(place) {
    if (!place) return;
    var box = $(place.box), target = null;
    if (!box) return;
    if (place.box.charAt(0) === "g") target = box.querySelector('g[aria-pressed="true"]');
    else {
      var buttons = box.querySelectorAll("button");
      for (var i = 0; i < buttons.length; i++) {
        var b = buttons[i];
        if ((place.slug && b.getAttribute("data-slug") === place.slug) ||
          (place.step && b.getAttribute("data-step") === place.step)) { target = b; break; }
      }
    }
    if (target) target.focus();
  }

  function pickKecamatan(slug, step) {
    var place = focusPlace();
    $("f-kecamatan").value = slug;
    state.step = step ? String(step) : null;
    return load().then(function () {
      if (step) { var h = $("rinci-langkah").firstChild; if (h) { h.focus(); return; } }
      refocus(place);
    });
  }

  function pickStep(id) {
    var place = focusPlace();
    state.step = String(id);
    renderSteps();
    refocus(place);
  }

  function download() {
    var f = readFilters(), k = f.kecamatan || focusKecamatan(), button = $("unduh");
    if (!k) { showError(PESAN.pilihKecamatan); $("f-kecamatan").focus(); return; }
    if (f.from && f.to && f.to < f.from) { showError(PESAN.periode); return; }
    showError("");
    say("Menyiapkan berkas buku rekap…");
    button.disabled = true;
    request("/v1/register" + queryString({ kecamatan: k, from: f.from, to: f.to, format: "xlsx" }),
      { accept: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" }).then(function (res) {
      var m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
      var name = m ? m[1] : "buku-rekap-pengaduan-" + k + ".xlsx";
      return res.blob().then(function (blob) {
        var url = URL.createObjectURL(blob), a = el("a", { href: url, download: name });
        document.body.appendChild(a);
        a.click();
        a.parentNode.removeChild(a);
        setTimeout(function () { URL.revokeObjectURL(url); }, 30000);
        say("Berkas " + name + " diunduh.");
      });
    }).catch(fail).then(function () { button.disabled = false; });
  }

  // ---- session -----------------------------------------------------------------------------------------
  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function restore() {
    var s = storage();
    if (!s) return false;
    var token = s.getItem(KUNCI_TOKEN), user = null, exp = 0;
    try { var saved = JSON.parse(s.getItem(KUNCI_PENGGUNA) || "null"); user = saved && saved.user; exp = saved && saved.exp; }
    catch (e) { user = null; }
    if (!token) return false;
    if (exp && Date.now() >= exp) { s.removeItem(KUNCI_TOKEN); s.removeItem(KUNCI_PENGGUNA); return "expired"; }
    state.token = token;
    state.user = user;
    return true;
  }

  function showSignedIn() {
    $("masuk").hidden = true;
    $("dasbor").hidden = false;
    $("akun").hidden = false;
    var u = state.user;
    $("nama-pengguna").textContent = u ? u.full_name + " (" + peranLabel(u.role) + ")" : "";
  }

  function signIn(ev) {
    ev.preventDefault();
    var user = $("username"), pass = $("password"), button = $("tombol-masuk"), err = $("galat-masuk");
    if (!user.value.trim() || !pass.value) {
      err.textContent = PESAN.isiMasuk;
      (user.value.trim() ? pass : user).focus();
      return;
    }
    err.textContent = "";
    button.disabled = true;
    say("Sedang masuk…");
    var body = queryString({ grant_type: "password", username: user.value.trim(), password: pass.value }).slice(1);
    request("/v1/auth/token", { method: "POST", body: body, auth: false, login: true }).then(function (res) {
      return res.json();
    }).then(function (out) {
      pass.value = "";
      say("");
      return begin(out, true);
    }).catch(function (e) {
      say("");
      err.textContent = e.message || PESAN.server;
      pass.focus();
    }).then(function () { button.disabled = false; });
  }

  /** A token answer (of /v1/auth/token or /sesi/token): kept in sessionStorage, then the figures. */
  function begin(out, moveFocus) {
    if (!out || typeof out.access_token !== "string" || !out.access_token) throw new Failure(0, PESAN.server);
    state.token = out.access_token;
    state.user = out.user || null;
    var s = storage();
    if (s) {
      s.setItem(KUNCI_TOKEN, out.access_token);
      s.setItem(KUNCI_PENGGUNA, JSON.stringify({ user: state.user, exp: Date.now() + (out.expires_in || 0) * 1000 }));
    }
    showSignedIn();
    if (moveFocus) $("judul-dasbor").focus();
    return load();
  }

  /** The token of the web session (a sign-in on /masuk), if there is one: true when signed in with it. */
  function fromWebSession() {
    say("Memeriksa sesi…");
    return request("/sesi/token", { method: "POST" }).then(function (res) {
      return res.json();
    }).then(function (out) {
      say("");
      return begin(out, false);  // at page load: focus stays where the browser put it, as with a stored token
    }).then(function () { return true; }, function () {
      say("");  // 401 (nobody signed in), 403, a bad answer, the network down: the form, as before
      return false;
    });
  }

  /** Keluar: this page's token, and the web session too (failures ignored: the page is signed out anyway). */
  function signOutEverywhere() {
    signOut("Anda telah keluar.");
    request("/sesi/keluar", { method: "POST" }).catch(function () { return null; });
  }

  function signOut(message) {
    var s = storage();
    if (s) { s.removeItem(KUNCI_TOKEN); s.removeItem(KUNCI_PENGGUNA); }
    state.token = null; state.user = null; state.data = null; state.step = null; state.gen++; zone = WIB;
    ["g-status", "t-status", "g-sla", "t-sla", "g-bulan", "t-bulan", "g-kanal", "t-kanal", "g-langkah",
      "rinci-langkah", "t-langkah", "t-terlambat", "t-limpah", "angka", "legenda-status"].forEach(function (id) { clear($(id)); });
    ["keterangan", "n-terlambat", "n-limpah", "nama-pengguna"].forEach(function (id) { $(id).textContent = ""; });
    $("dasbor").hidden = true;
    $("akun").hidden = true;
    $("masuk").hidden = false;
    showError("");
    say("");
    $("galat-masuk").textContent = message || "Anda telah keluar.";
    $("username").focus();
  }

  function boot() {
    fillPeriod(WIB);  // until the user's zone is known (load)
    $("form-masuk").addEventListener("submit", signIn);
    $("saring").addEventListener("submit", function (ev) { ev.preventDefault(); state.step = null; load(); });
    $("keluar").addEventListener("click", signOutEverywhere);
    $("unduh").addEventListener("click", download);
    var timer = null, lastWidth = window.innerWidth;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (state.data && window.innerWidth !== lastWidth) { lastWidth = window.innerWidth; renderAll(); }
      }, 200);
    });
    var restored = restore();
    if (restored === true) { showSignedIn(); load(); return Promise.resolve(); }
    // no token here (or an expired one): the web session's, else the form
    return fromWebSession().then(function (signedIn) {
      if (signedIn) return;
      $("masuk").hidden = false;
      if (restored === "expired") $("galat-masuk").textContent = PESAN.sesi;
    });
  }

  var api = {
    formatDate: formatDate, formatDateTime: formatDateTime, formatNumber: formatNumber, formatPercent: formatPercent,
    formatMinutes: formatMinutes, formatMinutesShort: formatMinutesShort, defaultPeriod: defaultPeriod,
    sharedZone: sharedZone, viewZone: viewZone,
    queryString: queryString, monthSeries: monthSeries, buildBars: buildBars, buildColumns: buildColumns,
    statusRows: statusRows, slaRows: slaRows, channelRows: channelRows, stepRows: stepRows, stepScale: stepScale,
    referralStates: referralStates, drawBars: drawBars, drawColumns: drawColumns, table: table, renderAll: renderAll, failureMessage: failureMessage,
    boot: boot, state: state, PESAN: PESAN
  };
  if (typeof module === "object" && module && module.exports) {
    module.exports = api;
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", boot);
  } else {
    boot();
  }
})();
