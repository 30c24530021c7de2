import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { DEMO_KEY, eventually, FUEL_SALE, startHarness } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { PATIENCE_MS } from '../helpers/deadlines.ts';

/** Debian's chromium; another build can be named with CHROMIUM_PATH. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const NOON = Date.parse('2026-11-25T12:00:00+08:00');
const CARD_LEG = 20_000;

type TaskView = { task: string; status: string };
type ViewWithTasks = TransactionView & { tasks: TaskView[] };

/** What Chromium reported the page's Content-Security-Policy refused, on every page opened (issue 17). */
const cspViolations: string[] = [];

/** Opens the inspector (served at `baseUrl`) on one transaction in a fresh tab, entering the admin key like a person would. */
async function openInspector(browser: Browser, baseUrl: string, txnNo: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1300 } });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  const response = await page.goto(`${baseUrl}/inspect#/txn/${txnNo}`);
  if (!response?.headers()['content-security-policy']?.includes("default-src 'self'")) throw new Error('the inspector page came without its Content-Security-Policy');
  await page.getByTestId('key-input').fill(DEMO_KEY);
  await page.getByTestId('key-form').locator('button[type=submit]').click();
  await page.getByTestId('detail-txnno').filter({ hasText: txnNo }).waitFor();
  await waitForAttr(page, '[data-testid=connection-status]', 'data-state', 'live');
  // Survives only as long as the page is not reloaded: the proof that updates arrive live.
  await page.evaluate(() => Object.assign(window, { inspectorTestMarker: 'same page' }));
  return page;
}

async function waitForAttr(page: Page, selector: string, attr: string, value: string): Promise<void> {
  await page.waitForFunction(([sel, a, v]) => document.querySelector(sel!)?.getAttribute(a!) === v, [selector, attr, value], { timeout: PATIENCE_MS });
}

async function waitForText(page: Page, testid: string, text: string): Promise<void> {
  await page.waitForFunction(([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() === want, [testid, text], { timeout: PATIENCE_MS });
}

async function activeStates(page: Page, diagram: string): Promise<string[]> {
  return page.locator(`[data-testid="${diagram}"] [data-active=true]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-state-id') ?? ''));
}

async function samePage(page: Page): Promise<unknown> {
  return page.evaluate(() => (window as unknown as { inspectorTestMarker?: string }).inspectorTestMarker);
}

/**
 * Where a diagram is drawn against the window and against its own scrolling pane: the whole
 * chart is visible when it lies within both (a pane that must be scrolled to see the chart's
 * edges is a cropped chart).
 */
async function chartFits(page: Page, testid: string): Promise<{ inViewport: boolean; inPane: boolean; chart: Box; pane: Box; viewport: Box }> {
  // Plain data across the page boundary: tsx would wrap a named helper in a `__name` the page lacks.
  const { chart, pane, viewport } = await page.locator(`[data-testid="${testid}"]`).evaluate((svg) => ({
    chart: svg.getBoundingClientRect().toJSON() as Box,
    pane: svg.closest('.diagram-scroll')!.getBoundingClientRect().toJSON() as Box,
    viewport: { x: 0, y: 0, width: window.innerWidth, height: window.innerHeight },
  }));
  return { inViewport: within(chart, viewport), inPane: within(chart, pane), chart: rounded(chart), pane: rounded(pane), viewport };
}

function within(inner: Box, outer: Box): boolean {
  const slack = 0.5;
  return inner.x >= outer.x - slack && inner.y >= outer.y - slack && inner.x + inner.width <= outer.x + outer.width + slack && inner.y + inner.height <= outer.y + outer.height + slack;
}

function rounded(b: Box): Box {
  return { x: Math.round(b.x), y: Math.round(b.y), width: Math.round(b.width), height: Math.round(b.height) };
}

type Box = { x: number; y: number; width: number; height: number };

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}inspector-${name}.png`;
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  return path;
}

if (!existsSync(CHROMIUM)) {
  t.skip(`the inspector in headless Chromium: needs Chromium at ${CHROMIUM} (Debian package "chromium"), which is not installed here`, () => {});
} else {
  let browser: Browser | null = null;
  t.before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  t.teardown(async () => {
    await browser?.close();
  });

  t.test('a mixed payment shows its active state and each leg, and follows the payment live to completed', async (t) => {
    const h = await startHarness(t, { clock: new ManualClock(NOON) });
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
    const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
    const txnNo = ordered.body.txnNo;
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, {
      legs: [
        { method: 'stored_value', cardNo: 'C1', amount: CARD_LEG },
        { method: 'wechat', amount: ordered.body.payableAmount - CARD_LEG },
      ],
    });
    t.equal(paying.status, 202, 'the wechat leg waits for the customer');

    const page = await openInspector(browser!, h.url, txnNo);
    t.same(await activeStates(page, 'diagram-transaction'), ['transaction.paying', 'transaction.paying.collecting'], 'paying.collecting is lit');
    // Issue 15: the chart opened cropped, and "fit" fitted its width only.
    const opened = await chartFits(page, 'diagram-transaction');
    t.ok(opened.inViewport && opened.inPane, `the whole statechart is in view once opened: ${JSON.stringify(opened)}`);
    const pane = page.locator('.diagram-pane', { has: page.getByTestId('diagram-transaction') });
    await pane.getByRole('button', { name: '1:1' }).click();
    t.notOk((await chartFits(page, 'diagram-transaction')).inPane, 'at actual size it is larger than its pane');
    await pane.getByRole('button', { name: 'fit' }).click();
    const fitted = await chartFits(page, 'diagram-transaction');
    t.ok(fitted.inViewport && fitted.inPane, `after "fit" the whole statechart is in view again: ${JSON.stringify(fitted)}`);
    t.equal(await page.getByTestId('actor-state-leg-1').textContent(), 'locked', 'the card leg holds its lock');
    t.equal(await page.getByTestId('actor-state-leg-2').textContent(), 'pending', 'the wechat leg waits');
    t.same(await activeStates(page, 'diagram-leg-2'), ['paymentLeg.pending'], "the leg's own diagram lights its state");
    t.equal(await page.getByTestId(`txn-row-${txnNo}`).getAttribute('data-state'), 'paying');

    await h.tc.sims!.gateway.pay(paying.body.legs[1]!.paymentNo);
    await waitForText(page, 'detail-state', 'completed');
    t.same(await activeStates(page, 'diagram-transaction'), ['transaction.completed'], 'completed is lit, without a reload');
    await waitForText(page, 'actor-state-leg-1', 'succeeded');
    await waitForText(page, 'actor-state-leg-2', 'succeeded');
    await waitForAttr(page, `[data-testid="txn-row-${txnNo}"]`, 'data-state', 'completed');
    t.equal(await samePage(page), 'same page', 'every change arrived over the event stream');

    // Time travel: the moment the PAY command was taken.
    await page.locator('[data-testid^=timeline-entry-]', { hasText: 'PAY' }).first().click();
    t.same(await activeStates(page, 'diagram-transaction'), ['transaction.paying', 'transaction.paying.collecting'], 'the diagram shows that moment');
    t.equal(await page.getByTestId('actor-state-leg-1').textContent(), 'locking', 'and each leg as it was then');
    t.match(JSON.parse((await page.getByTestId('entry-data').textContent()) ?? '{}'), { legs: [{ method: 'stored_value', amount: CARD_LEG }, { method: 'wechat' }] }, "with the event's data");
    await screenshot(page, 'time-travel');
    t.same(cspViolations, [], 'the page, its diagrams and its live updates ran within its Content-Security-Policy');
    await page.getByTestId('live-button').click();
    t.same(await activeStates(page, 'diagram-transaction'), ['transaction.completed'], 'back to now');
    t.ok(await screenshot(page, 'mixed-payment'));
    await page.close();
  });

  t.test('the reconciliation view shows a channel day\'s totals and a planted discrepancy by kind, and its link opens the transaction (issue 19)', async (t) => {
    const day = '2026-11-25';
    const clock = new ManualClock(NOON);
    const h = await startHarness(t, { clock });
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
    const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
    const txnNo = ordered.body.txnNo;
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
    const paymentNo = paying.body.legs[0]!.paymentNo;
    await h.tc.sims!.gateway.pay(paymentNo);
    await eventually(() => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`), (r) => r.body.state === 'completed');
    h.tc.sims!.bills.inject({ channel: 'wechat', date: day, kind: 'fee_mismatch', merchantRef: paymentNo, deltaFen: 3 });
    clock.set(Date.parse('2026-11-26T01:00:00+08:00'));
    const run = await h.tc.reconciler.run('wechat', day);
    const id = `wechat:${day}:fee_mismatch:${paymentNo}`;
    t.same(run.added, [id], 'the run found the planted fee');

    const page = await browser!.newPage({ viewport: { width: 1500, height: 1000 } });
    await page.goto(`${h.url}/inspect#/recon/wechat/${day}`);
    await page.getByTestId('key-input').fill(DEMO_KEY);
    await page.getByTestId('key-form').locator('button[type=submit]').click();
    await page.getByTestId('recon-view').waitFor();
    t.equal(await page.getByTestId('recon-totals-bill').locator('td').first().textContent(), '1', 'the bill\'s side: one row');
    t.equal(await page.getByTestId('recon-totals-platform').locator('td').first().textContent(), '1', 'our side: one row');
    const row = page.getByTestId(`recon-discrepancy-${id}`);
    t.equal(await row.getAttribute('data-kind'), 'fee_mismatch', 'the planted discrepancy, under its kind');
    t.equal(await page.getByTestId('recon-kind-fee_mismatch').locator('li').count(), 1, 'one of that kind');
    t.match(await row.textContent(), paymentNo);
    await screenshot(page, 'reconciliation');
    await page.getByTestId(`recon-link-${id}`).click();
    await page.getByTestId('detail-txnno').filter({ hasText: txnNo }).waitFor();
    t.match(page.url(), `#/txn/${txnNo}`, 'the link opens the transaction in the inspector');
    await page.close();
  });

  t.test('a dead task is retried from the page and turns done live', async (t) => {
    const clock = new ManualClock(NOON);
    const h = await startHarness(t, { clock, config: { breaker: { afterFailures: 1000, halfOpenAfterMs: 10 } } });
    h.tc.sims!.faults.settlement.configure({ '*': { outage: true } });
    const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
    const txnNo = started.body.txnNo;
    const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
    await h.api('POST', `/v1/transactions/${txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
    // The settlement task spends its attempts while the system is down; time moves on between them.
    await eventually(
      async () => {
        await h.tc.tasks.runDue();
        clock.advance(10 * 60_000);
        return (await h.api<ViewWithTasks>('GET', `/v1/transactions/${txnNo}`)).body;
      },
      (v) => v.tasks.find((x) => x.task === 'settlement')?.status === 'dead',
      30_000,
    );
    h.tc.sims!.faults.settlement.clear();

    const page = await openInspector(browser!, h.url, txnNo);
    t.equal(await page.getByTestId('task-status-settlement').textContent(), 'dead');
    t.ok(await page.getByTestId('needs-attention').isVisible(), 'the transaction says it needs a person');
    await screenshot(page, 'dead-task');
    await page.getByTestId('nudge-button').click();
    await page.getByRole('status').filter({ hasText: 'Nudged.' }).waitFor();
    t.equal(await page.getByTestId('task-status-settlement').textContent(), 'dead', 'a nudge does not revive a dead task');
    await page.getByTestId('retry-settlement').click();
    await waitForText(page, 'task-status-settlement', 'done');
    t.equal(await page.getByTestId('retry-settlement').count(), 0, 'nothing left to retry');
    // The task row turns done before the transaction hears TASK_DONE and clears its flag: the page
    // may show the two in separate updates of the event stream (it did once at load 9).
    await page.getByTestId('needs-attention').waitFor({ state: 'detached', timeout: PATIENCE_MS });
    t.equal(await page.getByTestId('needs-attention').count(), 0, 'the flag is cleared');
    t.equal(await samePage(page), 'same page', 'the page learnt it over the event stream');
    t.ok(await screenshot(page, 'retried-task'));
    await page.close();
  });

  t.test('a page whose live updates could not be resumed after a dropped connection says so, and refreshes', async (t) => {
    const redis = await startRedisServer();
    t.teardown(() => redis.stop());
    const prefix = `tc-inspect-${randomUUID().slice(0, 8)}`;
    const h = await startHarness(t, { clock: new ManualClock(NOON), config: { storage: { kind: 'redis', url: redis.url, prefix } } });
    const proxy = await startTcpProxy(h.url);
    t.teardown(() => proxy.close());
    const start = async () => (await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] })).body.txnNo;
    const page = await openInspector(browser!, proxy.url, await start());
    // An event reaches the page, so its EventSource has an id to resume from.
    const seen = await start();
    await page.getByTestId(`txn-row-${seen}`).waitFor();
    t.ok(await page.getByTestId('stream-notice').isHidden(), 'no notice while nothing was missed');

    proxy.hold();
    proxy.cut();
    await waitForAttr(page, '[data-testid=connection-status]', 'data-state', 'retry');
    const missed = await start();
    // What the feed's cap does, exactly and now: only the latest save is kept.
    await h.tc.scaleOut!.storage.handle.redis.xtrim(`${prefix}:{idx}:feed`, 'MAXLEN', 1);
    proxy.release();

    await page.getByTestId('stream-notice').waitFor({ state: 'visible', timeout: PATIENCE_MS });
    t.match(await page.getByTestId('stream-notice').textContent(), /Live updates were interrupted .*the server no longer keeps the transitions made while the page was disconnected/);
    await page.getByTestId(`txn-row-${missed}`).waitFor();
    t.pass(`the list was refreshed: ${missed}, started while the page was away, is in it`);
    t.equal(await samePage(page), 'same page', 'without reloading the page');
    t.ok(await screenshot(page, 'stream-gap'));
    await page.getByRole('button', { name: 'dismiss' }).click();
    t.ok(await page.getByTestId('stream-notice').isHidden(), 'dismissed');
    await page.close();
  });
}
