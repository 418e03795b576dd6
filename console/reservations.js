// Reservations with the list's filters and their actions, and the installs the inventory
// has not caught up with.
import { api, query } from './api.js';
import { h, showError, when } from './dom.js';
import { t } from './i18n.js';

const el = (id) => document.getElementById(id);
let me;
let filters = {};
let nextCursor = null;

/** The actions the contract allows on this reservation to this credential. */
function actions(r) {
  const manage = me.can('reservations:manage');
  const own = me.can('reservations:write') && r.created_by === me.subject;
  const out = [];
  if (manage && r.status === 'pending') out.push('confirm');
  if ((manage || own) && (r.status === 'pending' || r.status === 'confirmed')) out.push('cancel');
  if (manage && r.status === 'confirmed') out.push('complete');
  return out;
}

function row(r) {
  const tr = h('tr', { dataset: { id: r.id, code: r.code, status: r.status } },
    h('td', {}, h('code', {}, r.code)),
    h('td', { class: 'res-status' }, h('span', { class: `badge ${r.status}` }, r.status)),
    h('td', {}, r.project),
    h('td', {}, r.box_id),
    h('td', {}, `${r.splitter_id} #${r.port}`),
    h('td', {}, r.customer ? r.customer.name : ''),
    h('td', {}, r.created_by),
    h('td', {}, when(r.created_at)),
    h('td', { class: 'actions' }, actions(r).map((a) => h('button', {
      type: 'button', class: `act ${a}`, 'aria-label': `${t(a)} ${r.code}`,
      onclick: () => act(tr, r, a),
    }, t(a)))),
  );
  return tr;
}

/** Runs the action and puts the reservation as it now stands in the row's place. */
async function act(tr, r, action) {
  const error = el('res-error');
  showError(error, null);
  for (const b of tr.querySelectorAll('button')) b.disabled = true;
  try {
    const updated = await api('POST', `/reservations/${encodeURIComponent(r.id)}/${action}`);
    const fresh = row(updated);
    tr.replaceWith(fresh);
    (fresh.querySelector('button') || fresh.querySelector('.res-status')).focus?.();
  } catch (err) {
    showError(error, err);
    for (const b of tr.querySelectorAll('button')) b.disabled = false;
  }
}

const COLUMNS = ['code', 'status', 'project', 'box', 'port', 'customer', 'created_by', 'created_at', 'actions'];

function tableOf(items) {
  return h('table', { class: 'reservations' },
    h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col' }, t(c))))),
    h('tbody', {}, items.map(row)));
}

async function load(more = false) {
  const list = el('res-list');
  const error = el('res-error');
  showError(error, null);
  try {
    const params = { ...filters, limit: 50 };
    if (more && nextCursor) params.cursor = nextCursor;
    const page = await api('GET', `/reservations${query(params)}`);
    nextCursor = page.next_cursor;
    if (more) list.querySelector('tbody').append(...page.items.map(row));
    else list.replaceChildren(page.items.length ? tableOf(page.items) : h('p', {}, t('none_found')));
    el('res-more').hidden = !nextCursor;
    list.dataset.state = 'loaded';
  } catch (err) {
    showError(error, err);
  }
}

/** Opens the list with these filters (from the map's box panel, say). */
export function showReservations(given = {}) {
  const form = el('res-filters');
  for (const input of form.elements) if (input.name) input.value = given[input.name] ?? '';
  filters = given;
  return load();
}

export function startReservations(who) {
  me = who;
  el('res-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    filters = Object.fromEntries([...new FormData(e.target)].filter(([, v]) => v !== '')
      // The API takes RFC 3339 times: a day, in UTC, from its first to its last instant.
      .map(([k, v]) => [k, k === 'created_from' ? `${v}T00:00:00Z` : k === 'created_to' ? `${v}T23:59:59.999Z` : v]));
    load();
  });
  el('res-more').addEventListener('click', () => load(true));
}

/** Installs completed here that the inventory does not show as used yet. */
export async function showInstalls() {
  const list = el('inst-list');
  showError(el('inst-error'), null);
  try {
    const page = await api('GET', `/reservations${query({ status: 'installed', inventory_confirmed: 'false', limit: 500 })}`);
    list.replaceChildren(page.items.length ? h('table', {},
      h('thead', {}, h('tr', {}, ['code', 'project', 'box', 'port', 'created_at'].map((c) => h('th', { scope: 'col' }, t(c))))),
      h('tbody', {}, page.items.map((r) => h('tr', { dataset: { code: r.code } },
        h('td', {}, h('code', {}, r.code)), h('td', {}, r.project), h('td', {}, r.box_id),
        h('td', {}, `${r.splitter_id} #${r.port}`), h('td', {}, when(r.closed_at || r.updated_at))))))
      : h('p', {}, t('none_found')));
    list.dataset.state = 'loaded';
  } catch (err) {
    showError(el('inst-error'), err);
  }
}
