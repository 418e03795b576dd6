// The console: sign-in, then the parts of the page the credential may use.
import { api, credential } from './api.js';
import { showError } from './dom.js';
import { t, translatePage } from './i18n.js';
import { checkCentre, resizeMap, startMap } from './map.js';
import { showInstalls, showReservations, startReservations } from './reservations.js';
import { showIntegrations, showSettings, startIntegrations, startSettings } from './admin.js';

const el = (id) => document.getElementById(id);
const VIEWS = ['signin', 'map', 'reservations', 'installs', 'settings', 'integrations'];

/** Which parts a credential may use, learnt from GET /me before anything else is asked. */
function parts(me) {
  const can = (scope) => me.scopes.includes(scope);
  return {
    map: can('feasibility') || can('reservations:read'),
    reservations: can('reservations:read'),
    installs: can('reservations:read'),
    settings: can('admin'),
    // A key with `events` manages its own integration's webhooks.
    integrations: can('admin') || (can('events') && me.kind === 'secret_key'),
  };
}

let shown = null;
let mapStarted = null;

function show(view) {
  for (const v of VIEWS) el(`view-${v}`).hidden = v !== view;
  for (const b of document.querySelectorAll('#nav [data-view]')) {
    if (b.dataset.view === view) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  shown = view;
  if (view === 'map') resizeMap();
  if (view === 'installs') showInstalls();
  if (view === 'settings') showSettings();
  if (view === 'integrations') showIntegrations();
}

async function signIn() {
  const error = el('signin-error');
  showError(error, null);
  let me;
  try {
    me = await api('GET', '/me');
    performance.measure('signin-to-me', 'signin');
  } catch (err) {
    credential.clear();
    showError(error, err);
    return;
  }
  me.can = (scope) => me.scopes.includes(scope);
  const may = parts(me);
  el('nav').hidden = false;
  el('who').textContent = t('signed_in_as', me.subject);
  for (const b of document.querySelectorAll('#nav [data-view]')) b.hidden = !may[b.dataset.view];
  const first = VIEWS.find((v) => v !== 'signin' && may[v]);
  if (!first) {
    el('nav').hidden = true;
    credential.clear();
    error.textContent = t('nothing_here');
    return;
  }
  startReservations(me);
  startSettings();
  startIntegrations(me);
  el('check-centre').hidden = !me.can('feasibility');
  show(first);
  if (may.map) {
    mapStarted = startMap(me, window.ftthConsole.basemapUrl).catch((err) => showError(el('map-status'), err));
    await mapStarted;
  }
}

async function main() {
  translatePage();
  window.ftthConsole = { showReservations: (filters) => { show('reservations'); return showReservations(filters); } };
  const config = await fetch('/console/config.json').then((r) => r.json());
  window.ftthConsole.basemapUrl = config.basemap_url;
  el('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    performance.mark('signin');
    credential.set(el('credential').value.trim());
    el('credential').value = '';
    signIn();
  });
  for (const b of document.querySelectorAll('#nav [data-view]')) {
    b.addEventListener('click', () => {
      show(b.dataset.view);
      if (b.dataset.view === 'reservations') showReservations({});
      el('main').focus();
    });
  }
  el('sign-out').addEventListener('click', () => {
    credential.clear();
    location.reload();
  });
  el('check-centre').addEventListener('click', () => checkCentre());
  if (credential.get()) {
    performance.mark('signin');
    await signIn();
  }
  else el('credential').focus();
  document.body.dataset.ready = 'true';
}

main();
