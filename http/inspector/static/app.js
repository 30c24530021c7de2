// The statechart inspector: a list of transactions, and for one of them its statechart with the
// active states lit, its child actors, its journal with time travel, its tasks. Kept current by
// the server's event stream (GET /admin/events). Plain browser JavaScript: no build step, no CDN.

const KEY_STORAGE = 'tradeCenter.inspector.key';
const SVG_NS = 'http://www.w3.org/2000/svg';

const state = {
  key: sessionStorage.getItem(KEY_STORAGE),
  statecharts: null,
  selected: null,
  detail: null,
  /** Journal seq the diagrams show, or null for now. */
  travel: null,
  events: null,
  listTimer: null,
  detailTimer: null,
  /** Zoom of each diagram (by test id) the user chose; absent or 'fit': the whole chart in its pane. */
  zoom: new Map(),
  /** What each diagram was last scrolled to, so a refresh that changes nothing leaves the view alone. */
  centred: new Map(),
};

const $ = (id) => document.getElementById(id);

/** Builds an element: h('div', { class: 'x', onclick }, child, 'text'). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

const yuan = (fen) => (fen / 100).toFixed(2);
const clock = (ms) => new Date(ms).toISOString().slice(11, 23);
const stamp = (iso) => (iso ? iso.replace('T', ' ').slice(0, 19) : '');
const stateText = (value) => (typeof value === 'string' ? value : value && typeof value === 'object' ? Object.entries(value).map(([k, v]) => `${k}.${stateText(v)}`).join(', ') : '—');

// ── talking to the server ────────────────────────────────────────────────────────────────────

class Unauthorized extends Error {}

async function api(method, path) {
  const res = await fetch(path, { method, headers: { authorization: `Bearer ${state.key}` } });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401 || res.status === 403) throw new Unauthorized(body.error?.message ?? 'the key was refused');
  if (!res.ok) throw new Error(body.error?.message ?? `${res.status}`);
  return body;
}

function connect() {
  state.events?.close();
  const status = $('connection-status');
  const events = new EventSource(`/admin/events?key=${encodeURIComponent(state.key)}`);
  events.onopen = () => setConn(status, 'live', 'live');
  events.onerror = () => setConn(status, 'retry', 'reconnecting…');
  // On reconnecting, EventSource sends the id of the last event it had (Last-Event-ID) and the
  // server replays what the page missed; when it no longer can, it says `gap` first.
  events.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === 'gap') return missedTransitions(event);
    if (event.type !== 'transition') return;
    scheduleList();
    if (event.txnNo === state.selected) scheduleDetail();
  };
  state.events = events;
}

// What the page shows may be behind: say so until dismissed, and reload it from the server.
function missedTransitions(gap) {
  const why = gap.reason === 'trimmed' ? 'the server no longer keeps the transitions made while the page was disconnected' : 'the server did not recognise where the page left off';
  $('stream-notice-text').textContent = `Live updates were interrupted at ${stamp(new Date(gap.at).toISOString())}: ${why}, so some may have been missed. The list and the open transaction were refreshed; their journals are complete.`;
  $('stream-notice').hidden = false;
  scheduleList();
  scheduleDetail();
}

$('stream-notice-close').addEventListener('click', () => ($('stream-notice').hidden = true));

function setConn(el, key, text) {
  el.dataset.state = key;
  el.textContent = text;
}

// A burst of transitions (one payment makes a dozen) is one refresh.
function scheduleList() {
  clearTimeout(state.listTimer);
  state.listTimer = setTimeout(loadList, 500);
}

function scheduleDetail() {
  clearTimeout(state.detailTimer);
  state.detailTimer = setTimeout(() => state.selected && loadDetail(state.selected), 120);
}

function failed(err) {
  if (err instanceof Unauthorized) return askForKey(err.message);
  toast(err.message);
}

function toast(text) {
  const el = h('div', { class: 'toast', role: 'status' }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 4000);
}

// ── key gate ─────────────────────────────────────────────────────────────────────────────────

function askForKey(message = '') {
  state.events?.close();
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  $('app').hidden = true;
  $('change-key').hidden = true;
  $('key-gate').hidden = false;
  $('key-error').textContent = message;
  $('key-input').focus();
}

$('key-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  state.key = $('key-input').value.trim();
  try {
    await start();
    sessionStorage.setItem(KEY_STORAGE, state.key);
  } catch (err) {
    askForKey(err.message);
  }
});

$('change-key').addEventListener('click', () => askForKey());

async function start() {
  const { statecharts } = await api('GET', '/inspect/api/statecharts');
  state.statecharts = statecharts;
  const select = $('filter-state');
  select.replaceChildren(h('option', { value: '' }, 'any state'));
  const root = statecharts.transaction;
  for (const n of root.nodes.filter((n) => n.parent === root.root)) select.append(h('option', { value: n.key }, n.key));
  $('key-gate').hidden = true;
  $('app').hidden = false;
  $('change-key').hidden = false;
  $('recon-link').href = `#/recon/wechat/${chinaYesterday()}`;
  connect();
  await loadList();
  route();
}

// ── list ─────────────────────────────────────────────────────────────────────────────────────

async function loadList() {
  const params = new URLSearchParams();
  const q = $('search').value.trim();
  if (q) params.set('q', q);
  if ($('filter-state').value) params.set('state', $('filter-state').value);
  if ($('filter-stuck').checked) params.set('stuck', 'true');
  if ($('filter-attention').checked) params.set('needsAttention', 'true');
  try {
    const { items } = await api('GET', `/inspect/api/transactions?${params}`);
    renderList(items);
  } catch (err) {
    failed(err);
  }
}

function renderList(items) {
  const list = $('txn-list');
  if (!items.length) return list.replaceChildren(h('li', { class: 'empty' }, 'No transactions match.'));
  list.replaceChildren(
    ...items.map((t) =>
      h(
        'li',
        {
          class: `txn-row${t.txnNo === state.selected ? ' selected' : ''}`,
          'data-testid': `txn-row-${t.txnNo}`,
          'data-state': t.state,
          tabindex: 0,
          onclick: () => (location.hash = `#/txn/${t.txnNo}`),
          onkeydown: (ev) => ev.key === 'Enter' && (location.hash = `#/txn/${t.txnNo}`),
        },
        h('div', { class: 'row-top' }, h('span', { class: 'mono' }, t.txnNo), badge(t.state)),
        h(
          'div',
          { class: 'row-sub' },
          h('span', {}, t.orderNo ? t.orderNo : 'no order yet'),
          h('span', {}, t.payableAmount ? `¥${yuan(t.payableAmount)}` : ''),
          t.legs.length ? h('span', { class: 'legs' }, t.legs.map((l) => h('span', { class: `dot st-${l.status}`, title: `${l.method} ${l.status}` }))) : null,
          t.needsAttention ? h('span', { class: 'flag' }, 'attention') : null,
        ),
      ),
    ),
  );
}

function badge(text, testid) {
  return h('span', { class: `badge st-${text}`, 'data-testid': testid }, text);
}

let searchTimer = null;
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadList, 250);
});
$('filters').addEventListener('change', loadList);
$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('search').value.trim();
  loadList();
  if (q.startsWith('T')) location.hash = `#/txn/${q}`;
});

// ── detail ───────────────────────────────────────────────────────────────────────────────────

function route() {
  const recon = /^#\/recon\/([a-z]+)\/(\d{4}-\d{2}-\d{2})/.exec(location.hash);
  if (recon) {
    state.selected = null;
    return loadReconciliation(recon[1], recon[2]);
  }
  const match = /^#\/txn\/([A-Za-z0-9_-]+)/.exec(location.hash);
  state.selected = match ? match[1] : null;
  state.travel = null;
  for (const row of document.querySelectorAll('.txn-row')) row.classList.toggle('selected', row.dataset.testid === `txn-row-${state.selected}`);
  if (state.selected) loadDetail(state.selected);
  else $('detail').replaceChildren(h('div', { class: 'empty' }, 'Pick a transaction on the left, or find one by its txnNo or orderNo.'));
}
window.addEventListener('hashchange', route);

// ── reconciliation ───────────────────────────────────────────────────────────────────────────

const RECON_CHANNELS = ['wechat', 'alipay', 'unionpay', 'senseless'];

/** Yesterday in China time (UTC+8), the day a morning's reconciliation looks at. */
function chinaYesterday() {
  return new Date(Date.now() + 8 * 3600_000 - 86_400_000).toISOString().slice(0, 10);
}

/** A channel day's reconciliation (GET /admin/reconciliation/{channel}/{date}): totals both sides, discrepancies by kind, each linked to its transaction. */
async function loadReconciliation(channel, day) {
  const detail = $('detail');
  try {
    const rec = await api('GET', `/admin/reconciliation/${encodeURIComponent(channel)}/${encodeURIComponent(day)}`);
    if (location.hash !== `#/recon/${channel}/${day}`) return;
    detail.replaceChildren(reconciliationView(rec));
  } catch (err) {
    if (err instanceof Unauthorized) return failed(err);
    detail.replaceChildren(reconPicker(channel, day), h('div', { class: 'empty' }, `Cannot show the ${channel} reconciliation of ${day}: ${err.message}`));
  }
}

function reconPicker(channel, day) {
  const select = h('select', { 'data-testid': 'recon-channel', 'aria-label': 'channel' }, RECON_CHANNELS.map((c) => h('option', { value: c, selected: c === channel }, c)));
  const date = h('input', { type: 'date', value: day, 'data-testid': 'recon-date', 'aria-label': 'day (China time)' });
  return h(
    'form',
    { class: 'filter-row recon-picker', onsubmit: (e) => (e.preventDefault(), (location.hash = `#/recon/${select.value}/${date.value}`)) },
    select, date, h('button', { type: 'submit' }, 'show'),
  );
}

function reconciliationView(rec) {
  const t = rec.totals;
  const sides = t
    ? h(
        'table',
        { class: 'recon-totals', 'data-testid': 'recon-totals' },
        h('tr', {}, h('th', {}, ''), h('th', {}, 'rows'), h('th', {}, 'payments ¥'), h('th', {}, 'refunds ¥')),
        h('tr', { 'data-testid': 'recon-totals-bill' }, h('th', {}, 'channel bill'), h('td', {}, t.billRows), h('td', {}, yuan(t.billPaymentsFen)), h('td', {}, yuan(t.billRefundsFen))),
        h('tr', { 'data-testid': 'recon-totals-platform' }, h('th', {}, 'our records'), h('td', {}, t.platformRows), h('td', {}, yuan(t.platformPaymentsFen)), h('td', {}, yuan(t.platformRefundsFen))),
        h('tr', {}, h('th', {}, 'matched'), h('td', { 'data-testid': 'recon-matched' }, t.matched), h('td', {}, `fees ¥${yuan(t.billFeesFen)}`), h('td', {}, '')),
      )
    : h('div', { class: 'empty' }, 'This day has not been reconciled yet.');
  const byKind = Object.entries(rec.byKind).filter(([, n]) => n > 0);
  const groups = byKind.map(([kind, n]) =>
    h(
      'section',
      { class: 'recon-kind', 'data-testid': `recon-kind-${kind}` },
      h('h3', {}, `${kind} `, h('span', { class: 'muted' }, `(${n})`)),
      h(
        'ul',
        { class: 'recon-list' },
        rec.discrepancies.filter((d) => d.kind === kind).map((d) =>
          h(
            'li',
            { 'data-testid': `recon-discrepancy-${d.id}`, 'data-kind': d.kind, 'data-status': d.status },
            h('span', { class: 'mono' }, d.ref),
            ' ',
            badge(d.status),
            ' ',
            d.txnNo ? h('a', { href: `#/txn/${d.txnNo}`, 'data-testid': `recon-link-${d.id}` }, d.txnNo) : h('span', { class: 'muted' }, 'no transaction of ours'),
            ' ',
            h('span', { class: 'muted' }, evidenceText(d.evidence)),
          ),
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'recon', 'data-testid': 'recon-view', 'data-channel': rec.channel, 'data-day': rec.day },
    reconPicker(rec.channel, rec.day),
    h('h2', {}, `${rec.channel} · ${rec.day} `, rec.clean === null ? null : badge(rec.clean ? 'clean' : `${rec.open} open`, 'recon-status')),
    rec.ranAt ? h('p', { class: 'muted' }, `last run ${stamp(rec.ranAt)} UTC`) : null,
    sides,
    groups.length ? groups : rec.totals ? h('p', { 'data-testid': 'recon-none' }, 'No discrepancies.') : null,
  );
}

/** Both sides of a discrepancy in a line: the channel's amount and status against ours. */
function evidenceText(evidence) {
  const side = (r) => (r ? `¥${yuan(r.amountFen)} ${r.status}${r.feeFen !== undefined ? ` fee ¥${yuan(r.feeFen)}` : ''}` : 'none');
  const fee = evidence.expectedFeeFen !== undefined ? `, rate gives fee ¥${yuan(evidence.expectedFeeFen)}` : '';
  return `channel: ${side(evidence.bill)}; ours: ${side(evidence.platform)}${fee}`;
}

async function loadDetail(txnNo) {
  try {
    const detail = await api('GET', `/inspect/api/transactions/${encodeURIComponent(txnNo)}`);
    if (txnNo !== state.selected) return;
    state.detail = detail;
    renderDetail();
  } catch (err) {
    if (err instanceof Unauthorized) return failed(err);
    $('detail').replaceChildren(h('div', { class: 'empty' }, `Cannot show ${txnNo}: ${err.message}`));
  }
}

/** What each actor's diagram shows: now, or the moment of the selected journal entry. */
function momentOf(detail) {
  const actors = new Map(detail.actors.map((a) => [a.path, { ...a, started: true }]));
  if (state.travel === null) return { actors, entry: null, previous: null };
  const seen = new Map();
  let entry = null;
  let previous = null;
  for (const e of detail.journal) {
    if (e.seq > state.travel) break;
    if (e.seq === state.travel) {
      entry = e;
      previous = seen.get(e.path) ?? null;
    }
    seen.set(e.path, e);
  }
  for (const [path, a] of actors) {
    const last = seen.get(path);
    actors.set(path, last ? { ...a, value: last.to, active: last.toActive, started: true } : { ...a, value: null, active: [], started: false });
  }
  return { actors, entry, previous };
}

function renderDetail() {
  const { detail } = state;
  const { view } = detail;
  const moment = momentOf(detail);
  const root = moment.actors.get('transaction');
  const children = [...moment.actors.values()].filter((a) => a.path !== 'transaction');

  const header = h(
    'div',
    { class: 'card head' },
    h(
      'div',
      { class: 'head-main' },
      h('div', { class: 'title' }, h('h2', { class: 'mono', 'data-testid': 'detail-txnno' }, view.txnNo), badge(view.state, 'detail-state')),
      h(
        'dl',
        { class: 'facts' },
        fact('order', h('span', { class: 'mono' }, view.orderNo ?? '—')),
        fact('scene', view.scene),
        fact('payable', `¥${yuan(view.payableAmount)}`),
        fact('paid', `¥${yuan(view.paidAmount)}`),
        fact('refunded', `¥${yuan(view.refundedAmount)}`),
        fact('state value', h('span', { class: 'mono', 'data-testid': 'detail-state-value' }, stateText(view.stateValue))),
        fact('updated', stamp(view.updatedAt)),
      ),
      view.needsAttention ? h('div', { class: 'alert', 'data-testid': 'needs-attention' }, 'Needs attention: something waits for a person.') : null,
      view.outcome ? h('div', { class: 'note' }, `${view.outcome.code}: ${view.outcome.message}`) : null,
    ),
    h('div', { class: 'head-actions' }, h('button', { type: 'button', 'data-testid': 'nudge-button', onclick: nudge }, 'Nudge'), h('span', { class: 'hint' }, 'rehydrate, fire due timers, run due tasks')),
  );

  const travelBar = h(
    'div',
    { class: `travel ${moment.entry ? 'past' : 'now'}`, 'data-testid': 'travel-status' },
    moment.entry
      ? [h('span', {}, `Showing #${moment.entry.seq} · ${clock(moment.entry.at)} · ${moment.entry.path} ← ${moment.entry.event}`), h('button', { type: 'button', class: 'primary', 'data-testid': 'live-button', onclick: () => travel(null) }, 'Back to live')]
      : [h('span', { class: 'live-dot' }), h('span', {}, 'Live: showing the current state')],
  );

  const diagram = h(
    'div',
    { class: 'card' },
    h('div', { class: 'card-title' }, h('h3', {}, 'Transaction statechart'), travelBar),
    diagramPane(state.statecharts.transaction, root, moment.entry?.path === 'transaction' ? moment : null, 'diagram-transaction', 'tall'),
  );

  const actorCards = children.length
    ? h(
        'div',
        { class: 'card' },
        h('div', { class: 'card-title' }, h('h3', {}, 'Child actors')),
        h(
          'div',
          { class: 'actors', 'data-testid': 'actors' },
          children.map((a) =>
            h(
              'div',
              { class: `actor${a.started ? '' : ' not-started'}${moment.entry?.path === a.path ? ' focus' : ''}`, 'data-testid': `actor-${a.path}` },
              h(
                'div',
                { class: 'actor-head' },
                h('span', { class: 'mono' }, a.id),
                h('span', { class: 'machine' }, a.machine, a.parent !== 'transaction' ? h('span', { class: 'mono' }, ` · in ${a.parent}`) : null),
                badge(a.started ? stateText(a.value) : 'not started', `actor-state-${a.path}`),
              ),
              describeActor(a, view),
              state.statecharts[a.machine] ? diagramPane(state.statecharts[a.machine], a, moment.entry?.path === a.path ? moment : null, `diagram-${a.path}`, 'short') : null,
            ),
          ),
        ),
      )
    : null;

  const scrolled = new Map([...document.querySelectorAll('.diagram-scroll')].map((el) => [el.dataset.pane, { left: el.scrollLeft, top: el.scrollTop }]));
  const timelineTop = document.querySelector('.timeline')?.scrollTop ?? 0;
  $('detail').replaceChildren(header, diagram, actorCards ?? '', renderTasks(view), renderTimeline(detail), renderTimers(detail));
  document.querySelector('.timeline').scrollTop = timelineTop;
  fitPanes(scrolled);
}

function fact(label, value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value));
}

/** A leg's or refund's business facts next to its machine state. */
function describeActor(actor, view) {
  const leg = view.legs.find((l) => `leg-${l.legNo}` === actor.id);
  if (leg) return h('div', { class: 'actor-facts' }, `${leg.method}${leg.cardNo ? ` ${leg.cardNo}` : ''} · ¥${yuan(leg.amount)} · leg status `, badge(leg.status, `leg-status-${leg.legNo}`));
  const refund = view.refunds.find((r) => `refund-${r.refundNo}` === actor.id);
  if (refund) {
    return h(
      'div',
      { class: 'actor-facts' },
      h('div', {}, `¥${yuan(refund.amount)} · `, badge(refund.status)),
      // Which card gave back what: a refund of top-ups to several cards debits each one separately.
      (refund.topUpDebits ?? []).length
        ? h(
            'ul',
            { class: 'debits', 'data-testid': `debits-${refund.refundNo}` },
            refund.topUpDebits.map((d) =>
              h('li', { 'data-testid': `debit-${d.debitNo}` }, `top-up debit ${d.debitNo} · card ${d.cardNo} · ¥${yuan(d.amountFen)} · `, badge(d.status, `debit-status-${d.debitNo}`)),
            ),
          )
        : null,
    );
  }
  const parent = view.refunds.find((r) => `refund-${r.refundNo}` === actor.parent);
  const refundLeg = parent?.legs.find((l) => `rleg-${l.legNo}` === actor.id);
  if (refundLeg) return h('div', { class: 'actor-facts' }, `${refundLeg.method} · ¥${yuan(refundLeg.amount)} back · `, badge(refundLeg.status));
  return null;
}

function renderTasks(view) {
  const tasks = view.tasks ?? [];
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'card-title' }, h('h3', {}, 'Post-payment tasks')),
    tasks.length
      ? h(
          'table',
          { class: 'table', 'data-testid': 'tasks' },
          h('thead', {}, h('tr', {}, ['task', 'system', 'status', 'attempts', 'last error', 'next run', ''].map((c) => h('th', {}, c)))),
          h(
            'tbody',
            {},
            tasks.map((t) =>
              h(
                'tr',
                { 'data-testid': `task-row-${t.task}` },
                h('td', { class: 'mono' }, t.task),
                h('td', {}, t.system),
                h('td', {}, badge(t.status, `task-status-${t.task}`)),
                h('td', { class: 'num' }, `${t.attempts} / ${t.maxAttempts}`),
                h('td', { class: 'error-cell', title: t.lastError ?? '' }, t.lastError ?? ''),
                h('td', { class: 'mono' }, stamp(t.nextRunAt)),
                h('td', {}, t.status === 'dead' ? h('button', { type: 'button', class: 'primary small', 'data-testid': `retry-${t.task}`, onclick: (e) => retry(t.task, e.currentTarget) }, 'Retry') : null),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No tasks: they are enqueued once the payment is in.'),
  );
}

function renderTimeline(detail) {
  const begun = new Set();
  // An actor's first init is its start; a later one is the actor rebuilt from its stored snapshot.
  const eventName = (e) => {
    if (e.event !== 'xstate.init') return prettyEvent(e.event);
    const first = !begun.has(e.path);
    begun.add(e.path);
    return first ? 'start' : 'restore';
  };
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'card-title' }, h('h3', {}, `Journal · ${detail.journal.length} transitions`), h('span', { class: 'hint' }, 'click an entry to see that moment')),
    h(
      'ol',
      { class: 'timeline', 'data-testid': 'timeline' },
      detail.journal.map((e) =>
        h(
          'li',
          { class: `entry${state.travel === e.seq ? ' selected' : ''}${e.path === 'transaction' ? '' : ' child'}`, 'data-testid': `timeline-entry-${e.seq}`, tabindex: 0, onclick: () => travel(e.seq), onkeydown: (ev) => ev.key === 'Enter' && travel(e.seq) },
          h('span', { class: 'seq' }, `#${e.seq}`),
          h('span', { class: 'mono time' }, clock(e.at)),
          h('span', { class: 'who' }, e.path),
          h('span', { class: 'event mono' }, eventName(e)),
          h('span', { class: 'move mono' }, `${e.from === null ? '∅' : stateText(e.from)} → ${stateText(e.to)}`),
          state.travel === e.seq && Object.keys(e.data).length ? h('pre', { class: 'data', 'data-testid': 'entry-data', onclick: (ev) => ev.stopPropagation() }, JSON.stringify(e.data, null, 2)) : null,
        ),
      ),
    ),
  );
}

function renderTimers(detail) {
  if (!detail.timers.length) return '';
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'card-title' }, h('h3', {}, 'Durable timers')),
    h('ul', { class: 'timers' }, detail.timers.map((t) => h('li', {}, h('span', { class: 'mono' }, t.name), ' due ', h('span', { class: 'mono' }, stamp(new Date(t.dueAt).toISOString()))))),
  );
}

function prettyEvent(event) {
  const done = /^xstate\.(done|error)\.actor\.(?:\d+\.)?(.+)$/.exec(event);
  if (done) return `${done[1]}: ${done[2].split('.').pop()}`;
  return event;
}

function travel(seq) {
  state.travel = seq;
  renderDetail();
}

async function nudge(e) {
  const button = e.currentTarget;
  button.disabled = true;
  try {
    await api('POST', `/admin/transactions/${encodeURIComponent(state.selected)}/nudge`);
    toast('Nudged.');
  } catch (err) {
    failed(err);
  } finally {
    button.disabled = false;
    scheduleDetail();
  }
}

// The retried task's new status arrives over the event stream (its TASK_DONE transition), like
// any other change: the page has one way of learning what happened.
async function retry(task, button) {
  button.disabled = true;
  button.textContent = 'Retrying…';
  try {
    await api('POST', `/admin/transactions/${encodeURIComponent(state.selected)}/tasks/${encodeURIComponent(task)}/retry`);
  } catch (err) {
    button.disabled = false;
    button.textContent = 'Retry';
    failed(err);
  }
}

// ── statechart panes: zoom and scroll ───────────────────────────────────────────────────────

function diagramPane(layout, actor, moment, testid, size) {
  const svg = renderDiagram(layout, actor, moment, testid);
  const scroll = h('div', { class: `diagram-scroll ${size}`, 'data-pane': testid }, svg);
  const zoomBy = (factor) => {
    const current = Number(svg.dataset.scale) || 1;
    state.zoom.set(testid, Math.min(2, Math.max(0.2, current * factor)));
    applyZoom(scroll, layout);
  };
  const tools = h(
    'div',
    { class: 'zoom' },
    h('button', { type: 'button', title: 'zoom out', onclick: () => zoomBy(1 / 1.25) }, '−'),
    h('button', { type: 'button', title: 'fit the pane', onclick: () => (state.zoom.set(testid, 'fit'), applyZoom(scroll, layout)) }, 'fit'),
    h('button', { type: 'button', title: 'actual size', onclick: () => (state.zoom.set(testid, 1), applyZoom(scroll, layout)) }, '1:1'),
    h('button', { type: 'button', title: 'zoom in', onclick: () => zoomBy(1.25) }, '+'),
  );
  const pane = h('div', { class: 'diagram-pane' }, tools, scroll);
  pane.layout = layout;
  return pane;
}

function applyZoom(scroll, layout) {
  const svg = scroll.querySelector('svg');
  const chosen = state.zoom.get(svg.dataset.testid);
  // Both dimensions: a chart fitted to the pane's width alone ran off its bottom, and one opened
  // at a readable minimum zoom was cropped on both sides. Never enlarged past actual size.
  const fit = Math.min(1, (scroll.clientWidth - 2) / layout.width, (scroll.clientHeight - 2) / layout.height);
  const scale = typeof chosen === 'number' ? chosen : fit;
  svg.dataset.scale = String(scale);
  svg.setAttribute('width', String(Math.round(layout.width * scale)));
  svg.setAttribute('height', String(Math.round(layout.height * scale)));
}

/**
 * Sizes every pane, then scrolls each to its active (or travelled-to) state when that changed;
 * otherwise a pane keeps where the reader had scrolled it before the refresh.
 */
function fitPanes(scrolled = new Map()) {
  for (const pane of document.querySelectorAll('.diagram-pane')) {
    const scroll = pane.querySelector('.diagram-scroll');
    applyZoom(scroll, pane.layout);
    const svg = scroll.querySelector('svg');
    const target = [...svg.querySelectorAll('.node.leaf[data-active=true]')].pop();
    const key = `${target?.dataset.stateId}@${svg.dataset.scale}`;
    const before = scrolled.get(scroll.dataset.pane);
    if (!target || state.centred.get(svg.dataset.testid) === key) {
      if (before) scroll.scrollTo(before);
      continue;
    }
    state.centred.set(svg.dataset.testid, key);
    const box = target.querySelector('rect');
    const scale = Number(svg.dataset.scale);
    const cx = (Number(box.getAttribute('x')) + Number(box.getAttribute('width')) / 2) * scale;
    const cy = (Number(box.getAttribute('y')) + Number(box.getAttribute('height')) / 2) * scale;
    scroll.scrollTo({ left: Math.max(0, cx - scroll.clientWidth / 2), top: Math.max(0, cy - scroll.clientHeight / 2) });
  }
}

window.addEventListener('resize', () => requestAnimationFrame(() => fitPanes()));

// ── statechart drawing ───────────────────────────────────────────────────────────────────────

/**
 * Draws a laid-out statechart (nodes and routed edges come from the server) with the actor's
 * active state nodes lit. When a journal entry of this actor is selected, the transition it took
 * is lit too.
 */
function renderDiagram(layout, actor, moment, testid) {
  const active = new Set(actor.active ?? []);
  const fromActive = new Set(moment?.previous?.toActive ?? []);
  const svg = s('svg', {
    class: 'statechart',
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    'data-testid': testid,
    'data-machine': layout.machine,
    role: 'img',
    'aria-label': `${layout.machine} statechart, active: ${[...active].join(', ')}`,
  });
  const marker = `arrow-${testid}`;
  const markerOn = `arrow-on-${testid}`;
  svg.append(
    s('defs', {}, arrowMarker(marker, 'arrowhead'), arrowMarker(markerOn, 'arrowhead on')),
  );
  const leafOf = new Set(layout.nodes.filter((n) => !layout.nodes.some((c) => c.parent === n.id)).map((n) => n.id));

  for (const n of layout.nodes) {
    if (n.id === layout.root) continue;
    const leaf = leafOf.has(n.id);
    const on = active.has(n.id);
    const g = s('g', {
      class: `node ${leaf ? 'leaf' : 'compound'}${on ? ' active' : ''}${n.type === 'final' ? ' final' : ''}${n.tags.includes('working') ? ' working' : ''}`,
      'data-state-id': n.id,
      'data-active': on ? 'true' : 'false',
    });
    g.append(s('title', {}, [n.id, n.invokes.length ? `invokes ${n.invokes.join(', ')}` : '', n.handles.length ? `also handles ${n.handles.join(', ')}` : ''].filter(Boolean).join('\n')));
    g.append(s('rect', { x: n.x, y: n.y, width: n.width, height: n.height, rx: leaf ? 8 : 12 }));
    if (n.type === 'final') g.append(s('rect', { class: 'inner', x: n.x + 3, y: n.y + 3, width: n.width - 6, height: n.height - 6, rx: 6 }));
    if (leaf) {
      g.append(s('text', { x: n.x + n.width / 2, y: n.y + 20, class: 'name' }, n.key));
      n.invokes.forEach((inv, i) => g.append(s('text', { x: n.x + n.width / 2, y: n.y + 35 + i * 15, class: 'invoke' }, `⟳ ${inv}`)));
    } else {
      g.append(s('text', { x: n.x + 12, y: n.y + 19, class: 'name compound-name' }, n.key));
    }
    svg.append(g);
  }

  for (const i of layout.initials) {
    svg.append(s('g', { class: 'initial' }, s('circle', { cx: i.x, cy: i.y, r: 4.5 }), s('path', { d: pathOf(i.points), 'marker-end': `url(#${marker})` })));
  }

  const labels = s('g', { class: 'labels' });
  for (const e of layout.edges) {
    const taken = moment && moment.entry && e.event === moment.entry.event && active.has(e.target) && (fromActive.size === 0 || fromActive.has(e.source));
    svg.append(s('path', { class: `edge${taken ? ' taken' : ''}`, d: pathOf(e.points), 'marker-end': `url(#${taken ? markerOn : marker})`, 'data-edge': e.id }));
    if (e.labelBox) {
      const b = e.labelBox;
      const lineHeight = b.height / e.lines.length;
      labels.append(
        s(
          'g',
          { class: `edge-label${taken ? ' taken' : ''}` },
          s('rect', { x: b.x - 2, y: b.y - 1, width: b.width + 4, height: b.height + 2, rx: 3 }),
          e.lines.map((line, i) => s('text', { x: b.x + b.width / 2, y: b.y + (i + 1) * lineHeight - 3, class: i ? 'guard' : 'event' }, line)),
        ),
      );
    }
  }
  svg.append(labels);
  return svg;
}

function arrowMarker(id, cls) {
  return s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: cls }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
}

function pathOf(points) {
  return points.map((p, i) => `${i ? 'L' : 'M'} ${p.x} ${p.y}`).join(' ');
}

// ── start ────────────────────────────────────────────────────────────────────────────────────

if (state.key) start().catch((err) => askForKey(err.message));
else askForKey();
