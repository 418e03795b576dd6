// The map: boxes coloured by free ports (clustered at low zoom), regions with their tags,
// click-to-check with the radius and candidates drawn, a box's splitters and ports, and the
// demand cells.
import * as maplibregl from './vendor/maplibre-gl/maplibre-gl.mjs';
import { api, query } from './api.js';
import { fill, h, showError } from './dom.js';
import { t } from './i18n.js';

// Free ports: none, few (1..FEW), many; and boxes not deployed.
const FEW = 3;
const COLOURS = { none: '#b71c1c', few: '#e65100', many: '#1b5e20', off: '#616161' };
const EMPTY = { type: 'FeatureCollection', features: [] };

// The map's workers start while the page waits for a key, not after it is given.
maplibregl.prewarm();

let map;
let me;
let loaded = null; // { bbox, truncated, all } of the boxes on the map
let extentBbox = [-180, -90, 180, 90]; // of every box the credential sees
let loadSeq = 0;
let boxIds = []; // of the boxes on the map, by feature id
const el = (id) => document.getElementById(id);

function baseStyle(basemapUrl) {
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }],
  };
  if (basemapUrl) {
    style.sources.basemap = { type: 'raster', tiles: [basemapUrl], tileSize: 256 };
    style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  return style;
}

function addLayers() {
  map.addSource('regions', { type: 'geojson', data: EMPTY });
  map.addSource('demand', { type: 'geojson', data: EMPTY });
  map.addSource('check', { type: 'geojson', data: EMPTY });
  map.addSource('candidates', { type: 'geojson', data: EMPTY });
  map.addSource('boxes', {
    type: 'geojson', data: EMPTY, cluster: true, clusterMaxZoom: 12, clusterRadius: 45,
    // Boxes of the cluster that have a free port, for its colour.
    clusterProperties: { open: ['+', ['get', 'o']] },
  });
  map.addLayer({ id: 'regions-fill', type: 'fill', source: 'regions',
    paint: { 'fill-color': '#0d47a1', 'fill-opacity': 0.07 } });
  map.addLayer({ id: 'regions-line', type: 'line', source: 'regions',
    paint: { 'line-color': '#0d47a1', 'line-width': 1.5 } });
  map.addLayer({ id: 'demand-fill', type: 'fill', source: 'demand', layout: { visibility: 'none' },
    paint: {
      'fill-color': ['interpolate', ['linear'], ['-', ['get', 'total'], ['get', 'feasible']],
        0, '#fff3e0', 10, '#ff9800', 100, '#bf360c'],
      'fill-opacity': 0.55, 'fill-outline-color': '#6d4c41',
    } });
  map.addLayer({ id: 'check-radius', type: 'fill', source: 'check', filter: ['==', ['geometry-type'], 'Polygon'],
    paint: { 'fill-color': '#4a148c', 'fill-opacity': 0.1 } });
  map.addLayer({ id: 'check-radius-line', type: 'line', source: 'check', filter: ['==', ['geometry-type'], 'Polygon'],
    paint: { 'line-color': '#4a148c', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'clusters', type: 'circle', source: 'boxes', filter: ['has', 'point_count'],
    paint: {
      'circle-color': ['interpolate', ['linear'], ['/', ['get', 'open'], ['get', 'point_count']],
        0, COLOURS.none, 0.5, COLOURS.few, 0.9, COLOURS.many],
      'circle-opacity': 0.85,
      'circle-radius': ['step', ['get', 'point_count'], 10, 50, 14, 500, 19, 5000, 25],
      'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
    } });
  map.addLayer({ id: 'boxes', type: 'circle', source: 'boxes', filter: ['!', ['has', 'point_count']],
    paint: {
      'circle-color': ['match', ['get', 'c'], 0, COLOURS.none, 1, COLOURS.few, 2, COLOURS.many, COLOURS.off],
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 3, 16, 7],
      'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5,
    } });
  map.addLayer({ id: 'candidates', type: 'circle', source: 'candidates',
    paint: {
      'circle-radius': 11, 'circle-color': 'rgba(0,0,0,0)',
      'circle-stroke-color': '#4a148c', 'circle-stroke-width': 3,
    } });
  map.addLayer({ id: 'check-point', type: 'circle', source: 'check', filter: ['==', ['geometry-type'], 'Point'],
    paint: { 'circle-radius': 5, 'circle-color': '#4a148c', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
}

const clampBbox = ([w, s, e, n]) => [Math.max(w, -180), Math.max(s, -90), Math.min(e, 180), Math.min(n, 90)];
const contains = (outer, inner) => outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];

function viewBbox(pad = 0) {
  const b = map.getBounds();
  const dx = (b.getEast() - b.getWest()) * pad;
  const dy = (b.getNorth() - b.getSouth()) * pad;
  return clampBbox([b.getWest() - dx, b.getSouth() - dy, b.getEast() + dx, b.getNorth() + dy]);
}

function colourClass(status, free) {
  if (status !== 'deployed') return 3;
  if (free === 0) return 0;
  return free <= FEW ? 1 : 2;
}

function whenIdle() {
  return new Promise((resolve) => {
    const check = () => (map.isSourceLoaded('boxes') && map.loaded() ? resolve() : map.once('idle', check));
    map.once('idle', check);
  });
}

const bboxParam = (bbox) => bbox.map((v) => v.toFixed(6)).join(',');

/** The boxes of `bbox` as the API gives them (parallel lists). */
const fetchBoxes = (bbox) => api('GET', `/map/boxes${query({ bbox: bboxParam(bbox) })}`);

/** Puts the boxes on the map and resolves once they are drawn. */
async function drawBoxes(ans, bbox, seq) {
  const features = new Array(ans.ids.length);
  for (let i = 0; i < ans.ids.length; i++) {
    features[i] = {
      type: 'Feature', id: i,
      geometry: { type: 'Point', coordinates: [ans.lon[i], ans.lat[i]] },
      // Few properties: the worker gets a copy of every feature (its id is the index in `ids`).
      properties: { c: colourClass(ans.status[i], ans.free_ports[i]), o: ans.status[i] === 'deployed' && ans.free_ports[i] > 0 ? 1 : 0 },
    };
  }
  performance.measure('boxes-built', 'signin');
  const indexed = (e) => {
    if (e.sourceId === 'boxes' && e.isSourceLoaded) {
      performance.measure('boxes-indexed', 'signin');
      map.off('sourcedata', indexed);
    }
  };
  map.on('sourcedata', indexed);
  boxIds = ans.ids;
  map.getSource('boxes').setData({ type: 'FeatureCollection', features });
  // Every box the credential sees is on the map: moving it needs no new request.
  loaded = { bbox, truncated: ans.truncated, all: !ans.truncated && contains(bbox, extentBbox) };
  await whenIdle();
  if (seq !== loadSeq) return;
  const status = el('map-status');
  status.textContent = ans.truncated ? t('boxes_truncated', ans.ids.length) : t('boxes_shown', ans.ids.length);
  status.dataset.boxes = String(ans.ids.length);
}

/** Loads the boxes of the window (with a margin) and resolves once they are drawn. */
async function loadBoxes() {
  const seq = ++loadSeq;
  const bbox = viewBbox(0.5);
  try {
    const ans = await fetchBoxes(bbox);
    if (seq === loadSeq) await drawBoxes(ans, bbox, seq);
  } catch (err) {
    showError(el('map-status'), err);
  }
}

async function loadRegions() {
  const features = [];
  let path = `/collections/regions/items${query({ limit: 10000 })}`;
  for (let page = 0; path && page < 20; page++) {
    const ans = await api('GET', path);
    features.push(...ans.features);
    const next = (ans.links || []).find((l) => l.rel === 'next');
    path = next ? new URL(next.href, location.href).pathname + new URL(next.href, location.href).search : null;
  }
  map.getSource('regions').setData({ type: 'FeatureCollection', features });
  const list = el('regions');
  fill(list, (features.length ? features.slice(0, 200).map((f) => h('li', {},
    h('strong', {}, f.properties.name || f.id), ' ', (f.properties.tags || []).map((tag) => h('span', { class: 'tag' }, tag))))
    : [h('li', {}, t('no_regions'))]));
}

const DEMAND_RESOLUTION = (zoom) => (zoom < 9 ? 6 : zoom < 11 ? 7 : zoom < 13 ? 8 : 9);

async function loadDemand() {
  if (!el('demand').checked) return;
  const params = { bbox: viewBbox().map((v) => v.toFixed(6)).join(','), resolution: DEMAND_RESOLUTION(map.getZoom()) };
  const plan = el('plan').value;
  if (plan) params.plan_id = plan;
  try {
    const ans = await api('GET', `/demand${query(params)}`);
    map.getSource('demand').setData(ans);
    el('map-status').dataset.demand = String(ans.features.length);
  } catch (err) {
    showError(el('map-status'), err);
  }
}

// Rendered features carry arrays as JSON text.
const tagList = (v) => (Array.isArray(v) ? v : JSON.parse(v || '[]'));

/** A circle of `radius` metres around a point, as a polygon (spherical earth: for drawing). */
function circle(lon, lat, radius) {
  const R = 6371008.8, d = radius / R, φ1 = (lat * Math.PI) / 180, λ1 = (lon * Math.PI) / 180;
  const ring = [];
  for (let i = 0; i <= 64; i++) {
    const θ = (i / 64) * 2 * Math.PI;
    const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
    const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
    ring.push([(λ2 * 180) / Math.PI, (φ2 * 180) / Math.PI]);
  }
  return { type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] }, properties: {} };
}

/** Runs feasibility at a point for the chosen plan and shows the answer. */
export async function check(lon, lat) {
  performance.clearMarks('check');
  performance.mark('check');
  const out = el('check-result');
  out.dataset.state = 'busy';
  const body = { lat: Number(lat.toFixed(7)), lon: Number(lon.toFixed(7)) };
  const plan = el('plan').value;
  if (plan) body.plan_id = plan;
  const radius = el('radius').value;
  if (radius) body.radius_m = Number(radius);
  let ans;
  try {
    ans = await api('POST', '/feasibility', body);
  } catch (err) {
    out.replaceChildren(h('p', { class: 'error', role: 'alert' }));
    showError(out.firstChild, err);
    out.dataset.state = 'error';
    return;
  }
  map.getSource('check').setData({ type: 'FeatureCollection', features: [
    circle(body.lon, body.lat, ans.radius_m),
    { type: 'Feature', geometry: { type: 'Point', coordinates: [body.lon, body.lat] }, properties: {} },
  ] });
  map.getSource('candidates').setData({ type: 'FeatureCollection', features: ans.candidates.map((c) => ({
    type: 'Feature', geometry: { type: 'Point', coordinates: [c.lon, c.lat] }, properties: { id: c.box_id },
  })) });
  const here = map.queryRenderedFeatures(map.project([body.lon, body.lat]), { layers: ['regions-fill'] });
  el('check-hint').hidden = true;
  fill(out,
    h('p', { class: ans.feasible ? 'ok' : 'no' }, h('strong', {}, ans.feasible ? t('feasible') : t('not_feasible'))),
    h('p', {}, `${t('at')} ${body.lat.toFixed(5)}, ${body.lon.toFixed(5)}, ${t('radius_used', ans.radius_m)}`),
    ans.tags.length ? h('p', {}, ans.tags.map((tag) => h('span', { class: 'tag' }, tag))) : null,
    here.length ? h('p', {}, `${t('regions')}: `, here.map((f) => `${f.properties.name || f.properties.id} (${tagList(f.properties.tags).join(', ')})`).join('; ')) : null,
    ans.feasible
      ? h('ol', { class: 'candidates', 'aria-label': t('candidates') }, ans.candidates.map((c) => h('li', {},
        h('button', { type: 'button', class: 'link candidate', dataset: { box: c.box_id }, onclick: () => showBox(c.box_id) }, c.box_id),
        ` ${c.name ? `(${c.name}) ` : ''}— ${c.distance_m.toFixed(1)} m — ${c.free_ports} ${t('free_ports').toLowerCase()}`)))
      : h('p', { class: 'reason', dataset: { reason: ans.reason } }, t(`reason_${ans.reason}`)),
  );
  Object.assign(out.dataset, { state: 'done', lat: body.lat, lon: body.lon });
  performance.measure('click-to-candidates', 'check');
}

const PORT_STATES = ['used', 'held', 'installed', 'free'];

function portStates(s) {
  const state = (p) => (s.used_ports.includes(p) ? 'used' : s.held_ports.includes(p) ? 'held'
    : s.installed_ports.includes(p) ? 'installed' : 'free');
  return h('ol', { class: 'ports', 'aria-label': `${t('ports')} ${s.id}` },
    Array.from({ length: s.ports }, (_, i) => {
      const st = state(i + 1);
      return h('li', { class: `port ${st}`, title: `${i + 1}: ${t(st)}` }, String(i + 1), h('span', { class: 'sr' }, ` ${t(st)}`));
    }));
}

/** The box's splitters with their port states. */
export async function showBox(id) {
  const out = el('box-detail');
  out.replaceChildren(h('p', {}, t('loading')));
  try {
    const b = await api('GET', `/boxes/${encodeURIComponent(id)}`);
    fill(out,
      h('p', {}, h('strong', {}, b.id), ` ${b.name} — ${b.project} — ${b.status}`),
      h('p', {}, `${t('free_ports')}: ${b.free_ports}`),
      b.region_tags.length ? h('p', {}, `${t('region_tags')}: `, b.region_tags.map((tag) => h('span', { class: 'tag' }, tag))) : null,
      ...b.splitters.map((s) => h('div', { class: 'splitter' },
        h('h3', {}, `${s.id} (${s.kind})`),
        h('p', {}, PORT_STATES.map((st) => `${t(st)}: ${st === 'used' ? s.used : st === 'held' ? s.holds : st === 'installed' ? s.installed_ports.length : s.free}`).join(' · ')),
        portStates(s))),
      me.can('reservations:read')
        ? h('button', { type: 'button', onclick: () => window.ftthConsole.showReservations({ box_id: b.id }) }, t('reservations'))
        : null,
    );
    out.dataset.box = b.id;
  } catch (err) {
    out.replaceChildren(h('p', { class: 'error', role: 'alert' }));
    showError(out.firstChild, err);
  }
}

async function onClick(e) {
  const r = 5;
  const hits = map.queryRenderedFeatures([[e.point.x - r, e.point.y - r], [e.point.x + r, e.point.y + r]], { layers: ['clusters', 'boxes'] });
  const cluster = hits.find((f) => f.layer.id === 'clusters');
  const box = hits.find((f) => f.layer.id === 'boxes');
  if (box) return showBox(boxIds[box.id]);
  if (cluster) {
    const zoom = await map.getSource('boxes').getClusterExpansionZoom(cluster.properties.cluster_id);
    return map.easeTo({ center: cluster.geometry.coordinates, zoom });
  }
  if (me.can('feasibility')) return check(e.lngLat.lng, e.lngLat.lat);
}

async function loadPlans() {
  const plans = await api('GET', '/plans');
  const select = el('plan');
  for (const p of Array.isArray(plans) ? plans : plans.items || []) select.append(h('option', { value: p.id }, p.name ? `${p.name} (${p.id})` : p.id));
}

/** Creates the map for a signed-in credential and draws what it may see. */
export async function startMap(who, basemapUrl) {
  me = who;
  const plans = me.can('feasibility') ? loadPlansOnce() : null;
  const extent = await api('GET', '/collections/boxes');
  extentBbox = extent.extent.spatial.bbox[0];
  performance.measure('signin-to-extent', 'signin');
  // The boxes are asked for while the map starts.
  const [w, s, e, n] = extentBbox;
  const first = clampBbox([w - (e - w) * 0.1, s - (n - s) * 0.1, e + (e - w) * 0.1, n + (n - s) * 0.1]);
  const seq = ++loadSeq;
  const boxes = fetchBoxes(first);
  const regions = loadRegions;
  map = new maplibregl.Map({
    container: 'map', style: baseStyle(basemapUrl), attributionControl: false,
    bounds: extentBbox, fitBoundsOptions: { padding: 40, maxZoom: 16 },
    locale: { 'Map.Title': t('map') }, fadeDuration: 0,
  });
  window.ftthConsole.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
  await new Promise((resolve) => map.once('load', resolve));
  addLayers();
  map.on('click', onClick);
  for (const layer of ['clusters', 'boxes']) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
  map.on('moveend', () => {
    if (loaded && !loaded.all && (loaded.truncated || !contains(loaded.bbox, viewBbox()))) loadBoxes();
    loadDemand();
  });
  if (me.can('demand:read')) {
    el('demand-toggle').hidden = false;
    el('demand').addEventListener('change', () => {
      map.setLayoutProperty('demand-fill', 'visibility', el('demand').checked ? 'visible' : 'none');
      loadDemand();
    });
  }
  el('plan').addEventListener('change', loadDemand);
  const drawn = boxes.then(async (ans) => {
    performance.measure('signin-to-fetched', 'signin');
    await drawBoxes(ans, first, seq);
    performance.measure('signin-to-boxes', 'signin');
  });
  await Promise.all([drawn, regions().catch((err) => showError(el('map-status'), err)), plans]);
}

let plansLoaded = false;
async function loadPlansOnce() {
  if (plansLoaded) return;
  plansLoaded = true;
  await loadPlans();
}

/** For keyboard users: checks the point at the map's centre. */
export function checkCentre() {
  const c = map.getCenter();
  return check(c.lng, c.lat);
}

export const resizeMap = () => map && map.resize();
