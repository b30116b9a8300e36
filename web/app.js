/*
 * dzong incident desk: the web UI. Plain JS, no framework, no build step.
 *
 * Safety rule for this file: text from the server is only ever put into the
 * page as text (textContent, text nodes, attribute values via setAttribute,
 * form values). Nothing here assigns innerHTML or builds HTML strings, so a
 * hostile incident title stays a title. The server's CSP forbids inline code.
 */
'use strict';

(() => {
  // ---- constants that mirror the server ----

  const STATUSES = ['new', 'triage', 'analysis', 'mitigation', 'recovery', 'closed', 'rejected', 'duplicate'];
  const OPEN_STATUSES = ['new', 'triage', 'analysis', 'mitigation', 'recovery'];
  const NEXT = {
    new: ['triage', 'rejected'],
    triage: ['analysis', 'rejected', 'closed'],
    analysis: ['mitigation', 'triage', 'closed'],
    mitigation: ['recovery', 'analysis'],
    recovery: ['closed', 'mitigation'],
    closed: ['triage'],
    rejected: ['triage'],
    duplicate: [],
  };
  const PHASE_ORDER = { new: 0, triage: 1, analysis: 2, mitigation: 3, recovery: 4, closed: 5, rejected: 5, duplicate: 5 };
  const SEVERITIES = ['low', 'medium', 'high', 'critical'];
  const TLPS = ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'];
  const PAPS = ['CLEAR', 'GREEN', 'AMBER', 'RED'];
  const STAFF = ['admin', 'coordinator', 'handler', 'analyst'];
  const REPORT_SOURCES = ['web', 'email', 'phone', 'walk-in', 'partner', 'sensor'];
  const ORG_KINDS = ['government', 'cii-operator', 'isp', 'private', 'academia', 'ngo', 'partner-cert', 'other'];
  // The server's default sector list; a deployment may configure others (dzong.conf `sectors`).
  const DEFAULT_SECTORS = ['government', 'energy', 'ict-telecom', 'banking-finance', 'health', 'transport', 'water',
    'emergency-services', 'food-agriculture', 'media'];
  const CONTACT_ROLES = ['abuse', 'security', 'management', '24x7'];
  const NOTIFY_INTERVALS = ['immediate', 'hourly', 'daily', 'weekly', 'never'];
  const NOTIFY_FORMATS = ['csv', 'json'];
  const NEW_ORG = '_new'; // "#/constituents/_new": a short name never starts with "_"
  const SORTS = {
    created_at: 'Created',
    updated_at: 'Updated',
    severity: 'Severity',
    due_at: 'Due',
  };

  // ---- state ----

  const S = {
    me: null, // {username, role, constituent}
    csrf: null,
    taxonomy: null, // [{taxonomy, type}]
    constituents: null, // every record the user may see, for pickers and names
    users: new Set(), // user names seen, for assignee suggestions
    lastList: null, // the incident list's address with its filters, for "back" links
    lastEvents: null, // the same for the event list
    lastNotifications: null, // the same for the notification list
  };
  let renderSeq = 0;

  const isStaff = () => !!S.me && STAFF.includes(S.me.role);
  const canReadIncidents = () => !!S.me && S.me.role !== 'partner';
  const canEditIncidents = isStaff;
  const canTasks = isStaff;
  const canLinkReports = isStaff;
  const canEditRegistry = () => !!S.me && (S.me.role === 'admin' || S.me.role === 'coordinator');
  const canLookup = isStaff;
  // Notices to constituents: the roles that may write incidents, less analysts (policy.c ACT_INCIDENT_NOTIFY).
  const canNotify = () => !!S.me && ['admin', 'coordinator', 'handler'].includes(S.me.role);
  // The recipients acknowledge; the CIRT never does it for them (policy.c ACT_NOTIFICATION_ACK).
  const canAcknowledge = () => !!S.me && (S.me.role === 'constituent' || S.me.role === 'partner');

  // ---- DOM helpers (text only, never HTML) ----

  const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'required', 'multiple', 'readOnly']);

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (PROPS.has(k)) el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(el, kids);
    return el;
  }

  function append(el, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(el, k);
      else if (k instanceof Node) el.appendChild(k);
      else el.appendChild(document.createTextNode(String(k)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function option(value, label, selected) {
    return h('option', { value, selected: !!selected }, label === undefined ? value : label);
  }

  function select(name, values, current, extra) {
    const sel = h('select', Object.assign({ name }, extra || {}));
    for (const v of values) {
      if (Array.isArray(v)) sel.appendChild(option(v[0], v[1], v[0] === current));
      else sel.appendChild(option(v, v, v === current));
    }
    return sel;
  }

  // ---- formatting ----

  const pad = (n) => String(n).padStart(2, '0');

  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function fmtDuration(sec) {
    const a = Math.abs(sec);
    if (a < 90) return `${Math.round(a)}s`;
    if (a < 5400) return `${Math.round(a / 60)}m`;
    if (a < 48 * 3600) return `${Math.round(a / 3600)}h`;
    return `${Math.round(a / 86400)}d`;
  }

  function relTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return '';
    const s = (d.getTime() - Date.now()) / 1000;
    return s >= 0 ? `in ${fmtDuration(s)}` : `${fmtDuration(s)} ago`;
  }

  // Short form for dense tables: the year only when it is not this year.
  function fmtShort(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d)) return fmtTime(iso);
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return d.getFullYear() === new Date().getFullYear() ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}` : fmtTime(iso);
  }

  function timeEl(iso, cls, short) {
    return h('time', { datetime: iso || '', title: iso ? `${fmtTime(iso)} (${relTime(iso)})` : '', class: cls }, short ? fmtShort(iso) : fmtTime(iso));
  }

  function dueEl(inc) {
    if (!inc.due_at) return h('span', { class: 'muted' }, '—');
    const overdue = OPEN_STATUSES.includes(inc.status) && new Date(inc.due_at).getTime() < Date.now();
    return h('time', {
      datetime: inc.due_at,
      class: overdue ? 'due overdue' : 'due',
      title: `${inc.due_at}${overdue ? ' — overdue' : ''}`,
    }, overdue ? `overdue ${fmtDuration((Date.now() - new Date(inc.due_at).getTime()) / 1000)}` : relTime(inc.due_at));
  }

  const cssToken = (s) => String(s || '').toLowerCase().replace(/[^a-z0-9]+/g, '-');

  function tlpBadge(tlp) {
    return h('span', { class: `badge tlp tlp-${cssToken(tlp)}`, title: `Traffic Light Protocol: TLP:${tlp}` }, `TLP:${tlp}`);
  }

  function papBadge(pap) {
    return h('span', { class: `badge pap pap-${cssToken(pap)}`, title: `Permissible Actions Protocol: PAP:${pap}` }, `PAP:${pap}`);
  }

  function sevBadge(sev) {
    return h('span', { class: `badge sev sev-${cssToken(sev)}`, title: `severity: ${sev}` }, sev);
  }

  function statusBadge(st) {
    return h('span', { class: `badge status st-${cssToken(st)}` }, st);
  }

  function classificationText(c) {
    if (!c) return '—';
    return `${c.taxonomy} / ${c.type}`;
  }

  function constituentName(short) {
    const c = (S.constituents || []).find((x) => x.short_name === short);
    return c ? c.name : short;
  }

  function noteUser(name) {
    if (name) S.users.add(name);
  }

  // ---- API ----

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && S.csrf) opts.headers['X-CSRF-Token'] = S.csrf;
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, `cannot reach the server (${e.message})`);
    }
    let data = null;
    const type = res.headers.get('Content-Type') || '';
    if (res.status !== 204 && type.includes('json')) data = await res.json().catch(() => null);
    if (!res.ok) {
      const detail = (data && (data.detail || data.title)) || `${res.status} ${res.statusText}`;
      if (res.status === 401 && !path.startsWith('/api/v1/session')) sessionLost();
      throw new ApiError(res.status, detail);
    }
    return data;
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
    const s = u.toString();
    return s ? `?${s}` : '';
  }

  const incPath = (id) => `/api/v1/incidents/${encodeURIComponent(id)}`;

  async function loadTaxonomy() {
    if (!S.taxonomy) S.taxonomy = (await api('GET', '/api/v1/taxonomy')).items;
    return S.taxonomy;
  }

  const conPath = (name) => `/api/v1/constituents/${encodeURIComponent(name)}`;
  const conHref = (name) => `#/constituents/${encodeURIComponent(name)}`;

  // The whole registry the user may see (for pickers): the list is paged, so follow next_cursor.
  async function fetchAllConstituents() {
    const all = [];
    let cursor = '';
    for (let page = 0; page < 1000; page++) {
      const res = await api('GET', `/api/v1/constituents${qs({ limit: 1000, cursor })}`);
      all.push(...res.items);
      if (!res.next_cursor || res.next_cursor === cursor) break;
      cursor = res.next_cursor;
    }
    return all;
  }

  async function loadConstituents() {
    if (!S.constituents) S.constituents = await fetchAllConstituents();
    return S.constituents;
  }

  // ---- flash messages ----

  let flashTimer = null;
  function flash(msg, kind) {
    const box = document.getElementById('flash');
    if (!box) return;
    clear(box);
    box.className = `flash ${kind || 'ok'}`;
    box.appendChild(h('span', { class: 'flash-text' }, msg));
    box.appendChild(h('button', { type: 'button', class: 'flash-close', 'aria-label': 'Dismiss', onclick: () => { box.hidden = true; } }, '×'));
    box.hidden = false;
    clearTimeout(flashTimer);
    if (kind !== 'error') flashTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  function errorBox() {
    return h('div', { class: 'form-error', role: 'alert', hidden: true });
  }

  function showError(box, err) {
    box.textContent = err instanceof Error ? err.message : String(err);
    box.hidden = false;
  }

  // Wraps a form submit: disables the buttons, shows the server's detail on failure.
  function onSubmit(form, errBox, fn) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (form.dataset.busy) return;
      form.dataset.busy = '1';
      errBox.hidden = true;
      const buttons = form.querySelectorAll('button');
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await fn();
      } catch (e) {
        showError(errBox, e);
      } finally {
        delete form.dataset.busy;
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
    // Ctrl/Cmd+Enter submits from a textarea.
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && ev.target.tagName === 'TEXTAREA') {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
  }

  // ---- session ----

  function sessionLost() {
    if (!S.me) return;
    S.me = null;
    S.csrf = null;
    renderLogin('Your session has ended. Please sign in again.');
  }

  async function boot() {
    try {
      const who = await api('GET', '/api/v1/session');
      setSession(who);
      renderShell();
    } catch (e) {
      renderLogin(e.status === 401 ? '' : e.message);
    }
  }

  function setSession(who) {
    S.me = { username: who.username, role: who.role, constituent: who.constituent };
    S.csrf = who.csrf_token;
    S.taxonomy = null;
    S.constituents = null;
    S.users = new Set([who.username]);
    S.lastList = null;
    S.lastEvents = null;
    S.lastNotifications = null;
  }

  function renderLogin(message) {
    const app = clear(document.getElementById('app'));
    const err = errorBox();
    const user = h('input', { name: 'username', id: 'login-user', autocomplete: 'username', required: true, spellcheck: 'false', autocapitalize: 'off' });
    const pass = h('input', { name: 'password', id: 'login-pass', type: 'password', autocomplete: 'current-password', required: true });
    const form = h('form', { class: 'login-card', id: 'login-form' },
      h('div', { class: 'login-brand' }, h('span', { class: 'logo' }, 'dzong'), h('span', { class: 'muted' }, 'incident desk')),
      message ? h('p', { class: 'notice' }, message) : null,
      h('label', { for: 'login-user' }, 'User name'), user,
      h('label', { for: 'login-pass' }, 'Password'), pass,
      err,
      h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
    onSubmit(form, err, async () => {
      try {
        const who = await api('POST', '/api/v1/session', { username: user.value.trim(), password: pass.value });
        setSession(who);
        pass.value = '';
        renderShell();
      } catch (e) {
        pass.value = '';
        pass.focus();
        throw e;
      }
    });
    app.appendChild(h('main', { class: 'login-page' }, form));
    user.focus();
  }

  async function logout() {
    try {
      await api('DELETE', '/api/v1/session');
    } catch (e) {
      /* the session may be gone already; we log out locally either way */
    }
    S.me = null;
    S.csrf = null;
    history.replaceState(null, '', location.pathname); // the next user starts at their own home
    renderLogin('You have signed out.');
  }

  // ---- shell and routing ----

  function renderShell() {
    const app = clear(document.getElementById('app'));
    const nav = h('nav', { class: 'nav', 'aria-label': 'Main' },
      canReadIncidents() ? h('a', { href: '#/incidents', dataset: { nav: 'incidents' } }, 'Incidents') : null,
      h('a', { href: '#/reports', dataset: { nav: 'reports' } }, 'Reports'),
      h('a', { href: '#/events', dataset: { nav: 'events' }, id: 'nav-events' }, 'Events'),
      h('a', { href: '#/notifications', dataset: { nav: 'notifications' }, id: 'nav-notifications' }, 'Notifications'),
      h('a', { href: '#/constituents', dataset: { nav: 'constituents' }, id: 'nav-constituents' }, isStaff() ? 'Constituents' : 'My organisation'));
    const who = h('div', { class: 'whoami' },
      h('span', { class: 'user', id: 'me-user' }, S.me.username),
      h('span', { class: `role role-${cssToken(S.me.role)}`, id: 'me-role' }, S.me.role),
      S.me.constituent ? h('span', { class: 'org', title: 'your organisation' }, S.me.constituent) : null,
      h('button', { type: 'button', class: 'ghost', id: 'logout', onclick: logout }, 'Sign out'));
    app.appendChild(h('header', { class: 'topbar' },
      h('a', { class: 'logo', href: canReadIncidents() ? '#/incidents' : '#/reports' }, 'dzong'), nav,
      canLookup() ? lookupBox() : null, who));
    app.appendChild(h('div', { id: 'flash', class: 'flash', hidden: true, role: 'status' }));
    app.appendChild(h('main', { id: 'main' }));
    route();
  }

  // The header's "whose is it?" box: every page, staff only. It opens #/lookup?q=VALUE.
  function lookupBox() {
    const input = h('input', {
      type: 'search', id: 'lookup-q', name: 'q', placeholder: 'Whose is it? IP, network, AS, domain  ( l )',
      'aria-label': 'Look up an IP address, network, AS number or domain', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
    });
    const form = h('form', { class: 'lookup-box', id: 'lookup-form', role: 'search' },
      input, h('button', { type: 'submit', class: 'ghost small' }, 'Look up'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      if (!v) return;
      const target = `#/lookup?${new URLSearchParams({ q: v })}`;
      if (location.hash === target) route(); // the same question again: ask again
      else location.hash = target;
    });
    return form;
  }

  function pageTitle(section, path) {
    if (section === 'reports') return 'Reports';
    if (section === 'lookup') return 'Lookup';
    if (section === 'events') return path[1] ? `Event ${path[1]}` : 'Events';
    if (section === 'notifications') return path[1] || 'Notifications';
    if (section === 'constituents') return path[1] === NEW_ORG ? 'New organisation' : path[1] || (isStaff() ? 'Constituents' : 'My organisation');
    return path[1] === 'new' ? 'New incident' : path[1] || 'Incidents';
  }

  function parseHash() {
    const raw = location.hash.replace(/^#/, '') || '';
    const qi = raw.indexOf('?');
    const path = (qi >= 0 ? raw.slice(0, qi) : raw).split('/').filter(Boolean).map((p) => {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
    const query = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
    return { path, query };
  }

  function route() {
    if (!S.me) return;
    const main = document.getElementById('main');
    if (!main) return;
    const { path, query } = parseHash();
    const seq = ++renderSeq;
    const ctx = { alive: () => seq === renderSeq && document.body.contains(main) };
    let section = path[0] || (canReadIncidents() ? 'incidents' : 'reports');
    if (section === 'incidents' && !canReadIncidents()) section = 'reports';
    document.querySelectorAll('.nav a').forEach((a) => a.classList.toggle('active', a.dataset.nav === section));
    clear(main);
    document.title = `${pageTitle(section, path)} · dzong`;
    let p;
    if (section === 'incidents' && path[1] === 'new') p = viewNewIncident(main, ctx);
    else if (section === 'incidents' && path[1]) p = viewIncident(main, ctx, path[1]);
    else if (section === 'incidents') p = viewIncidentList(main, ctx, query);
    else if (section === 'reports') p = viewReports(main, ctx, query);
    else if (section === 'constituents' && path[1] === NEW_ORG) p = viewNewConstituent(main, ctx);
    else if (section === 'constituents' && path[1]) p = viewConstituent(main, ctx, path[1]);
    else if (section === 'constituents') p = viewConstituentList(main, ctx, query);
    else if (section === 'events' && path[1]) p = viewEvent(main, ctx, path[1]);
    else if (section === 'events') p = viewEvents(main, ctx, query);
    else if (section === 'notifications' && path[1]) p = viewNotification(main, ctx, path[1]);
    else if (section === 'notifications') p = viewNotifications(main, ctx, query);
    else if (section === 'lookup') p = viewLookup(main, ctx, query);
    else {
      main.appendChild(h('p', { class: 'empty' }, 'There is nothing at this address. ', h('a', { href: '#/incidents' }, 'Go to the incidents.')));
      return;
    }
    Promise.resolve(p).catch((e) => {
      if (!ctx.alive() || e.status === 401) return;
      clear(main);
      main.appendChild(h('div', { class: 'page-error', role: 'alert' }, h('strong', null, 'Could not load this page: '), e.message));
    });
  }

  window.addEventListener('hashchange', route);

  // Keyboard: "/" focuses search, "l" the lookup box, "n" opens a new incident.
  document.addEventListener('keydown', (ev) => {
    if (!S.me || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    if (typing) return;
    if (ev.key === '/' || ev.key === 'l') {
      const q = ev.key === 'l' ? document.getElementById('lookup-q') : document.querySelector('#f-q, #c-q, #e-ip');
      if (q) { ev.preventDefault(); q.focus(); q.select(); }
    } else if (ev.key === 'n' && canEditIncidents()) {
      location.hash = '#/incidents/new';
    }
  });

  // ---- incident list ----

  const FILTER_KEYS = ['status', 'severity', 'tlp', 'constituent', 'assignee', 'tag', 'q', 'sort'];

  async function viewIncidentList(main, ctx, query) {
    const f = {};
    for (const k of FILTER_KEYS) f[k] = query.get(k) || '';
    if (!query.has('status')) f.status = 'open';
    if (!f.sort) f.sort = '-created_at';
    S.lastList = location.hash || '#/incidents';

    await loadConstituents().catch(() => { S.constituents = []; });
    if (!ctx.alive()) return;

    const statusSel = select('status', [['open', 'Open (active)'], ['', 'Any status'], ...STATUSES.map((s) => [s, s])], f.status, { id: 'f-status', 'aria-label': 'Status' });
    const sevSel = select('severity', [['', 'Any severity'], ...SEVERITIES.slice().reverse().map((s) => [s, s]), ['high,critical', 'high + critical']], f.severity, { id: 'f-severity', 'aria-label': 'Severity' });
    const tlpSel = select('tlp', [['', 'Any TLP'], ...TLPS.map((t) => [t, `TLP:${t}`])], f.tlp, { id: 'f-tlp', 'aria-label': 'TLP' });
    const conSel = select('constituent', [['', 'Any constituent'], ...(S.constituents || []).map((c) => [c.short_name, c.short_name])], f.constituent, { id: 'f-constituent', 'aria-label': 'Constituent' });
    const assignee = h('input', { id: 'f-assignee', name: 'assignee', value: f.assignee, placeholder: 'assignee', list: 'dl-users', 'aria-label': 'Assignee (none = unassigned)', size: 10, spellcheck: 'false', autocapitalize: 'off' });
    const tag = h('input', { id: 'f-tag', name: 'tag', value: f.tag, placeholder: 'tag', 'aria-label': 'Tag', size: 8, spellcheck: 'false' });
    const q = h('input', { id: 'f-q', name: 'q', type: 'search', value: f.q, placeholder: 'Search title, description or ID  ( / )', 'aria-label': 'Search' });
    const usersList = h('datalist', { id: 'dl-users' });
    const mine = isStaff() ? h('button', { type: 'button', class: 'ghost small', title: 'Incidents assigned to me' }, 'Mine') : null;
    const reset = h('button', { type: 'button', class: 'ghost small' }, 'Reset');

    const filters = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => { ev.preventDefault(); apply(); } },
      q, statusSel, sevSel, tlpSel, S.me.constituent ? null : conSel, assignee, tag, usersList, mine, reset);
    const newBtn = canEditIncidents() ? h('a', { class: 'button primary', href: '#/incidents/new', id: 'new-incident', title: 'New incident (n)' }, '+ New incident') : null;
    const count = h('span', { class: 'muted count' });
    const thead = h('thead');
    const tbody = h('tbody');
    const table = h('table', { class: 'grid incidents', id: 'incident-table' }, thead, tbody);
    const more = h('button', { type: 'button', class: 'ghost', id: 'load-more', hidden: true }, 'Load more');
    const status = h('div', { class: 'list-status' });

    const refresh = h('button', { type: 'button', class: 'ghost small', id: 'refresh', title: 'Reload the list', onclick: () => load(false) }, '↻ Refresh');
    main.appendChild(h('div', { class: 'toolbar' }, h('h1', null, 'Incidents'), count, refresh, h('span', { class: 'spacer' }), newBtn));
    main.appendChild(filters);
    main.appendChild(h('div', { class: 'table-wrap' }, table));
    main.appendChild(h('div', { class: 'list-foot' }, status, more));

    let cursor = null;
    let loadSeq = 0;
    let shown = 0;

    function fillUsers() {
      clear(usersList);
      usersList.appendChild(option('none', 'none (unassigned)'));
      [...S.users].sort().forEach((u) => usersList.appendChild(option(u)));
    }

    function sortHeader(key, label, cls) {
      const cur = f.sort.replace(/^-/, '');
      const desc = f.sort.startsWith('-');
      const active = cur === key;
      const btn = h('button', {
        type: 'button',
        class: `sort${active ? ' active' : ''}`,
        title: `Sort by ${label.toLowerCase()}`,
        onclick: () => {
          f.sort = active ? (desc ? key : `-${key}`) : (key === 'due_at' ? key : `-${key}`);
          apply();
        },
      }, label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (desc ? ' ▼' : ' ▲') : ''));
      return h('th', { class: cls, 'aria-sort': active ? (desc ? 'descending' : 'ascending') : null }, btn);
    }

    function renderHead() {
      clear(thead);
      thead.appendChild(h('tr', null,
        h('th', { class: 'c-id' }, 'ID'),
        h('th', { class: 'c-title' }, 'Title'),
        sortHeader('severity', 'Severity', 'c-sev'),
        h('th', { class: 'c-tlp' }, 'TLP'),
        h('th', { class: 'c-status' }, 'Status'),
        h('th', { class: 'c-class' }, 'Classification'),
        S.me.constituent ? null : h('th', { class: 'c-con' }, 'Constituents'),
        h('th', { class: 'c-assignee' }, 'Assignee'),
        sortHeader('created_at', 'Created', 'c-time c-created'),
        sortHeader('updated_at', 'Updated', 'c-time c-upd'),
        sortHeader('due_at', 'Due', 'c-due')));
    }

    function row(inc) {
      noteUser(inc.assignee);
      noteUser(inc.created_by);
      const href = `#/incidents/${encodeURIComponent(inc.id)}`;
      const tr = h('tr', { class: `sev-row-${cssToken(inc.severity)}`, dataset: { id: inc.id } },
        h('td', { class: 'c-id mono' }, h('a', { href }, inc.id)),
        h('td', { class: 'c-title' },
          h('a', { href, class: 'title-link', title: inc.title }, inc.title),
          inc.tags && inc.tags.length ? h('span', { class: 'tags' }, inc.tags.map((t) => h('span', { class: 'tag' }, t))) : null),
        h('td', { class: 'c-sev' }, sevBadge(inc.severity)),
        h('td', { class: 'c-tlp' }, tlpBadge(inc.tlp)),
        h('td', { class: 'c-status' }, statusBadge(inc.status)),
        h('td', { class: 'c-class', title: classificationText(inc.classification) }, inc.classification ? inc.classification.type : '—'),
        S.me.constituent ? null : h('td', { class: 'c-con', title: (inc.constituents || []).map(constituentName).join(', ') }, (inc.constituents || []).join(', ') || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'c-assignee' }, inc.assignee || h('span', { class: 'muted' }, 'unassigned')),
        h('td', { class: 'c-time c-created' }, timeEl(inc.created_at, null, true)),
        h('td', { class: 'c-time c-upd' }, timeEl(inc.updated_at, null, true)),
        h('td', { class: 'c-due' }, dueEl(inc)));
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a, button')) return;
        location.hash = href;
      });
      return tr;
    }

    async function load(append) {
      const my = ++loadSeq;
      if (!append) {
        cursor = null;
        shown = 0;
      }
      status.textContent = 'Loading…';
      more.hidden = true;
      const params = { limit: 50, sort: f.sort, status: f.status, severity: f.severity, tlp: f.tlp, constituent: f.constituent, assignee: f.assignee.trim(), tag: f.tag.trim(), q: f.q.trim(), cursor: append ? cursor : '' };
      try {
        const res = await api('GET', `/api/v1/incidents${qs(params)}`);
        if (my !== loadSeq || !ctx.alive()) return;
        if (!append) clear(tbody);
        res.items.forEach((inc) => tbody.appendChild(row(inc)));
        shown += res.items.length;
        cursor = res.next_cursor;
        more.hidden = !cursor;
        count.textContent = `${shown}${cursor ? '+' : ''} shown`;
        status.textContent = '';
        if (shown === 0) {
          tbody.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: 11 }, 'No incidents match these filters.')));
        }
        fillUsers();
      } catch (e) {
        if (my !== loadSeq || e.status === 401) return;
        status.textContent = '';
        if (!append) clear(tbody);
        status.appendChild(h('span', { class: 'form-error', role: 'alert' }, e.message));
      }
    }

    function apply() {
      f.status = statusSel.value;
      f.severity = sevSel.value;
      f.tlp = tlpSel.value;
      f.constituent = S.me.constituent ? '' : conSel.value;
      f.assignee = assignee.value;
      f.tag = tag.value;
      f.q = q.value;
      const params = {};
      for (const k of FILTER_KEYS) if (f[k]) params[k] = f[k];
      if (!f.status) params.status = '';
      if (f.sort === '-created_at') delete params.sort;
      if (f.status === 'open') delete params.status;
      const u = new URLSearchParams(params).toString();
      history.replaceState(null, '', `#/incidents${u ? `?${u}` : ''}`);
      S.lastList = location.hash;
      renderHead();
      load(false);
    }

    let typingTimer = null;
    const applySoon = () => { clearTimeout(typingTimer); typingTimer = setTimeout(apply, 300); };
    [statusSel, sevSel, tlpSel, conSel].forEach((s) => s.addEventListener('change', apply));
    [q, assignee, tag].forEach((i) => i.addEventListener('input', applySoon));
    if (mine) mine.addEventListener('click', () => { assignee.value = S.me.username; apply(); });
    reset.addEventListener('click', () => {
      q.value = ''; assignee.value = ''; tag.value = '';
      statusSel.value = 'open'; sevSel.value = ''; tlpSel.value = ''; conSel.value = '';
      f.sort = '-created_at';
      apply();
    });
    more.addEventListener('click', () => load(true));

    renderHead();
    fillUsers();
    await load(false);
  }

  // ---- incident form (create and full edit) ----

  async function incidentForm(initial, { submitLabel, onSave, onCancel, includeMarkings }) {
    const [tax, cons] = await Promise.all([loadTaxonomy(), loadConstituents()]);
    const err = errorBox();
    const title = h('input', { name: 'title', id: 'inc-title', required: true, maxlength: 300, value: initial.title || '', autocomplete: 'off' });
    const desc = h('textarea', { name: 'description', id: 'inc-description', rows: 5 });
    desc.value = initial.description || '';

    const cls = h('select', { name: 'classification', id: 'inc-classification' });
    const cur = initial.classification ? `${initial.classification.taxonomy}/${initial.classification.type}` : 'other/undetermined';
    const groups = new Map();
    for (const t of tax) {
      if (!groups.has(t.taxonomy)) groups.set(t.taxonomy, h('optgroup', { label: t.taxonomy }));
      const v = `${t.taxonomy}/${t.type}`;
      groups.get(t.taxonomy).appendChild(option(v, t.type, v === cur));
    }
    groups.forEach((g) => cls.appendChild(g));

    const sev = select('severity', SEVERITIES, initial.severity || 'medium', { id: 'inc-severity' });
    const tlp = select('tlp', TLPS.map((t) => [t, `TLP:${t}`]), initial.tlp || 'AMBER', { id: 'inc-tlp' });
    const pap = select('pap', PAPS.map((p) => [p, `PAP:${p}`]), initial.pap || 'AMBER', { id: 'inc-pap' });
    const assignee = h('input', { name: 'assignee', id: 'inc-assignee', value: initial.assignee || '', list: 'dl-form-users', placeholder: 'user name (optional)', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' });
    const usersList = h('datalist', { id: 'dl-form-users' }, [...S.users].sort().map((u) => option(u)));
    const tags = h('input', { name: 'tags', id: 'inc-tags', value: (initial.tags || []).join(', '), placeholder: 'comma separated, e.g. banking, sms', autocomplete: 'off' });

    const chosen = new Set(initial.constituents || []);
    const conFilter = h('input', { type: 'search', class: 'con-filter', placeholder: 'filter constituents…', 'aria-label': 'Filter constituents' });
    const conBox = h('div', { class: 'checklist', id: 'inc-constituents', role: 'group', 'aria-label': 'Constituents' },
      cons.map((c) => h('label', { class: 'check', title: `${c.short_name}: ${c.name}`, dataset: { search: `${c.short_name} ${c.name}`.toLowerCase() } },
        h('input', { type: 'checkbox', name: 'constituent', value: c.short_name, checked: chosen.has(c.short_name) }),
        h('span', { class: 'mono' }, c.short_name), ' ', h('span', { class: 'muted' }, c.name))));
    if (!cons.length) conBox.appendChild(h('p', { class: 'muted' }, 'No constituents are registered yet.'));
    conFilter.addEventListener('input', () => {
      const needle = conFilter.value.trim().toLowerCase();
      conBox.querySelectorAll('label.check').forEach((l) => { l.hidden = needle && !l.dataset.search.includes(needle); });
    });

    const field = (label, forId, el, cls2) => h('div', { class: `field ${cls2 || ''}` }, h('label', { for: forId }, label), el);

    const form = h('form', { class: 'card incident-form', id: 'incident-form' },
      field('Title', 'inc-title', title, 'wide'),
      field('Description', 'inc-description', desc, 'wide'),
      h('div', { class: 'row' },
        field('Classification (RSIT)', 'inc-classification', cls),
        includeMarkings ? field('Severity', 'inc-severity', sev) : null,
        includeMarkings ? field('TLP', 'inc-tlp', tlp) : null,
        includeMarkings ? field('PAP', 'inc-pap', pap) : null,
        includeMarkings ? field('Assignee', 'inc-assignee', h('span', null, assignee, usersList)) : null),
      h('div', { class: 'field wide' }, h('span', { class: 'label' }, 'Constituents'), conFilter, conBox),
      field('Tags', 'inc-tags', tags, 'wide'),
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, submitLabel),
        onCancel ? h('button', { type: 'button', class: 'ghost', onclick: onCancel }, 'Cancel') : null));

    onSubmit(form, err, async () => {
      const [taxonomy, type] = cls.value.split('/');
      const body = {
        title: title.value.trim(),
        description: desc.value,
        classification: { taxonomy, type },
        constituents: [...conBox.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value),
        tags: [...new Set(tags.value.split(',').map((t) => t.trim()).filter(Boolean))],
      };
      if (includeMarkings) {
        body.severity = sev.value;
        body.tlp = tlp.value;
        body.pap = pap.value;
        body.assignee = assignee.value.trim() || null;
      }
      if (!body.title) throw new Error('A title is required.');
      await onSave(body);
    });
    return { form, focus: () => title.focus() };
  }

  async function viewNewIncident(main, ctx) {
    if (!canEditIncidents()) {
      main.appendChild(h('p', { class: 'empty' }, 'Your role cannot open incidents. File a report instead: ', h('a', { href: '#/reports' }, 'Reports')));
      return;
    }
    const { form, focus } = await incidentForm({}, {
      submitLabel: 'Create incident',
      includeMarkings: true,
      onCancel: () => { location.hash = S.lastList || '#/incidents'; },
      onSave: async (body) => {
        if (!body.assignee) delete body.assignee;
        const inc = await api('POST', '/api/v1/incidents', body);
        flash(`Incident ${inc.id} created.`);
        location.hash = `#/incidents/${encodeURIComponent(inc.id)}`;
      },
    });
    if (!ctx.alive()) return;
    main.appendChild(h('div', { class: 'toolbar' }, h('a', { href: S.lastList || '#/incidents', class: 'back' }, '← Incidents'), h('h1', null, 'New incident')));
    main.appendChild(form);
    focus();
  }

  // ---- incident detail ----

  async function viewIncident(main, ctx, id) {
    const [inc] = await Promise.all([
      api('GET', incPath(id)),
      loadConstituents().catch(() => { S.constituents = []; }),
    ]);
    if (!ctx.alive()) return;
    noteUser(inc.assignee);
    noteUser(inc.created_by);
    document.title = `${inc.id} ${inc.title} · dzong`;

    const reload = () => { if (ctx.alive()) route(); };
    const page = h('div', { class: 'incident-page', id: 'incident-page', dataset: { id: inc.id, status: inc.status } });
    main.appendChild(page);

    // Heading
    page.appendChild(h('div', { class: 'toolbar' },
      h('a', { href: S.lastList || '#/incidents', class: 'back' }, '← Incidents'),
      h('span', { class: 'mono inc-id', id: 'inc-id' }, inc.id),
      statusBadge(inc.status), sevBadge(inc.severity), tlpBadge(inc.tlp), papBadge(inc.pap),
      h('span', { class: 'spacer' }),
      canEditIncidents() && inc.status !== 'duplicate' ? h('button', { type: 'button', class: 'ghost small', id: 'edit-incident', onclick: () => startEdit() }, 'Edit details') : null));
    const titleEl = h('h1', { class: 'inc-title', id: 'inc-title-text' }, inc.title);
    page.appendChild(titleEl);

    // Lifecycle
    if (inc.duplicate_of) {
      page.appendChild(h('p', { class: 'notice' }, 'This incident is a duplicate of ',
        h('a', { href: `#/incidents/${encodeURIComponent(inc.duplicate_of)}`, class: 'mono' }, inc.duplicate_of), '.'));
    }
    page.appendChild(lifecycle(inc, reload));

    const editHost = h('div');
    page.appendChild(editHost);

    const mainCol = h('div', { class: 'col-main' });
    const side = h('aside', { class: 'col-side' });
    page.appendChild(h('div', { class: 'detail-grid' }, mainCol, side));

    async function startEdit() {
      if (editHost.firstChild) return;
      const { form, focus } = await incidentForm(inc, {
        submitLabel: 'Save changes',
        includeMarkings: false,
        onCancel: () => clear(editHost),
        onSave: async (body) => {
          const patch = {};
          if (body.title !== inc.title) patch.title = body.title;
          if (body.description !== inc.description) patch.description = body.description;
          if (body.classification.taxonomy !== inc.classification.taxonomy || body.classification.type !== inc.classification.type) patch.classification = body.classification;
          if (body.constituents.slice().sort().join('\n') !== (inc.constituents || []).slice().sort().join('\n')) patch.constituents = body.constituents;
          if (body.tags.slice().sort().join('\n') !== (inc.tags || []).slice().sort().join('\n')) patch.tags = body.tags;
          if (!Object.keys(patch).length) { clear(editHost); return; }
          await api('PATCH', incPath(inc.id), patch);
          flash('Incident updated.');
          reload();
        },
      });
      editHost.appendChild(h('h2', null, 'Edit details'));
      editHost.appendChild(form);
      focus();
    }

    // Description
    mainCol.appendChild(h('section', { class: 'card' },
      h('h2', null, 'Description'),
      inc.description ? h('div', { class: 'prose', id: 'inc-description-text' }, inc.description) : h('p', { class: 'muted' }, 'No description.')));

    // Notes, tasks, timeline, reports load in parallel; each panel shows its own error.
    const notesSec = h('section', { class: 'card', id: 'notes' }, h('h2', null, 'Notes'));
    const tasksSec = canTasks() ? h('section', { class: 'card', id: 'tasks' }, h('h2', null, 'Tasks')) : null;
    const timelineSec = h('section', { class: 'card', id: 'timeline' }, h('h2', null, 'Timeline'));
    const propsSec = h('section', { class: 'card props', id: 'properties' }, h('h2', null, 'Properties'));
    const reportsSec = h('section', { class: 'card', id: 'linked-reports' }, h('h2', null, 'Linked reports'));
    const notifySec = canNotify() && inc.status !== 'duplicate' ? h('section', { class: 'card', id: 'notify' }, h('h2', null, 'Notify constituents')) : null;
    append(mainCol, [notesSec, notifySec, tasksSec]);
    append(side, [propsSec, reportsSec, timelineSec]);

    // After a notice: its text is a shared note now, on the timeline too; the form keeps its result.
    async function refreshNotesAndTimeline() {
      const [notes, tl] = await Promise.all([api('GET', `${incPath(inc.id)}/notes`), api('GET', `${incPath(inc.id)}/timeline`)]);
      if (!ctx.alive()) return;
      clear(notesSec).appendChild(h('h2', null, 'Notes'));
      notesPanel(notesSec, inc, notes.items, reload);
      clear(timelineSec).appendChild(h('h2', null, 'Timeline'));
      timelinePanel(timelineSec, tl.items, tasksById);
    }
    if (notifySec) notifyPanel(notifySec, inc, () => refreshNotesAndTimeline().catch(() => {}));

    properties(propsSec, inc, reload);

    const tasksById = new Map();
    const fetches = [
      api('GET', `${incPath(inc.id)}/notes`).then((r) => notesPanel(notesSec, inc, r.items, reload)),
      api('GET', `${incPath(inc.id)}/reports`).then((r) => reportsPanel(reportsSec, inc, r.items, reload)),
    ];
    if (tasksSec) {
      fetches.push(api('GET', `${incPath(inc.id)}/tasks`).then((r) => {
        r.items.forEach((t) => tasksById.set(String(t.id), t));
        tasksPanel(tasksSec, inc, r.items, reload);
      }));
    }
    const panels = [notesSec, reportsSec, tasksSec];
    const settled = await Promise.allSettled(fetches);
    settled.forEach((s, i) => {
      if (s.status === 'rejected' && ctx.alive() && s.reason.status !== 401) {
        panels[i].appendChild(h('p', { class: 'form-error', role: 'alert' }, s.reason.message));
      }
    });
    try {
      const tl = await api('GET', `${incPath(inc.id)}/timeline`);
      if (ctx.alive()) timelinePanel(timelineSec, tl.items, tasksById);
    } catch (e) {
      if (ctx.alive() && e.status !== 401) timelineSec.appendChild(h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  }

  function lifecycle(inc, reload) {
    const phases = ['new', 'triage', 'analysis', 'mitigation', 'recovery', 'closed'];
    const curIdx = PHASE_ORDER[inc.status];
    const steps = h('ol', { class: 'phases', 'aria-label': 'Lifecycle' }, phases.map((p, i) => {
      let cls = 'phase';
      if (p === inc.status) cls += ' current';
      else if (i < curIdx && !['rejected', 'duplicate'].includes(inc.status)) cls += ' done';
      return h('li', { class: cls }, p);
    }));
    if (inc.status === 'rejected' || inc.status === 'duplicate') steps.appendChild(h('li', { class: 'phase current terminal' }, inc.status));

    const box = h('div', { class: 'lifecycle' }, steps);
    if (!canEditIncidents()) return box;
    const next = NEXT[inc.status] || [];
    const err = h('span', { class: 'form-error', role: 'alert', hidden: true });
    const actions = h('div', { class: 'status-actions', id: 'status-actions', role: 'group', 'aria-label': 'Move to' },
      next.length ? h('span', { class: 'muted' }, inc.status === 'closed' || inc.status === 'rejected' ? 'Reopen:' : 'Move to:') : h('span', { class: 'muted' }, 'No further phases.'),
      next.map((st) => {
        const forward = PHASE_ORDER[st] > PHASE_ORDER[inc.status] && st !== 'rejected';
        const cls = st === 'rejected' ? 'danger' : st === 'closed' ? 'closing' : forward ? 'primary' : 'ghost';
        return h('button', {
          type: 'button',
          class: `small ${cls}`,
          dataset: { status: st },
          onclick: async (ev) => {
            const b = ev.currentTarget;
            actions.querySelectorAll('button').forEach((x) => { x.disabled = true; });
            err.hidden = true;
            try {
              await api('PATCH', incPath(inc.id), { status: st });
              flash(`${inc.id} moved to ${st}.`);
              reload();
            } catch (e) {
              showError(err, e);
              actions.querySelectorAll('button').forEach((x) => { x.disabled = false; });
              b.focus();
            }
          },
        }, st[0].toUpperCase() + st.slice(1));
      }),
      err);
    box.appendChild(actions);
    return box;
  }

  function properties(sec, inc, reload) {
    const dl = h('dl', { class: 'kv' });
    const kv = (k, v) => { dl.appendChild(h('dt', null, k)); dl.appendChild(h('dd', null, v)); };
    const editable = canEditIncidents() && inc.status !== 'duplicate';
    let sev; let tlp; let pap; let assignee;
    if (editable) {
      sev = select('severity', SEVERITIES, inc.severity, { id: 'edit-severity', 'aria-label': 'Severity' });
      tlp = select('tlp', TLPS.map((t) => [t, `TLP:${t}`]), inc.tlp, { id: 'edit-tlp', 'aria-label': 'TLP' });
      pap = select('pap', PAPS.map((p) => [p, `PAP:${p}`]), inc.pap, { id: 'edit-pap', 'aria-label': 'PAP' });
      assignee = h('input', { id: 'edit-assignee', value: inc.assignee || '', placeholder: 'unassigned', list: 'dl-prop-users', 'aria-label': 'Assignee', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', size: 12 });
      kv('Severity', sev);
      kv('TLP', tlp);
      kv('PAP', pap);
      kv('Assignee', h('span', { class: 'inline' }, assignee,
        h('datalist', { id: 'dl-prop-users' }, [...S.users].sort().map((u) => option(u))),
        inc.assignee !== S.me.username ? h('button', { type: 'button', class: 'ghost small', id: 'assign-me', onclick: () => { assignee.value = S.me.username; changed(); } }, 'me') : null));
    } else {
      kv('Severity', sevBadge(inc.severity));
      kv('TLP', tlpBadge(inc.tlp));
      kv('PAP', papBadge(inc.pap));
      kv('Assignee', inc.assignee || h('span', { class: 'muted' }, 'unassigned'));
    }
    kv('Classification', classificationText(inc.classification));
    kv('Constituents', (inc.constituents || []).length
      ? h('span', { class: 'chips' }, inc.constituents.map((c) => h('span', { class: 'chip', title: constituentName(c) }, c)))
      : h('span', { class: 'muted' }, 'none'));
    kv('Tags', (inc.tags || []).length
      ? h('span', { class: 'chips' }, inc.tags.map((t) => h('a', { class: 'tag', href: `#/incidents?status=&tag=${encodeURIComponent(t)}` }, t)))
      : h('span', { class: 'muted' }, 'none'));
    kv('Due', h('span', null, timeEl(inc.due_at), ' ', dueEl(inc)));
    kv('Created', h('span', null, timeEl(inc.created_at), inc.created_by ? ` by ${inc.created_by}` : ''));
    kv('Updated', timeEl(inc.updated_at));
    if (inc.metrics) {
      const m = inc.metrics;
      kv('Time to triage', m.time_to_triage_s === null ? '—' : fmtDuration(m.time_to_triage_s));
      kv('Time to close', m.time_to_close_s === null ? '—' : fmtDuration(m.time_to_close_s));
    }
    sec.appendChild(dl);
    if (!editable) return;

    const err = errorBox();
    const save = h('button', { type: 'submit', class: 'primary small', id: 'save-props', disabled: true }, 'Save');
    const form = h('form', { class: 'props-form' }, err, h('div', { class: 'actions' }, save));
    const redHint = h('p', { class: 'hint', hidden: true }, 'TLP:RED: only the assignee, coordinators and admins will see this incident.');
    form.insertBefore(redHint, form.firstChild);
    function changed() {
      redHint.hidden = !(tlp.value === 'RED' && inc.tlp !== 'RED');
      save.disabled = sev.value === inc.severity && tlp.value === inc.tlp && pap.value === inc.pap && assignee.value.trim() === (inc.assignee || '');
    }
    [sev, tlp, pap].forEach((s) => s.addEventListener('change', changed));
    assignee.addEventListener('input', changed);
    assignee.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); form.requestSubmit(); } });
    onSubmit(form, err, async () => {
      const patch = {};
      if (sev.value !== inc.severity) patch.severity = sev.value;
      if (tlp.value !== inc.tlp) patch.tlp = tlp.value;
      if (pap.value !== inc.pap) patch.pap = pap.value;
      const a = assignee.value.trim();
      if (a !== (inc.assignee || '')) patch.assignee = a || null;
      if (!Object.keys(patch).length) return;
      // Handlers and analysts see a TLP:RED incident only while assigned to it: handing one over
      // (or marking it RED for someone else) takes it out of sight, which is not an error.
      const redScoped = S.me.role === 'handler' || S.me.role === 'analyst';
      const gone = (t, a) => redScoped && t === 'RED' && a !== S.me.username;
      const leave = () => {
        flash(`Saved. ${inc.id} is TLP:RED and no longer assigned to you, so you cannot see it any more.`, 'warn');
        location.hash = '#/incidents';
      };
      let res;
      try {
        res = await api('PATCH', incPath(inc.id), patch);
      } catch (e) {
        if (e.status === 404 && gone(patch.tlp || inc.tlp, 'assignee' in patch ? patch.assignee : inc.assignee)) { leave(); return; }
        throw e;
      }
      if (res && gone(res.tlp, res.assignee)) { leave(); return; }
      flash('Incident updated.');
      reload();
    });
    form.id = 'props-form';
    sec.appendChild(form);
  }

  function notesPanel(sec, inc, notes, reload) {
    const list = h('ol', { class: 'notes', id: 'note-list' });
    if (!notes.length) list.appendChild(h('li', { class: 'muted empty-item' }, 'No notes yet.'));
    for (const n of notes) {
      noteUser(n.author);
      list.appendChild(h('li', { class: `note ${n.shared ? 'shared' : 'internal'}`, dataset: { id: n.id, visibility: n.visibility } },
        h('div', { class: 'note-head' },
          h('span', { class: 'author' }, n.author || '?'),
          timeEl(n.created_at, 'muted'),
          h('span', { class: `badge vis vis-${n.shared ? 'shared' : 'internal'}`, title: n.shared ? 'visible to the constituents of this incident' : 'visible to CIRT staff only' },
            n.shared ? 'shared' : 'internal')),
        h('div', { class: 'prose note-body' }, n.body)));
    }
    sec.appendChild(list);

    const err = errorBox();
    const body = h('textarea', { name: 'body', id: 'note-body', rows: 3, required: true, placeholder: isStaff() ? 'Write a note… (Ctrl+Enter to add)' : 'Write to the CIRT… (Ctrl+Enter to send)', 'aria-label': 'Note' });
    let visControl = null;
    let internal = null;
    let shared = null;
    if (isStaff()) {
      internal = h('input', { type: 'radio', name: 'visibility', value: 'internal', id: 'note-internal', checked: true });
      shared = h('input', { type: 'radio', name: 'visibility', value: 'shared', id: 'note-shared' });
      visControl = h('fieldset', { class: 'vis-choice' },
        h('legend', { class: 'sr-only' }, 'Visibility'),
        h('label', { for: 'note-internal', class: 'radio' }, internal, ' Internal ', h('span', { class: 'muted' }, '(CIRT only)')),
        h('label', { for: 'note-shared', class: 'radio' }, shared, ' Shared ', h('span', { class: 'muted' }, '(constituents see it)')));
    } else {
      visControl = h('span', { class: 'muted' }, 'Your notes are shared with the CIRT handling this incident.');
    }
    const form = h('form', { class: 'note-form', id: 'note-form' }, body, err,
      h('div', { class: 'actions' }, visControl, h('span', { class: 'spacer' }), h('button', { type: 'submit', class: 'primary small' }, 'Add note')));
    onSubmit(form, err, async () => {
      const text = body.value;
      if (!text.trim()) throw new Error('The note is empty.');
      const payload = { body: text };
      if (isStaff()) payload.visibility = shared.checked ? 'shared' : 'internal';
      await api('POST', `${incPath(inc.id)}/notes`, payload);
      body.value = '';
      flash('Note added.');
      reload();
    });
    sec.appendChild(form);
  }

  function tasksPanel(sec, inc, tasks, reload) {
    const open = tasks.filter((t) => t.status === 'open' || t.status === 'in_progress').length;
    sec.querySelector('h2').appendChild(h('span', { class: 'muted count' }, tasks.length ? ` · ${open} of ${tasks.length} open` : ''));
    const list = h('ul', { class: 'tasks', id: 'task-list' });
    if (!tasks.length) list.appendChild(h('li', { class: 'muted empty-item' }, 'No tasks.'));
    for (const t of tasks) {
      noteUser(t.assignee);
      const done = t.status === 'done';
      const box = h('input', { type: 'checkbox', checked: done, disabled: t.status === 'cancelled', 'aria-label': `${done ? 'Reopen' : 'Mark done'}: ${t.title}` });
      const err = h('span', { class: 'form-error', role: 'alert', hidden: true });
      box.addEventListener('change', async () => {
        box.disabled = true;
        try {
          await api('PATCH', `${incPath(inc.id)}/tasks/${encodeURIComponent(t.id)}`, { status: box.checked ? 'done' : 'open' });
          reload();
        } catch (e) {
          box.checked = !box.checked;
          box.disabled = false;
          showError(err, e);
        }
      });
      list.appendChild(h('li', { class: `task task-${cssToken(t.status)}`, dataset: { id: t.id, status: t.status } },
        h('label', { class: 'task-main' }, box, h('span', { class: 'task-title' }, t.title)),
        t.status !== 'open' && t.status !== 'done' ? h('span', { class: 'badge task-status' }, t.status.replace('_', ' ')) : null,
        t.assignee ? h('span', { class: 'chip' }, t.assignee) : null,
        t.due_at ? h('span', { class: 'muted' }, 'due ', timeEl(t.due_at)) : null,
        err));
    }
    sec.appendChild(list);

    const err = errorBox();
    const title = h('input', { name: 'title', id: 'task-title', required: true, maxlength: 300, placeholder: 'New task, e.g. "Request takedown of the phishing domain"', 'aria-label': 'Task title', autocomplete: 'off' });
    const who = h('input', { name: 'assignee', id: 'task-assignee', placeholder: 'assignee', list: 'dl-task-users', 'aria-label': 'Task assignee', size: 10, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' });
    const form = h('form', { class: 'task-form inline-form', id: 'task-form' }, title, who,
      h('datalist', { id: 'dl-task-users' }, [...S.users].sort().map((u) => option(u))),
      h('button', { type: 'submit', class: 'small' }, 'Add task'), err);
    onSubmit(form, err, async () => {
      const payload = { title: title.value.trim() };
      if (!payload.title) throw new Error('A task needs a title.');
      if (who.value.trim()) payload.assignee = who.value.trim();
      await api('POST', `${incPath(inc.id)}/tasks`, payload);
      flash('Task added.');
      reload();
    });
    sec.appendChild(form);
  }

  function timelineText(ev, tasksById) {
    const arrow = (a, b) => [a === null || a === undefined ? '∅' : a, ' → ', b === null || b === undefined ? '∅' : b];
    switch (ev.kind) {
      case 'created': return ['opened the incident'];
      case 'status': return ['status ', h('b', null, ev.old_value || '∅'), ' → ', h('b', null, ev.new_value || '∅')];
      case 'assignee': return ev.new_value ? ['assigned to ', h('b', null, ev.new_value), ev.old_value ? ` (was ${ev.old_value})` : ''] : ['unassigned ', ev.old_value || ''];
      case 'severity': return ['severity ', ...arrow(ev.old_value, ev.new_value)];
      case 'tlp': return ['TLP ', ...arrow(ev.old_value, ev.new_value)];
      case 'note': return [`added ${ev.field === 'shared' ? 'a shared' : 'an internal'} note`];
      case 'task': {
        const t = tasksById.get(String(ev.new_value));
        const name = t ? ['“', t.title, '”'] : [`#${ev.new_value}`];
        return ev.field === 'created' ? ['added task ', ...name] : ['task ', ...name, ` ${String(ev.field || '').replace('_', ' ')}`];
      }
      case 'report': return ['linked report ', h('span', { class: 'mono' }, ev.new_value || '')];
      case 'merged_from': return ['merged duplicate ', h('a', { href: `#/incidents/${encodeURIComponent(ev.new_value || '')}`, class: 'mono' }, ev.new_value || ''), ' into this'];
      case 'merged_into': return ['merged into ', h('a', { href: `#/incidents/${encodeURIComponent(ev.new_value || '')}`, class: 'mono' }, ev.new_value || '')];
      case 'field':
        if (ev.field === 'description') return ['edited the description'];
        if (ev.field === 'due_at') return ['due ', ...arrow(fmtTime(ev.old_value), fmtTime(ev.new_value))];
        return [`${ev.field} `, ...arrow(ev.old_value, ev.new_value)];
      default:
        return [`${ev.kind}${ev.field ? ` ${ev.field}` : ''} `, ...arrow(ev.old_value, ev.new_value)];
    }
  }

  function timelinePanel(sec, items, tasksById) {
    const list = h('ol', { class: 'timeline', id: 'timeline-list' });
    if (!items.length) list.appendChild(h('li', { class: 'muted empty-item' }, 'Nothing recorded yet.'));
    for (const ev of items.slice().reverse()) {
      list.appendChild(h('li', { class: `tl tl-${cssToken(ev.kind)}`, dataset: { kind: ev.kind } },
        timeEl(ev.at, 'tl-time', true),
        h('span', { class: 'tl-text' }, h('span', { class: 'actor' }, ev.actor || 'system'), ' ', timelineText(ev, tasksById))));
    }
    sec.appendChild(list);
  }

  function reportsPanel(sec, inc, reports, reload) {
    const list = h('ul', { class: 'linked-reports' });
    if (!reports.length) list.appendChild(h('li', { class: 'muted empty-item' }, 'No reports linked.'));
    for (const r of reports) {
      list.appendChild(h('li', null,
        h('a', { href: `#/reports?open=${encodeURIComponent(r.id)}`, class: 'mono' }, r.id), ' ',
        h('span', { class: 'chip' }, r.source), ' ',
        r.title || h('span', { class: 'muted' }, r.source_ref)));
    }
    sec.appendChild(list);
    if (!canLinkReports() || inc.status === 'duplicate') return;
    const err = errorBox();
    const rid = h('input', { name: 'report', id: 'link-report', placeholder: 'report ID', 'aria-label': 'Report ID to link', size: 16, autocomplete: 'off', spellcheck: 'false' });
    const form = h('form', { class: 'inline-form' }, rid, h('button', { type: 'submit', class: 'small' }, 'Link'), err);
    onSubmit(form, err, async () => {
      if (!rid.value.trim()) throw new Error('Give the ID of a report.');
      await api('POST', `${incPath(inc.id)}/reports`, { report: rid.value.trim() });
      flash('Report linked.');
      reload();
    });
    sec.appendChild(form);
  }

  // ---- reports ----

  async function viewReports(main, ctx, query) {
    await loadConstituents().catch(() => { S.constituents = []; });
    if (!ctx.alive()) return;
    const openId = query.get('open');
    const formHost = h('div', { id: 'report-form-host' });
    const toggle = h('button', { type: 'button', class: 'primary', id: 'file-report' }, '+ File a report');
    main.appendChild(h('div', { class: 'toolbar' }, h('h1', null, 'Reports'),
      h('span', { class: 'muted' }, isStaff() ? 'everything reported to the CIRT' : `filed by ${S.me.constituent || 'your organisation'}`),
      h('span', { class: 'spacer' }), toggle));
    main.appendChild(formHost);

    const tbody = h('tbody');
    const table = h('table', { class: 'grid reports', id: 'report-table' },
      h('thead', null, h('tr', null,
        h('th', { class: 'c-id' }, 'ID'), h('th', { class: 'c-time' }, 'Received'), h('th', null, 'Source'),
        h('th', null, 'Reference'), h('th', { class: 'c-title' }, 'Title'), h('th', null, 'Constituent'),
        h('th', null, 'Reporter'), h('th', null, 'Incident'))),
      tbody);
    const more = h('button', { type: 'button', class: 'ghost', hidden: true }, 'Load more');
    const status = h('div', { class: 'list-status' });
    main.appendChild(h('div', { class: 'table-wrap' }, table));
    main.appendChild(h('div', { class: 'list-foot' }, status, more));

    toggle.addEventListener('click', () => {
      if (formHost.firstChild) { clear(formHost); return; }
      formHost.appendChild(reportForm(() => { clear(formHost); load(false); }));
      const first = formHost.querySelector('input, textarea');
      if (first) first.focus();
    });

    let cursor = null;
    let count = 0;

    function detailRow(r) {
      const rep = r.reporter || {};
      const who = [rep.name, rep.email, rep.phone].filter(Boolean).join(' · ');
      return h('tr', { class: 'detail-row' }, h('td', { colspan: 8 },
        h('div', { class: 'report-detail' },
          h('dl', { class: 'kv' },
            h('dt', null, 'Reporter'), h('dd', null, who || '—'),
            h('dt', null, 'Filed by'), h('dd', null, `${r.created_by || '?'}${r.filed_by_org ? ` (${r.filed_by_org})` : ''}`)),
          r.body ? h('div', { class: 'prose' }, r.body) : h('p', { class: 'muted' }, 'No text.'))));
    }

    function row(r) {
      const rep = r.reporter || {};
      const tr = h('tr', { class: 'clickable', dataset: { id: r.id }, title: 'Show or hide the report text' },
        h('td', { class: 'c-id mono' }, r.id),
        h('td', { class: 'c-time' }, timeEl(r.created_at, null, true)),
        h('td', null, h('span', { class: 'chip' }, r.source)),
        h('td', { class: 'mono small' }, r.source_ref),
        h('td', { class: 'c-title' }, r.title || h('span', { class: 'muted' }, '(no title)')),
        h('td', null, r.constituent || h('span', { class: 'muted' }, '—')),
        h('td', null, rep.name || rep.email || h('span', { class: 'muted' }, '—')),
        h('td', null, r.incident
          ? (canReadIncidents() ? h('a', { href: `#/incidents/${encodeURIComponent(r.incident)}`, class: 'mono' }, r.incident) : h('span', { class: 'mono' }, r.incident))
          : h('span', { class: 'muted' }, 'unlinked')));
      let detail = null;
      const toggleDetail = () => {
        if (detail) { detail.remove(); detail = null; tr.classList.remove('open'); return; }
        detail = detailRow(r);
        tr.after(detail);
        tr.classList.add('open');
      };
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) toggleDetail(); });
      if (openId && r.id === openId) setTimeout(toggleDetail, 0);
      return tr;
    }

    async function load(appendMore) {
      status.textContent = 'Loading…';
      more.hidden = true;
      try {
        const res = await api('GET', `/api/v1/reports${qs({ limit: 50, cursor: appendMore ? cursor : '' })}`);
        if (!ctx.alive()) return;
        if (!appendMore) { clear(tbody); count = 0; }
        res.items.forEach((r) => tbody.appendChild(row(r)));
        count += res.items.length;
        cursor = res.next_cursor;
        more.hidden = !cursor;
        status.textContent = count ? `${count}${cursor ? '+' : ''} shown` : '';
        if (!count) tbody.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: 8 }, 'No reports yet.')));
      } catch (e) {
        if (e.status === 401) return;
        status.textContent = '';
        status.appendChild(h('span', { class: 'form-error', role: 'alert' }, e.message));
      }
    }
    more.addEventListener('click', () => load(true));
    await load(false);
  }

  function reportForm(done) {
    const err = errorBox();
    const field = (label, el, cls) => { el.id = el.id || `rep-${el.name}`; return h('div', { class: `field ${cls || ''}` }, h('label', { for: el.id }, label), el); };
    const source = h('input', { name: 'source', required: true, value: isStaff() ? 'phone' : 'web', list: 'dl-sources', autocomplete: 'off', spellcheck: 'false', size: 10 });
    const ref = h('input', { name: 'source_ref', required: true, maxlength: 256, autocomplete: 'off', placeholder: 'ticket, message-id, call log no.' });
    const now = new Date();
    ref.value = `${S.me.username}-${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
    const title = h('input', { name: 'title', maxlength: 300, autocomplete: 'off' });
    const body = h('textarea', { name: 'body', rows: 4 });
    const rname = h('input', { name: 'reporter_name', autocomplete: 'off' });
    const remail = h('input', { name: 'reporter_email', type: 'email', autocomplete: 'off' });
    const rphone = h('input', { name: 'reporter_phone', type: 'tel', autocomplete: 'off' });
    const constituent = S.me.constituent
      ? h('input', { name: 'constituent', value: S.me.constituent, readOnly: true })
      : select('constituent', [['', '— none —'], ...(S.constituents || []).map((c) => [c.short_name, `${c.short_name} — ${c.name}`])], '');
    const incident = canLinkReports() ? h('input', { name: 'incident', placeholder: 'incident ID (optional)', autocomplete: 'off', spellcheck: 'false' }) : null;
    const form = h('form', { class: 'card report-form', id: 'report-form' },
      h('h2', null, 'File a report'),
      h('div', { class: 'row' }, field('Source', source), field('Source reference', ref, 'grow'), field('Constituent', constituent), incident ? field('Link to incident', incident) : null),
      h('datalist', { id: 'dl-sources' }, REPORT_SOURCES.map((s) => option(s))),
      field('Title', title, 'wide'),
      field('What happened', body, 'wide'),
      h('div', { class: 'row' }, field('Reporter name', rname, 'grow'), field('E-mail', remail, 'grow'), field('Phone', rphone)),
      err,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'File report'), h('button', { type: 'button', class: 'ghost', onclick: done }, 'Cancel')));
    onSubmit(form, err, async () => {
      const payload = { source: source.value.trim(), source_ref: ref.value.trim() };
      const opt = (k, v) => { if (v && v.trim()) payload[k] = v.trim(); };
      opt('title', title.value);
      if (body.value.trim()) payload.body = body.value;
      opt('constituent', constituent.value);
      if (incident) opt('incident', incident.value);
      const reporter = {};
      if (rname.value.trim()) reporter.name = rname.value.trim();
      if (remail.value.trim()) reporter.email = remail.value.trim();
      if (rphone.value.trim()) reporter.phone = rphone.value.trim();
      if (Object.keys(reporter).length) payload.reporter = reporter;
      const res = await fetchReport(payload);
      flash(res.created ? `Report ${res.report.id} filed.` : `That report exists already: ${res.report.id}.`, res.created ? 'ok' : 'warn');
      done();
    });
    return form;
  }

  async function fetchReport(payload) {
    // 201 = new, 200 = the same source/source_ref was filed before; api() hides the code, so ask fetch directly.
    const res = await fetch('/api/v1/reports', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': S.csrf || '' },
      body: JSON.stringify(payload),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      if (res.status === 401) sessionLost();
      throw new ApiError(res.status, (data && (data.detail || data.title)) || `${res.status} ${res.statusText}`);
    }
    return { created: res.status === 201, report: data };
  }

  // ---- constituents: small pieces shared by the list, the record and the lookup ----

  function ciiBadge(c) {
    if (!c.cii) return null;
    const tier = c.cii_tier ? ` tier ${c.cii_tier}` : '';
    return h('span', { class: `badge cii cii-tier-${c.cii_tier || 'none'}`, title: `designated critical information infrastructure${tier}${tier ? ' (1 = most critical)' : ''}` },
      `CII${tier}`);
  }

  const muted = (text) => h('span', { class: 'muted' }, text);
  const countCell = (list) => ((list || []).length ? String(list.length) : muted('0'));

  function chipList(items, cls, none) {
    if (!items || !items.length) return muted(none || 'none');
    return h('span', { class: 'chips' }, items.map((t) => h('span', { class: cls || 'chip' }, t)));
  }

  function orgLink(short) {
    return h('a', { href: conHref(short), class: 'mono', title: constituentName(short) }, short);
  }

  // A fingerprint shows its last 16 digits; an armoured key only that it is one. The title holds it whole.
  function pgpShort(pgp) {
    if (!pgp) return muted('—');
    const fpr = /^[0-9A-Fa-f]{40}([0-9A-Fa-f]{24})?$/.test(pgp);
    const text = fpr ? `…${pgp.slice(-16).toUpperCase().replace(/(.{4})(?!$)/g, '$1 ')}` : 'key block';
    return h('span', { class: 'mono pgp', title: pgp }, text);
  }

  function mailLink(email) {
    return email ? h('a', { href: `mailto:${email}`, class: 'email' }, email) : muted('—');
  }

  function phoneLink(phone) {
    return phone ? h('a', { href: `tel:${phone.replace(/[^0-9+]/g, '')}`, class: 'phone' }, phone) : muted('—');
  }

  function sectorsKnown() {
    const seen = new Set(DEFAULT_SECTORS);
    (S.constituents || []).forEach((c) => { if (c.sector) seen.add(c.sector); });
    return [...seen];
  }

  // ---- constituents: the list (staff) ----

  const CON_FILTERS = ['q', 'kind', 'sector', 'cii'];

  async function viewConstituentList(main, ctx, query) {
    if (!isStaff()) return viewOwnOrganisation(main, ctx);
    await loadConstituents().catch(() => { S.constituents = []; }); // for the sector choices
    if (!ctx.alive()) return;
    const f = {};
    for (const k of CON_FILTERS) f[k] = query.get(k) || '';

    const q = h('input', { id: 'c-q', name: 'q', type: 'search', value: f.q, placeholder: 'Search short name or name  ( / )', 'aria-label': 'Search' });
    const kind = select('kind', [['', 'Any kind'], ...ORG_KINDS.map((k) => [k, k])], f.kind, { id: 'c-kind', 'aria-label': 'Kind' });
    const sectors = sectorsKnown();
    if (f.sector && !sectors.includes(f.sector)) sectors.push(f.sector);
    const sector = select('sector', [['', 'Any sector'], ...sectors.map((x) => [x, x])], f.sector, { id: 'c-sector', 'aria-label': 'Sector' });
    const cii = select('cii', [['', 'CII or not'], ['true', 'CII only'], ['false', 'not CII']], f.cii, { id: 'c-cii', 'aria-label': 'Critical information infrastructure' });
    const filters = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => { ev.preventDefault(); apply(); } }, q, kind, sector, cii);

    const count = h('span', { class: 'muted count' });
    const newBtn = canEditRegistry() ? h('a', { class: 'button primary', href: conHref(NEW_ORG), id: 'new-constituent' }, '+ New organisation') : null;
    const tbody = h('tbody');
    const table = h('table', { class: 'grid constituents', id: 'constituent-table' },
      h('thead', null, h('tr', null,
        h('th', { class: 'c-short' }, 'Short name'), h('th', { class: 'c-title' }, 'Name'), h('th', null, 'Kind'),
        h('th', null, 'Sector'), h('th', null, 'CII'), h('th', { class: 'c-num' }, 'Networks'), h('th', { class: 'c-num' }, 'Domains'))),
      tbody);
    const more = h('button', { type: 'button', class: 'ghost', id: 'con-more', hidden: true }, 'Load more');
    const status = h('div', { class: 'list-status' });
    main.appendChild(h('div', { class: 'toolbar' }, h('h1', null, 'Constituents'), count, h('span', { class: 'spacer' }), newBtn));
    main.appendChild(filters);
    main.appendChild(h('div', { class: 'table-wrap' }, table));
    main.appendChild(h('div', { class: 'list-foot' }, status, more));

    let cursor = null;
    let shown = 0;
    let loadSeq = 0;

    function row(c) {
      const href = conHref(c.short_name);
      const tr = h('tr', { dataset: { name: c.short_name } },
        h('td', { class: 'c-short mono' }, h('a', { href }, c.short_name)),
        h('td', { class: 'c-title' }, h('a', { href, class: 'title-link' }, c.name)),
        h('td', null, h('span', { class: 'chip' }, c.kind)),
        h('td', null, c.sector || muted('—')),
        h('td', null, ciiBadge(c) || muted('—')),
        h('td', { class: 'c-num' }, countCell(c.networks)),
        h('td', { class: 'c-num' }, countCell(c.domains)));
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) location.hash = href; });
      return tr;
    }

    async function load(appendMore) {
      const my = ++loadSeq;
      if (!appendMore) { cursor = null; shown = 0; }
      status.textContent = 'Loading…';
      more.hidden = true;
      const params = { limit: 50, q: f.q.trim(), kind: f.kind, sector: f.sector, cii: f.cii, cursor: appendMore ? cursor : '' };
      try {
        const res = await api('GET', `/api/v1/constituents${qs(params)}`);
        if (my !== loadSeq || !ctx.alive()) return;
        if (!appendMore) clear(tbody);
        res.items.forEach((c) => tbody.appendChild(row(c)));
        shown += res.items.length;
        cursor = res.next_cursor;
        more.hidden = !cursor;
        count.textContent = `${shown}${cursor ? '+' : ''} shown`;
        status.textContent = '';
        if (!shown) tbody.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: 7 }, 'No organisation matches these filters.')));
      } catch (e) {
        if (my !== loadSeq || e.status === 401) return;
        status.textContent = '';
        if (!appendMore) clear(tbody);
        status.appendChild(h('span', { class: 'form-error', role: 'alert' }, e.message));
      }
    }

    function apply() {
      f.q = q.value; f.kind = kind.value; f.sector = sector.value; f.cii = cii.value;
      const params = {};
      for (const k of CON_FILTERS) if (f[k].trim()) params[k] = f[k].trim();
      const u = new URLSearchParams(params).toString();
      history.replaceState(null, '', `#/constituents${u ? `?${u}` : ''}`);
      load(false);
    }

    let typingTimer = null;
    q.addEventListener('input', () => { clearTimeout(typingTimer); typingTimer = setTimeout(apply, 300); });
    [kind, sector, cii].forEach((s) => s.addEventListener('change', apply));
    more.addEventListener('click', () => load(true));
    await load(false);
  }

  // Constituent and partner users: their own record, read-only (the API gives them nothing else).
  async function viewOwnOrganisation(main, ctx) {
    if (!S.me.constituent) {
      main.appendChild(h('p', { class: 'empty' }, 'Your account does not belong to an organisation.'));
      return;
    }
    await viewConstituent(main, ctx, S.me.constituent);
  }

  // ---- constituents: one record ----

  async function viewConstituent(main, ctx, name) {
    const c = await api('GET', conPath(name));
    if (!ctx.alive()) return;
    document.title = `${c.short_name} ${c.name} · dzong`;
    const page = h('div', { class: 'constituent-page', id: 'constituent-page', dataset: { name: c.short_name } });
    main.appendChild(page);
    const editHost = h('div', { id: 'constituent-edit' });
    const view = h('div', { class: 'constituent-view' });
    const editBtn = canEditRegistry()
      ? h('button', { type: 'button', class: 'ghost small', id: 'edit-constituent', onclick: () => startEdit() }, 'Edit record')
      : null;
    page.appendChild(h('div', { class: 'toolbar' },
      isStaff() ? h('a', { href: '#/constituents', class: 'back' }, '← Constituents') : h('span', { class: 'muted' }, 'My organisation'),
      h('span', { class: 'mono inc-id', id: 'con-short' }, c.short_name), h('span', { class: 'chip' }, c.kind), ciiBadge(c),
      h('span', { class: 'spacer' }), editBtn));
    page.appendChild(h('h1', { class: 'inc-title', id: 'con-title' }, c.name));
    page.appendChild(editHost);
    page.appendChild(view);
    renderConstituentView(view, c, ctx);

    function startEdit() {
      if (editHost.firstChild) return;
      view.hidden = true;
      editBtn.disabled = true;
      const stop = () => { clear(editHost); view.hidden = false; editBtn.disabled = false; };
      const form = constituentForm(c, {
        submitLabel: 'Save record',
        onCancel: stop,
        onSave: async (rec) => {
          await api('PUT', conPath(c.short_name), rec);
          S.constituents = null;
          flash(`${c.short_name} saved.`);
          if (ctx.alive()) route();
        },
      });
      editHost.appendChild(form);
      form.querySelector('#con-name').focus();
    }
  }

  function renderConstituentView(view, c, ctx) {
    const mainCol = h('div', { class: 'col-main' });
    const side = h('aside', { class: 'col-side' });
    view.appendChild(h('div', { class: 'detail-grid' }, mainCol, side));

    mainCol.appendChild(h('section', { class: 'card', id: 'con-contacts' },
      h('h2', null, 'Contacts', h('span', { class: 'muted count' }, ` · ${(c.contacts || []).length}`)),
      contactsTable(c.contacts || [])));
    mainCol.appendChild(h('section', { class: 'card resources', id: 'con-resources' },
      h('h2', null, 'What it owns'),
      h('dl', { class: 'kv' },
        h('dt', null, 'Networks'), h('dd', { id: 'rec-networks' }, chipList(c.networks, 'chip mono')),
        h('dt', null, 'AS numbers'), h('dd', { id: 'rec-asns' }, chipList((c.asns || []).map((a) => `AS${a}`), 'chip mono')),
        h('dt', null, 'Domains'), h('dd', { id: 'rec-domains' }, chipList(c.domains, 'chip mono')))));

    const dl = h('dl', { class: 'kv', id: 'con-record' });
    const kv = (k, v) => { dl.appendChild(h('dt', null, k)); dl.appendChild(h('dd', null, v)); };
    kv('Short name', h('span', { class: 'mono' }, c.short_name));
    kv('Kind', c.kind);
    kv('Sector', c.sector || muted('none'));
    kv('CII', c.cii ? ciiBadge(c) : muted('no'));
    kv('Parent', c.parent ? (isStaff() ? orgLink(c.parent) : h('span', { class: 'mono' }, c.parent)) : muted('none'));
    kv('Tags', chipList(c.tags, 'tag'));
    kv('Created', timeEl(c.created_at));
    kv('Updated', timeEl(c.updated_at));
    side.appendChild(h('section', { class: 'card props' }, h('h2', null, 'Record'), dl));
    if (isStaff()) side.appendChild(membersPanel(c, ctx));
  }

  function contactsTable(contacts) {
    if (!contacts.length) return h('p', { class: 'muted' }, 'No contacts: nobody to tell.');
    const rows = contacts.map((p) => h('tr', { class: 'contact' },
      h('td', { class: 'c-title' }, p.name),
      h('td', null, h('span', { class: `chip role-${cssToken(p.role)}` }, p.role)),
      h('td', null, mailLink(p.email)),
      h('td', null, phoneLink(p.phone)),
      h('td', null, p.language || muted('—')),
      h('td', null, `${p.notify_interval} · ${p.notify_format}`),
      h('td', null, tlpBadge(p.max_tlp)),
      h('td', null, pgpShort(p.pgp))));
    return h('div', { class: 'table-wrap flat' }, h('table', { class: 'grid contacts', id: 'contact-table' },
      h('thead', null, h('tr', null, ['Name', 'Role', 'E-mail', 'Phone', 'Language', 'Notify', 'Max TLP', 'PGP'].map((t) => h('th', null, t)))),
      h('tbody', null, rows)));
  }

  function membersPanel(c, ctx) {
    const sec = h('section', { class: 'card', id: 'con-members' }, h('h2', null, 'Member organisations'));
    api('GET', `/api/v1/constituents${qs({ parent: c.short_name, limit: 100 })}`).then((res) => {
      if (!ctx.alive()) return;
      if (!res.items.length) { sec.appendChild(h('p', { class: 'muted' }, 'None.')); return; }
      sec.appendChild(h('ul', { class: 'members' }, res.items.map((m) => h('li', null, orgLink(m.short_name), ' ', m.name))));
      if (res.next_cursor) sec.appendChild(h('p', { class: 'muted' }, 'and more…'));
    }).catch((e) => {
      if (ctx.alive() && e.status !== 401) sec.appendChild(h('p', { class: 'form-error', role: 'alert' }, e.message));
    });
    return sec;
  }

  async function viewNewConstituent(main, ctx) {
    if (!canEditRegistry()) {
      main.appendChild(h('p', { class: 'empty' }, 'Only coordinators and admins register organisations.'));
      return;
    }
    await loadConstituents().catch(() => { S.constituents = []; }); // parent and sector choices
    if (!ctx.alive()) return;
    const form = constituentForm({}, {
      submitLabel: 'Register organisation',
      onCancel: () => { location.hash = '#/constituents'; },
      onSave: async (rec) => {
        const c = await api('POST', '/api/v1/constituents', rec);
        S.constituents = null;
        flash(`${c.short_name} registered.`);
        location.hash = conHref(c.short_name);
      },
    });
    main.appendChild(h('div', { class: 'toolbar' }, h('a', { href: '#/constituents', class: 'back' }, '← Constituents'), h('h1', null, 'New organisation')));
    main.appendChild(form);
    form.querySelector('#con-short_name').focus();
  }

  // ---- constituents: the form (create and full edit) ----

  // One item per line; spaces and commas separate too (none of these values contains either).
  const splitList = (text) => text.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

  function listArea(name, items, rows, placeholder) {
    const ta = h('textarea', { name, id: `con-${name}`, rows, placeholder, spellcheck: 'false', autocapitalize: 'off' });
    ta.value = (items || []).join('\n');
    return ta;
  }

  function constituentForm(initial, { submitLabel, onSave, onCancel }) {
    const isNew = !initial.short_name;
    const err = errorBox();
    err.id = 'con-form-error';
    const shortName = h('input', { name: 'short_name', id: 'con-short_name', required: true, maxlength: 64, value: initial.short_name || '', readOnly: !isNew, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', placeholder: 'e.g. druk-bank', title: isNew ? 'letters, digits, . _ @ -; records are not renamed' : 'records are not renamed' });
    const name = h('input', { name: 'name', id: 'con-name', required: true, maxlength: 300, value: initial.name || '', autocomplete: 'off' });
    const kind = select('kind', ORG_KINDS, initial.kind || 'other', { id: 'con-kind' });
    const sector = h('input', { name: 'sector', id: 'con-sector', value: initial.sector || '', list: 'dl-sectors', placeholder: 'none', autocomplete: 'off', spellcheck: 'false', size: 18 });
    const cii = h('input', { type: 'checkbox', name: 'cii', id: 'con-cii', checked: !!initial.cii });
    const tier = select('cii_tier', [['', '—'], ['1', '1 (most critical)'], ['2', '2'], ['3', '3']], initial.cii_tier ? String(initial.cii_tier) : '', { id: 'con-cii_tier' });
    const parent = h('input', { name: 'parent', id: 'con-parent', value: initial.parent || '', list: 'dl-parents', placeholder: 'none', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', size: 18 });
    const lists = {
      networks: listArea('networks', initial.networks, 5, '192.0.2.0/24\n2001:db8::/32'),
      asns: listArea('asns', (initial.asns || []).map(String), 5, '64512\nAS64513'),
      domains: listArea('domains', initial.domains, 5, 'example.bt\nbücher.example'),
      tags: listArea('tags', initial.tags, 5, 'one per line'),
    };
    const contacts = contactsEditor(initial.contacts || []);
    const fields = { short_name: shortName, name, kind, sector, cii, cii_tier: tier, parent, ...lists };

    const syncTier = () => { tier.disabled = !cii.checked; if (!cii.checked) tier.value = ''; };
    cii.addEventListener('change', syncTier);
    syncTier();

    const field = (label, el, cls, forId) => h('div', { class: `field ${cls || ''}` }, h('label', { for: forId || el.id }, label), el);
    const form = h('form', { class: 'card constituent-form', id: 'constituent-form', novalidate: true },
      h('div', { class: 'row' }, field('Short name', shortName), field('Name', name, 'grow'), field('Kind', kind)),
      h('div', { class: 'row' },
        field('Sector', h('span', null, sector, h('datalist', { id: 'dl-sectors' }, sectorsKnown().map((x) => option(x)))), '', sector.id),
        h('div', { class: 'field' }, h('span', { class: 'label' }, 'Critical infrastructure'),
          h('span', { class: 'inline' }, h('label', { class: 'radio', for: 'con-cii' }, cii, ' designated CII'), h('label', { for: 'con-cii_tier', class: 'muted' }, 'tier'), tier)),
        field('Parent organisation', h('span', null, parent,
          h('datalist', { id: 'dl-parents' }, (S.constituents || []).filter((x) => x.short_name !== initial.short_name).map((x) => option(x.short_name, x.name)))), '', parent.id)),
      h('div', { class: 'row lists' },
        field('Networks (one per line)', lists.networks, 'grow'),
        field('AS numbers', lists.asns, 'grow'),
        field('Domains', lists.domains, 'grow'),
        field('Tags', lists.tags, 'grow')),
      h('div', { class: 'field wide' }, h('span', { class: 'label' }, 'Contacts'), contacts.el),
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, submitLabel),
        h('button', { type: 'button', class: 'ghost', onclick: onCancel }, 'Cancel')));

    onSubmit(form, err, async () => {
      form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
      const rec = {
        short_name: shortName.value.trim(),
        name: name.value.trim(),
        kind: kind.value,
        sector: sector.value.trim() || null,
        cii: cii.checked,
        cii_tier: cii.checked && tier.value ? Number(tier.value) : null,
        parent: parent.value.trim() || null,
        tags: splitList(lists.tags.value),
        networks: splitList(lists.networks.value),
        asns: splitList(lists.asns.value),
        domains: splitList(lists.domains.value),
        contacts: contacts.read(),
      };
      try {
        await onSave(rec);
      } catch (e) {
        markField(e.message, fields, contacts);
        setTimeout(() => err.scrollIntoView({ block: 'nearest' }), 0);
        throw e; // onSubmit shows the server's detail as it is
      }
    });
    return form;
  }

  // "networks[1]: ..." or "contacts[0].email: ...": mark and focus the field the server named.
  function markField(detail, fields, contacts) {
    const m = /^([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+))?:/.exec(detail || '');
    if (!m) return;
    const el = m[1] === 'contacts' && m[2] !== undefined ? contacts.input(Number(m[2]), m[3]) : fields[m[1]];
    if (!el) return;
    el.setAttribute('aria-invalid', 'true');
    setTimeout(() => el.focus(), 0);
  }

  const CONTACT_FIELDS = [
    { key: 'name', label: 'Name', make: () => h('input', { autocomplete: 'off', size: 16 }) },
    { key: 'email', label: 'E-mail', make: () => h('input', { type: 'email', autocomplete: 'off', spellcheck: 'false', size: 20 }) },
    { key: 'phone', label: 'Phone', make: () => h('input', { type: 'tel', autocomplete: 'off', size: 13 }) },
    { key: 'role', label: 'Role', make: () => select('role', CONTACT_ROLES, 'abuse') },
    { key: 'language', label: 'Lang.', make: () => h('input', { autocomplete: 'off', spellcheck: 'false', size: 4, value: 'en' }) },
    { key: 'notify_interval', label: 'Notify', make: () => select('notify_interval', NOTIFY_INTERVALS, 'daily') },
    { key: 'notify_format', label: 'Format', make: () => select('notify_format', NOTIFY_FORMATS, 'csv') },
    { key: 'max_tlp', label: 'Max TLP', make: () => select('max_tlp', TLPS, 'AMBER') },
    // A textarea, not an input: an armoured key has line breaks that an input would drop.
    { key: 'pgp', label: 'PGP', make: () => h('textarea', { rows: 1, spellcheck: 'false', class: 'pgp-input', placeholder: 'fingerprint or key block' }) },
  ];

  // Rows of inputs with add/remove. read() gives the contacts; input(i, key) the field of the i-th one read.
  function contactsEditor(initial) {
    const tbody = h('tbody');
    const inputsOf = new WeakMap(); // row -> {field key: input}
    let sent = []; // the rows behind the last read(), so "contacts[i]" finds its row
    const addBtn = h('button', { type: 'button', class: 'ghost small', id: 'add-contact' }, '+ Add contact');
    const el = h('div', { class: 'contacts-editor' },
      h('div', { class: 'table-wrap flat' }, h('table', { class: 'grid contacts-edit', id: 'con-contacts-edit' },
        h('thead', null, h('tr', null, CONTACT_FIELDS.map((f) => h('th', null, f.label)), h('th', null, ''))), tbody)),
      h('div', { class: 'actions' }, addBtn));

    function addRow(p) {
      const inputs = {};
      const tr = h('tr', { class: 'contact-row' });
      for (const f of CONTACT_FIELDS) {
        const input = f.make();
        input.name = f.key;
        input.setAttribute('aria-label', `Contact ${f.label.toLowerCase()}`);
        if (p && p[f.key] !== undefined && p[f.key] !== null) input.value = String(p[f.key]);
        inputs[f.key] = input;
        tr.appendChild(h('td', null, input));
      }
      tr.appendChild(h('td', null, h('button', {
        type: 'button', class: 'ghost small remove-contact', title: 'Remove this contact', 'aria-label': 'Remove this contact',
        onclick: () => { tr.remove(); },
      }, '×')));
      inputsOf.set(tr, inputs);
      tbody.appendChild(tr);
      return inputs;
    }

    function read() {
      sent = [];
      const out = [];
      for (const tr of tbody.querySelectorAll('tr.contact-row')) {
        const inputs = inputsOf.get(tr);
        const v = {};
        for (const f of CONTACT_FIELDS) v[f.key] = inputs[f.key].value.trim();
        if (!v.name && !v.email && !v.phone && !v.pgp) continue; // an empty row is no contact
        if (!v.phone) delete v.phone;
        if (!v.pgp) delete v.pgp;
        if (!v.language) delete v.language;
        out.push(v);
        sent.push(tr);
      }
      return out;
    }

    addBtn.addEventListener('click', () => addRow(null).name.focus());
    initial.forEach(addRow);
    if (!initial.length) addRow(null);
    const input = (i, key) => {
      const inputs = sent[i] && inputsOf.get(sent[i]);
      return inputs ? inputs[key] || inputs.name : null;
    };
    return { el, read, input };
  }

  // ---- events: what the feeds saw ----

  const EVENT_FILTERS = ['ip', 'constituent', 'feed', 'taxonomy', 'type', 'from', 'to', 'ingest'];
  const evPath = (id) => `/api/v1/events/${encodeURIComponent(id)}`;
  const evHref = (id) => `#/events/${encodeURIComponent(id)}`;
  const isDay = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s);

  // "to" reads as a day included; the API's "to" is the moment before which, so a bare day becomes the next one.
  function dayAfter(day) {
    const d = new Date(`${day}T00:00:00Z`);
    if (isNaN(d)) return day;
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }

  // source.ip:port, with brackets around an IPv6 address that has a port.
  function evSource(ev) {
    const ip = ev['source.ip'];
    const port = ev['source.port'];
    if (!ip) return ev['source.fqdn'] || ev['source.url'] || null;
    if (port === undefined || port === null || port === '') return String(ip);
    return String(ip).includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  }

  function evClassText(ev) {
    const t = ev['classification.taxonomy'];
    const y = ev['classification.type'];
    return t && y ? `${t} / ${y}` : y || t || '';
  }

  // A paged table (Events, Notifications): load(false) starts over, load(true) appends the next
  // page; an answer that arrives after a newer request, or after the page was left, is dropped.
  // path(cursor) is the list's URL for that cursor ('' for the first page).
  function pagedTable({ ctx, tbody, status, count, more, cols, row, empty, errorId, path }) {
    let cursor = null;
    let shown = 0;
    let seq = 0;
    return async function load(appendMore) {
      const my = ++seq;
      if (!appendMore) { cursor = null; shown = 0; }
      status.textContent = 'Loading…';
      more.hidden = true;
      try {
        const res = await api('GET', path(appendMore ? cursor : ''));
        if (my !== seq || !ctx.alive()) return;
        if (!appendMore) clear(tbody);
        res.items.forEach((it) => tbody.appendChild(row(it)));
        shown += res.items.length;
        cursor = res.next_cursor;
        more.hidden = !cursor;
        count.textContent = `${shown}${cursor ? '+' : ''} shown`;
        status.textContent = '';
        if (!shown) tbody.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: cols }, empty)));
      } catch (e) {
        if (my !== seq || e.status === 401 || !ctx.alive()) return;
        status.textContent = '';
        count.textContent = '';
        if (!appendMore) clear(tbody);
        status.appendChild(h('span', { class: 'form-error', role: 'alert', id: errorId }, e.message));
      }
    };
  }

  async function viewEvents(main, ctx, query) {
    const f = {};
    for (const k of EVENT_FILTERS) f[k] = query.get(k) || '';
    if (!isStaff()) f.constituent = ''; // the API gives them their own only
    S.lastEvents = location.hash || '#/events';
    const staff = isStaff();

    await Promise.all([
      loadTaxonomy().catch(() => { S.taxonomy = []; }),
      staff ? loadConstituents().catch(() => { S.constituents = []; }) : null,
    ]);
    if (!ctx.alive()) return;

    const ip = h('input', { id: 'e-ip', name: 'ip', type: 'search', value: f.ip, placeholder: 'IP or CIDR  ( / )', 'aria-label': 'Source IP address or network (CIDR)', size: 18, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' });
    const con = staff ? h('input', { id: 'e-constituent', name: 'constituent', value: f.constituent, placeholder: 'constituent', list: 'dl-event-cons', 'aria-label': 'Constituent', size: 14, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' }) : null;
    const conList = staff ? h('datalist', { id: 'dl-event-cons' }, (S.constituents || []).map((c) => option(c.short_name, c.name))) : null;
    const feed = h('input', { id: 'e-feed', name: 'feed', value: f.feed, placeholder: 'feed', list: 'dl-event-feeds', 'aria-label': 'Feed', size: 14, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' });
    const feedList = h('datalist', { id: 'dl-event-feeds' });
    // One picker for both: "taxonomy:X" is a whole taxonomy, "type:Y" one type.
    const cls = h('select', { id: 'e-class', name: 'classification', 'aria-label': 'Classification' }, option('', 'Any classification'));
    const clsCur = f.type ? `type:${f.type}` : f.taxonomy ? `taxonomy:${f.taxonomy}` : '';
    const groups = new Map();
    for (const t of S.taxonomy || []) {
      if (!groups.has(t.taxonomy)) {
        const g = h('optgroup', { label: t.taxonomy }, option(`taxonomy:${t.taxonomy}`, `all ${t.taxonomy}`, clsCur === `taxonomy:${t.taxonomy}`));
        groups.set(t.taxonomy, g);
        cls.appendChild(g);
      }
      groups.get(t.taxonomy).appendChild(option(`type:${t.type}`, t.type, clsCur === `type:${t.type}`));
    }
    if (clsCur && cls.value !== clsCur) cls.appendChild(option(clsCur, clsCur.replace(':', ' '), true)); // as asked, so the API can say what is wrong
    const from = h('input', { id: 'e-from', name: 'from', value: f.from, placeholder: 'from YYYY-MM-DD', 'aria-label': 'From (time.source, day or ISO 8601 time)', size: 14, spellcheck: 'false', autocomplete: 'off' });
    const to = h('input', { id: 'e-to', name: 'to', value: f.to, placeholder: 'to YYYY-MM-DD', 'aria-label': 'To (time.source; a day is included)', title: 'a day is included; an ISO 8601 time is the moment before which', size: 14, spellcheck: 'false', autocomplete: 'off' });
    const reset = h('button', { type: 'button', class: 'ghost small', id: 'e-reset' }, 'Reset');
    const ingestChip = f.ingest ? h('span', { class: 'chip', id: 'e-ingest' }, `ingest ${f.ingest} `,
      h('button', { type: 'button', class: 'chip-x', title: 'All ingests', 'aria-label': 'Remove the ingest filter', onclick: () => { f.ingest = ''; ingestChip.remove(); apply(); } }, '×')) : null;
    const filters = h('form', { class: 'filters', id: 'event-filters', role: 'search', onsubmit: (ev) => { ev.preventDefault(); apply(); } },
      ip, con, conList, feed, feedList, cls, from, to, ingestChip, reset, h('button', { type: 'submit', hidden: true }, 'Apply'));

    const stats = h('section', { class: 'card event-stats', id: 'event-stats', 'aria-label': 'Event counts' }, muted('Counting…'));
    const count = h('span', { class: 'muted count' });
    const thead = h('thead', null, h('tr', null,
      h('th', { class: 'c-id' }, 'ID'),
      h('th', { class: 'c-time' }, 'Time (source)'),
      h('th', null, 'Source'),
      h('th', { class: 'c-class' }, 'Classification'),
      h('th', null, 'Feed'),
      staff ? h('th', { class: 'c-con' }, 'Constituent') : null,
      h('th', { class: 'c-title' }, 'Details')));
    const tbody = h('tbody');
    const cols = staff ? 7 : 6;
    const table = h('table', { class: 'grid events', id: 'event-table' }, thead, tbody);
    const more = h('button', { type: 'button', class: 'ghost', id: 'event-more', hidden: true }, 'More');
    const status = h('div', { class: 'list-status', id: 'event-status' });
    main.appendChild(h('div', { class: 'toolbar' }, h('h1', null, 'Events'), count,
      h('span', { class: 'muted' }, staff ? 'what the feeds reported' : `reported for ${S.me.constituent || 'your organisation'}`)));
    main.appendChild(stats);
    main.appendChild(filters);
    main.appendChild(h('div', { class: 'table-wrap' }, table));
    main.appendChild(h('div', { class: 'list-foot' }, status, more));

    loadEventStats(stats, feedList, ctx);

    function row(e) {
      const ev = e.event || {};
      const href = evHref(e.id);
      const type = ev['classification.type'];
      const detail = ev['malware.name'] || ev['protocol.application'] || ev['source.fqdn'] || ev['source.url'] || ev['event_description.text'] || '';
      const tr = h('tr', { dataset: { id: String(e.id) } },
        h('td', { class: 'c-id mono' }, h('a', { href }, String(e.id))),
        h('td', { class: 'c-time' }, ev['time.source'] ? timeEl(ev['time.source'], null, true) : muted('—')),
        h('td', { class: 'mono c-src' }, evSource(ev) || muted('—')),
        h('td', { class: 'c-class', title: evClassText(ev) }, type || muted('—')),
        h('td', null, ev['feed.name'] || muted('—')),
        staff ? h('td', { class: 'c-con' }, e.constituent ? orgLink(e.constituent) : muted('unmatched')) : null,
        h('td', { class: 'c-title muted' }, String(detail)));
      tr.addEventListener('click', (evt) => { if (!evt.target.closest('a')) location.hash = href; });
      return tr;
    }

    const load = pagedTable({
      ctx, tbody, status, count, more, cols, row, empty: 'No events match these filters.', errorId: 'event-error',
      path: (cursor) => `/api/v1/events${qs({
        limit: 100, ip: f.ip.trim(), constituent: f.constituent.trim(), feed: f.feed.trim(), taxonomy: f.taxonomy, type: f.type,
        from: f.from.trim(), to: isDay(f.to.trim()) ? dayAfter(f.to.trim()) : f.to.trim(), ingest: f.ingest, cursor,
      })}`,
    });

    function apply() {
      f.ip = ip.value; f.feed = feed.value; f.from = from.value; f.to = to.value;
      f.constituent = con ? con.value : '';
      const c = cls.value;
      f.taxonomy = c.startsWith('taxonomy:') ? c.slice(9) : '';
      f.type = c.startsWith('type:') ? c.slice(5) : '';
      const params = {};
      for (const k of EVENT_FILTERS) if (String(f[k]).trim()) params[k] = String(f[k]).trim();
      const u = new URLSearchParams(params).toString();
      history.replaceState(null, '', `#/events${u ? `?${u}` : ''}`);
      S.lastEvents = location.hash;
      load(false);
    }

    let typingTimer = null;
    const applySoon = () => { clearTimeout(typingTimer); typingTimer = setTimeout(apply, 400); };
    [ip, feed, from, to, con].forEach((i) => { if (i) i.addEventListener('input', applySoon); });
    [feed, con].forEach((i) => { if (i) i.addEventListener('change', apply); }); // a datalist pick
    cls.addEventListener('change', apply);
    reset.addEventListener('click', () => {
      [ip, feed, from, to, con].forEach((i) => { if (i) i.value = ''; });
      cls.value = '';
      f.ingest = '';
      if (ingestChip) ingestChip.remove();
      apply();
    });
    more.addEventListener('click', () => load(true));
    await load(false);
  }

  // The strip on top: totals over everything the user may see (the filters below do not narrow it).
  function loadEventStats(box, feedList, ctx) {
    const top = (list, n) => (list || []).slice().sort((a, b) => b.count - a.count).slice(0, n);
    const filterLink = (params, label) => h('a', { href: `#/events?${new URLSearchParams(params)}` }, label);
    const group = (id, title, items) => h('div', { class: 'stat-group', id }, h('span', { class: 'stat-label' }, title),
      items.length ? h('ul', { class: 'stat-list' }, items) : muted('none'));
    const item = (label, n) => h('li', null, label, ' ', h('span', { class: 'stat-n' }, String(n)));
    api('GET', '/api/v1/events/stats').then((st) => {
      if (!ctx.alive()) return;
      clear(box);
      box.appendChild(h('div', { class: 'stat-group stat-total', id: 'stat-total' },
        h('span', { class: 'stat-label' }, 'Events stored'), h('span', { class: 'stat-big' }, String(st.total || 0))));
      box.appendChild(group('stat-types', 'Top types', top(st.by_type, 5).map((t) => item(
        t.type ? filterLink({ type: t.type }, t.type) : muted('unclassified'), t.count))));
      box.appendChild(group('stat-feeds', 'Top feeds', top(st.by_feed, 5).map((x) => item(
        x.feed ? filterLink({ feed: x.feed }, x.feed) : muted('no feed'), x.count))));
      if (isStaff()) {
        box.appendChild(group('stat-sectors', 'By sector', top(st.by_sector, 5).map((x) => item(x.sector || muted('no sector'), x.count))));
        box.appendChild(group('stat-constituents', 'By constituent', top(st.by_constituent, 5).map((x) => item(
          x.constituent ? filterLink({ constituent: x.constituent }, x.constituent) : muted('unmatched'), x.count))));
      }
      (st.by_feed || []).forEach((x) => { if (x.feed) feedList.appendChild(option(x.feed)); });
    }).catch((e) => {
      if (!ctx.alive() || e.status === 401) return;
      clear(box).appendChild(h('span', { class: 'form-error', role: 'alert' }, `Counts unavailable: ${e.message}`));
    });
  }

  // One event: every field it has, in key order.
  async function viewEvent(main, ctx, id) {
    const back = S.lastEvents || '#/events';
    main.appendChild(h('div', { class: 'toolbar' }, h('a', { href: back, class: 'back', id: 'event-back' }, '← Events')));
    const e = await api('GET', evPath(id));
    if (!ctx.alive()) return;
    const ev = e.event || {};
    document.title = `Event ${e.id} · dzong`;
    const page = h('div', { class: 'event-page', id: 'event-page', dataset: { id: String(e.id) } });
    main.appendChild(page);
    page.appendChild(h('h1', { class: 'inc-title', id: 'event-title' },
      `Event ${e.id}`, ' ', evClassText(ev) ? h('span', { class: 'chip' }, evClassText(ev)) : null,
      ' ', evSource(ev) ? h('span', { class: 'mono event-src' }, evSource(ev)) : null));
    const meta = h('dl', { class: 'kv', id: 'event-meta' },
      h('dt', null, 'Time (source)'), h('dd', null, ev['time.source'] ? timeEl(ev['time.source']) : muted('—')),
      h('dt', null, 'Stored'), h('dd', null, timeEl(e.stored_at)),
      h('dt', null, 'Constituent'), h('dd', null, e.constituent ? (isStaff() ? orgLink(e.constituent) : h('span', { class: 'mono' }, e.constituent)) : muted('unmatched')),
      h('dt', null, 'Ingest'), h('dd', null, isStaff()
        ? h('a', { href: `#/events?${new URLSearchParams({ ingest: String(e.ingest_id) })}`, title: 'The events of this ingest' }, `#${e.ingest_id}`)
        : `#${e.ingest_id}`));
    const keys = Object.keys(ev).sort();
    const fields = h('table', { class: 'grid event-fields', id: 'event-fields' },
      h('thead', null, h('tr', null, h('th', { class: 'c-key' }, 'Field'), h('th', { class: 'c-title' }, 'Value'))),
      h('tbody', null, keys.map((k) => h('tr', { dataset: { key: k }, class: k.startsWith('extra.') ? 'extra' : null },
        h('td', { class: 'mono c-key' }, k),
        h('td', { class: 'c-title mono c-val' }, typeof ev[k] === 'object' ? JSON.stringify(ev[k]) : String(ev[k]))))));
    page.appendChild(h('div', { class: 'detail-grid' },
      h('div', { class: 'col-main' }, h('section', { class: 'card', id: 'event-fields-card' },
        h('h2', null, 'Fields', h('span', { class: 'muted count' }, ` · ${keys.length}`)),
        keys.length ? h('div', { class: 'table-wrap flat' }, fields) : muted('This event has no fields.'))),
      h('aside', { class: 'col-side' }, h('section', { class: 'card props' }, h('h2', null, 'Record'), meta))));
  }

  // ---- notifications: what the CIRT sent its constituents ----

  const NOTIFICATION_FILTERS = ['status', 'kind', 'acknowledged', 'constituent', 'incident'];
  const NOTIFICATION_STATUSES = ['queued', 'sending', 'sent', 'failed'];
  const notPath = (t) => `/api/v1/notifications/${encodeURIComponent(t)}`;
  const notHref = (t) => `#/notifications/${encodeURIComponent(t)}`;
  const safeFileName = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, '_');

  function notificationStatus(n) {
    const retrying = n.status === 'queued' && n.attempts > 0;
    const badge = h('span', { class: `badge status nst-${cssToken(n.status)}${retrying ? ' nst-retry' : ''}`, dataset: { status: n.status } },
      retrying ? 'retrying' : n.status);
    const why = [];
    if (n.status === 'failed' || retrying) {
      why.push(h('span', { class: 'muted attempts' }, ` ${n.attempts} attempt${n.attempts === 1 ? '' : 's'}`));
      if (n.last_error) why.push(h('div', { class: 'last-error', title: n.last_error }, n.last_error));
      if (retrying && n.next_attempt_at) why.push(h('div', { class: 'muted small' }, 'next ', timeEl(n.next_attempt_at, null, true)));
    }
    if (n.in_doubt) why.push(h('div', { class: 'muted small', title: 'an attempt ended without a recorded outcome: the recipient may get it twice' }, 'in doubt'));
    return [badge, why];
  }

  function ackText(n) {
    if (!n.acknowledged_at) return muted('not yet');
    return h('span', { class: 'acked' }, h('span', { class: 'mono' }, n.acknowledged_by || '?'), ' ', timeEl(n.acknowledged_at, 'muted', true));
  }

  async function viewNotifications(main, ctx, query) {
    const staff = isStaff();
    const f = {};
    for (const k of NOTIFICATION_FILTERS) f[k] = query.get(k) || '';
    if (!staff) f.constituent = ''; // the API gives them their own only
    S.lastNotifications = location.hash || '#/notifications';
    if (staff) await loadConstituents().catch(() => { S.constituents = []; });
    if (!ctx.alive()) return;

    const status = select('status', [['', 'Any status'], ...NOTIFICATION_STATUSES.map((x) => [x, x])], f.status, { id: 'n-status', 'aria-label': 'Status' });
    const kind = select('kind', [['', 'Any kind'], ['digest', 'event digests'], ['incident', 'incident notices']], f.kind, { id: 'n-kind', 'aria-label': 'Kind' });
    const ack = select('acknowledged', [['', 'Acknowledged or not'], ['false', 'Not acknowledged'], ['true', 'Acknowledged']], f.acknowledged, { id: 'n-ack', 'aria-label': 'Acknowledged' });
    const con = staff ? h('input', { id: 'n-constituent', name: 'constituent', value: f.constituent, placeholder: 'constituent', list: 'dl-notification-cons', 'aria-label': 'Constituent', size: 14, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off' }) : null;
    const conList = staff ? h('datalist', { id: 'dl-notification-cons' }, (S.constituents || []).map((c) => option(c.short_name, c.name))) : null;
    const incidentChip = f.incident ? h('span', { class: 'chip', id: 'n-incident' }, `incident ${f.incident} `,
      h('button', { type: 'button', class: 'chip-x', title: 'All incidents', 'aria-label': 'Remove the incident filter', onclick: () => { f.incident = ''; incidentChip.remove(); apply(); } }, '×')) : null;
    // Staff: who has not acknowledged yet, in one click.
    const unacked = staff ? h('button', { type: 'button', class: `ghost small${f.acknowledged === 'false' ? ' active' : ''}`, id: 'n-unacked', 'aria-pressed': f.acknowledged === 'false' ? 'true' : 'false', title: 'Notifications the recipients have not acknowledged' }, 'Unacknowledged') : null;
    const reset = h('button', { type: 'button', class: 'ghost small', id: 'n-reset' }, 'Reset');
    const filters = h('form', { class: 'filters', id: 'notification-filters', role: 'search', onsubmit: (ev) => { ev.preventDefault(); apply(); } },
      status, kind, ack, con, conList, incidentChip, unacked, reset, h('button', { type: 'submit', hidden: true }, 'Apply'));

    const count = h('span', { class: 'muted count' });
    const cols = staff ? 9 : 8;
    const thead = h('thead', null, h('tr', null,
      h('th', { class: 'c-ticket' }, 'Ticket'),
      h('th', null, 'Kind'),
      staff ? h('th', { class: 'c-con' }, 'Constituent') : null,
      h('th', null, 'Recipient'),
      h('th', { class: 'c-title' }, 'Subject'),
      h('th', { class: 'c-nstatus' }, 'Status'),
      h('th', { class: 'c-time' }, 'Created'),
      h('th', { class: 'c-time' }, 'Sent'),
      h('th', null, 'Acknowledged')));
    const tbody = h('tbody');
    const table = h('table', { class: 'grid notifications', id: 'notification-table' }, thead, tbody);
    const more = h('button', { type: 'button', class: 'ghost', id: 'notification-more', hidden: true }, 'More');
    const listStatus = h('div', { class: 'list-status', id: 'notification-status' });
    main.appendChild(h('div', { class: 'toolbar' }, h('h1', null, 'Notifications'), count,
      h('span', { class: 'muted' }, staff ? 'event digests and incident notices sent to the constituents' : `sent to ${S.me.constituent || 'your organisation'}`)));
    main.appendChild(filters);
    main.appendChild(h('div', { class: 'table-wrap' }, table));
    main.appendChild(h('div', { class: 'list-foot' }, listStatus, more));

    function row(n) {
      const href = notHref(n.ticket);
      const tr = h('tr', { dataset: { ticket: n.ticket, status: n.status, acknowledged: n.acknowledged_at ? 'true' : 'false' } },
        h('td', { class: 'c-ticket mono' }, h('a', { href }, n.ticket)),
        h('td', null, n.kind === 'incident' ? 'incident' : 'digest'),
        staff ? h('td', { class: 'c-con' }, orgLink(n.constituent)) : null,
        h('td', { class: 'c-recipient', title: n.recipient_name || '' }, n.recipient),
        h('td', { class: 'c-title' }, n.subject),
        h('td', { class: 'c-nstatus' }, notificationStatus(n)),
        h('td', { class: 'c-time' }, timeEl(n.created_at, null, true)),
        h('td', { class: 'c-time' }, n.sent_at ? timeEl(n.sent_at, null, true) : muted('—')),
        h('td', { class: 'c-ack' }, ackText(n)));
      tr.addEventListener('click', (evt) => { if (!evt.target.closest('a')) location.hash = href; });
      return tr;
    }

    const load = pagedTable({
      ctx, tbody, status: listStatus, count, more, cols, row, empty: 'No notifications match these filters.',
      errorId: 'notification-error',
      path: (cursor) => `/api/v1/notifications${qs({ limit: 50, status: f.status, kind: f.kind, acknowledged: f.acknowledged, constituent: f.constituent.trim(), incident: f.incident, cursor })}`,
    });

    function apply() {
      f.status = status.value; f.kind = kind.value; f.acknowledged = ack.value;
      f.constituent = con ? con.value : '';
      if (unacked) {
        unacked.classList.toggle('active', f.acknowledged === 'false');
        unacked.setAttribute('aria-pressed', f.acknowledged === 'false' ? 'true' : 'false');
      }
      const params = {};
      for (const k of NOTIFICATION_FILTERS) if (String(f[k]).trim()) params[k] = String(f[k]).trim();
      const u = new URLSearchParams(params).toString();
      history.replaceState(null, '', `#/notifications${u ? `?${u}` : ''}`);
      S.lastNotifications = location.hash;
      load(false);
    }

    let typingTimer = null;
    if (con) {
      con.addEventListener('input', () => { clearTimeout(typingTimer); typingTimer = setTimeout(apply, 400); });
      con.addEventListener('change', apply);
    }
    [status, kind, ack].forEach((x) => x.addEventListener('change', apply));
    if (unacked) {
      unacked.addEventListener('click', () => {
        ack.value = ack.value === 'false' ? '' : 'false';
        apply();
      });
    }
    reset.addEventListener('click', () => {
      status.value = ''; kind.value = ''; ack.value = '';
      if (con) con.value = '';
      f.incident = '';
      if (incidentChip) incidentChip.remove();
      apply();
    });
    more.addEventListener('click', () => load(true));
    await load(false);
  }

  // One notification: where it went, how delivery went, what it carried, who acknowledged it.
  async function viewNotification(main, ctx, ticket) {
    const back = S.lastNotifications || '#/notifications';
    main.appendChild(h('div', { class: 'toolbar' }, h('a', { href: back, class: 'back', id: 'notification-back' }, '← Notifications')));
    const n = await api('GET', notPath(ticket));
    if (!ctx.alive()) return;
    document.title = `${n.ticket} · dzong`;
    const staff = isStaff();
    const page = h('div', { class: 'notification-page', id: 'notification-page', dataset: { ticket: n.ticket, status: n.status, kind: n.kind } });
    main.appendChild(page);
    page.appendChild(h('div', { class: 'toolbar' },
      h('span', { class: 'mono inc-id', id: 'notification-ticket' }, n.ticket),
      notificationStatus(n), n.tlp ? tlpBadge(n.tlp) : null,
      h('span', { class: 'chip' }, n.kind === 'incident' ? 'incident notice' : 'event digest')));
    page.appendChild(h('h1', { class: 'inc-title', id: 'notification-subject' }, n.subject));

    const recipient = n.recipient_name ? [n.recipient_name, ' ', h('span', { class: 'muted' }, `<${n.recipient}>`)] : [n.recipient];
    const delivery = h('dl', { class: 'kv', id: 'notification-delivery' },
      h('dt', null, 'Constituent'), h('dd', null, staff ? orgLink(n.constituent) : h('span', { class: 'mono' }, n.constituent)),
      h('dt', null, 'Recipient'), h('dd', { id: 'notification-recipient' }, recipient),
      h('dt', null, 'Created'), h('dd', null, timeEl(n.created_at)),
      h('dt', null, 'Sent'), h('dd', null, n.sent_at ? timeEl(n.sent_at) : muted('not yet')),
      n.attempts ? [h('dt', null, 'Attempts'), h('dd', null, String(n.attempts), n.smtp_code ? muted(` · last answer ${n.smtp_code}`) : null)] : null,
      n.last_error ? [h('dt', null, 'Last error'), h('dd', { class: 'last-error', id: 'notification-error' }, n.last_error)] : null,
      n.status === 'queued' && n.next_attempt_at ? [h('dt', null, 'Next attempt'), h('dd', null, timeEl(n.next_attempt_at))] : null,
      h('dt', null, 'Protection'), h('dd', null, [n.signed ? 'signed' : 'not signed', ', ', n.encrypted ? 'encrypted' : 'not encrypted']),
      staff && n.message_id ? [h('dt', null, 'Message-ID'), h('dd', { class: 'mono' }, n.message_id)] : null);

    const ackSec = h('section', { class: 'card', id: 'ack-state' }, h('h2', null, 'Acknowledgement'));
    function renderAck(cur) {
      clear(ackSec).appendChild(h('h2', null, 'Acknowledgement'));
      if (cur.acknowledged_at) {
        ackSec.appendChild(h('p', { id: 'ack-text', dataset: { acknowledged: 'true' } }, 'Acknowledged by ', h('span', { class: 'mono' }, cur.acknowledged_by || '?'), ' on ', timeEl(cur.acknowledged_at), '.'));
        return;
      }
      ackSec.appendChild(h('p', { id: 'ack-text', class: 'muted', dataset: { acknowledged: 'false' } },
        canAcknowledge() ? 'Let the CIRT know your organisation has received this and is dealing with it.' : 'The recipient has not acknowledged this yet.'));
      if (!canAcknowledge()) return;
      const err = errorBox();
      const button = h('button', { type: 'submit', class: 'primary small', id: 'ack-button' }, 'Acknowledge');
      const form = h('form', { id: 'ack-form' }, err, button);
      onSubmit(form, err, async () => {
        const done = await api('POST', `${notPath(cur.ticket)}/ack`);
        if (!ctx.alive()) return;
        flash('Acknowledged.');
        page.dataset.acknowledged = 'true';
        renderAck(done || cur);
      });
      ackSec.appendChild(form);
    }
    page.dataset.acknowledged = n.acknowledged_at ? 'true' : 'false';
    renderAck(n);

    const content = h('section', { class: 'card', id: 'notification-content' }, h('h2', null, n.kind === 'incident' ? 'Incident' : 'Events'));
    if (n.kind === 'incident') {
      content.appendChild(h('p', null, 'A notice of incident ',
        n.incident && canReadIncidents() ? h('a', { href: `#/incidents/${encodeURIComponent(n.incident)}`, class: 'mono', id: 'notification-incident' }, n.incident)
          : h('span', { class: 'mono', id: 'notification-incident' }, n.incident || '?'), '.'));
      content.appendChild(h('p', null, h('a', { href: `#/notifications?${new URLSearchParams({ incident: n.incident || '' })}` }, 'Every notice of this incident')));
    } else {
      const byType = (n.summary && n.summary.by_type) || [];
      content.appendChild(h('dl', { class: 'kv', id: 'notification-period' },
        h('dt', null, 'Period'), h('dd', null, n.period_from ? timeEl(n.period_from) : muted('—'), ' – ', n.period_to ? timeEl(n.period_to) : muted('—')),
        h('dt', null, 'Events'), h('dd', { id: 'notification-events' }, String(n.events || 0)),
        n.withheld ? [h('dt', null, 'Withheld'), h('dd', { title: 'above the contact\u2019s TLP ceiling, not attached' }, String(n.withheld))] : null));
      content.appendChild(byType.length
        ? h('table', { class: 'grid summary', id: 'notification-summary' },
          h('thead', null, h('tr', null, h('th', null, 'Taxonomy'), h('th', null, 'Type'), h('th', { class: 'num' }, 'Count'))),
          h('tbody', null, byType.map((t) => h('tr', null, h('td', null, t.taxonomy), h('td', null, t.type), h('td', { class: 'num' }, String(t.count))))))
        : muted('No events in this digest.'));
      const base = `${notPath(n.ticket)}/events`;
      content.appendChild(h('p', { class: 'downloads', id: 'notification-downloads' }, n.withheld ? 'Download all the events (also those withheld from the mail): ' : 'Download the events: ',
        h('a', { href: `${base}?format=csv`, download: `events-${safeFileName(n.ticket)}.csv`, id: 'download-csv', class: 'button ghost small' }, 'CSV'), ' ',
        h('a', { href: `${base}?format=json`, download: `events-${safeFileName(n.ticket)}.json`, id: 'download-json', class: 'button ghost small' }, 'JSON')));
    }
    if (staff) {
      content.appendChild(h('p', { class: 'muted small' }, h('a', { href: `${notPath(n.ticket)}/message`, download: `${safeFileName(n.ticket)}.eml`, id: 'download-message' }, 'The message as sent (.eml)')));
    }

    page.appendChild(h('div', { class: 'detail-grid' },
      h('div', { class: 'col-main' }, content, ackSec),
      h('aside', { class: 'col-side' }, h('section', { class: 'card props' }, h('h2', null, 'Delivery'), delivery))));
  }

  // The incident page's "Notify constituents": a notice to chosen affected constituents, also a shared note.
  function notifyPanel(sec, inc, after) {
    const affected = inc.constituents || [];
    if (!affected.length) {
      sec.appendChild(h('p', { class: 'muted', id: 'notify-none' }, 'No constituents are affected: add them under "Edit details" first.'));
      return;
    }
    const boxes = h('div', { class: 'checklist notify-targets', id: 'notify-constituents', role: 'group', 'aria-label': 'Constituents to notify' },
      affected.map((c) => h('label', { class: 'check', title: `${c}: ${constituentName(c)}` },
        h('input', { type: 'checkbox', name: 'constituent', value: c, checked: affected.length === 1 }),
        h('span', { class: 'mono' }, c), ' ', h('span', { class: 'muted' }, constituentName(c) === c ? '' : constituentName(c)))));
    const subject = h('input', { name: 'subject', id: 'notify-subject', maxlength: 200, placeholder: 'Subject (optional: the template\u2019s otherwise)', 'aria-label': 'Subject', autocomplete: 'off' });
    const text = h('textarea', { name: 'text', id: 'notify-text', rows: 4, placeholder: 'What the constituents should know and do… (also added as a shared note)', 'aria-label': 'Notice' });
    const err = errorBox();
    err.id = 'notify-error';
    const result = h('div', { class: 'notify-result', id: 'notify-result', hidden: true, 'aria-live': 'polite' });
    const form = h('form', { class: 'notify-form', id: 'notify-form' },
      h('p', { class: 'muted small' }, 'Each contact of the chosen organisations gets one e-mail; contacts whose TLP ceiling is below ', tlpBadge(inc.tlp), ' are skipped.'),
      boxes, subject, text, err,
      h('div', { class: 'actions' }, h('span', { class: 'spacer' }), h('button', { type: 'submit', class: 'primary small', id: 'notify-send' }, 'Send notice')));
    onSubmit(form, err, async () => {
      const constituents = [...boxes.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
      if (!constituents.length) throw new Error('Choose at least one constituent to notify.');
      if (!text.value.trim()) throw new Error('The notice is empty.');
      const body = { constituents, text: text.value };
      if (subject.value.trim()) body.subject = subject.value.trim();
      result.hidden = true;
      const out = await api('POST', `${incPath(inc.id)}/notify`, body);
      const queued = (out && out.queued) || [];
      const skipped = (out && out.skipped) || [];
      clear(result).hidden = false;
      result.appendChild(h('p', { class: 'notify-summary', id: 'notify-summary' },
        `Queued ${queued.length} message${queued.length === 1 ? '' : 's'}`, skipped.length ? `, skipped ${skipped.length}` : '', '.'));
      if (queued.length) {
        result.appendChild(h('ul', { class: 'notify-queued', id: 'notify-queued' }, queued.map((n) => h('li', { dataset: { ticket: n.ticket, constituent: n.constituent } },
          h('a', { href: notHref(n.ticket), class: 'mono' }, n.ticket), ' ', h('span', { class: 'mono' }, n.constituent), ' → ', n.recipient))));
      }
      if (skipped.length) {
        result.appendChild(h('ul', { class: 'notify-skipped', id: 'notify-skipped' }, skipped.map((x) => h('li', { dataset: { constituent: x.constituent || '' } },
          h('span', { class: 'mono' }, x.constituent || '?'), ' ', x.to || '', ': ', h('span', { class: 'muted' }, x.reason || 'skipped')))));
      }
      text.value = '';
      subject.value = '';
      flash(`Notice queued for ${queued.length} recipient${queued.length === 1 ? '' : 's'}.`);
      after();
    });
    sec.appendChild(form);
    sec.appendChild(result);
  }

  // ---- lookup: whose is it? ----

  async function viewLookup(main, ctx, query) {
    if (!canLookup()) {
      main.appendChild(h('p', { class: 'empty' }, 'The lookup is for CIRT staff.'));
      return;
    }
    const q = (query.get('q') || '').trim();
    const box = document.getElementById('lookup-q');
    if (box && box.value !== q) box.value = q;
    main.appendChild(h('div', { class: 'toolbar' }, h('h1', null, 'Whose is it?'),
      q ? h('span', { class: 'mono lookup-asked' }, q) : null));
    const out = h('div', { id: 'lookup-result', class: 'lookup-result' });
    main.appendChild(out);
    if (!q) {
      out.appendChild(h('p', { class: 'muted' }, 'Type an IP address, a network, an AS number or a domain into the box at the top.'));
      if (box) box.focus();
      return;
    }
    out.appendChild(h('p', { class: 'muted' }, 'Looking up…'));
    let res;
    try {
      res = await api('GET', `/api/v1/lookup${qs({ q })}`);
    } catch (e) {
      if (!ctx.alive() || e.status === 401) return;
      clear(out).appendChild(h('div', { class: 'form-error', role: 'alert', id: 'lookup-error' }, e.message));
      return;
    }
    if (!ctx.alive()) return;
    renderLookup(clear(out), q, res);
  }

  function renderLookup(out, asked, res) {
    const kinds = Object.keys(res.query || {});
    const kind = kinds[0];
    const value = kind ? res.query[kind] : asked;
    out.appendChild(h('p', { class: 'lookup-query', id: 'lookup-query' }, 'Asked as ', kind || 'value', ' ', h('span', { class: 'mono' }, value)));
    const owners = res.constituents || [];
    const matches = res.matches || [];
    if (!owners.length) {
      out.appendChild(h('p', { class: 'empty nobody', id: 'lookup-nobody' }, 'Nobody registered this.'));
    } else {
      out.appendChild(h('div', { class: 'owners', id: 'lookup-owners' }, owners.map(ownerCard)));
    }
    if (matches.length > 1) {
      out.appendChild(h('section', { class: 'card', id: 'lookup-chain' },
        h('h2', null, 'Less specific claims'),
        h('ol', { class: 'chain' }, matches.slice(1).map((m) => h('li', { dataset: { resource: m.resource } },
          'inside ', h('span', { class: 'mono' }, m.resource), ` (${m.kind}) of `, joinLinks(m.constituents))))));
    }
  }

  function joinLinks(names) {
    const out = [];
    (names || []).forEach((n, i) => { if (i) out.push(', '); out.push(orgLink(n)); });
    return out.length ? out : [muted('nobody')];
  }

  function ownerCard(c) {
    const contacts = c.contacts || [];
    return h('section', { class: 'card owner', dataset: { name: c.short_name } },
      h('div', { class: 'owner-head' },
        h('a', { href: conHref(c.short_name), class: 'owner-name' }, c.name),
        h('span', { class: 'mono muted' }, c.short_name),
        ciiBadge(c),
        c.sector ? h('span', { class: 'chip' }, c.sector) : null,
        h('span', { class: 'chip' }, c.kind),
        h('span', { class: 'spacer' }),
        h('span', { class: 'matched' }, 'matched ', h('span', { class: 'mono' }, c.matched || '?'))),
      contacts.length
        ? h('ul', { class: 'owner-contacts' }, contacts.map((p) => h('li', { class: 'contact' },
          h('span', { class: 'contact-name' }, p.name),
          h('span', { class: `chip role-${cssToken(p.role)}` }, p.role),
          mailLink(p.email),
          p.phone ? phoneLink(p.phone) : null,
          p.language ? muted(p.language) : null,
          p.max_tlp ? tlpBadge(p.max_tlp) : null)))
        : h('p', { class: 'muted' }, 'No contacts registered: nobody to tell.'));
  }

  boot();
})();
