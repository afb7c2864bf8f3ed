/**
 * /snappy-ops: the operator page. The HTML holds no data; /snappy-ops/app.js asks for the ops
 * token (kept in sessionStorage), loads /snappy-ops/api/revs (and skills, watch, fleet, alerts, tenants, audit) with it and builds the DOM with
 * textContent and createElementNS only, so no skill name or page text is ever parsed as HTML.
 * The fleet per skill (history, trend chart, progress bars) is drawn by /snappy-ops/skills.js (worker/ops-skills.ts).
 * The CSP (worker/http.ts) allows scripts and styles from this origin only.
 */
export const OPS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>snappy ops</title>
<link rel="stylesheet" href="/snappy-ops/app.css">
</head>
<body>
<header><h1>snappy ops</h1><span id="last"></span></header>
<form id="login">
  <label>Ops token <input id="token" type="password" autocomplete="current-password" required></label>
  <label>Your name <input id="me" type="text" pattern="[A-Za-z0-9._@+-]{1,64}" placeholder="recorded as approver"></label>
  <button type="submit" id="load">Load</button>
</form>
<p id="msg" role="status"></p>
<svg class="defs" width="0" height="0" aria-hidden="true"><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#2d2d2d" stroke-width="3"/></pattern></defs></svg>
<section id="skillsec"><h2>Skills</h2>
<div id="skills"></div>
</section>
<section><h2>Staged revisions</h2>
<table id="revs"><thead><tr><th>skill</th><th>rev</th><th>state</th><th>tenants</th><th>runs</th><th>mean</th><th>scores</th><th></th></tr></thead><tbody></tbody></table>
<div id="diffbox" hidden><h3 id="diffhead"></h3><ul id="difffm"></ul><pre id="diff"></pre></div>
</section>
<section><h2>Promotions under watch</h2>
<p id="lastrb"></p>
<table id="watch"><thead><tr><th>skill</th><th>rev</th><th>promoted</th><th>objecting</th><th>adopted</th><th>runs</th><th>tenants</th><th></th></tr></thead><tbody></tbody></table>
<h3>Rollbacks</h3>
<table id="rollbacks"><thead><tr><th>skill</th><th>rev</th><th>when</th><th>by</th><th>restored</th><th>evidence</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Alerts</h2>
<p id="hook"></p>
<table id="alerts"><thead><tr><th>alert</th><th>severity</th><th>since</th><th>message</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Fleet</h2>
<p id="versions"></p>
<table id="fleet"><thead><tr><th>tenant</th><th>standing</th><th>last seen</th><th>release</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Tenants</h2>
<table id="tenants"><thead><tr><th>tenant</th><th>standing</th><th>admitted</th><th>signatures</th><th></th></tr></thead><tbody></tbody></table>
<form id="admit">
  <input id="tenant" placeholder="tenant id (12 hex)" pattern="[0-9a-f]{12}" required>
  <input id="key" placeholder="public key (snappy ops key)" pattern="[A-Za-z0-9_-]{43}|[0-9a-f]{64}" required>
  <button type="submit">Admit</button>
</form>
</section>
<section><h2>Audit</h2>
<ol id="audit"></ol>
</section>
<script src="/snappy-ops/skills.js"></script>
<script src="/snappy-ops/app.js"></script>
</body>
</html>
`;

export const OPS_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
header{display:flex;gap:1rem;align-items:baseline}#last{color:#555}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:middle}
.gated{color:#a60}.promoted{color:#070}.rejected{color:#a00}#msg{min-height:1.2em;color:#036}
form{margin:.5rem 0;display:flex;gap:.5rem;flex-wrap:wrap}input{font:inherit}button{font:inherit;cursor:pointer}
.hist rect{fill:#48c}.hist line{stroke:#c33}
svg.defs{position:absolute}article.skill{border-top:2px solid #888;margin:1rem 0;padding-top:.3rem}article.skill table{margin:.5rem 0}
caption{text-align:left;font-weight:600;padding:.3rem 0}figure.trend{margin:.5rem 0}figcaption{color:#555;font-size:12px}
svg.trend{max-width:100%;height:auto}svg.trend text{font:11px system-ui,sans-serif;fill:#333}svg.trend text.end{font-weight:600}
svg.trend .grid{stroke:#e4e4e4}svg.trend .threshold line{stroke:#555}
.bar{display:inline-flex;gap:.4rem;align-items:center}.bar .frame{fill:none;stroke:#2d2d2d}.bar .words{font-size:13px}
.watchbox ul{list-style:none;padding:0;margin:.2rem 0}.expiry{color:#a60}.gate{font-size:13px}
#diff{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:30rem}.error{color:#a00}.warning{color:#a60}
`;

export const OPS_JS = `'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var SVG = 'http://www.w3.org/2000/svg';
  function token() { return sessionStorage.getItem('snappy-ops-token') || ''; }
  function say(t) { $('msg').textContent = t; }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function api(method, path, body) {
    return fetch('/snappy-ops/api' + path, { method: method, headers: Object.assign({ authorization: 'Bearer ' + token() }, body ? { 'content-type': 'application/json' } : {}), body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error('HTTP ' + r.status + ': ' + (j.error || '')); return j; }); });
  }
  function chart(hist, min) {
    var w = 120, h = 30, max = Math.max.apply(null, hist.concat([1]));
    var s = document.createElementNS(SVG, 'svg'); s.setAttribute('class', 'hist'); s.setAttribute('width', w); s.setAttribute('height', h); s.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    var t = document.createElementNS(SVG, 'title'); t.textContent = 'runs per score decile: ' + hist.join(', '); s.appendChild(t);
    hist.forEach(function (n, i) { var r = document.createElementNS(SVG, 'rect'); var bh = Math.round((n / max) * (h - 2)); r.setAttribute('x', i * 12); r.setAttribute('y', h - bh); r.setAttribute('width', 10); r.setAttribute('height', bh); s.appendChild(r); });
    var l = document.createElementNS(SVG, 'line'); l.setAttribute('x1', min * w); l.setAttribute('x2', min * w); l.setAttribute('y1', 0); l.setAttribute('y2', h); s.appendChild(l);
    return s;
  }
  // The same words as snappy status and snappy ops revs (plugins/quorum/words.ts).
  function count(n, one) { return n + ' ' + (n === 1 ? one : one + 's'); }
  function tenantsWords(n, need) { return n <= need ? n + ' of ' + count(need, 'tenant') + ' endorse' + (n === 1 ? 's' : '') : count(n, 'tenant') + ' endorse, ' + need + ' needed'; }
  function runsWords(n, need) { return count(n, 'run') + ', ' + need + ' needed'; }
  // The diff id each rev was last shown with: an approval names it, so it promotes only that change.
  var shown = {};
  function showDiff(r) {
    api('GET', '/revs/' + encodeURIComponent(r.skill) + '/' + encodeURIComponent(r.rev) + '/diff').then(function (d) {
      shown[r.skill + ':' + r.rev] = d.diffId;
      $('diffbox').hidden = false;
      $('diffhead').textContent = r.skill + ':' + r.rev + ' against ' + (d.canonicalRev ? 'canonical ' + d.canonicalRev : 'no canonical page (new skill)') + ', diff ' + d.diffId;
      var ul = $('difffm'); ul.textContent = '';
      d.frontmatter.forEach(function (f) { ul.appendChild(el('li', 'frontmatter ' + f.key + ': ' + f.change + (f.change !== 'added' ? ' from ' + JSON.stringify(f.from) : '') + (f.change !== 'removed' ? ' to ' + JSON.stringify(f.to) : ''))); });
      $('diff').textContent = d.text || '(no change against canonical)';
      say('showing the diff of ' + r.skill + ':' + r.rev + ' (' + d.diffId + ')');
    }).catch(function (e) { say(e.message); });
  }
  function act(r, action) {
    var me = $('me').value.trim();
    var diff = shown[r.skill + ':' + r.rev];
    var body = action === 'approve' ? Object.assign(me ? { by: me } : {}, diff ? { diff: diff } : {}) : { by: me || 'operator', reason: prompt('Reason for rejecting ' + r.skill + ':' + r.rev + '?') || '' };
    say(action + ' ' + r.skill + ':' + r.rev + '...');
    api('POST', '/revs/' + encodeURIComponent(r.skill) + '/' + encodeURIComponent(r.rev) + '/' + action, body)
      .then(function (j) { say(action === 'approve' ? (j.promoted ? 'promoted ' + r.skill + ':' + r.rev + ' (by ' + j.row.by + (j.approval && j.approval.shown ? ', diff ' + j.approval.diff + ' shown' : '') + ')' : 'already promoted') : 'rejected ' + r.skill + ':' + r.rev); load(); })
      .catch(function (e) { say(e.message); });
  }
  function render(data) {
    var lp = data.last_quorum_promotion;
    $('last').textContent = lp ? 'last promotion: ' + lp.skill + ':' + lp.rev_id + ' at ' + lp.ts : 'no promotion yet';
    var tb = $('revs').tBodies[0]; tb.textContent = '';
    data.revs.forEach(function (r) {
      var tr = document.createElement('tr'); tr.setAttribute('data-rev', r.skill + ':' + r.rev);
      tr.appendChild(el('td', r.skill)); tr.appendChild(el('td', r.rev));
      tr.appendChild(el('td', r.state + (r.manualReview ? ' (manual_review: ' + r.manualReview + ')' : '') + (r.promotion ? ' by ' + r.promotion.by : ''), r.state));
      tr.appendChild(el('td', tenantsWords(r.endorsing, r.thresholds.minTenants) + ' (' + r.tenants.length + ' scored)'));
      tr.appendChild(el('td', runsWords(r.endorsingRuns, r.thresholds.minRuns)));
      tr.appendChild(el('td', r.mean === null ? '-' : r.mean));
      var c = el('td'); c.appendChild(chart(r.histogram, r.thresholds.minScore)); tr.appendChild(c);
      var b = el('td');
      if (r.state === 'pending' || r.state === 'gated') {
        var df = el('button', 'Diff'); df.className = 'diff'; df.addEventListener('click', function () { showDiff(r); }); b.appendChild(df);
      }
      if (r.state !== 'promoted') {
        var ap = el('button', 'Approve'); ap.className = 'approve'; ap.addEventListener('click', function () { act(r, 'approve'); }); b.appendChild(ap);
        if (r.state !== 'rejected') { var rj = el('button', 'Reject'); rj.className = 'reject'; rj.addEventListener('click', function () { act(r, 'reject'); }); b.appendChild(rj); }
      }
      // An expired rev waits again, its clock restarted, once an operator revives it.
      if (r.state === 'expired') b.appendChild(button('Revive', 'revive', function () { watchAct(r.skill, r.rev, 'revive'); }));
      tr.appendChild(b); tb.appendChild(tr);
    });
    if (!data.revs.length) { var tr = document.createElement('tr'); var td = el('td', 'no staged revisions'); td.colSpan = 8; tr.appendChild(td); tb.appendChild(tr); }
  }
  function watchAct(skill, rev, action) {
    var me = $('me').value.trim() || 'operator';
    var why = prompt('Reason to ' + action + ' ' + skill + ':' + rev + '?') || '';
    var path = action === 'rollback' ? '/skills/' + encodeURIComponent(skill) + '/rollback' : '/revs/' + encodeURIComponent(skill) + '/' + encodeURIComponent(rev) + '/' + action;
    say(action + ' ' + skill + ':' + rev + '...');
    api('POST', path, action === 'rollback' ? { by: me, rev: rev, reason: why } : { by: me, reason: why })
      .then(function (j) {
        if (action === 'rollback') say(j.rolledBack ? 'rolled back ' + skill + ':' + rev + (j.restored ? ', restored ' + j.restored.rev_id : ', canonical withdrawn') : 'nothing rolled back: ' + j.why);
        else say(j.changed ? action + ' ' + skill + ':' + rev + ' done' : action + ' ' + skill + ':' + rev + ': nothing to change');
        load();
      })
      .catch(function (e) { say(e.message); });
  }
  function button(label, cls, fn) { var b = el('button', label); b.className = cls; b.addEventListener('click', fn); return b; }
  function renderWatch(w) {
    var lr = w.last_quorum_rollback;
    $('lastrb').textContent = lr ? 'last rollback: ' + lr.skill + ':' + lr.rev_id + ' at ' + lr.ts + ' by ' + lr.by : 'no rollback yet';
    var tb = $('watch').tBodies[0]; tb.textContent = '';
    w.watches.forEach(function (x) {
      var tr = document.createElement('tr'); tr.setAttribute('data-watch', x.skill + ':' + x.rev);
      tr.appendChild(el('td', x.skill)); tr.appendChild(el('td', x.rev + (x.pinned ? ' (pinned)' : '')));
      tr.appendChild(el('td', x.promotedAt + ' by ' + x.by));
      tr.appendChild(el('td', x.objecting + ' of ' + x.thresholds.minTenants + (x.rollback ? (x.pinned ? ' (would roll back; pinned)' : ' (rolls back at the next tick)') : ''), x.objecting ? 'rejected' : ''));
      tr.appendChild(el('td', x.adopted)); tr.appendChild(el('td', x.runs));
      var ul = el('ul');
      x.tenants.forEach(function (t) { ul.appendChild(el('li', t.tenant + ': ' + t.state + ' (' + t.reason + ')')); });
      var c = el('td'); c.appendChild(ul); tr.appendChild(c);
      var b = el('td');
      b.appendChild(button('Roll back', 'rollback', function () { if (confirm('Roll back ' + x.skill + ':' + x.rev + ' now?')) watchAct(x.skill, x.rev, 'rollback'); }));
      b.appendChild(x.pinned ? button('Unpin', 'unpin', function () { watchAct(x.skill, x.rev, 'unpin'); }) : button('Pin', 'pin', function () { watchAct(x.skill, x.rev, 'pin'); }));
      tr.appendChild(b); tb.appendChild(tr);
    });
    if (!w.watches.length) { var none = document.createElement('tr'); var td = el('td', 'no promotion under watch'); td.colSpan = 8; none.appendChild(td); tb.appendChild(none); }
    var rb = $('rollbacks').tBodies[0]; rb.textContent = '';
    w.rollbacks.forEach(function (e) {
      var tr = document.createElement('tr'); tr.setAttribute('data-rollback', e.skill + ':' + e.rev_id + ':' + e.seq);
      tr.appendChild(el('td', e.skill)); tr.appendChild(el('td', e.rev_id + (e.marked ? ' (marked)' : ' (cleared)')));
      tr.appendChild(el('td', e.ts)); tr.appendChild(el('td', e.by + (e.reason ? ': ' + e.reason : '')));
      tr.appendChild(el('td', e.restored ? e.restored.rev_id : 'withdrawn'));
      tr.appendChild(el('td', e.tenants + ' tenants, ' + e.runs + ' runs, mean ' + (e.mean === null ? '-' : e.mean)));
      var b = el('td');
      if (e.marked) b.appendChild(button('Clear', 'clear', function () { watchAct(e.skill, e.rev_id, 'clear'); }));
      tr.appendChild(b); rb.appendChild(tr);
    });
  }
  function renderTenants(list) {
    var tb = $('tenants').tBodies[0]; tb.textContent = '';
    list.forEach(function (t) {
      var tr = document.createElement('tr'); tr.setAttribute('data-tenant', t.tenant);
      tr.appendChild(el('td', t.tenant));
      tr.appendChild(el('td', t.rotatedTo ? 'rotated to ' + t.rotatedTo + ' at ' + t.rotatedAt : t.admitted ? 'admitted' : 'revoked ' + t.revokedAt + ' by ' + t.revokedBy, t.admitted ? '' : 'rejected'));
      tr.appendChild(el('td', t.admittedAt + ' by ' + t.admittedBy));
      tr.appendChild(el('td', t.signatures.join(', ')));
      var b = el('td');
      if (t.admitted) {
        var rv = el('button', 'Revoke'); rv.className = 'revoke';
        rv.addEventListener('click', function () {
          if (!confirm('Revoke tenant ' + t.tenant + '? Its requests are refused at once and its runs stop counting.')) return;
          api('DELETE', '/tenants/' + encodeURIComponent(t.tenant), { by: $('me').value.trim() || 'operator' }).then(function () { say('revoked ' + t.tenant); load(); }).catch(function (e) { say(e.message); });
        });
        b.appendChild(rv);
      }
      tr.appendChild(b); tb.appendChild(tr);
    });
  }
  function renderAlerts(a) {
    var w = a.webhook;
    $('hook').textContent = (w.configured ? 'webhook configured' + (w.last ? '; last call ' + w.last.at + (w.last.error ? ' failed: ' + w.last.error : ' answered ' + w.last.status) : '; not called yet') : 'no webhook configured (SNAPPY_ALERT_WEBHOOK)') + (a.pending ? '; ' + a.pending + ' event(s) waiting for delivery' : '');
    var tb = $('alerts').tBodies[0]; tb.textContent = '';
    a.open.forEach(function (x) {
      var tr = document.createElement('tr'); tr.setAttribute('data-alert', x.id);
      tr.appendChild(el('td', x.id)); tr.appendChild(el('td', x.severity, x.severity)); tr.appendChild(el('td', x.opened)); tr.appendChild(el('td', x.message));
      var b = el('td');
      b.appendChild(button('Acknowledge', 'ack', function () {
        api('POST', '/alerts/' + encodeURIComponent(x.id) + '/ack', { by: $('me').value.trim() || 'operator' }).then(function () { say('acknowledged ' + x.id); load(); }).catch(function (e) { say(e.message); });
      }));
      tr.appendChild(b); tb.appendChild(tr);
    });
    if (!a.open.length) { var tr = document.createElement('tr'); var td = el('td', 'no open alerts'); td.colSpan = 5; tr.appendChild(td); tb.appendChild(tr); }
  }
  function renderFleet(f) {
    var t = f.lastTick;
    $('versions').textContent = 'Worker ' + f.worker.release + ', protocol ' + f.worker.protocol + ' (clients from protocol ' + f.worker.minClientProtocol + '), layout ' + (f.layout === null ? 'unknown' : f.layout) +
      '; last tick ' + (t ? t.ts + (t.ok ? ' ok' : ' FAILED (' + t.failures + ' in a row): ' + t.error) : 'never') +
      '; in use: ' + (Object.keys(f.releases).map(function (k) { return k + ' x' + f.releases[k]; }).join(', ') || 'none');
    var tb = $('fleet').tBodies[0]; tb.textContent = '';
    f.tenants.forEach(function (x) {
      var tr = document.createElement('tr'); tr.setAttribute('data-fleet', x.tenant);
      tr.appendChild(el('td', x.tenant));
      tr.appendChild(el('td', x.rotatedTo ? 'rotated to ' + x.rotatedTo : x.admitted ? 'admitted' : 'revoked'));
      tr.appendChild(el('td', x.seen ? x.seen.lastSeen : 'never'));
      tr.appendChild(el('td', x.seen ? (x.seen.client || 'unnamed') + ' protocol ' + x.seen.protocol : '-'));
      tb.appendChild(tr);
    });
  }
  function load() {
    return Promise.all([api('GET', '/revs'), api('GET', '/tenants'), api('GET', '/audit'), api('GET', '/watch'), api('GET', '/alerts'), api('GET', '/fleet'), api('GET', '/skills')]).then(function (res) {
      render(res[0]);
      window.snappySkills(res[6].skills, $('skills'));
      renderTenants(res[1].tenants);
      renderWatch(res[3]);
      renderAlerts(res[4]);
      renderFleet(res[5]);
      var ol = $('audit'); ol.textContent = '';
      res[2].audit.forEach(function (e) { ol.appendChild(el('li', e.ts + ' ' + e.action + ' ' + e.tenant + ' by ' + e.by + (e.detail ? ' (' + e.detail + ')' : ''))); });
      document.body.setAttribute('data-loaded', String(Date.now()));
    }).catch(function (e) { say(e.message); });
  }
  $('login').addEventListener('submit', function (ev) { ev.preventDefault(); sessionStorage.setItem('snappy-ops-token', $('token').value); say('loading...'); load().then(function () { if (!/HTTP/.test($('msg').textContent)) say('loaded'); }); });
  $('admit').addEventListener('submit', function (ev) {
    ev.preventDefault();
    api('POST', '/tenants', { tenant: $('tenant').value.trim(), key: $('key').value.trim(), by: $('me').value.trim() || 'operator' })
      .then(function () { say('admitted ' + $('tenant').value); load(); }).catch(function (e) { say(e.message); });
  });
  if (token()) load();
})();
`;
