// Small helpers to build the page's elements without HTML strings.

/** An element with attributes (`on*` as listeners) and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Shows an API error in `el`: its detail, and the fields at fault. */
export function showError(el, err) {
  el.replaceChildren();
  if (!err) return;
  el.append(err.message);
  if (err.errors && err.errors.length) {
    el.append(h('ul', {}, err.errors.map((e) => h('li', {}, `${e.field}: ${e.message}`))));
  }
}

/** A table of `rows`, columns as [header, cell(row)]. */
export function table(columns, rows, rowAttrs = () => ({})) {
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map(([head]) => h('th', { scope: 'col' }, head)))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs(r), columns.map(([, cell]) => h('td', {}, cell(r)))))));
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

/** Replaces `el`'s children, leaving out the null ones (parts that do not apply). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c != null));
}
