// Settings, and integrations with their keys, webhooks and deliveries (scope `admin`; a
// key with `events` manages its own integration's webhooks).
import { api, query } from './api.js';
import { h, showError, table, when } from './dom.js';
import { t } from './i18n.js';

const el = (id) => document.getElementById(id);
const list = (v) => (Array.isArray(v) ? v : (v && v.items) || []);
const csv = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

export async function showSettings() {
  const form = el('settings-form');
  showError(el('settings-error'), null);
  el('settings-msg').textContent = '';
  try {
    const s = await api('GET', '/settings');
    for (const k of ['default_radius_m', 'max_radius_m', 'reservation_ttl_s']) form.elements[k].value = s[k];
  } catch (err) {
    showError(el('settings-error'), err);
  }
}

export function startSettings() {
  el('settings-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    showError(el('settings-error'), null);
    el('settings-msg').textContent = '';
    const patch = {};
    for (const k of ['default_radius_m', 'max_radius_m', 'reservation_ttl_s']) patch[k] = Number(form.elements[k].value);
    try {
      await api('PATCH', '/settings', patch);
      el('settings-msg').textContent = t('saved');
    } catch (err) {
      showError(el('settings-error'), err);
    }
  });
}

const TEMPLATE = {
  id: 'partner', name: 'Partner', projects: ['*'], modules: ['feasibility', 'reservations'],
  contacts: {
    alert: ['alerts@partner.example'], emergency: ['+5511999990000'], technical: ['dev@partner.example'],
    operational: ['ops@partner.example'], operational_public: 'support@partner.example',
  },
  support_hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00', time_zone: 'America/Sao_Paulo' }],
};

let me;

export async function showIntegrations() {
  showError(el('int-error'), null);
  if (!me.can('admin')) return openIntegration({ id: me.subject, status: 'active' }, { webhooksOnly: true });
  try {
    const items = list(await api('GET', '/integrations'));
    el('int-list').replaceChildren(items.length ? table([
      [t('code'), (i) => h('code', {}, i.id)], [t('name'), (i) => i.name], [t('status'), (i) => i.status],
      [t('project'), (i) => (i.projects || []).join(', ')], [t('modules'), (i) => (i.modules || []).join(', ')],
      [t('actions'), (i) => h('button', { type: 'button', onclick: () => openIntegration(i), 'aria-label': `${t('open')} ${i.id}` }, t('open'))],
    ], items) : h('p', {}, t('none_found')));
  } catch (err) {
    showError(el('int-error'), err);
  }
}

export function startIntegrations(who) {
  me = who;
  el('int-new').hidden = !me.can('admin');
  el('int-json').value = JSON.stringify(TEMPLATE, null, 2);
  el('int-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(el('int-error'), null);
    let body;
    try { body = JSON.parse(el('int-json').value); } catch (err) { showError(el('int-error'), err); return; }
    try {
      const created = await api('POST', '/integrations', body);
      await showIntegrations();
      openIntegration(created);
    } catch (err) {
      showError(el('int-error'), err);
    }
  });
}

/** Keys (admin), webhooks and their deliveries of one integration. */
async function openIntegration(integration, { webhooksOnly = false } = {}) {
  const id = integration.id;
  const out = el('int-detail');
  const error = h('p', { class: 'error', role: 'alert' });
  const keys = h('div');
  const hooks = h('div');
  const deliveries = h('div');
  out.replaceChildren(h('h3', {}, id), error, webhooksOnly ? null : keys, hooks, deliveries);
  const fail = (err) => showError(error, err);
  const path = `/integrations/${encodeURIComponent(id)}`;

  async function loadKeys() {
    const items = list(await api('GET', `${path}/keys`));
    const form = h('form', { class: 'form inline' },
      h('label', {}, t('key_name'), ' ', h('input', { name: 'name', required: true, value: 'production' })),
      h('label', {}, t('key_kind'), ' ', h('select', { name: 'kind' }, h('option', { value: 'secret' }, 'secret'), h('option', { value: 'publishable' }, 'publishable'))),
      h('label', {}, t('key_scopes'), ' ', h('input', { name: 'scopes' })),
      h('label', {}, t('allowed_origins'), ' ', h('input', { name: 'allowed_origins' })),
      h('button', { type: 'submit' }, t('issue_key')));
    const shown = h('p', { class: 'secret', role: 'status' });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { name: form.elements.name.value, kind: form.elements.kind.value };
      if (form.elements.scopes.value.trim()) body.scopes = csv(form.elements.scopes.value);
      if (form.elements.allowed_origins.value.trim()) body.allowed_origins = csv(form.elements.allowed_origins.value);
      try {
        const k = await api('POST', `${path}/keys`, body);
        await loadKeys();
        keys.append(h('p', { class: 'secret', role: 'status' }, t('new_key'), ' ', h('code', {}, k.key)));
      } catch (err) { fail(err); }
    });
    keys.replaceChildren(h('h4', {}, t('keys')), items.length ? table([
      [t('name'), (k) => k.name], [t('key_kind'), (k) => k.kind], [t('prefix'), (k) => h('code', {}, k.prefix)],
      ['scopes', (k) => (k.scopes || []).join(', ')], [t('expires_at'), (k) => when(k.expires_at)],
      [t('last_used_at'), (k) => when(k.last_used_at)], [t('revoked_at'), (k) => when(k.revoked_at)],
      [t('actions'), (k) => (k.revoked_at ? '' : h('button', { type: 'button', 'aria-label': `${t('revoke')} ${k.prefix}`, onclick: async () => {
        try { await api('DELETE', `${path}/keys/${encodeURIComponent(k.id)}`); await loadKeys(); } catch (err) { fail(err); }
      } }, t('revoke')))],
    ], items) : h('p', {}, t('none_found')),
    // Keys are issued only once every contact is given: no request that would be refused.
    integration.status === 'onboarding' ? h('p', { class: 'hint' }, t('contacts_missing')) : form, shown);
  }

  async function loadDeliveries(w) {
    const page = await api('GET', `${path}/webhooks/${encodeURIComponent(w.id)}/deliveries${query({ limit: 100 })}`);
    deliveries.replaceChildren(h('h4', {}, `${t('deliveries')}: ${w.url}`), page.items.length ? table([
      [t('event'), (d) => h('code', {}, d.event_id)], [t('type'), (d) => d.type], [t('status'), (d) => d.status],
      [t('attempts'), (d) => d.attempts], [t('last_status_code'), (d) => d.last_status_code ?? ''],
      [t('last_error'), (d) => d.last_error ?? ''], [t('next_attempt_at'), (d) => when(d.next_attempt_at)],
      [t('delivered_at'), (d) => when(d.delivered_at)],
      [t('actions'), (d) => (d.status === 'delivered' ? '' : h('button', { type: 'button', onclick: async () => {
        try { await api('POST', `${path}/webhooks/${encodeURIComponent(w.id)}/deliveries/${encodeURIComponent(d.event_id)}/retry`); await loadDeliveries(w); } catch (err) { fail(err); }
      } }, t('retry')))],
    ], page.items) : h('p', {}, t('none_found')));
  }

  async function loadHooks() {
    const items = list(await api('GET', `${path}/webhooks`));
    const form = h('form', { class: 'form inline' },
      h('label', {}, t('url'), ' ', h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://crm.example/ftth' })),
      h('label', {}, t('events'), ' ', h('input', { name: 'events', value: 'reservation.*' })),
      h('button', { type: 'submit' }, t('add_webhook')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const w = await api('POST', `${path}/webhooks`, { url: form.elements.url.value, events: csv(form.elements.events.value) });
        await loadHooks();
        hooks.append(h('p', { class: 'secret', role: 'status' }, t('new_secret'), ' ', h('code', {}, w.secret)));
      } catch (err) { fail(err); }
    });
    const act = (fn) => async () => { try { await fn(); await loadHooks(); } catch (err) { fail(err); } };
    hooks.replaceChildren(h('h4', {}, t('webhooks')), items.length ? table([
      [t('url'), (w) => w.url], [t('events'), (w) => (w.events || []).join(', ')],
      [t('enabled'), (w) => (w.enabled ? t('yes') : `${t('no')}${w.disabled_reason ? ` (${w.disabled_reason})` : ''}`)],
      [t('actions'), (w) => [
        h('button', { type: 'button', onclick: () => loadDeliveries(w).catch(fail) }, t('deliveries')),
        h('button', { type: 'button', onclick: async () => {
          try {
            const r = await api('POST', `${path}/webhooks/${encodeURIComponent(w.id)}/rotate-secret`);
            await loadHooks();
            hooks.append(h('p', { class: 'secret', role: 'status' }, t('new_secret'), ' ', h('code', {}, r.secret)));
          } catch (err) { fail(err); }
        } }, t('rotate')),
        h('button', { type: 'button', onclick: act(() => api('PATCH', `${path}/webhooks/${encodeURIComponent(w.id)}`, { enabled: !w.enabled })) }, w.enabled ? t('disable') : t('enable')),
        h('button', { type: 'button', onclick: act(() => api('DELETE', `${path}/webhooks/${encodeURIComponent(w.id)}`)) }, t('delete')),
      ]],
    ], items) : h('p', {}, t('none_found')), form);
  }

  try {
    await Promise.all([webhooksOnly ? null : loadKeys(), loadHooks()]);
  } catch (err) {
    fail(err);
  }
}
