// The fleet overview: every instance at a glance, refreshed every 30 s without a reload.

import { can, getAll, post } from './api.js?v=@VERSION@';
import { busy, failed, fill, h, notify, page } from './dom.js?v=@VERSION@';
import { addInstance } from './instance-form.js?v=@VERSION@';
import { STATUSES, dateTime, ratio, relative, statusLabel } from './format.js?v=@VERSION@';

const REFRESH_MS = 30_000;

// Kept across visits so that coming back shows the same view.
const view = { status: '', group: '', q: '', sort: 'name', desc: false, page: 0, perPage: 100 };

// A page of rows at a time: a table of thousands of rows takes the browser hundreds of
// milliseconds to lay out at every sort or keystroke (docs/dashboard.md, "Large fleets").
const PAGE_SIZES = [50, 100, 200];

const COLUMNS = [
  { key: 'name', label: 'Name' },
  { key: 'status', label: 'Status' },
  { key: 'group', label: 'Group' },
  { key: 'version', label: 'Version' },
  { key: 'calls', label: 'Calls (active / licensed)' },
  { key: 'extensions', label: 'Extensions registered' },
  { key: 'trunks', label: 'Trunks registered' },
  { key: 'last_poll', label: 'Last poll' },
  { key: 'alerts', label: 'Open alerts' },
];

/** A status with its label: colour never carries the meaning alone. */
export function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, 'data-value': status }, statusLabel(status));
}

function row(instance, openAlerts) {
  const snap = instance.last_snapshot || {};
  const licensed = instance.licence && instance.licence.max_sim_calls !== null && instance.licence.max_sim_calls !== undefined
    ? instance.licence.max_sim_calls : snap.max_sim_calls;
  const alerts = openAlerts.get(instance.id) || 0;
  return h('tr', { 'data-instance-id': instance.id, 'data-status': instance.status },
    h('th', { scope: 'row' }, h('a', { href: `#/instances/${encodeURIComponent(instance.id)}`, text: instance.name }),
      instance.status_reason ? h('div', { class: 'muted small', text: instance.status_reason }) : null),
    h('td', {}, statusBadge(instance.status)),
    h('td', { text: instance.group || '—' }),
    h('td', { text: instance.version || '—' }),
    h('td', { class: 'num', text: ratio(snap.calls_active, licensed) }),
    h('td', { class: 'num', text: ratio(snap.extensions_registered, snap.extensions_total) }),
    h('td', { class: 'num', text: ratio(snap.trunks_registered, snap.trunks_total) }),
    h('td', { title: snap.at ? dateTime(snap.at) : null, text: snap.at ? relative(snap.at) : 'never' }),
    h('td', { class: 'num' }, alerts
      ? h('a', { href: `#/alerts?status=all&instance=${encodeURIComponent(instance.id)}`, class: 'alert-count', text: String(alerts) })
      : '0'));
}

function sortKey(instance, key, openAlerts) {
  const snap = instance.last_snapshot || {};
  switch (key) {
    case 'status': return STATUSES.indexOf(instance.status);
    case 'group': return (instance.group || '').toLowerCase();
    case 'version': return instance.version || '';
    case 'calls': return snap.calls_active ?? -1;
    case 'extensions': return snap.extensions_registered ?? -1;
    case 'trunks': return snap.trunks_registered ?? -1;
    case 'last_poll': return snap.at || '';
    case 'alerts': return openAlerts.get(instance.id) || 0;
    default: return instance.name.toLowerCase();
  }
}

function visible(fleet, openAlerts) {
  const q = view.q.trim().toLowerCase();
  const shown = fleet.filter((i) => (!view.status || i.status === view.status)
    && (!view.group || (i.group || '').toLowerCase() === view.group.toLowerCase())
    && (!q || i.name.toLowerCase().includes(q) || i.url.toLowerCase().includes(q)
      || (i.group || '').toLowerCase().includes(q)));
  shown.sort((a, b) => {
    const ka = sortKey(a, view.sort, openAlerts);
    const kb = sortKey(b, view.sort, openAlerts);
    const order = ka < kb ? -1 : ka > kb ? 1 : a.name.localeCompare(b.name);
    return view.desc ? -order : order;
  });
  return shown;
}

function groupNames(fleet) {
  return [...new Set(fleet.map((i) => i.group).filter(Boolean))].sort((a, b) => a.localeCompare(b));
}

/** Admins: the deleted instances still restorable, loaded when opened; `restored()` after one. */
function deletedInstances(restored) {
  const list = h('div', {}, h('p', { class: 'loading', text: 'Loading…' }));
  const load = () => getAll('/api/v1/instances?deleted=true&limit=200', 5).then((items) => {
    if (!items.length) {
      fill(list, h('p', { class: 'empty', text: 'No deleted instances.' }));
      return;
    }
    fill(list, h('ul', { id: 'deleted-instances', class: 'plain' }, items.map((i) => h('li', { 'data-instance-id': i.id },
      h('a', { href: `#/instances/${encodeURIComponent(i.id)}`, text: i.name }),
      h('span', { class: 'muted small', text: ` deleted ${relative(i.deleted_at)} ` }),
      h('button', {
        type: 'button', 'aria-label': `Restore ${i.name}`, text: 'Restore',
        onclick: (event) => busy(event.currentTarget, async () => {
          await post(`/api/v1/instances/${encodeURIComponent(i.id)}/restore`);
          notify(`${i.name} restored.`);
          load();
          restored();
        }),
      })))));
  }).catch((error) => {
    if (!error.sessionEnded) fill(list, failed({ message: `Could not load the deleted instances: ${error.message}` }, load));
  });
  const details = h('details', { class: 'deleted', 'data-role': 'admin' },
    h('summary', { text: 'Deleted instances (restorable for 30 days)' }), list);
  details.addEventListener('toggle', () => { if (details.open) load(); });
  return details;
}

/** Shows the fleet; returns what to do on leaving the page. */
export function showFleet() {
  let fleet = [];
  let openAlerts = new Map();
  // Rows built since the last refresh, by instance id: turning back to a page reuses them.
  let rows = new Map();
  let rendered = false;
  let timer = null;
  let gone = false;

  const counts = h('ul', { id: 'status-counts', class: 'counts', 'aria-label': 'Instances per status' });
  const updated = h('p', { class: 'muted small', 'aria-live': 'polite' });
  const problem = h('div');
  const groupSelect = h('select', { id: 'fleet-group' }, h('option', { value: '', text: 'All groups' }));
  const statusSelect = h('select', { id: 'fleet-status' }, h('option', { value: '', text: 'All statuses' }),
    STATUSES.map((st) => h('option', { value: st, text: statusLabel(st) })));
  const search = h('input', { id: 'fleet-search', type: 'search', placeholder: 'Name, address or group', value: view.q });
  const headRow = h('tr');
  const body = h('tbody');
  const empty = h('p', { class: 'empty', hidden: true });
  const previous = h('button', { type: 'button', id: 'fleet-previous', text: '‹ Previous' });
  const next = h('button', { type: 'button', id: 'fleet-next', text: 'Next ›' });
  const pageInfo = h('span', { id: 'fleet-page', 'aria-live': 'polite' });
  const perPage = h('select', { id: 'fleet-per-page' }, PAGE_SIZES.map((n) => h('option', { value: n, text: `${n} per page` })));
  perPage.value = String(view.perPage);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Fleet pages', hidden: true },
    previous, pageInfo, next, h('label', { for: 'fleet-per-page', class: 'sr-only', text: 'Instances per page' }), perPage);
  const table = h('table', { id: 'fleet', class: 'data' }, h('caption', { class: 'sr-only', text: 'Fleet' }), h('thead', {}, headRow), body);

  function drawHead() {
    fill(headRow, COLUMNS.map((col) => {
      const active = view.sort === col.key;
      return h('th', { scope: 'col', 'aria-sort': active ? (view.desc ? 'descending' : 'ascending') : null },
        h('button', {
          type: 'button', class: 'sort', 'data-sort': col.key,
          onclick: () => {
            if (view.sort === col.key) view.desc = !view.desc;
            else {
              view.sort = col.key;
              view.desc = col.key === 'alerts' || col.key === 'last_poll';
            }
            drawHead();
            redraw();
          },
        }, col.label, h('span', { class: 'arrow', 'aria-hidden': 'true', text: active ? (view.desc ? ' ▼' : ' ▲') : '' })));
    }));
  }

  function drawCounts() {
    const per = Object.fromEntries(STATUSES.map((st) => [st, 0]));
    for (const i of fleet) per[i.status] = (per[i.status] || 0) + 1;
    fill(counts, h('li', {}, h('button', {
      type: 'button', class: 'count', 'aria-pressed': String(view.status === ''),
      onclick: () => setStatus(''),
    }, h('span', { class: 'num', 'data-total': '', text: String(fleet.length) }), h('span', { class: 'label', text: 'All' }))),
    STATUSES.map((st) => h('li', {}, h('button', {
      type: 'button', class: `count status-${st}`, 'aria-pressed': String(view.status === st),
      onclick: () => setStatus(view.status === st ? '' : st),
    }, h('span', { class: 'num', 'data-status': st, text: String(per[st]) }), h('span', { class: 'label', text: statusLabel(st) })))));
  }

  function drawGroups() {
    const groups = groupNames(fleet);
    fill(groupSelect, h('option', { value: '', text: 'All groups' }), groups.map((g) => h('option', { value: g, text: g })));
    if (view.group && !groups.some((g) => g.toLowerCase() === view.group.toLowerCase())) view.group = '';
    groupSelect.value = view.group;
  }

  function drawRows() {
    const shown = visible(fleet, openAlerts);
    const pages = Math.max(1, Math.ceil(shown.length / view.perPage));
    view.page = Math.min(view.page, pages - 1);
    const first = view.page * view.perPage;
    const slice = shown.slice(first, first + view.perPage);
    fill(body, slice.map((i) => {
      if (!rows.has(i.id)) rows.set(i.id, row(i, openAlerts));
      return rows.get(i.id);
    }));
    empty.hidden = shown.length > 0;
    empty.textContent = fleet.length ? 'No instance matches these filters.'
      : `No instances yet.${can('admin') ? ' Add the first with "Add instance".' : ' An admin adds them.'}`;
    pager.hidden = shown.length <= PAGE_SIZES[0];
    pageInfo.textContent = shown.length
      ? `${first + 1}–${first + slice.length} of ${shown.length}${shown.length < fleet.length ? ` (${fleet.length} in all)` : ''}`
      : '';
    previous.disabled = view.page === 0;
    next.disabled = view.page >= pages - 1;
  }

  /** Back to the first page, then the rows again: after any change of what is shown. */
  function redraw() {
    view.page = 0;
    drawRows();
  }

  function setStatus(st) {
    view.status = st;
    statusSelect.value = st;
    drawCounts();
    redraw();
  }

  async function load() {
    clearTimeout(timer);
    try {
      const [instances, alerts] = await Promise.all([
        getAll('/api/v1/instances?limit=200'),
        getAll('/api/v1/alerts?status=open&limit=200', 10),
        getAll('/api/v1/alerts?status=acknowledged&limit=200', 10),
      ]).then(([i, open, acked]) => [i, [...open, ...acked]]);
      if (gone) return;
      fleet = instances;
      openAlerts = new Map();
      for (const a of alerts) openAlerts.set(a.instance_id, (openAlerts.get(a.instance_id) || 0) + 1);
      rows = new Map();
      fill(problem);
      drawCounts();
      drawGroups();
      drawRows();
      if (!rendered) {
        rendered = true;
        performance.mark('sikurd:fleet-rendered', { detail: { rows: body.children.length, instances: fleet.length } });
      }
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every 30 s`;
    } catch (error) {
      if (gone || error.sessionEnded) return;
      fill(problem, failed({ message: `Could not refresh the fleet: ${error.message}` }, load));
    }
    if (!gone) timer = setTimeout(load, REFRESH_MS);
  }

  statusSelect.value = view.status;
  statusSelect.addEventListener('change', () => setStatus(statusSelect.value));
  groupSelect.addEventListener('change', () => {
    view.group = groupSelect.value;
    redraw();
  });
  search.addEventListener('input', () => {
    view.q = search.value;
    redraw();
  });
  perPage.addEventListener('change', () => {
    view.perPage = Number(perPage.value);
    redraw();
  });
  const turn = (by) => {
    view.page += by;
    drawRows();
    table.scrollIntoView({ block: 'start' });
  };
  previous.addEventListener('click', () => turn(-1));
  next.addEventListener('click', () => turn(1));

  page(
    h('div', { class: 'page-head' },
      h('h1', { text: 'Fleet' }),
      h('div', { class: 'tools' },
        h('a', { id: 'export-instances', class: 'button', href: '/api/v1/export/instances.csv', download: true, text: 'Download CSV' }),
        h('button', {
          type: 'button', id: 'add-instance', class: 'primary', 'data-role': 'admin', hidden: !can('admin'), text: 'Add instance',
          onclick: () => addInstance(groupNames(fleet), (created) => { location.hash = `#/instances/${encodeURIComponent(created.id)}`; }),
        }))),
    counts,
    problem,
    h('div', { class: 'filters', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: 'fleet-search', text: 'Search' }), search),
      h('div', { class: 'field' }, h('label', { for: 'fleet-group', text: 'Group' }), groupSelect),
      h('div', { class: 'field' }, h('label', { for: 'fleet-status', text: 'Status' }), statusSelect)),
    h('div', { class: 'table-wrap' }, table),
    pager,
    empty,
    updated,
    can('admin') ? deletedInstances(load) : null,
  );
  drawHead();
  drawCounts();
  fill(body, h('tr', {}, h('td', { colspan: COLUMNS.length, class: 'loading', text: 'Loading the fleet…' })));
  load();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}
