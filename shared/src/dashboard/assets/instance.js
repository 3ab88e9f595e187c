// One instance: what it is, its licence, its charts, backups and alerts; poll now, edit, delete, restore.

import { can, del, get, post, query } from './api.js?v=@VERSION@';
import { backupChart, lineChart } from './charts.js?v=@VERSION@';
import { busy, failed, fill, h, notify, openDialog, page } from './dom.js?v=@VERSION@';
import { editInstance } from './instance-form.js?v=@VERSION@';
import { bytes, dateTime, relative, statusLabel, words } from './format.js?v=@VERSION@';
import { alertHead, alertRows, instanceAlerts } from './alerts.js?v=@VERSION@';
import { statusBadge } from './fleet.js?v=@VERSION@';

const RANGES = [
  { key: '24h', label: '24 h', ms: 24 * 3600 * 1000 },
  { key: '7d', label: '7 d', ms: 7 * 24 * 3600 * 1000 },
  { key: '90d', label: '90 d', ms: 90 * 24 * 3600 * 1000 },
];
let range = '24h';

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).flatMap(([term, value]) => [
    h('dt', { text: term }), h('dd', {}, value === null || value === undefined || value === '' ? '—' : value),
  ]));
}

/** `expires in 23 d (12 Dec 2026)`, warning when close. */
function countdown(iso) {
  if (!iso) return null;
  const days = (new Date(iso).getTime() - Date.now()) / 86_400_000;
  const cls = days < 0 ? 'expired' : days < 30 ? 'expiring' : 'valid';
  const text = days < 0 ? `expired ${relative(iso)}` : `expires ${relative(iso)}`;
  return h('span', { class: `countdown ${cls}` }, text, h('span', { class: 'muted', text: ` (${dateTime(iso)})` }));
}

function charts(instance, holder) {
  const chosen = RANGES.find((r) => r.key === range) || RANGES[0];
  const to = new Date();
  const from = new Date(to.getTime() - chosen.ms);
  fill(holder, h('p', { class: 'loading', text: 'Loading charts…' }));
  const path = `/api/v1/instances/${encodeURIComponent(instance.id)}/metrics${query({ from: from.toISOString(), to: to.toISOString() })}`;
  return get(path).then((series) => {
    const f = new Date(series.from).getTime();
    const t = new Date(series.to).getTime();
    const pts = (pick) => series.points.map((p) => ({ t: new Date(p.at).getTime(), v: pick(p) }));
    const licensed = series.points.map((p) => p.max_sim_calls).filter((v) => v !== null && v !== undefined).at(-1)
      ?? (instance.licence ? instance.licence.max_sim_calls : null);
    const extTotal = series.points.map((p) => p.extensions_total).filter((v) => v !== null && v !== undefined).at(-1);
    const trunkTotal = series.points.map((p) => p.trunks_total).filter((v) => v !== null && v !== undefined).at(-1);
    const figure = (title, svg) => h('figure', { class: 'chart-box' }, h('figcaption', { text: title }), svg);
    fill(holder,
      figure('Calls active', lineChart({
        metric: 'calls_active', title: 'Calls active', from: f, to: t,
        series: [{ name: 'Average', cls: 'main', points: pts((p) => p.calls_active_avg) },
          { name: 'Highest', cls: 'second', points: pts((p) => p.calls_active_max) }],
        limit: licensed !== null && licensed !== undefined ? { v: licensed, name: `licensed ${licensed}` } : null,
      })),
      figure('Extensions registered', lineChart({
        metric: 'extensions_registered', title: 'Extensions registered', from: f, to: t,
        series: [{ name: 'Average', cls: 'main', points: pts((p) => p.extensions_registered_avg) },
          { name: 'Lowest', cls: 'second', points: pts((p) => p.extensions_registered_min) }],
        limit: extTotal !== undefined ? { v: extTotal, name: `total ${extTotal}` } : null,
      })),
      figure('Trunks registered', lineChart({
        metric: 'trunks_registered', title: 'Trunks registered', from: f, to: t,
        series: [{ name: 'Average', cls: 'main', points: pts((p) => p.trunks_registered_avg) },
          { name: 'Lowest', cls: 'second', points: pts((p) => p.trunks_registered_min) }],
        limit: trunkTotal !== undefined ? { v: trunkTotal, name: `total ${trunkTotal}` } : null,
      })),
      figure('Disk use', lineChart({
        metric: 'disk_usage_percent', title: 'Disk use', unit: '%', from: f, to: t, ceiling: 100,
        series: [{ name: 'Highest', cls: 'main', points: pts((p) => p.disk_usage_percent_max) }],
      })));
  }).catch((error) => {
    if (!error.sessionEnded) fill(holder, failed({ message: `Could not load the charts: ${error.message}` }, () => charts(instance, holder)));
  });
}

const BACKUP_CHART_MS = 90 * 24 * 3600 * 1000;

function backups(instance, holder) {
  get(`/api/v1/instances/${encodeURIComponent(instance.id)}/backups?limit=200`).then((data) => {
    if (!data.items.length) {
      fill(holder, h('p', { class: 'empty', text: 'No backups recorded yet.' }));
      return;
    }
    const to = Date.now();
    const from = to - BACKUP_CHART_MS;
    const recent = data.items.map((b) => ({ t: new Date(b.at).getTime(), size: b.size_bytes, ok: b.result === 'succeeded' }))
      .filter((b) => b.t >= from);
    fill(holder, h('figure', { class: 'chart-box' }, h('figcaption', { text: 'Backups over 90 days (size; failed ones in red at the bottom)' }),
      backupChart({ from, to, backups: recent, sizeLabel: bytes })),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'backups' },
      h('caption', { class: 'sr-only', text: 'The latest backups' }),
      h('thead', {}, h('tr', {}, ['When', 'Result', 'Size', 'Reason'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, data.items.slice(0, 20).map((b) => h('tr', {},
        h('td', { title: dateTime(b.at), text: `${dateTime(b.at)} (${relative(b.at)})` }),
        h('td', {}, h('span', { class: `badge backup-${b.result}`, text: words(b.result) })),
        h('td', { class: 'num', text: bytes(b.size_bytes) }),
        h('td', { text: b.reason || '' })))))));
  }).catch((error) => {
    if (!error.sessionEnded) fill(holder, failed({ message: `Could not load backups: ${error.message}` }, () => backups(instance, holder)));
  });
}

function alerts(instance, holder) {
  instanceAlerts(instance.id).then((items) => {
    if (!items.length) {
      fill(holder, h('p', { class: 'empty', text: 'No alerts for this instance.' }));
      return;
    }
    fill(holder, h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'instance-alerts' },
      alertHead(false), h('tbody', {}, alertRows(items, () => alerts(instance, holder), { showInstance: false })))));
  }).catch((error) => {
    if (!error.sessionEnded) fill(holder, failed({ message: `Could not load alerts: ${error.message}` }, () => alerts(instance, holder)));
  });
}

function render(instance, reload) {
  const snap = instance.last_snapshot || {};
  const lic = instance.licence || {};
  const chartHolder = h('div', { class: 'charts' });
  const backupHolder = h('div', {}, h('p', { class: 'loading', text: 'Loading backups…' }));
  const alertHolder = h('div', {}, h('p', { class: 'loading', text: 'Loading alerts…' }));
  const pollResult = h('p', { class: 'small', role: 'status', 'aria-live': 'polite' });

  const pollButton = h('button', { type: 'button', id: 'poll-now', class: 'primary', 'data-role': 'technician', hidden: !can('technician') || !!instance.deleted_at, text: 'Poll now' });
  pollButton.addEventListener('click', () => busy(pollButton, async () => {
    pollResult.textContent = 'Polling…';
    const result = await post(`/api/v1/instances/${encodeURIComponent(instance.id)}/poll`);
    const text = `Polled: ${statusLabel(result.status)}${result.reason ? ` — ${result.reason}` : ''}.`;
    notify(text, result.status === 'ok' ? 'ok' : 'warn');
    reload();
  }).finally(() => { if (pollResult.textContent === 'Polling…') pollResult.textContent = ''; }));

  const editButton = h('button', { type: 'button', id: 'edit-instance', 'data-role': 'admin', hidden: !can('admin') || !!instance.deleted_at, text: 'Edit' });
  editButton.addEventListener('click', () => editInstance(instance, reload));

  const deleteButton = h('button', { type: 'button', id: 'delete-instance', class: 'danger', 'data-role': 'admin', hidden: !can('admin') || !!instance.deleted_at, text: 'Delete' });
  deleteButton.addEventListener('click', () => openDialog({
    id: 'delete-dialog',
    title: `Delete ${instance.name}?`,
    intro: 'It stops being polled at once and leaves the fleet. An admin can restore it for 30 days; after that it is purged with its credentials, metrics and backup history. Its alerts and the audit log are kept.',
    confirm: 'Delete instance',
    danger: true,
    action: async () => {
      await del(`/api/v1/instances/${encodeURIComponent(instance.id)}`);
      notify(`${instance.name} deleted. It can be restored for 30 days.`);
      reload();
    },
  }));
  const restoreButton = h('button', { type: 'button', id: 'restore-instance', 'data-role': 'admin', hidden: !can('admin') || !instance.deleted_at, text: 'Restore' });
  restoreButton.addEventListener('click', () => busy(restoreButton, async () => {
    await post(`/api/v1/instances/${encodeURIComponent(instance.id)}/restore`);
    notify(`${instance.name} restored.`);
    reload();
  }));

  const rangeButtons = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Chart period' },
    RANGES.map((r) => h('button', {
      type: 'button', 'data-range': r.key, 'aria-pressed': String(r.key === range), text: r.label,
      onclick: (event) => {
        range = r.key;
        for (const b of event.currentTarget.parentElement.children) b.setAttribute('aria-pressed', String(b.dataset.range === range));
        charts(instance, chartHolder);
      },
    })));

  page(h('section', { id: 'instance', 'data-instance-id': instance.id },
    h('p', { class: 'crumbs' }, h('a', { href: '#/fleet', text: 'Fleet' }), ' › ', instance.name),
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { text: instance.name }), statusBadge(instance.status),
        instance.status_reason ? h('span', { class: 'reason', text: ` ${instance.status_reason}` }) : null,
        instance.deleted_at ? h('p', { class: 'warn-box', text: `Deleted ${relative(instance.deleted_at)}; restorable for 30 days after.` }) : null),
      h('div', { class: 'tools' }, pollButton, editButton, restoreButton, deleteButton)),
    pollResult,
    h('div', { class: 'panels' },
      h('section', { class: 'card' }, h('h2', { text: 'Instance' }), dl([
        ['Address', h('a', { href: instance.url, rel: 'noopener noreferrer', target: '_blank', text: instance.url })],
        ['Group', instance.group],
        ['Version', instance.version],
        ['Credentials', instance.credentials_set ? words(instance.credential_kind || 'set') : 'not set'],
        ['Last poll', snap.at ? `${relative(snap.at)} (${dateTime(snap.at)}), ${snap.latency_ms} ms` : 'never'],
        ['Calls active', snap.calls_active !== undefined && snap.calls_active !== null ? `${snap.calls_active} of ${lic.max_sim_calls ?? snap.max_sim_calls ?? '?'}` : null],
        ['Extensions registered', snap.extensions_registered !== undefined && snap.extensions_registered !== null ? `${snap.extensions_registered} of ${snap.extensions_total ?? '?'}` : null],
        ['Disk use', snap.disk_usage_percent !== undefined && snap.disk_usage_percent !== null ? `${snap.disk_usage_percent}%` : null],
        snap.services_not_running && snap.services_not_running.length ? ['Services stopped', snap.services_not_running.join(', ')] : null,
        ['Added', dateTime(instance.created_at)],
      ])),
      h('section', { class: 'card' }, h('h2', { text: 'Licence' }), dl([
        ['Product', lic.product_code],
        ['Active', lic.active === undefined || lic.active === null ? null : (lic.active ? 'Yes' : 'No')],
        ['Licence', countdown(lic.expires_at)],
        ['Maintenance', countdown(lic.maintenance_expires_at)],
        ['Simultaneous calls', lic.max_sim_calls],
      ])),
      h('section', { class: 'card' }, h('h2', { text: 'Trunks' }), instance.trunks.length
        ? h('ul', { class: 'trunks' }, instance.trunks.map((t) => h('li', {},
          h('span', { class: `badge ${t.online ? 'status-ok' : 'status-unreachable'}`, text: t.online ? 'Online' : 'Offline' }), ` ${t.name}`)))
        : h('p', { class: 'muted', text: 'No trunks reported.' }))),
    h('section', {}, h('div', { class: 'page-head' }, h('h2', { text: 'Metrics' }), rangeButtons), chartHolder),
    h('section', {}, h('h2', { text: 'Alerts' }), alertHolder),
    h('section', {}, h('h2', { text: 'Backups' }), backupHolder)));
  charts(instance, chartHolder);
  alerts(instance, alertHolder);
  backups(instance, backupHolder);
}

/** Shows one instance; returns what to do on leaving the page. */
export function showInstance(id) {
  let gone = false;
  const load = () => get(`/api/v1/instances/${encodeURIComponent(id)}`).then((instance) => {
    if (!gone) render(instance, load);
  }).catch((error) => {
    if (gone || error.sessionEnded) return;
    page(h('section', { id: 'instance' },
      h('p', { class: 'crumbs' }, h('a', { href: '#/fleet', text: 'Fleet' })),
      failed({ message: error.status === 404 ? 'This instance does not exist (or was purged).' : `Could not load the instance: ${error.message}` },
        error.status === 404 ? null : load)));
  });
  page(h('section', { id: 'instance' }, h('p', { class: 'loading', text: 'Loading…' })));
  load();
  return () => {
    gone = true;
  };
}
