// Monthly availability reports: per group and per instance, and their CSV.

import { get, query } from './api.js?v=@VERSION@';
import { failed, field, fill, h, page } from './dom.js?v=@VERSION@';
import { dateTime, duration, words } from './format.js?v=@VERSION@';

function thisMonth() {
  return new Date().toISOString().slice(0, 7);
}

function pct(value) {
  return value === null || value === undefined ? '—' : `${value.toFixed(1)}%`;
}

function minutes(n) {
  return n ? duration(n * 60) : '—';
}

/** Uptime below 99.9% is worth a look; below 99% is bad. */
function uptimeCell(value) {
  const cls = value === null || value === undefined ? '' : value < 99 ? 'bad' : value < 99.9 ? 'warn' : 'good';
  return h('td', { class: `num uptime ${cls}`, text: pct(value) });
}

const GROUP_COLUMNS = ['Group', 'Instances', 'Uptime', 'Incidents', 'Incident time', 'Longest', 'Backups (ok / failed)', 'Backup compliance', 'Highest licence use'];
const INSTANCE_COLUMNS = ['Instance', 'Group', 'Days with data', 'Uptime', 'Incidents', 'Incident time', 'Longest', 'Backups (ok / failed)', 'Backup compliance', 'Peak calls'];

function head(columns) {
  return h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', text: c }))));
}

function groupRow(g) {
  return h('tr', { 'data-group': g.group || '' },
    h('th', { scope: 'row', text: g.group || 'No group' }),
    h('td', { class: 'num', text: String(g.instances) }),
    uptimeCell(g.uptime_percent),
    h('td', { class: 'num', text: String(g.incidents) }),
    h('td', { class: 'num', text: minutes(g.incident_minutes) }),
    h('td', { class: 'num', text: minutes(g.longest_incident_minutes) }),
    h('td', { class: 'num', text: `${g.backups_succeeded} / ${g.backups_failed}` }),
    h('td', { class: 'num', text: pct(g.backup_compliance_percent) }),
    h('td', { class: 'num', text: pct(g.peak_calls_percent) }));
}

function instanceRow(i) {
  const kinds = i.incidents_by_kind.map((k) => `${words(k.kind)} ×${k.count}`).join(', ');
  return h('tr', { 'data-instance-id': i.instance_id },
    h('th', { scope: 'row' }, h('a', { href: `#/instances/${encodeURIComponent(i.instance_id)}`, text: i.name })),
    h('td', { text: i.group || '—' }),
    h('td', { class: 'num', text: String(i.days_with_data) }),
    uptimeCell(i.uptime_percent),
    h('td', { class: 'num', title: kinds || null, text: String(i.incidents) }),
    h('td', { class: 'num', text: minutes(i.incident_minutes) }),
    h('td', { class: 'num', text: minutes(i.longest_incident_minutes) }),
    h('td', { class: 'num', text: `${i.backups_succeeded} / ${i.backups_failed}` }),
    h('td', { class: 'num', text: pct(i.backup_compliance_percent) }),
    h('td', { class: 'num', text: i.peak_calls === null || i.peak_calls === undefined ? '—'
      : `${i.peak_calls}${i.licensed_calls ? ` of ${i.licensed_calls} (${pct(i.peak_calls_percent)})` : ''}` }));
}

/** The reports page; `params`: `month` (`YYYY-MM`) from the address. Returns what to do on leaving. */
export function showReports(params) {
  let gone = false;
  const month = h('input', { id: 'report-month', type: 'month', max: thisMonth(), value: params.get('month') || thisMonth(), required: true });
  const exportLink = h('a', { id: 'export-reports', class: 'button', download: true, text: 'Download CSV' });
  const body = h('div', {}, h('p', { class: 'loading', text: 'Loading the report…' }));

  async function load() {
    const chosen = month.value || thisMonth();
    exportLink.setAttribute('href', `/api/v1/export/reports.csv${query({ month: chosen })}`);
    fill(body, h('p', { class: 'loading', text: 'Loading the report…' }));
    try {
      const report = await get(`/api/v1/reports/availability${query({ month: chosen })}`);
      if (gone) return;
      const covered = new Date(report.complete_until) > new Date(report.from);
      fill(body,
        h('p', { class: 'muted small', id: 'report-period' },
          covered ? `Uptime, peaks and backups: complete days from ${dateTime(report.from)} to ${dateTime(report.complete_until)} (UTC days). `
            : 'No complete day of this month yet: uptime, peaks and backups start tomorrow. ',
          'Incidents: alerts opened in the month outside maintenance. ',
          `Metrics are kept 90 days: days before ${dateTime(report.metrics_since)} have no uptime.`),
        h('h2', { text: 'Per group' }),
        report.groups.length
          ? h('div', { class: 'table-wrap' }, h('table', { id: 'report-groups', class: 'data' }, head(GROUP_COLUMNS), h('tbody', {}, report.groups.map(groupRow))))
          : h('p', { class: 'empty', text: 'No instances in this month.' }),
        h('h2', { text: 'Per instance' }),
        report.instances.length
          ? h('div', { class: 'table-wrap' }, h('table', { id: 'report-instances', class: 'data' }, head(INSTANCE_COLUMNS), h('tbody', {}, report.instances.map(instanceRow))))
          : h('p', { class: 'empty', text: 'No instances in this month.' }));
    } catch (error) {
      if (gone || error.sessionEnded) return;
      fill(body, failed({ message: `Could not load the report: ${error.message}` }, load));
    }
  }

  month.addEventListener('change', () => {
    if (!month.value) return;
    history.replaceState(null, '', `#/reports${query({ month: month.value })}`);
    load();
  });

  page(h('section', { id: 'reports-page' },
    h('div', { class: 'page-head' }, h('h1', { text: 'Availability reports' }), h('div', { class: 'tools' }, exportLink)),
    h('div', { class: 'filters' }, field('Month', month)),
    body));
  load();
  return () => {
    gone = true;
  };
}
