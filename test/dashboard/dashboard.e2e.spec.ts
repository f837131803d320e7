// Issue 14: the tenants' dashboard in a real browser. Debian's chromium driven by
// playwright-core (no browser download), against a gateway and a worker as real processes on
// their own schema and Redis prefix: sign up, create a key, call the API with it, see the call,
// roll and revoke it, role-based controls, phone width, and a screenshot of every page
// (test-artifacts/dashboard/*.png, gitignored).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot, uuidv7 } from '#infra/db';
import { PLANS } from '../../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { addMember, PASSWORD, PEPPER } from '../support/management.js';
import { startApp, type RunningApp } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(repoRoot(), 'test-artifacts', 'dashboard');
const PAGES = ['overview', 'usage', 'keys', 'webhooks', 'billing', 'members', 'audit'] as const;
/**
 * The usage API (GET /v1/orgs/{org}/usage, branch billing-ledger, lib #platform/usage) is not on
 * this branch yet: the usage chart/table assertions run once it is. Flip at merge by deleting
 * this condition.
 */
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let db: TestDatabase;
let gateway: RunningApp;
let worker: RunningApp;
let prefix: string;
let browser: Browser;
let owner: BrowserContext;
let page: Page;
let slug = '';
let orgId = '';
let image: string;
const email = `owner-${randomBytes(3).toString('hex')}@dash.test`;
let liveSecret = '';
let liveKeyName = '';

async function predict(secret: string): Promise<{ status: number; json: any }> {
  const r = await fetch(`${gateway.url}/v1/predictions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', prefer: 'wait=30' },
    body: JSON.stringify({ feature: 'ocr-line', input: { image } }),
  });
  return { status: r.status, json: await r.json() };
}

/** What a key gets on a read route right now (200 or 401). */
async function keyStatus(secret: string): Promise<number> {
  return (await fetch(`${gateway.url}/v1/predictions`, { headers: { authorization: `Bearer ${secret}` } })).status;
}

/** Polls until `f` holds (revocation reaches every gateway "within about a second"). */
async function eventually(f: () => Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return f();
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Opens a page of the organization and waits until no section is still loading. */
async function open(p: Page, name: (typeof PAGES)[number]): Promise<void> {
  await p.goto(`${gateway.url}/dashboard/orgs/${slug}/${name}`);
  await p.locator('main h1').first().waitFor();
  // A locator wait (not waitForFunction: the dashboard's CSP forbids the eval it uses).
  await p.locator('.loading').first().waitFor({ state: 'detached', timeout: 20_000 });
}

const d = haveChromium ? describe : describe.skip;
// Browser-side expressions are strings: this file is type-checked without the DOM library.
const STORAGE = 'JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })';

beforeAll(async () => {
  if (!haveChromium) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  db = await createTestDatabase('dashboard');
  for (const { key, featurePrices: _prices, ...values } of PLANS) await db.prisma.plan.create({ data: { id: uuidv7(), key, ...values } });
  prefix = `dash_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    AUTH_THROTTLE_PER_MINUTE: '10000',
    // Last-used times are written in batches: flush them quickly for the keys page.
    API_KEY_LAST_USED_FLUSH_MS: '200',
    WORKER_CONCURRENCY: '1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
  [gateway, worker, browser] = await Promise.all([
    // Generous readiness deadlines: this suite starts a browser next to the two apps.
    startApp('gateway', env, { timeoutMs: 120_000 }),
    startApp('worker', env, { timeoutMs: 120_000 }),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] }),
  ]);
  owner = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US', timezoneId: 'Europe/Berlin' });
  page = await owner.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([gateway?.stop(), worker?.stop()]);
  await db?.drop();
  if (prefix) await dropRedisPrefix(prefix);
});

d('the dashboard is served by the gateway', () => {
  it('answers the app under /dashboard with a CSP, revalidated HTML and immutable hashed assets', async () => {
    const html = await fetch(`${gateway.url}/dashboard/orgs/any/keys`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('cache-control')).toBe('no-cache');
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(html.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const body = await html.text();
    const asset = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(body)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${gateway.url}${asset}`);
    expect({ status: js.status, cache: js.headers.get('cache-control'), type: js.headers.get('content-type') }).toEqual({ status: 200, cache: 'public, max-age=31536000, immutable', type: 'text/javascript; charset=utf-8' });
    const missing = await fetch(`${gateway.url}/dashboard/assets/nothing-here.js`);
    expect({ status: missing.status, type: missing.headers.get('content-type') }).toEqual({ status: 404, type: 'application/problem+json; charset=utf-8' });
  });
});

d('a tenant in the browser', () => {
  it('signs up, is logged in, and lands on the overview of their organization', async () => {
    await page.goto(`${gateway.url}/dashboard/`);
    await page.waitForURL(/\/dashboard\/login$/);
    await shot(page, 'login');
    // Keyboard: the first Tab reaches the skip link or the email field, with a visible outline.
    await page.keyboard.press('Tab');
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.waitForURL(/\/dashboard\/signup$/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByLabel(/^Organization name/).fill('Dash Labs');
    await shot(page, 'signup');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL(/\/dashboard\/orgs\/[^/]+\/overview$/);
    slug = /\/orgs\/([^/]+)\//.exec(page.url())![1]!;
    expect(slug).toBe('dash-labs');
    orgId = (await db.prisma.organization.findFirstOrThrow({ where: { slug } })).id;
    await expect(page.getByRole('heading', { level: 1, name: 'Overview' }).isVisible()).resolves.toBe(true);
    // The session is an HttpOnly cookie: nothing of it (nor the CSRF token) is in web storage.
    const stored = await page.evaluate<string>(STORAGE);
    expect(stored).toBe('{}{}');
  });

  it('creates a live key, shows its secret once with a copy button, and keeps it out of storage', async () => {
    await open(page, 'keys');
    liveKeyName = 'backend';
    await page.getByLabel('Name', { exact: true }).fill(liveKeyName);
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.getByTestId('secret-value');
    await secret.waitFor();
    liveSecret = (await secret.textContent())!.trim();
    expect(liveSecret).toMatch(/^sk_live_[0-9A-Za-z]{32}$/);
    await expect(page.getByTestId('secret-once').getByRole('button', { name: 'Copy' }).isVisible()).resolves.toBe(true);
    await shot(page, 'keys-secret');
    const stored = await page.evaluate<string>(STORAGE);
    expect(stored).not.toContain(liveSecret.slice(8));
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.reload();
    await page.getByTestId('keys-live').getByRole('cell', { name: liveKeyName, exact: true }).waitFor();
    expect(await page.content()).not.toContain(liveSecret.slice(8));
    // Live and test keys are apart: the key is in the live section only.
    expect(await page.getByTestId('keys-test').getByRole('cell', { name: liveKeyName, exact: true }).count()).toBe(0);
  });

  it('shows a prediction made with the key on the overview and as the key’s last use', async () => {
    const r = await predict(liveSecret);
    expect({ status: r.status, state: r.json.status }).toEqual({ status: 201, state: 'succeeded' });
    // The quota counter settles from the lifecycle's prediction.succeeded event, just after the
    // answer: wait for it through the same API (and session) the overview reads.
    const quotaUsed = async (): Promise<number> => {
      const res = await page.request.get(`${gateway.url}/v1/orgs/${slug}/stats?mode=live&window_hours=24`);
      return res.ok() ? ((await res.json()) as { quota: { used_units: number } }).quota.used_units : -1;
    };
    expect(await eventually(async () => (await quotaUsed()) === 1)).toBe(true);
    await open(page, 'overview');
    await expect(page.getByTestId('predictions-total').textContent()).resolves.toBe('1');
    await expect(page.getByTestId('card-error-rate').textContent()).resolves.toContain('0%');
    await expect(page.getByTestId('card-latency').textContent()).resolves.toMatch(/p50 [\d.,]+ (ms|s) · p95 [\d.,]+ (ms|s)/);
    await expect(page.getByTestId('quota').textContent()).resolves.toContain('1 of 1,000 units used');
    await page.getByTestId('burn-down-chart').locator('svg').first().waitFor();
    await shot(page, 'overview');
    expect(await eventually(async () => (await db.prisma.apiKey.findFirst({ where: { orgId, name: liveKeyName } }))?.lastUsedAt != null)).toBe(true);
    await open(page, 'keys');
    // The "Last used" cell: relative time in the viewer's language.
    const lastUsed = page.getByTestId('keys-live').locator('tr', { hasText: liveKeyName }).locator('td').nth(4);
    await expect(lastUsed.textContent()).resolves.toMatch(/ago|now/);
  });

  it('shows the call on the overview chart and in the usage table with the right cost', async () => {
    const cookies = await owner.cookies(gateway.url);
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    type Usage = { currency: string; totals: { calls: number; amount: number } };
    const readUsage = async (): Promise<{ status: number; body: Usage }> => {
      const usage = await fetch(`${gateway.url}/v1/orgs/${slug}/usage?from=${new Date(Date.now() - 86_400_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}&granularity=day&group_by=feature&time_zone=Europe/Berlin`, { headers: { cookie } });
      return { status: usage.status, body: (await usage.json()) as Usage };
    };
    // The rollups are kept by a lifecycle consumer: the call is there once it has run.
    let read: { status: number; body: Usage } | undefined;
    expect(await eventually(async () => (read = await readUsage()).status === 200 && read.body.totals.calls >= 1)).toBe(true);
    const u = read!.body;
    expect(u.totals.calls).toBe(1);
    await open(page, 'overview');
    await page.getByTestId('usage-chart').locator('.recharts-bar-rectangle').first().waitFor();
    await open(page, 'usage');
    await expect(page.getByTestId('usage-rows').textContent()).resolves.toContain('ocr-line');
    await expect(page.getByTestId('usage-total-calls').textContent()).resolves.toBe('1');
    const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: u.currency.toUpperCase() });
    const digits = money.resolvedOptions().maximumFractionDigits ?? 2;
    await expect(page.getByTestId('usage-total-amount').textContent()).resolves.toBe(money.format(u.totals.amount / 10 ** digits));
  });

  it('rolls the key (the old secret stops) and revokes the new one (the API refuses it)', async () => {
    await open(page, 'keys');
    const row = page.getByTestId('keys-live').locator('tr', { hasText: liveKeyName }).filter({ hasText: 'active' });
    await row.getByLabel(/Grace period/).selectOption('0');
    await row.getByRole('button', { name: 'Roll' }).click();
    const secret = page.getByTestId('secret-value');
    await secret.waitFor();
    const rolled = (await secret.textContent())!.trim();
    expect(rolled).not.toBe(liveSecret);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await eventually(async () => (await keyStatus(liveSecret)) === 401)).toBe(true);
    expect(await keyStatus(rolled)).toBe(200);

    const active = page.getByTestId('keys-live').locator('tr', { hasText: liveKeyName }).filter({ hasText: 'active' });
    await active.getByRole('button', { name: 'Revoke' }).click();
    await page.getByTestId('keys-live').locator('tr', { hasText: liveKeyName }).filter({ hasText: 'active' }).waitFor({ state: 'detached' });
    expect(await eventually(async () => (await keyStatus(rolled)) === 401)).toBe(true);
    const refused = await predict(rolled);
    expect({ status: refused.status, code: refused.json.code }).toEqual({ status: 401, code: 'unauthenticated' });
  });

  it('adds a webhook endpoint (the signing secret shown once) and invites a member (the token shown once)', async () => {
    await open(page, 'webhooks');
    await page.getByLabel('URL').fill('https://hooks.example.test/in');
    await page.getByLabel('prediction.succeeded').check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByTestId('secret-value').waitFor();
    await expect(page.getByTestId('secret-value').textContent()).resolves.toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('region', { name: 'Webhook endpoints' }).getByText('https://hooks.example.test/in').waitFor();
    await open(page, 'members');
    await page.getByRole('form', { name: 'Invite someone' }).getByLabel('Email').fill('new-hire@dash.test');
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByTestId('secret-value').waitFor();
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('region', { name: 'Invitations' }).getByText('new-hire@dash.test').waitFor();
  });

  it('switches to another organization of the user', async () => {
    const cookie = (await owner.cookies(gateway.url)).map((c) => `${c.name}=${c.value}`).join('; ');
    const me = (await (await fetch(`${gateway.url}/v1/me`, { headers: { cookie } })).json()) as { csrf_token: string };
    const created = await fetch(`${gateway.url}/v1/orgs`, { method: 'POST', headers: { cookie, 'x-csrf-token': me.csrf_token, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Second Lab', slug: 'second-lab' }) });
    expect(created.status).toBe(201);
    await open(page, 'keys');
    await page.getByLabel('Organization', { exact: true }).selectOption('second-lab');
    await page.waitForURL(/\/dashboard\/orgs\/second-lab\/keys$/);
    await page.getByText('No API keys yet').waitFor();
    await page.getByLabel('Organization', { exact: true }).selectOption(slug);
    await page.waitForURL(new RegExp(`/dashboard/orgs/${slug}/keys$`));
  });

  it('shows every page with its loading, empty or error state settled (API errors with their detail and a retry), and saves a screenshot of each', async () => {
    for (const name of PAGES) {
      await open(page, name);
      await shot(page, name === 'overview' ? 'overview-after' : name);
      // Every error box shows the problem's detail and offers a retry.
      for (const box of await page.locator('.error').all()) {
        expect((await box.textContent())!.length).toBeGreaterThan(20);
        expect(await box.getByRole('button', { name: 'Retry' }).count()).toBe(1);
      }
    }
    // The billing page shows the upcoming invoice from the ledger (ledger-only mode), with no error.
    await open(page, 'billing');
    await page.getByRole('region', { name: 'Invoice lines' }).getByText('ocr-line').first().waitFor();
  });
});

d('roles and small screens', () => {
  it('does not offer a viewer the create-key button (nor the keys page)', async () => {
    const viewer = await addMember(db.prisma, orgId, 'viewer');
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US' });
    const p = await ctx.newPage();
    await p.goto(`${gateway.url}/dashboard/login`);
    await p.getByLabel('Email').fill(viewer.email);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.waitForURL(/\/overview$/);
    expect(await p.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await p.goto(`${gateway.url}/dashboard/orgs/${slug}/keys`);
    await p.locator('main h1').waitFor();
    await p.getByText('does not include API keys').waitFor();
    expect(await p.getByRole('button', { name: 'Create key' }).count()).toBe(0);
    await p.screenshot({ path: join(ARTIFACTS, 'viewer-keys.png'), fullPage: true });
    // Log out ends the session: the app is back at the log-in page.
    await p.getByRole('button', { name: 'Log out' }).click();
    await p.waitForURL(/\/dashboard\/login$/);
    await ctx.close();
  });

  it('has no horizontal scrolling at 390 px on any page', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', deviceScaleFactor: 1 });
    const cookies = await owner.cookies(gateway.url);
    await ctx.addCookies(cookies);
    const p = await ctx.newPage();
    for (const name of PAGES) {
      await open(p, name);
      const { scroll, inner } = await p.evaluate<{ scroll: number; inner: number }>('({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })');
      expect({ page: name, overflow: scroll > inner }).toEqual({ page: name, overflow: false });
      await p.screenshot({ path: join(ARTIFACTS, `phone-${name}.png`), fullPage: true });
    }
    await ctx.close();
  });
});
