/**
 * /snappy-ops/skills.js: the fleet per skill on the operator's page, from GET /snappy-ops/api/skills
 * (plugins/quorum/skill-view.ts). Charts are SVG built with createElementNS, no inline script or
 * style (the page's CSP), and readable without colour: every series has its own dash pattern and
 * marker shape and a label at its end, every point and bar a <title> and data-* attributes with
 * its numbers, and a table holds the same numbers as the chart.
 * Exposes `window.snappySkills(list, container)`; app.js calls it on each load.
 */
export const OPS_SKILLS_JS = `'use strict';
(function () {
  var SVG = 'http://www.w3.org/2000/svg';
  // One look per series, told apart without colour: dash pattern, marker shape, label.
  // Nine looks: the canonical and up to eight revs (plugins/quorum/skill-view.ts MAX_REV_SERIES) never share a dash pattern.
  var DASHES = ['', '7 4', '2 3', '10 3 2 3', '4 4 1 4', '14 4', '1 6', '6 2 2 2', '3 6 9 6'];
  var DASH_WORDS = ['solid', 'dashed', 'dotted', 'dash-dot', 'dash-dot-dot', 'long-dashed', 'sparse-dotted', 'dash-dot-dense', 'long-short'];
  var MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross'];
  var MARKER_WORDS = ['circles', 'squares', 'triangles', 'diamonds', 'crosses'];
  var COLOURS = ['#1b1b1b', '#0b6e4f', '#a4480c', '#4b3b8f', '#7a6a00'];
  function look(i) { var k = i % DASHES.length; return { dash: DASHES[k], marker: MARKERS[k % MARKERS.length], colour: COLOURS[k % COLOURS.length], words: DASH_WORDS[k] + ' line, ' + MARKER_WORDS[k % MARKERS.length] }; }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function svg(tag, attrs) { var e = document.createElementNS(SVG, tag); for (var k in attrs) if (attrs[k] !== undefined) e.setAttribute(k, String(attrs[k])); return e; }
  function titled(node, text) { var t = svg('title', {}); t.textContent = text; node.appendChild(t); return node; }
  function count(n, one) { return n + ' ' + (n === 1 ? one : one + 's'); }
  function label(rev) { return rev === null ? 'canonical' : 'rev ' + rev; }
  function short(ts) { return ts ? String(ts).replace('T', ' ').replace(/:\\d\\d(\\.\\d+)?Z$/, 'Z') : '-'; }
  function dayNum(day) { return Date.parse(day + 'T00:00:00Z') / 86400000; }

  function marker(shape, x, y, colour) {
    var r = 4;
    if (shape === 'circle') return svg('circle', { cx: x, cy: y, r: r, fill: colour });
    if (shape === 'square') return svg('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill: colour });
    if (shape === 'triangle') return svg('polygon', { points: x + ',' + (y - r - 1) + ' ' + (x + r + 1) + ',' + (y + r) + ' ' + (x - r - 1) + ',' + (y + r), fill: colour });
    if (shape === 'diamond') return svg('polygon', { points: x + ',' + (y - r - 1) + ' ' + (x + r + 1) + ',' + y + ' ' + x + ',' + (y + r + 1) + ' ' + (x - r - 1) + ',' + y, fill: 'none', stroke: colour, 'stroke-width': 2 });
    var g = svg('g', { stroke: colour, 'stroke-width': 2 });
    g.appendChild(svg('line', { x1: x - r, y1: y - r, x2: x + r, y2: y + r })); g.appendChild(svg('line', { x1: x - r, y1: y + r, x2: x + r, y2: y - r }));
    return g;
  }

  // Fleet mean score per day, one line per series, on a 0-1 scale with the endorsement threshold.
  function chart(s, minScore) {
    var W = 700, H = 230, L = 44, R = 190, T = 12, B = 34, pw = W - L - R, ph = H - T - B;
    var days = [];
    s.series.forEach(function (x) { x.points.forEach(function (p) { days.push(dayNum(p.day)); }); });
    var lo = Math.min.apply(null, days), hi = Math.max.apply(null, days);
    var X = function (d) { return hi === lo ? L + pw / 2 : L + ((d - lo) / (hi - lo)) * pw; };
    var Y = function (v) { return T + (1 - v) * ph; };
    var names = s.series.map(function (x) { return label(x.rev); });
    var root = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'trend', 'aria-label': 'Fleet mean score per day of ' + s.skill + ': ' + names.join(', ') + '. The table below holds the same numbers.' });
    titled(root, 'Fleet mean score per day of ' + s.skill);
    var axes = svg('g', { class: 'axes', 'aria-hidden': 'true' });
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      axes.appendChild(svg('line', { x1: L, x2: L + pw, y1: Y(v), y2: Y(v), class: 'grid' }));
      var t = svg('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }); t.textContent = v.toFixed(2); axes.appendChild(t);
    });
    var first = svg('text', { x: X(lo), y: H - 10, 'text-anchor': hi === lo ? 'middle' : 'start' }); first.textContent = new Date(lo * 86400000).toISOString().slice(0, 10); axes.appendChild(first);
    if (hi !== lo) { var last = svg('text', { x: X(hi), y: H - 10, 'text-anchor': 'end' }); last.textContent = new Date(hi * 86400000).toISOString().slice(0, 10); axes.appendChild(last); }
    root.appendChild(axes);
    var th = svg('g', { class: 'threshold', 'data-threshold': minScore });
    th.appendChild(titled(svg('line', { x1: L, x2: L + pw, y1: Y(minScore), y2: Y(minScore), 'stroke-dasharray': '1 3' }), 'a tenant endorses at a mean of ' + minScore + ' or more'));
    var tl = svg('text', { x: L + pw + 4, y: Y(minScore) + 4 }); tl.textContent = 'endorse ≥ ' + minScore; th.appendChild(tl);
    root.appendChild(th);
    var ends = [{ threshold: tl, y: Y(minScore) }];
    s.series.forEach(function (x, i) {
      if (!x.points.length) return;
      var lk = look(i), colour = lk.colour;
      var g = svg('g', { 'data-series': x.rev === null ? 'canonical' : x.rev, 'aria-label': label(x.rev) + ': ' + x.points.map(function (p) { return p.day + ' ' + p.mean; }).join(', ') });
      g.appendChild(svg('polyline', { points: x.points.map(function (p) { return X(dayNum(p.day)) + ',' + Y(p.mean); }).join(' '), fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-dasharray': lk.dash || undefined }));
      x.points.forEach(function (p) {
        var m = marker(lk.marker, X(dayNum(p.day)), Y(p.mean), colour);
        m.setAttribute('class', 'pt'); m.setAttribute('data-day', p.day); m.setAttribute('data-mean', p.mean); m.setAttribute('data-runs', p.runs); m.setAttribute('data-tenants', p.tenants);
        g.appendChild(titled(m, label(x.rev) + ', ' + p.day + ': mean ' + p.mean + ' over ' + count(p.runs, 'run') + ' of ' + count(p.tenants, 'tenant')));
      });
      var lp = x.points[x.points.length - 1];
      ends.push({ g: g, y: Y(lp.mean), x: X(dayNum(lp.day)), text: label(x.rev) + ' ' + lp.mean, colour: colour });
      root.appendChild(g);
    });
    // Labels at the lines' ends, pushed apart so that none overlaps another.
    ends.sort(function (a, b) { return a.y - b.y; });
    var prev = -Infinity;
    ends.forEach(function (e) {
      var y = Math.max(e.y + 4, prev + 13); prev = y;
      if (e.threshold) { e.threshold.setAttribute('y', y); return; }
      var t = svg('text', { x: L + pw + 4, y: y, class: 'end', fill: e.colour }); t.textContent = e.text; e.g.appendChild(t);
      // A faint dotted leader from the last point to its label: not to be read as a line of the chart.
      if (L + pw + 2 - (e.x + 5) > 2) e.g.appendChild(svg('line', { x1: e.x + 5, x2: L + pw + 2, y1: e.y, y2: y - 4, stroke: '#aaa', 'stroke-width': 1, 'stroke-dasharray': '1 3', class: 'leader' }));
    });
    return root;
  }

  // The chart's numbers as a table: one row per day, one column per series.
  function table(s) {
    var t = el('table', undefined, 'means'); t.setAttribute('data-skill', s.skill);
    t.appendChild(el('caption', 'Fleet mean score per day (runs in brackets)'));
    var head = el('tr'); head.appendChild(el('th', 'day'));
    s.series.forEach(function (x) { head.appendChild(el('th', label(x.rev))); });
    var th = el('thead'); th.appendChild(head); t.appendChild(th);
    var days = {};
    s.series.forEach(function (x) { x.points.forEach(function (p) { days[p.day] = true; }); });
    var tb = el('tbody');
    Object.keys(days).sort().forEach(function (d) {
      var tr = el('tr'); tr.setAttribute('data-day', d); tr.appendChild(el('th', d));
      s.series.forEach(function (x) {
        var p = x.points.filter(function (q) { return q.day === d; })[0];
        var td = el('td', p ? p.mean + ' (' + p.runs + ')' : '-');
        td.setAttribute('data-series', x.rev === null ? 'canonical' : x.rev);
        if (p) td.setAttribute('data-mean', p.mean);
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }

  // A progress bar: filled to value/need, hatched until it is met, with its numbers in words beside it.
  function bar(kind, value, need, words) {
    var W = 160, H = 14, met = value >= need;
    var box = el('span', undefined, 'bar');
    var s = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': words, 'data-bar': kind, 'data-value': value, 'data-need': need, class: met ? 'met' : 'short' });
    titled(s, words);
    s.appendChild(svg('rect', { x: 0.5, y: 0.5, width: W - 1, height: H - 1, class: 'frame' }));
    var w = need > 0 ? Math.min(1, value / need) * (W - 2) : W - 2;
    s.appendChild(svg('rect', { x: 1, y: 1, width: w, height: H - 2, class: 'fill', fill: met ? '#2d2d2d' : 'url(#hatch)' }));
    box.appendChild(s); box.appendChild(el('span', words, 'words'));
    return box;
  }
  function tenantsEndorse(n, need) { return n + ' of ' + count(need, 'tenant') + ' endorse' + (n === 1 ? 's' : ''); }

  function historyTable(s) {
    var t = el('table', undefined, 'history'); t.setAttribute('data-skill', s.skill);
    t.appendChild(el('caption', 'History of the canonical page'));
    var head = el('tr'); ['#', 'when', 'what', 'rev', 'by', 'evidence', 'note'].forEach(function (h) { head.appendChild(el('th', h)); });
    var th = el('thead'); th.appendChild(head); t.appendChild(th);
    var tb = el('tbody');
    s.history.slice().reverse().forEach(function (e) {
      var tr = el('tr'); tr.setAttribute('data-seq', e.seq); tr.setAttribute('data-action', e.action); tr.setAttribute('data-rev', e.rev_id);
      tr.appendChild(el('td', e.seq)); tr.appendChild(el('td', short(e.ts)));
      tr.appendChild(el('td', e.action, 'act-' + e.action)); tr.appendChild(el('td', e.rev_id)); tr.appendChild(el('td', e.by));
      var ev = e.action === 'promote' || e.action === 'rollback' || e.action === 'expire'
        ? count(e.tenants, 'tenant') + ', ' + count(e.runs, 'run') + ', mean ' + (e.mean === null || e.mean === undefined ? '-' : Math.round(e.mean * 1000) / 1000) : '';
      if (e.endorsers && e.endorsers.length) ev += '; endorsed by ' + e.endorsers.join(', ');
      if (e.objectors && e.objectors.length) ev += '; objected: ' + e.objectors.join(', ');
      tr.appendChild(el('td', ev));
      var note = [];
      if (e.action === 'promote') note.push(e.previous ? 'replaced ' + e.previous.rev_id : 'first canonical');
      if (e.action === 'rollback') note.push(e.restored ? 'restored ' + e.restored.rev_id : 'canonical withdrawn');
      if (e.pinned) note.push('pinned');
      if (e.reason) note.push(e.reason);
      tr.appendChild(el('td', note.join('; ')));
      tb.appendChild(tr);
    });
    if (!s.history.length) { var none = el('tr'); var td = el('td', 'no changelog entry yet'); td.colSpan = 7; none.appendChild(td); tb.appendChild(none); }
    t.appendChild(tb);
    return t;
  }

  function quorumTable(s) {
    var t = el('table', undefined, 'quorum'); t.setAttribute('data-skill', s.skill);
    t.appendChild(el('caption', 'Staged revisions: quorum progress'));
    var head = el('tr'); ['rev', 'state', 'tenants', 'runs', 'mean', 'against canonical'].forEach(function (h) { head.appendChild(el('th', h)); });
    var th = el('thead'); th.appendChild(head); t.appendChild(th);
    var tb = el('tbody');
    s.revs.forEach(function (r) {
      var tr = el('tr'); tr.setAttribute('data-rev', r.rev);
      tr.appendChild(el('td', r.rev));
      var st = el('td', r.state + (r.rev === s.canonical ? ' (canonical)' : ''), r.state);
      // Expiry, when the quorum reports it: the date a staged rev stops waiting, or that it did.
      if (r.expired) st.appendChild(el('span', ' expired' + (r.expiredAt || r.expiresAt ? ' at ' + short(r.expiredAt || r.expiresAt) : ''), 'expiry expired'));
      else if (r.expiresAt) st.appendChild(el('span', ' expires ' + short(r.expiresAt), 'expiry'));
      tr.appendChild(st);
      var tc = el('td'); tc.appendChild(bar('tenants', r.endorsing, r.thresholds.minTenants, tenantsEndorse(r.endorsing, r.thresholds.minTenants))); tr.appendChild(tc);
      var rc = el('td'); rc.appendChild(bar('runs', r.endorsingRuns, r.thresholds.minRuns, count(r.endorsingRuns, 'endorsing run') + ', ' + r.thresholds.minRuns + ' needed')); tr.appendChild(rc);
      tr.appendChild(el('td', r.mean === null ? '-' : r.mean));
      // The regression gate's comparison, when the quorum reports one: the rev against the canonical on the same tenants.
      var g = r.gate, gc = el('td', g ? 'rev ' + (g.revMean === null ? '-' : g.revMean) + ' vs canonical ' + (g.canonicalMean === null ? '-' : g.canonicalMean) + ' on ' + count(g.tenants, 'tenant') + ', ' + count(g.runs, 'run') + (g.canonicalRuns !== undefined ? ' vs ' + g.canonicalRuns : '') + ' (margin ' + g.margin + ')' + (g.pass === true ? ': not worse' : g.pass === false ? ': worse, held back' : '') : '-', 'gate');
      if (g) { gc.setAttribute('data-rev-mean', g.revMean); gc.setAttribute('data-canonical-mean', g.canonicalMean); }
      tr.appendChild(gc);
      tb.appendChild(tr);
    });
    if (!s.revs.length) { var none = el('tr'); var td = el('td', 'no staged revision'); td.colSpan = 6; none.appendChild(td); tb.appendChild(none); }
    t.appendChild(tb);
    return t;
  }

  function watchBox(s, fleet) {
    var d = el('div', undefined, 'watchbox');
    var w = s.watch;
    if (!w) { d.appendChild(el('p', 'no promotion under watch')); return d; }
    d.setAttribute('data-watch', w.rev);
    d.appendChild(el('p', 'watching rev ' + w.rev + ', promoted ' + short(w.promotedAt) + (w.pinned ? ' (pinned: never rolled back by the watch)' : '')));
    var ul = el('ul');
    var li = el('li'); li.appendChild(bar('objecting', w.objecting, w.thresholds.minTenants, w.objecting + ' of ' + count(w.thresholds.minTenants, 'tenant') + ' object' + (w.objecting === 1 ? 's' : '') + ' (a rollback needs ' + w.thresholds.minTenants + ')')); ul.appendChild(li);
    li = el('li'); li.appendChild(bar('objecting-runs', w.objectingRuns, w.thresholds.minRuns, count(w.objectingRuns, 'objecting run') + ', ' + w.thresholds.minRuns + ' needed')); ul.appendChild(li);
    li = el('li'); li.appendChild(bar('adopted', w.adopted, fleet, w.adopted + ' of ' + count(fleet, 'tenant') + ' adopted the page, ' + count(w.runs, 'run') + ' counted')); ul.appendChild(li);
    d.appendChild(ul);
    return d;
  }

  function tenantsTable(s) {
    var t = el('table', undefined, 'parts'); t.setAttribute('data-skill', s.skill);
    t.appendChild(el('caption', 'Tenants (counts only)'));
    var head = el('tr'); ['tenant', 'standing', 'last batch', 'last day with rows', 'rows'].forEach(function (h) { head.appendChild(el('th', h)); });
    var th = el('thead'); th.appendChild(head); t.appendChild(th);
    var tb = el('tbody');
    s.tenants.forEach(function (x) {
      var tr = el('tr'); tr.setAttribute('data-part', x.tenant); tr.setAttribute('data-rows', x.rows);
      tr.appendChild(el('td', x.tenant)); tr.appendChild(el('td', !x.registered ? 'not in the registry (direct mode)' : x.admitted ? 'admitted' : 'revoked', x.registered && !x.admitted ? 'rejected' : ''));
      tr.appendChild(el('td', short(x.lastBatch))); tr.appendChild(el('td', x.lastDay || '-')); tr.appendChild(el('td', x.rows));
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }

  window.snappySkills = function (list, box) {
    box.textContent = '';
    if (!list.length) { box.appendChild(el('p', 'no skill has a changelog, a staged revision or scored rows yet')); return; }
    list.forEach(function (s) {
      var a = el('article', undefined, 'skill'); a.setAttribute('data-skill', s.skill);
      a.appendChild(el('h3', s.skill + (s.canonical ? ': canonical rev ' + s.canonical : ': no canonical page')));
      var withPoints = s.series.filter(function (x) { return x.points.length; });
      var fig = el('figure', undefined, 'trend');
      if (withPoints.length) { fig.appendChild(chart({ skill: s.skill, series: withPoints }, s.thresholds.minScore)); }
      else fig.appendChild(el('p', 'no scored rows yet'));
      fig.appendChild(el('figcaption', 'Fleet mean score per day: ' + withPoints.map(function (x, i) { return label(x.rev) + ' (' + look(i).words + ')'; }).join('; ')));
      a.appendChild(fig);
      var det = el('details'); det.appendChild(el('summary', 'the same numbers as a table')); det.appendChild(table({ skill: s.skill, series: withPoints })); a.appendChild(det);
      a.appendChild(quorumTable(s));
      a.appendChild(el('h4', 'Watch'));
      // Admitted tenants; a direct-mode fleet without a registry: the tenants with rows.
      a.appendChild(watchBox(s, s.tenants.filter(function (x) { return x.admitted; }).length || s.tenants.length));
      a.appendChild(historyTable(s));
      a.appendChild(tenantsTable(s));
      box.appendChild(a);
    });
  };
})();
`;
