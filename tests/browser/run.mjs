#!/usr/bin/env node
/*
 * Browser tests of the dzong web UI: playwright-core driving Debian's Chromium.
 *
 *   cd tests/browser && npm install          (once)
 *   node tests/browser/run.mjs --dzong build/dzong [--keep]
 *
 * Creates a temporary data directory with a handler, a coordinator, an admin
 * and a constituent user and a registry of test organisations (imported with
 * `dzong constituents import`: an ISP with a customer inside its network, an
 * IDN domain, a hostile organisation name and more than one page of records),
 * starts `dzong serve` on a free 127.0.0.1 port, runs the scenarios in order
 * (later ones build on the incident the earlier ones created), stops the
 * server whatever happens, and prints "N passed, N failed" as the last line.
 * Screenshots go to the temporary directory, which --keep leaves in place.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const HANDLER = { username: 'hana.handler', password: 'handler-pass-0123456789' };
const CONSTITUENT = { username: 'bank.analyst', password: 'constituent-pass-0123456789' };
const COORDINATOR = { username: 'cora.coord', password: 'coordinator-pass-0123456789' };
const ADMIN = { username: 'ada.admin', password: 'admin-pass-0123456789' };
const XSS_TITLE = '<img src=x onerror=window.__xss=1>';
const XSS_ORG = '<img src=x onerror=alert(1)>';
const XSS_CONTACT = '<b onmouseover=alert(2)>Eve</b><script>alert(3)</script>';
const BULK = 1001; // with the others more than one page of 1000, so pickers must follow next_cursor

// The registry the scenarios use: documentation addresses, private-use AS numbers, .example domains.
function registry() {
  const contact = (name, email, extra) => Object.assign({ name, email }, extra || {});
  const orgs = [
    { short_name: 'bank', name: 'Test National Bank', kind: 'private', sector: 'banking-finance', cii: true, cii_tier: 2,
      networks: ['203.0.113.0/28'], domains: ['bank.example'],
      contacts: [contact('Bank SOC', 'soc@bank.example', { role: '24x7', phone: '+975 2 111111' })] },
    { short_name: 'power', name: 'Test Power Utility', kind: 'cii-operator', sector: 'energy', cii: true, cii_tier: 1,
      networks: ['203.0.113.16/28'], contacts: [contact('Grid Control Room', 'control@power.example', { role: '24x7' })] },
    { short_name: 'test-isp', name: 'Test Upstream ISP', kind: 'isp', sector: 'ict-telecom',
      networks: ['198.51.100.0/24', '2001:db8:100::/40'], asns: [64600], domains: ['isp.example'],
      contacts: [contact('ISP NOC', 'noc@isp.example', { role: '24x7', phone: '+975 2 222222' })] },
    { short_name: 'test-shop', name: 'Test Web Shop', kind: 'private', parent: 'test-isp',
      networks: ['198.51.100.64/26'], domains: ['bücher.example'], tags: ['e-commerce'],
      contacts: [contact('Shop Abuse Desk', 'abuse@shop.example', { phone: '+975 17 123456', pgp: '0123456789ABCDEF0123456789ABCDEF89ABCDEF', notify_interval: 'hourly' })] },
    { short_name: 'xss-org', name: XSS_ORG, kind: 'other', networks: ['192.0.2.128/25'],
      contacts: [contact(XSS_CONTACT, 'eve@xss.example')] },
  ];
  for (let i = 1; i <= BULK; i++) orgs.push({ short_name: `bulk-${String(i).padStart(4, '0')}`, name: `Bulk organisation ${i}`, kind: 'private' });
  return orgs;
}

// ---- arguments ----

function parseArgs(argv) {
  const out = { dzong: null, keep: false };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dzong') out.dzong = argv[++i];
    else if (a.startsWith('--dzong=')) out.dzong = a.slice(8);
    else if (a === '--keep') out.keep = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node tests/browser/run.mjs --dzong PATH_TO_DZONG [--keep]');
      process.exit(0);
    } else {
      console.error(`run.mjs: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (!out.dzong) {
    console.error('usage: node tests/browser/run.mjs --dzong PATH_TO_DZONG [--keep]');
    process.exit(2);
  }
  out.dzong = path.resolve(out.dzong);
  return out;
}

const opts = parseArgs(process.argv);
if (!fs.existsSync(CHROMIUM)) {
  console.error(`run.mjs: ${CHROMIUM} is missing; install it with: apt-get install -y chromium`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const started = Date.now();
const log = (...a) => console.log(...a);

// ---- the server ----

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dzong-browser-'));
const dataDir = path.join(tmp, 'data');
let server = null;

function dz(args, input) {
  const r = spawnSync(opts.dzong, ['--data', dataDir, ...args], { input, encoding: 'utf8', timeout: 30000 });
  if (r.error) throw new Error(`dzong ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`dzong ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer() {
  dz(['init']);
  const registryFile = path.join(tmp, 'registry.json');
  fs.writeFileSync(registryFile, JSON.stringify(registry()));
  dz(['constituents', 'import', registryFile]);
  // Notifications configured: serve creates the notifier (nothing is delivered: no relay answers).
  fs.appendFileSync(path.join(dataDir, 'dzong.conf'), 'mail_from = cirt@example.bt\n');
  dz(['user', 'add', HANDLER.username, '--role', 'handler', '--password-stdin'], `${HANDLER.password}\n`);
  dz(['user', 'add', COORDINATOR.username, '--role', 'coordinator', '--password-stdin'], `${COORDINATOR.password}\n`);
  dz(['user', 'add', ADMIN.username, '--role', 'admin', '--password-stdin'], `${ADMIN.password}\n`);
  dz(['user', 'add', CONSTITUENT.username, '--role', 'constituent', '--constituent', 'bank', '--password-stdin'],
    `${CONSTITUENT.password}\n`);
  const port = await freePort();
  const logFd = fs.openSync(path.join(tmp, 'server.log'), 'a');
  server = spawn(opts.dzong, ['--data', dataDir, 'serve', '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  server.on('exit', () => { server.exited = true; });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (server.exited) throw new Error(`dzong serve exited early; see ${path.join(tmp, 'server.log')}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return base;
    } catch (e) { /* not up yet */ }
    await sleep(100);
  }
  throw new Error('dzong serve did not answer /healthz within 10 s');
}

async function stopServer() {
  if (!server || server.exited) return;
  server.kill('SIGTERM');
  for (let i = 0; i < 30 && !server.exited; i++) await sleep(100);
  if (!server.exited) server.kill('SIGKILL');
}

// Stop the server even on Ctrl-C or an uncaught error.
process.on('exit', () => { if (server && !server.exited) server.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (server && !server.exited) server.kill('SIGKILL');
    process.exit(130);
  });
}

// ---- small assertion helpers (playwright-core has no expect) ----

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function until(what, fn, timeout = 5000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(50);
  }
}

async function textOf(page, selector) {
  return (await page.locator(selector).first().textContent()) || '';
}

async function waitText(page, selector, expected, timeout) {
  await until(`"${expected}" in ${selector}`, async () => (await textOf(page, selector)).includes(expected), timeout);
}

// ---- scenarios ----

const results = [];
let shotN = 0;

async function scenario(page, name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    const shot = path.join(tmp, `failure-${++shotN}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(e.message).split('\n').join('\n     ')}\n     screenshot: ${shot}`);
  }
}

async function login(page, who) {
  await page.waitForSelector('#login-form');
  await page.fill('#login-user', who.username);
  await page.fill('#login-pass', who.password);
  await page.click('#login-form button[type=submit]');
  await waitText(page, '#me-user', who.username, 8000);
}

async function logout(page) {
  await page.click('#logout');
  await page.waitForSelector('#login-form');
}

// Seeds a few incidents through the API with the page's own session, for a realistic list.
async function seed(page, incidents) {
  return page.evaluate(async (list) => {
    const who = await (await fetch('/api/v1/session')).json();
    const ids = [];
    for (const inc of list) {
      const r = await fetch('/api/v1/incidents', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': who.csrf_token },
        body: JSON.stringify(inc),
      });
      const body = await r.json();
      if (!r.ok) throw new Error(`seed: ${r.status} ${body.detail}`);
      ids.push(body.id);
    }
    return ids;
  }, incidents);
}

async function main() {
  log(`dzong browser tests: ${opts.dzong}`);
  log(`work dir: ${tmp}`);
  const base = await startServer();
  log(`server: ${base}`);

  const { chromium } = await import('playwright-core');
  const profile = path.join(tmp, 'chromium-profile');
  fs.mkdirSync(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
    locale: 'en-GB',
    timezoneId: 'Asia/Thimphu',
  });
  context.setDefaultTimeout(6000);
  const page = context.pages()[0] || await context.newPage();

  const problems = [];
  const expectedFailures = []; // URLs a scenario fetches on purpose to see them refused
  const dialogs = []; // alert() and friends: hostile data must never open one
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    // The browser logs every non-2xx fetch; the 401s (no session yet, wrong password) are expected.
    if (/Failed to load resource: the server responded with a status of 401/.test(t)) return;
    const url = (m.location() && m.location().url) || '';
    if (expectedFailures.some((u) => url.includes(u))) return;
    problems.push(`console error: ${t}${url ? ` (${url})` : ''}`);
  });

  // A refusal the scenario causes on purpose: the browser's console error for it is expected while fn runs.
  async function expectingFailure(urlPart, fn) {
    expectedFailures.push(urlPart);
    try {
      await fn();
    } finally {
      await sleep(200); // console events may trail the page's own reaction
      expectedFailures.splice(expectedFailures.indexOf(urlPart), 1);
    }
  }

  const state = { id: null, xssId: null, otherIds: [], powerEventId: null, ticket: null };
  const marker = `m${Date.now().toString(36)}`;

  try {
    await scenario(page, 'login: wrong password shows the message, the right one signs in, reload keeps the session', async () => {
      await page.goto(base);
      await page.waitForSelector('#login-form');
      await page.fill('#login-user', HANDLER.username);
      await page.fill('#login-pass', 'definitely-not-the-password');
      await page.click('#login-form button[type=submit]');
      await waitText(page, '#login-form .form-error', 'wrong user name or password');
      assert(await page.locator('#me-user').count() === 0, 'signed in despite a wrong password');
      await login(page, HANDLER);
      await waitText(page, '#me-role', 'handler');
      await page.reload();
      await waitText(page, '#me-user', HANDLER.username);
      await page.waitForSelector('#incident-table');
    });

    await scenario(page, 'create an incident through the form and see it in the list', async () => {
      state.otherIds = await seed(page, [
        { title: `Ransomware at the power utility ${marker}`, severity: 'critical', tlp: 'AMBER+STRICT', constituents: ['power'], classification: { taxonomy: 'malicious-code', type: 'infected-system' }, tags: ['ransomware'] },
        { title: 'Scan from a university network', severity: 'low', tlp: 'CLEAR', classification: { taxonomy: 'information-gathering', type: 'scanner' } },
        { title: 'Compromised mail account at the bank', severity: 'medium', tlp: 'GREEN', constituents: ['bank'], assignee: HANDLER.username },
        { title: 'Leak of credentials under embargo', severity: 'high', tlp: 'RED', assignee: HANDLER.username },
      ]);
      await page.goto(`${base}/#/incidents`);
      await page.click('#new-incident');
      await page.waitForSelector('#incident-form');
      await page.fill('#inc-title', `Phishing wave against Test National Bank ${marker}`);
      await page.fill('#inc-description', 'SMS messages link to a fake e-banking login.\nReported by several citizens.');
      await page.selectOption('#inc-classification', 'fraud/phishing');
      await page.selectOption('#inc-severity', 'high');
      await page.selectOption('#inc-tlp', 'AMBER');
      await page.check('#inc-constituents input[value="bank"]');
      await page.fill('#inc-tags', 'sms, banking');
      await page.click('#incident-form button[type=submit]');
      await page.waitForSelector('#incident-page[data-status="new"]');
      state.id = (await textOf(page, '#inc-id')).trim();
      assert(/^[A-Z0-9]+-\d{4}-\d{5}$/.test(state.id), `unexpected incident id "${state.id}"`);
      await page.click('.toolbar a.back');
      const row = page.locator(`#incident-table tr[data-id="${state.id}"]`);
      await row.waitFor();
      const text = await row.textContent();
      for (const want of [`Phishing wave against Test National Bank ${marker}`, 'TLP:AMBER', 'high', 'new', 'bank', 'phishing']) {
        assert(text.includes(want), `list row lacks "${want}": ${text}`);
      }
      assert(await page.locator('#incident-table tbody tr[data-id]').count() >= 4, 'seeded incidents are missing from the list');
      await page.evaluate(() => { document.getElementById('flash').hidden = true; });
      await page.screenshot({ path: path.join(tmp, 'list.png') });
    });

    await scenario(page, 'list filters, search and sorting', async () => {
      await page.goto(`${base}/#/incidents`);
      await page.waitForSelector(`#incident-table tr[data-id="${state.id}"]`);
      await page.fill('#f-q', marker);
      await until('search to leave only the two marked incidents', async () => await page.locator('#incident-table tbody tr[data-id]').count() === 2);
      await page.selectOption('#f-constituent', 'bank');
      await until('constituent filter', async () => await page.locator('#incident-table tbody tr[data-id]').count() === 1);
      await page.fill('#f-q', '');
      await page.selectOption('#f-constituent', '');
      await page.selectOption('#f-tlp', 'RED');
      await until('TLP filter', async () => {
        const rows = page.locator('#incident-table tbody tr[data-id]');
        return await rows.count() === 1 && (await rows.first().textContent()).includes('Leak of credentials');
      });
      await page.selectOption('#f-tlp', '');
      await page.click('th button.sort:has-text("Severity")');
      await until('sort by severity, highest first', async () => (await textOf(page, '#incident-table tbody tr[data-id]')).includes('critical'));
      assert(page.url().includes('sort=-severity'), `filters are not kept in the address: ${page.url()}`);
      await page.click('#f-assignee');
      await page.fill('#f-assignee', 'none');
      await until('unassigned filter', async () => {
        const t = await page.locator('#incident-table tbody').textContent();
        return !t.includes('Leak of credentials') && t.includes('Scan from a university');
      });
      await page.click('.filters button:has-text("Reset")');
      await until('reset', async () => await page.locator('#incident-table tbody tr[data-id]').count() === 5);
    });

    await scenario(page, 'open the incident, move it to triage then analysis; the timeline shows it', async () => {
      await page.goto(`${base}/#/incidents`);
      await page.click(`#incident-table tr[data-id="${state.id}"] a.title-link`);
      await page.waitForSelector('#incident-page[data-status="new"]');
      const buttons = await page.locator('#status-actions button').allTextContents();
      assert(buttons.join(',') === 'Triage,Rejected', `from new the buttons should be Triage, Rejected; got ${buttons}`);
      await page.click('#status-actions button[data-status="triage"]');
      await page.waitForSelector('#incident-page[data-status="triage"]');
      const b2 = await page.locator('#status-actions button').allTextContents();
      assert(b2.join(',') === 'Analysis,Rejected,Closed', `from triage: got ${b2}`);
      await page.click('#status-actions button[data-status="analysis"]');
      await page.waitForSelector('#incident-page[data-status="analysis"]');
      await waitText(page, '.phases .phase.current', 'analysis');
      await waitText(page, '#timeline-list', 'status new → triage');
      await waitText(page, '#timeline-list', 'status triage → analysis');
      await waitText(page, '#timeline-list', 'opened the incident');
    });

    await scenario(page, 'edit severity, TLP and assignee', async () => {
      await page.waitForSelector('#incident-page[data-status="analysis"]');
      await page.selectOption('#edit-severity', 'critical');
      await page.selectOption('#edit-tlp', 'GREEN');
      await page.click('#assign-me');
      await page.click('#save-props');
      await until('the saved values', async () => (await page.locator('#incident-page .toolbar').textContent()).includes('TLP:GREEN'));
      await waitText(page, '#incident-page .toolbar', 'critical');
      assert(await page.inputValue('#edit-assignee') === HANDLER.username, 'assignee not saved');
      await waitText(page, '#timeline-list', 'severity high → critical');
      await waitText(page, '#timeline-list', 'TLP AMBER → GREEN');
      await waitText(page, '#timeline-list', `assigned to ${HANDLER.username}`);
    });

    await scenario(page, 'add a shared note and an internal note', async () => {
      await page.fill('#note-body', `Shared with the bank: please reset the affected accounts ${marker}`);
      await page.check('#note-shared');
      await page.click('#note-form button[type=submit]');
      await page.waitForSelector(`#note-list li[data-visibility="shared"]:has-text("reset the affected accounts ${marker}")`);
      await page.fill('#note-body', `Internal only: the sender domain belongs to a known actor ${marker}`);
      assert(await page.isChecked('#note-internal'), 'new notes should default to internal');
      await page.click('#note-form button[type=submit]');
      await page.waitForSelector(`#note-list li[data-visibility="internal"]:has-text("known actor ${marker}")`);
      assert(await page.locator('#note-list li.note').count() === 2, 'expected exactly two notes');
      await waitText(page, '#timeline-list', 'added a shared note');
      await waitText(page, '#timeline-list', 'added an internal note');
    });

    await scenario(page, 'add a task and mark it done', async () => {
      await page.fill('#task-title', 'Request takedown of the phishing domain');
      await page.click('#task-form button[type=submit]');
      const open = page.locator('#task-list li[data-status="open"]:has-text("Request takedown of the phishing domain")');
      await open.waitFor();
      await open.locator('input[type=checkbox]').click(); // the panel re-renders, so no check()
      await page.waitForSelector('#task-list li[data-status="done"]:has-text("Request takedown of the phishing domain")');
      await waitText(page, '#timeline-list', 'added task “Request takedown of the phishing domain”');
      await waitText(page, '#timeline-list', 'task “Request takedown of the phishing domain” done');
      await page.evaluate(() => { document.getElementById('flash').hidden = true; });
      await page.screenshot({ path: path.join(tmp, 'detail.png'), fullPage: true });
    });

    await scenario(page, 'file a report and link it to the incident', async () => {
      await page.goto(`${base}/#/reports`);
      await page.waitForSelector('#report-table');
      await page.click('#file-report');
      await page.waitForSelector('#report-form');
      await page.fill('#rep-source', 'phone');
      await page.fill('#rep-source_ref', `call-${marker}`);
      await page.fill('#rep-title', `Caller received a phishing SMS ${marker}`);
      await page.fill('#rep-body', 'The SMS pointed to a look-alike bank domain.');
      await page.selectOption('#rep-constituent', 'bank');
      await page.fill('#rep-incident', state.id);
      await page.fill('#rep-reporter_name', 'A. Citizen');
      await page.click('#report-form button[type=submit]');
      const row = page.locator(`#report-table tbody tr:has-text("call-${marker}")`);
      await row.waitFor();
      assert((await row.textContent()).includes(state.id), 'the report row does not show the linked incident');
      await row.click();
      await waitText(page, '#report-table tr.detail-row', 'look-alike bank domain');
      await page.screenshot({ path: path.join(tmp, 'reports.png') });
      await page.goto(`${base}/#/incidents/${state.id}`);
      await waitText(page, '#linked-reports', `Caller received a phishing SMS ${marker}`);
    });

    await scenario(page, 'an XSS attempt in a title renders as text and never runs', async () => {
      await page.goto(`${base}/#/incidents/new`);
      await page.waitForSelector('#incident-form');
      await page.fill('#inc-title', XSS_TITLE);
      await page.fill('#inc-description', '<script>window.__xss=2</script><b>bold?</b>');
      await page.check('#inc-constituents input[value="bank"]');
      await page.fill('#inc-tags', '<svg onload=window.__xss=3>');
      await page.click('#incident-form button[type=submit]');
      await page.waitForSelector('#incident-page');
      state.xssId = (await textOf(page, '#inc-id')).trim();
      assert(await textOf(page, '#inc-title-text') === XSS_TITLE, 'the title is not shown verbatim');
      await page.fill('#note-body', '<img src=x onerror=window.__xss=4>');
      await page.click('#note-form button[type=submit]');
      await page.waitForSelector('#note-list li.note');
      await page.goto(`${base}/#/incidents`);
      const row = page.locator(`#incident-table tr[data-id="${state.xssId}"]`);
      await row.waitFor();
      assert((await row.textContent()).includes(XSS_TITLE), 'the list does not show the title as text');
      await sleep(300); // give a broken image a chance to fire onerror
      assert(await page.evaluate(() => window.__xss) === undefined, 'window.__xss was set: script ran');
      assert(await page.locator('#app img, #app svg, #app script').count() === 0, 'markup from data became elements');
      await page.goto(`${base}/#/incidents/${state.xssId}`);
      await page.waitForSelector('#note-list li.note');
      await sleep(300);
      assert(await page.evaluate(() => window.__xss) === undefined, 'window.__xss was set on the detail page');
      assert(await page.locator('#app img, #app svg, #app script, #app b').count() === 0, 'markup from data became elements');
    });

    await scenario(page, 'the list pages with "Load more"', async () => {
      const many = Array.from({ length: 48 }, (_, i) => ({ title: `Bulk scan finding ${i + 1} ${marker}`, severity: 'low', tlp: 'GREEN' }));
      await seed(page, many);
      await page.goto(`${base}/#/incidents?status=`);
      await page.waitForSelector('#incident-table tbody tr[data-id]');
      await until('the first page of 50', async () => await page.locator('#incident-table tbody tr[data-id]').count() === 50);
      await page.waitForSelector('#load-more:not([hidden])');
      await page.click('#load-more');
      await until('the second page', async () => await page.locator('#incident-table tbody tr[data-id]').count() === 54);
      assert(await page.isHidden('#load-more'), '"Load more" is still offered after the last page');
      const ids = await page.locator('#incident-table tbody tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
      assert(new Set(ids).size === ids.length, 'a row appears twice across pages');
    });

    await scenario(page, 'a handler browses the registry: filters, paging, a record with its contacts, read-only', async () => {
      await page.goto(`${base}/#/incidents`);
      await page.click('#nav-constituents');
      await page.waitForSelector('#constituent-table tbody tr[data-name]');
      assert((await textOf(page, '#nav-constituents')) === 'Constituents', 'staff should see "Constituents" in the navigation');
      assert(await page.locator('#new-constituent').count() === 0, 'a handler is offered "New organisation"');
      await until('the first page of 50', async () => await page.locator('#constituent-table tbody tr[data-name]').count() === 50);
      await page.click('#con-more');
      await until('the second page', async () => await page.locator('#constituent-table tbody tr[data-name]').count() === 100);
      await page.selectOption('#c-kind', 'isp');
      await until('kind filter', async () => {
        const names = await page.locator('#constituent-table tbody tr[data-name]').evaluateAll((rows) => rows.map((r) => r.dataset.name));
        return names.join(',') === 'test-isp';
      });
      assert(page.url().includes('kind=isp'), `filters are not kept in the address: ${page.url()}`);
      await page.selectOption('#c-kind', '');
      await page.selectOption('#c-cii', 'true');
      await until('CII filter', async () => {
        const names = await page.locator('#constituent-table tbody tr[data-name]').evaluateAll((rows) => rows.map((r) => r.dataset.name));
        return names.join(',') === 'bank,power';
      });
      const bankRow = await textOf(page, '#constituent-table tr[data-name="bank"]');
      for (const want of ['Test National Bank', 'private', 'banking-finance', 'CII tier 2']) assert(bankRow.includes(want), `bank row lacks "${want}": ${bankRow}`);
      await page.selectOption('#c-cii', '');
      await page.fill('#c-q', 'Web Shop');
      await until('text search', async () => await page.locator('#constituent-table tbody tr[data-name]').count() === 1);
      await page.click('#constituent-table tr[data-name="test-shop"] a.title-link');
      await page.waitForSelector('#constituent-page[data-name="test-shop"]');
      await waitText(page, '#rec-networks', '198.51.100.64/26');
      await waitText(page, '#rec-domains', 'xn--bcher-kva.example');
      await waitText(page, '#con-record', 'e-commerce');
      const contact = await textOf(page, '#contact-table tbody tr');
      for (const want of ['Shop Abuse Desk', 'abuse', 'abuse@shop.example', '+975 17 123456', 'en', 'hourly · csv', 'TLP:AMBER', '…89AB CDEF']) {
        assert(contact.includes(want), `contact row lacks "${want}": ${contact}`);
      }
      assert(!contact.includes('0123456789ABCDEF0123'), 'the PGP fingerprint is not shortened');
      assert(await page.getAttribute('#contact-table a.email', 'href') === 'mailto:abuse@shop.example', 'no mailto: link');
      assert(await page.locator('#edit-constituent').count() === 0, 'a handler is offered "Edit record"');
      await page.click('#con-record a:has-text("test-isp")');
      await page.waitForSelector('#constituent-page[data-name="test-isp"]');
      await waitText(page, '#rec-asns', 'AS64600');
      await waitText(page, '#con-members', 'Test Web Shop');
      await page.screenshot({ path: path.join(tmp, 'constituent-record.png') });
      // The incident form's picker has the whole registry, past the first page of 1000.
      await page.goto(`${base}/#/incidents/new`);
      await page.waitForSelector('#incident-form');
      await until('every organisation in the picker', async () => await page.locator('#inc-constituents input[type=checkbox]').count() === BULK + 5);
      assert(await page.locator('#inc-constituents input[value="xss-org"]').count() === 1, 'the picker misses the second page');
    });

    await scenario(page, 'lookup: an address in a customer network shows the customer, then the covering ISP; an IDN domain', async () => {
      await page.goto(`${base}/#/reports`);
      await page.waitForSelector('#report-table');
      await page.fill('#lookup-q', '198.51.100.70');
      await page.press('#lookup-q', 'Enter');
      await page.waitForSelector('#lookup-owners .owner');
      const owners = await page.locator('#lookup-owners .owner').evaluateAll((els) => els.map((e) => e.dataset.name));
      assert(owners.join(',') === 'test-shop', `the most specific owner should be test-shop alone: ${owners}`);
      const card = await textOf(page, '#lookup-owners .owner');
      for (const want of ['Test Web Shop', 'matched 198.51.100.64/26', 'Shop Abuse Desk', 'abuse@shop.example', '+975 17 123456']) {
        assert(card.includes(want), `owner card lacks "${want}": ${card}`);
      }
      assert(await page.getAttribute('#lookup-owners a.email', 'href') === 'mailto:abuse@shop.example', 'no mailto: link');
      assert((await page.getAttribute('#lookup-owners a.phone', 'href')) === 'tel:+97517123456', 'no tel: link');
      await waitText(page, '#lookup-chain', 'inside 198.51.100.0/24 (network) of test-isp');
      await page.screenshot({ path: path.join(tmp, 'lookup.png') });
      await page.click('#lookup-chain a:has-text("test-isp")');
      await page.waitForSelector('#constituent-page[data-name="test-isp"]');

      await page.fill('#lookup-q', 'www.bücher.example');
      await page.press('#lookup-q', 'Enter');
      await page.waitForSelector('#lookup-owners .owner[data-name="test-shop"]');
      await waitText(page, '#lookup-owners', 'matched xn--bcher-kva.example');
      await waitText(page, '#lookup-query', 'xn--bcher-kva.example');

      await page.fill('#lookup-q', 'AS64600');
      await page.press('#lookup-q', 'Enter');
      await page.waitForSelector('#lookup-owners .owner[data-name="test-isp"]');

      await page.fill('#lookup-q', '192.0.2.5');
      await page.press('#lookup-q', 'Enter');
      await waitText(page, '#lookup-nobody', 'Nobody registered this.');
      assert(await page.locator('#lookup-owners').count() === 0, 'owners shown for an unregistered address');

      await expectingFailure('/api/v1/lookup', async () => {
        await page.fill('#lookup-q', 'not/an<address>');
        await page.press('#lookup-q', 'Enter');
        await page.waitForSelector('#lookup-error');
        assert((await textOf(page, '#lookup-error')).length > 5, 'the error has no text');
      });
    });

    await scenario(page, 'a coordinator registers an organisation: a bad CIDR shows the server message and keeps the input; lookup finds it', async () => {
      await logout(page);
      await login(page, COORDINATOR);
      await page.click('#nav-constituents');
      await page.click('#new-constituent');
      await page.waitForSelector('#constituent-form');
      await page.fill('#con-short_name', 'test-clinic');
      await page.fill('#con-name', 'Test Mountain Clinic');
      await page.selectOption('#con-kind', 'private');
      await page.fill('#con-sector', 'health');
      await page.check('#con-cii');
      await page.selectOption('#con-cii_tier', '3');
      await page.fill('#con-parent', 'power');
      const badNetworks = '203.0.113.128/26\n203.0.113.193/26';
      await page.fill('#con-networks', badNetworks);
      await page.fill('#con-asns', 'AS64700');
      await page.fill('#con-domains', 'clinic.example');
      await page.fill('#con-tags', 'hospital\nrural');
      const row = (i) => page.locator('#con-contacts-edit tr.contact-row').nth(i);
      await row(0).locator('[name=name]').fill('Clinic IT');
      await row(0).locator('[name=email]').fill('it@clinic.example');
      await row(0).locator('[name=phone]').fill('+975 2 333333');
      await page.click('#add-contact');
      await row(1).locator('[name=name]').fill('Clinic Director');
      await row(1).locator('[name=email]').fill('director@clinic.example');
      await row(1).locator('[name=role]').selectOption('management');
      await row(1).locator('[name=max_tlp]').selectOption('GREEN');
      await expectingFailure('/api/v1/constituents', async () => {
        await page.click('#constituent-form button[type=submit]');
        await waitText(page, '#con-form-error', 'networks[1]');
      });
      const msg = await textOf(page, '#con-form-error');
      assert(msg.includes('203.0.113.193/26') && msg.includes('host bits'), `not the server's message: ${msg}`);
      assert(await page.inputValue('#con-networks') === badNetworks, 'the networks typed were lost');
      assert(await page.inputValue('#con-name') === 'Test Mountain Clinic', 'the name typed was lost');
      assert(await page.locator('#con-contacts-edit tr.contact-row').count() === 2, 'contact rows were lost');
      assert(await row(1).locator('[name=name]').inputValue() === 'Clinic Director', 'a contact typed was lost');
      assert(await page.getAttribute('#con-networks', 'aria-invalid') === 'true', 'the field named by the server is not marked');
      await page.screenshot({ path: path.join(tmp, 'constituent-form-error.png'), fullPage: true });

      await page.fill('#con-networks', '203.0.113.128/26\n203.0.113.192/26');
      await page.click('#constituent-form button[type=submit]');
      await page.waitForSelector('#constituent-page[data-name="test-clinic"]');
      await waitText(page, '#rec-networks', '203.0.113.192/26');
      await waitText(page, '#rec-asns', 'AS64700');
      await waitText(page, '#con-record', 'CII tier 3');
      await waitText(page, '#con-record', 'power');
      assert(await page.locator('#contact-table tbody tr').count() === 2, 'expected two contacts');
      await waitText(page, '#contact-table', 'Clinic Director');

      await page.fill('#lookup-q', '203.0.113.200');
      await page.press('#lookup-q', 'Enter');
      await page.waitForSelector('#lookup-owners .owner[data-name="test-clinic"]');
      await waitText(page, '#lookup-owners', 'matched 203.0.113.192/26');
      await waitText(page, '#lookup-owners', 'director@clinic.example');
      await page.goto(`${base}/#/incidents/new`);
      await page.waitForSelector('#inc-constituents input[value="test-clinic"]');
    });

    await scenario(page, 'a coordinator edits a record: PUT keeps what was not touched, a bad value keeps the form', async () => {
      await page.goto(`${base}/#/constituents/test-clinic`);
      await page.click('#edit-constituent');
      await page.waitForSelector('#constituent-form');
      assert(await page.getAttribute('#con-short_name', 'readonly') !== null, 'the short name is editable');
      assert(await page.inputValue('#con-networks') === '203.0.113.128/26\n203.0.113.192/26', 'the form lacks the stored networks');
      await page.fill('#con-name', 'Test Mountain Clinic and Hospital');
      await page.locator('#con-contacts-edit tr.contact-row').nth(1).locator('[name=email]').fill('not-an-address');
      await expectingFailure('/api/v1/constituents/test-clinic', async () => {
        await page.click('#constituent-form button[type=submit]');
        await waitText(page, '#con-form-error', 'contacts[1]');
      });
      assert(await page.inputValue('#con-name') === 'Test Mountain Clinic and Hospital', 'the name typed was lost');
      await page.locator('#con-contacts-edit tr.contact-row').nth(1).locator('.remove-contact').click();
      await page.click('#constituent-form button[type=submit]');
      await waitText(page, '#con-title', 'Test Mountain Clinic and Hospital');
      await page.waitForSelector('#constituent-page:not(:has(#constituent-form))');
      assert(await page.locator('#contact-table tbody tr').count() === 1, 'the removed contact is still there');
      await waitText(page, '#rec-domains', 'clinic.example');
      await waitText(page, '#rec-asns', 'AS64700');
      await waitText(page, '#rec-networks', '203.0.113.192/26');
      await waitText(page, '#con-record', 'rural');
      await waitText(page, '#con-record', 'CII tier 3');
    });

    await scenario(page, 'XSS: an organisation and a contact named with markup render as text', async () => {
      const dialogsBefore = dialogs.length;
      await page.goto(`${base}/#/constituents?q=xss`);
      const row = page.locator('#constituent-table tr[data-name="xss-org"]');
      await row.waitFor();
      assert((await row.textContent()).includes(XSS_ORG), 'the list does not show the name as text');
      await row.locator('a.title-link').click();
      await page.waitForSelector('#constituent-page[data-name="xss-org"]');
      assert(await textOf(page, '#con-title') === XSS_ORG, 'the name is not shown verbatim');
      await waitText(page, '#contact-table', XSS_CONTACT);
      await page.hover('#contact-table tbody tr td');
      await page.click('#edit-constituent');
      await page.waitForSelector('#constituent-form');
      assert(await page.inputValue('#con-name') === XSS_ORG, 'the edit form changes the name');
      assert(await page.locator('#con-contacts-edit tr.contact-row [name=name]').inputValue() === XSS_CONTACT, 'the edit form changes the contact');
      await page.fill('#lookup-q', '192.0.2.200');
      await page.press('#lookup-q', 'Enter');
      await page.waitForSelector('#lookup-owners .owner[data-name="xss-org"]');
      assert((await textOf(page, '#lookup-owners .owner-name')) === XSS_ORG, 'the lookup does not show the name as text');
      await waitText(page, '#lookup-owners', XSS_CONTACT);
      await page.goto(`${base}/#/incidents/new`);
      await page.waitForSelector('#inc-constituents input[value="xss-org"]');
      await sleep(300); // give a broken image a chance to fire onerror
      assert(dialogs.length === dialogsBefore, `a dialog opened: ${dialogs.slice(dialogsBefore)}`);
      assert(await page.locator('#app img, #app script, #app b, #app svg').count() === 0, 'markup from data became elements');
      for (const where of ['#/constituents/xss-org', '#/lookup?q=192.0.2.200']) {
        await page.goto(`${base}/${where}`);
        await page.waitForSelector('#constituent-page, #lookup-owners');
        await sleep(200);
        assert(await page.locator('#app img, #app script, #app b, #app svg').count() === 0, `markup from data became elements on ${where}`);
      }
      assert(dialogs.length === dialogsBefore, `a dialog opened: ${dialogs.slice(dialogsBefore)}`);
    });

    await scenario(page, "a constituent sees only its incidents, the shared note but not the internal one", async () => {
      await logout(page);
      await login(page, CONSTITUENT);
      await waitText(page, '#me-role', 'constituent');
      await page.waitForSelector(`#incident-table tr[data-id="${state.id}"]`);
      const ids = await page.locator('#incident-table tbody tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
      for (const other of [state.otherIds[0], state.otherIds[1], state.otherIds[3]]) {
        assert(!ids.includes(other), `constituent sees another organisation's incident ${other}`);
      }
      assert(ids.includes(state.otherIds[2]) && ids.includes(state.xssId), `constituent misses its own incidents: ${ids}`);
      assert(await page.locator('#new-incident').count() === 0, 'constituent is offered "New incident"');
      await page.click(`#incident-table tr[data-id="${state.id}"] a.title-link`);
      await page.waitForSelector('#incident-page');
      await waitText(page, '#note-list', `reset the affected accounts ${marker}`);
      const body = await page.locator('#incident-page').textContent();
      assert(!body.includes('known actor'), 'constituent sees the internal note');
      assert(!body.includes('added an internal note'), 'constituent timeline shows internal activity');
      for (const sel of ['#status-actions', '#tasks', '#edit-severity', '#save-props', '#edit-incident', '#link-report', '#note-internal']) {
        assert(await page.locator(sel).count() === 0, `constituent sees control ${sel}`);
      }
      await page.fill('#note-body', `Thank you, accounts are reset ${marker}`);
      await page.click('#note-form button[type=submit]');
      await page.waitForSelector(`#note-list li[data-visibility="shared"]:has-text("accounts are reset ${marker}")`);
      await page.screenshot({ path: path.join(tmp, 'constituent.png'), fullPage: true });
      expectedFailures.push(`/api/v1/incidents/${state.otherIds[0]}`);
      await page.goto(`${base}/#/incidents/${state.otherIds[0]}`);
      await waitText(page, '.page-error', 'no incident');
    });

    await scenario(page, 'a constituent sees "My organisation": its own record only, read-only, not another by its address', async () => {
      await page.goto(`${base}/#/incidents`);
      await waitText(page, '#me-role', 'constituent');
      assert(await textOf(page, '#nav-constituents') === 'My organisation', 'the navigation does not say "My organisation"');
      assert(await page.locator('#lookup-q').count() === 0, 'a constituent is offered the lookup box');
      await page.click('#nav-constituents');
      await page.waitForSelector('#constituent-page[data-name="bank"]');
      assert(await textOf(page, '#con-title') === 'Test National Bank', 'not its own record');
      await waitText(page, '#contact-table', 'soc@bank.example');
      await waitText(page, '#rec-networks', '203.0.113.0/28');
      for (const sel of ['#edit-constituent', '#new-constituent', '#constituent-table', '#con-members']) {
        assert(await page.locator(sel).count() === 0, `constituent sees ${sel}`);
      }
      await expectingFailure('/api/v1/constituents/power', async () => {
        const api = await page.evaluate(async () => {
          const list = await (await fetch('/api/v1/constituents?limit=1000')).json();
          const other = await fetch('/api/v1/constituents/power');
          return { names: list.items.map((c) => c.short_name), other: other.status };
        });
        assert(api.names.join(',') === 'bank', `the API lists more than its own record: ${api.names.slice(0, 5)}`);
        assert(api.other === 404 || api.other === 403, `another organisation's record answered ${api.other}`);
        await page.goto(`${base}/#/constituents/power`);
        await page.waitForSelector('.page-error');
      });
      const text = await page.locator('#main').textContent();
      assert(!text.includes('Test Power Utility') && !text.includes('control@power.example'), 'another organisation is shown');
      await page.goto(`${base}/#/constituents/_new`);
      await waitText(page, '#main', 'Only coordinators and admins');
      await page.goto(`${base}/#/lookup?q=203.0.113.20`);
      await waitText(page, '#main', 'for CIRT staff');
      assert(!(await page.locator('#main').textContent()).includes('Test Power Utility'), 'the lookup shows another organisation');
      await page.goto(`${base}/#/constituents`);
      await page.waitForSelector('#constituent-page[data-name="bank"]');
      await page.screenshot({ path: path.join(tmp, 'my-organisation.png') });
    });

    await scenario(page, 'events: an admin posts an IntelMQ batch, sees the counts and rows, pages, filters by IP and type, opens one', async () => {
      await logout(page);
      await login(page, ADMIN);
      await waitText(page, '#me-role', 'admin');
      const day = (n, hh) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 11) + `${hh}:00:00Z`;
      const feed = `sinkhole-${marker}`;
      const lines = [
        { 'time.source': day(3, '10'), 'source.ip': '203.0.113.5', 'source.port': 445, 'classification.taxonomy': 'malicious-code', 'classification.type': 'infected-system', 'feed.name': feed, 'malware.name': 'mirai', 'extra.note': `seen by the sinkhole ${marker}`, 'extra.comment': XSS_TITLE },
        { 'time.source': day(2, '11'), 'source.ip': '203.0.113.6', 'classification.taxonomy': 'information-gathering', 'classification.type': 'scanner', 'feed.name': `scan-${marker}` },
        { 'time.source': day(2, '12'), 'source.ip': '203.0.113.20', 'source.port': 3389, 'classification.taxonomy': 'vulnerable', 'classification.type': 'vulnerable-system', 'feed.name': `scan-${marker}`, 'protocol.application': 'rdp' },
        { 'time.source': day(1, '09'), 'source.ip': '192.0.2.5', 'classification.taxonomy': 'information-gathering', 'classification.type': 'scanner', 'feed.name': `scan-${marker}` },
      ];
      for (let i = 0; i < 120; i++) {
        lines.push({ 'time.source': day(5, '08'), 'source.ip': `198.51.100.${10 + (i % 40)}`, 'source.port': 1000 + i, 'classification.taxonomy': 'vulnerable', 'classification.type': 'vulnerable-system', 'feed.name': `bulk-${marker}` });
      }
      const res = await page.evaluate(async ({ body, batch }) => {
        const who = await (await fetch('/api/v1/session')).json();
        const r = await fetch(`/api/v1/events?feed=intelmq&batch=${encodeURIComponent(batch)}`, {
          method: 'POST', headers: { 'Content-Type': 'application/x-ndjson', 'X-CSRF-Token': who.csrf_token }, body,
        });
        const out = await r.json();
        const list = await (await fetch('/api/v1/events?ip=203.0.113.20')).json();
        return { status: r.status, out, powerIds: list.items.map((e) => e.id) };
      }, { body: `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`, batch: `browser-${marker}` });
      assert(res.status === 201 && res.out.events === 124, `the batch was not stored: ${res.status} ${JSON.stringify(res.out)}`);
      assert(res.powerIds.length === 1, `expected one event at 203.0.113.20: ${res.powerIds}`);
      state.powerEventId = res.powerIds[0];

      await page.click('#nav-events');
      await page.waitForSelector('#event-table tbody tr[data-id]');
      await waitText(page, '#stat-total', '124');
      await waitText(page, '#stat-feeds', `bulk-${marker}`);
      await waitText(page, '#stat-constituents', 'test-isp');
      await waitText(page, '#stat-constituents', 'power');
      await waitText(page, '#stat-sectors', 'banking-finance');
      assert(await page.locator('#event-table tbody tr[data-id]').count() === 100, 'the first page is not 100 rows');
      await page.click('#event-more');
      await until('124 rows after "More"', async () => await page.locator('#event-table tbody tr[data-id]').count() === 124);
      assert(await page.locator('#event-more').isHidden(), '"More" is offered on the last page');
      await waitText(page, '#event-table', '192.0.2.5');
      await waitText(page, '#event-table', 'unmatched');

      await page.fill('#e-ip', '203.0.113.0/28');
      await until('the IP filter in the address', async () => page.url().includes('ip=203.0.113.0%2F28'));
      await until('two rows inside 203.0.113.0/28', async () => await page.locator('#event-table tbody tr[data-id]').count() === 2);
      let text = await textOf(page, '#event-table tbody');
      for (const want of ['203.0.113.5:445', '203.0.113.6', 'infected-system', 'scanner', feed, 'bank']) assert(text.includes(want), `filtered rows lack "${want}": ${text}`);
      assert(!text.includes('203.0.113.20') && !text.includes('198.51.100.'), `the IP filter lets others through: ${text}`);
      await page.screenshot({ path: path.join(tmp, 'events.png') });

      await expectingFailure('/api/v1/events', async () => {
        await page.fill('#e-ip', 'not-an-ip');
        await waitText(page, '#event-error', 'neither an IP address nor a network');
        assert(await page.locator('#event-table tbody tr[data-id]').count() === 0, 'rows are left under an error');
        await page.goto(`${base}/#/events?from=yesterday`);
        await waitText(page, '#event-error', 'not an ISO-8601 date');
        assert(await page.inputValue('#e-from') === 'yesterday', 'the bad value is not shown in its field');
        await waitText(page, '#stat-total', '124');
      });

      await page.goto(`${base}/#/events?type=vulnerable-system&constituent=power`);
      await until('the power event alone', async () => await page.locator('#event-table tbody tr[data-id]').count() === 1);
      await waitText(page, '#event-table tbody', '203.0.113.20:3389');
      assert(await page.inputValue('#e-class') === 'type:vulnerable-system', 'the type picker does not show the filter');
      assert(await page.inputValue('#e-constituent') === 'power', 'the constituent field does not show the filter');
      await page.click('#e-reset');
      await until('all rows after Reset', async () => await page.locator('#event-table tbody tr[data-id]').count() === 100);
      await page.selectOption('#e-class', 'type:infected-system');
      await until('the type in the address', async () => page.url().includes('type=infected-system'));
      await until('the one infected system', async () => await page.locator('#event-table tbody tr[data-id]').count() === 1);

      await page.click('#event-table tbody tr[data-id] td.c-src');
      await page.waitForSelector('#event-page');
      await waitText(page, '#event-fields tr[data-key="source.ip"]', '203.0.113.5');
      await waitText(page, '#event-fields tr[data-key="source.port"]', '445');
      await waitText(page, '#event-fields tr[data-key="malware.name"]', 'mirai');
      await waitText(page, '#event-fields tr[data-key="extra.note"]', `seen by the sinkhole ${marker}`);
      await waitText(page, '#event-fields tr[data-key="feed.name"]', feed);
      await waitText(page, '#event-fields tr[data-key="extra.comment"]', XSS_TITLE);
      await waitText(page, '#event-meta', 'bank');
      assert(await page.locator('#app img, #app script').count() === 0, 'markup in an event field became elements');
      await page.screenshot({ path: path.join(tmp, 'event.png'), fullPage: true });
      await page.click('#event-back');
      await page.waitForSelector('#event-table tbody tr[data-id]');
      assert(page.url().includes('type=infected-system'), `"back" lost the filters: ${page.url()}`);
      await page.click('#event-table tbody tr[data-id] td.c-con a');
      await page.waitForSelector('#constituent-page[data-name="bank"]');
      await expectingFailure('/api/v1/events/99999999', async () => {
        await page.goto(`${base}/#/events/99999999`);
        await waitText(page, '.page-error', 'no event');
      });
    });

    await scenario(page, 'events: a constituent sees only its own events and counts, not another organisation\'s', async () => {
      await logout(page);
      await login(page, CONSTITUENT);
      await page.click('#nav-events');
      await page.waitForSelector('#event-table tbody tr[data-id]');
      await waitText(page, '#stat-total', '2');
      const text = await textOf(page, '#event-table tbody');
      for (const want of ['203.0.113.5:445', '203.0.113.6', 'infected-system', 'scanner']) assert(text.includes(want), `own rows lack "${want}": ${text}`);
      for (const not of ['203.0.113.20', '192.0.2.5', '198.51.100.']) assert(!text.includes(not), `a constituent sees ${not}`);
      assert(await page.locator('#event-table tbody tr[data-id]').count() === 2, 'a constituent sees more than its two events');
      for (const sel of ['#e-constituent', '#stat-constituents', '#stat-sectors']) {
        assert(await page.locator(sel).count() === 0, `a constituent sees ${sel}`);
      }
      const stats = await textOf(page, '#event-stats');
      assert(!stats.includes('vulnerable-system') && !stats.includes(`bulk-${marker}`), `the counts show others' events: ${stats}`);
      await page.fill('#e-ip', '203.0.113.6');
      await until('one row for 203.0.113.6', async () => await page.locator('#event-table tbody tr[data-id]').count() === 1);
      await page.click('#event-table tbody tr[data-id] a');
      await page.waitForSelector('#event-page');
      await waitText(page, '#event-fields tr[data-key="classification.type"]', 'scanner');
      await expectingFailure(`/api/v1/events/${state.powerEventId}`, async () => {
        await page.goto(`${base}/#/events/${state.powerEventId}`);
        await waitText(page, '.page-error', 'no event');
      });
      assert(!(await page.locator('#main').textContent()).includes('203.0.113.20'), 'another organisation\'s event is shown');
    });

    await scenario(page, 'notifications: a handler notifies the bank from the incident page; the bank acknowledges; the handler sees it', async () => {
      await logout(page);
      await login(page, HANDLER);
      await page.goto(`${base}/#/incidents/${state.id}`);
      await page.waitForSelector('#notify-form');
      const boxes = await page.locator('#notify-constituents input[type=checkbox]').evaluateAll((l) => l.map((b) => b.value));
      assert(boxes.join(',') === 'bank', `the form offers the affected constituents only: ${boxes}`);
      await page.uncheck('#notify-constituents input[value="bank"]');
      await page.fill('#notify-text', `Please reset the affected accounts ${marker}`);
      await page.click('#notify-send');
      await waitText(page, '#notify-error', 'Choose at least one constituent');
      await page.check('#notify-constituents input[value="bank"]');
      // the server's refusal is shown as it says it, and the input stays
      const long = 'x'.repeat(20001);
      await page.fill('#notify-text', long);
      await expectingFailure(`/api/v1/incidents/${state.id}/notify`, async () => {
        await page.click('#notify-send');
        await waitText(page, '#notify-error', "field 'text' is too long");
      });
      assert((await page.inputValue('#notify-text')).length === long.length, 'the text was lost after a refusal');
      assert(await page.isChecked('#notify-constituents input[value="bank"]'), 'the choice was lost after a refusal');
      const notice = `Please reset the affected accounts and confirm ${marker}`;
      await page.fill('#notify-subject', `Phishing wave: action needed ${marker}`);
      await page.fill('#notify-text', notice);
      await page.click('#notify-send');
      const item = page.locator('#notify-queued li[data-constituent="bank"]');
      await item.waitFor();
      state.ticket = await item.getAttribute('data-ticket');
      assert(/-N-\d{4}-\d+$/.test(state.ticket || ''), `unexpected ticket "${state.ticket}"`);
      assert((await item.textContent()).includes('soc@bank.example'), `queued item: ${await item.textContent()}`);
      assert(await page.isHidden('#notify-error'), 'an error is still shown after sending');
      await page.waitForSelector(`#note-list li[data-visibility="shared"]:has-text("${notice}")`);
      await waitText(page, '#timeline-list', 'added a shared note');
      await page.screenshot({ path: path.join(tmp, 'notify.png'), fullPage: true });
      // the handler's list: the new notice, not acknowledged
      await page.click('#nav-notifications');
      const row = page.locator(`#notification-table tr[data-ticket="${state.ticket}"]`);
      await row.waitFor();
      const rowText = await row.textContent();
      for (const want of ['incident', 'bank', 'soc@bank.example', 'not yet']) assert(rowText.includes(want), `list row lacks "${want}": ${rowText}`);
      await page.screenshot({ path: path.join(tmp, 'notifications.png') });
      await page.click('#n-unacked');
      await until('the unacknowledged filter', async () => page.url().includes('acknowledged=false'));
      await row.waitFor();

      await logout(page);
      await login(page, CONSTITUENT);
      await page.click('#nav-notifications');
      await page.waitForSelector(`#notification-table tr[data-ticket="${state.ticket}"]`);
      assert(await page.locator('#n-constituent, #n-unacked').count() === 0, 'a constituent is offered staff filters');
      await page.click(`#notification-table tr[data-ticket="${state.ticket}"] a`);
      await page.waitForSelector('#notification-page[data-acknowledged="false"]');
      await waitText(page, '#notification-subject', `Phishing wave: action needed ${marker}`);
      assert(await page.locator('#download-message').count() === 0, 'a constituent is offered the raw message');
      await page.click('#ack-button');
      await page.waitForSelector('#notification-page[data-acknowledged="true"]');
      await waitText(page, '#ack-text', `Acknowledged by ${CONSTITUENT.username}`);
      await page.reload();
      await waitText(page, '#ack-text', `Acknowledged by ${CONSTITUENT.username}`);
      assert(await page.locator('#ack-button').count() === 0, 'still offered "Acknowledge" after acknowledging');

      await logout(page);
      await login(page, HANDLER);
      await page.goto(`${base}/#/notifications?acknowledged=false`);
      await page.waitForSelector('#notification-table tbody tr');
      assert(await page.locator(`#notification-table tr[data-ticket="${state.ticket}"]`).count() === 0, 'an acknowledged notice is listed as unacknowledged');
      await page.click('#n-reset');
      const acked = page.locator(`#notification-table tr[data-ticket="${state.ticket}"][data-acknowledged="true"]`);
      await acked.waitFor();
      assert((await acked.textContent()).includes(CONSTITUENT.username), 'the list does not say who acknowledged');
      await page.goto(`${base}/#/notifications/${state.ticket}`);
      await waitText(page, '#ack-text', `Acknowledged by ${CONSTITUENT.username}`);
      assert(await page.locator('#ack-button').count() === 0, 'staff are offered "Acknowledge"');
      await page.screenshot({ path: path.join(tmp, 'notification.png') });
    });

    await scenario(page, "notifications: a constituent sees neither another organisation's notice in its list nor at its address", async () => {
      const [powerInc] = await seed(page, [{ title: `Power outage scan ${marker}`, severity: 'medium', tlp: 'GREEN', constituents: ['power'] }]);
      const out = await page.evaluate(async ([iid, text]) => {
        const who = await (await fetch('/api/v1/session')).json();
        const r = await fetch(`/api/v1/incidents/${encodeURIComponent(iid)}/notify`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': who.csrf_token },
          body: JSON.stringify({ constituents: ['power'], text }),
        });
        return { status: r.status, body: await r.json() };
      }, [powerInc, `Check your grid controllers ${marker}`]);
      assert(out.status === 201 && out.body.queued.length === 1, `notify power: ${JSON.stringify(out)}`);
      const powerTicket = out.body.queued[0].ticket;
      await logout(page);
      await login(page, CONSTITUENT);
      await page.click('#nav-notifications');
      await page.waitForSelector(`#notification-table tr[data-ticket="${state.ticket}"]`);
      assert(await page.locator(`#notification-table tr[data-ticket="${powerTicket}"]`).count() === 0, "the bank's list shows the power utility's notice");
      assert(!(await textOf(page, '#notification-table')).includes('control@power.example'), "the bank's list shows the power utility's address");
      await expectingFailure(`/api/v1/notifications/${powerTicket}`, async () => {
        await page.goto(`${base}/#/notifications/${powerTicket}`);
        await page.waitForSelector('.page-error');
      });
      const main = await textOf(page, '#main');
      assert(/not found|no notification/i.test(main), `the detail should say not found: ${main}`);
      assert(!main.includes('grid controllers') && !main.includes('control@power.example'), 'another organisation\'s notice is shown');
    });

    await scenario(page, "notifications: the bank pulls its digest's events as CSV and JSON instead of reading the mail", async () => {
      const out = dz(['notify', 'run', '--queue-only']);
      assert(/queued/.test(out), `dzong notify run --queue-only: ${out}`);
      await page.goto(`${base}/#/notifications?kind=digest`);
      const row = page.locator('#notification-table tbody tr[data-ticket]');
      await row.first().waitFor();
      assert(await row.count() === 1, `the bank should have one digest, not ${await row.count()}`);
      const ticket = await row.first().getAttribute('data-ticket');
      await row.first().locator('a').click();
      await page.waitForSelector('#notification-page[data-kind="digest"]');
      await waitText(page, '#notification-summary', 'infected-system');
      const pull = async (sel) => {
        const [dl] = await Promise.all([page.waitForEvent('download'), page.click(sel)]);
        return { name: dl.suggestedFilename(), text: fs.readFileSync(await dl.path(), 'utf8') };
      };
      const csv = await pull('#download-csv');
      assert(csv.name === `events-${ticket}.csv`, `CSV file name ${csv.name}`);
      assert(csv.text.startsWith('classification.') || csv.text.includes('source.ip'), `CSV header: ${csv.text.slice(0, 200)}`);
      assert(csv.text.includes('203.0.113.5') && csv.text.includes('203.0.113.6'), `the bank's events are missing from the CSV: ${csv.text.slice(0, 400)}`);
      assert(!csv.text.includes('203.0.113.20'), "another organisation's event is in the bank's CSV");
      const json = await pull('#download-json');
      assert(json.name === `events-${ticket}.json`, `JSON file name ${json.name}`);
      const evs = JSON.parse(json.text);
      assert(Array.isArray(evs) && evs.length === 2 && evs.every((e) => String(e['source.ip']).startsWith('203.0.113.')), `JSON events: ${json.text.slice(0, 300)}`);
    });

    await scenario(page, 'no JavaScript errors or CSP violations', async () => {
      assert(problems.length === 0, problems.join('\n'));
    });
  } finally {
    await context.close().catch(() => {});
  }
}

let exitCode = 1;
try {
  await main();
  exitCode = results.every((r) => r.ok) && results.length > 0 ? 0 : 1;
} catch (e) {
  log(`ERROR ${e.stack || e.message}`);
  results.push({ name: 'setup', ok: false });
} finally {
  await stopServer();
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
log(`screenshots and server log: ${tmp}${opts.keep || failed ? '' : ' (removed; use --keep to keep)'}`);
if (!opts.keep && !failed) fs.rmSync(tmp, { recursive: true, force: true });
log(`time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
log(`${passed} passed, ${failed} failed`);
process.exit(failed || exitCode ? 1 : 0);
