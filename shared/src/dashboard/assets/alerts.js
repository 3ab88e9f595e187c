// Alerts: open, acknowledged and resolved; acknowledge and resolve with a reason.

import { can, getAll, get, post, query } from './api.js?v=@VERSION@';
import { failed, fill, h, notify, page } from './dom.js?v=@VERSION@';
import { dateTime, duration, relative, words } from './format.js?v=@VERSION@';

const KINDS = [
  'instance_unreachable', 'login_failing', 'trunk_down', 'services_not_running', 'backup_failed', 'backup_stale',
  'disk_high', 'license_expiring', 'maintenance_expiring', 'calls_near_limit', 'no_data',
];

/**
 * Opens the reason dialog; `action(reason)` runs on confirm, the dialog showing progress and
 * keeping any error until it succeeds or is cancelled.
 */
export function withReason({ title, help, required, confirm, action }) {
  const dialog = document.getElementById('reason-dialog');
  const form = document.getElementById('reason-form');
  const text = document.getElementById('reason');
  const error = document.getElementById('reason-error');
  const submit = document.getElementById('reason-submit');
  const cancel = document.getElementById('reason-cancel');
  document.getElementById('reason-title').textContent = title;
  document.getElementById('reason-help').textContent = help;
  submit.textContent = confirm;
  text.value = '';
  text.required = required;
  error.textContent = '';

  const close = () => {
    form.removeEventListener('submit', onSubmit);
    cancel.removeEventListener('click', onCancel);
    dialog.removeEventListener('close', onClose);
    if (dialog.open) dialog.close();
  };
  const onCancel = () => close();
  const onClose = () => close();
  const onSubmit = async (event) => {
    event.preventDefault();
    const reason = text.value.trim();
    if (required && !reason) {
      error.textContent = 'Give a reason (up to 500 characters).';
      text.focus();
      return;
    }
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    submit.textContent = `${confirm}…`;
    error.textContent = '';
    try {
      await action(reason);
      close();
    } catch (failure) {
      if (failure.sessionEnded) close();
      else error.textContent = failure.message;
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
      submit.textContent = confirm;
    }
  };
  form.addEventListener('submit', onSubmit);
  cancel.addEventListener('click', onCancel);
  dialog.addEventListener('close', onClose);
  dialog.showModal();
  text.focus();
}

function acknowledge(alert, done) {
  withReason({
    title: `Acknowledge: ${words(alert.kind)} on ${alert.instance_name}`,
    help: 'Optional: what is being done. Reminders and escalations stop.',
    required: false,
    confirm: 'Acknowledge',
    action: async (reason) => {
      await post(`/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`, reason ? { reason } : {});
      notify('Alert acknowledged.');
      done();
    },
  });
}

function resolve(alert, done) {
  withReason({
    title: `Resolve: ${words(alert.kind)} on ${alert.instance_name}`,
    help: 'Required: why it is resolved. If the condition still holds, the next poll opens a new alert.',
    required: true,
    confirm: 'Resolve',
    action: async (reason) => {
      await post(`/api/v1/alerts/${encodeURIComponent(alert.id)}/resolve`, { reason });
      notify('Alert resolved.');
      done();
    },
  });
}

function actLine(label, act) {
  if (!act) return null;
  const who = act.by && act.by.kind === 'system' ? 'Sikurd' : (act.by && (act.by.email || act.by.name)) || 'someone';
  return h('div', { class: 'small muted' }, `${label} ${relative(act.at)} by ${who}`, act.reason ? `: “${act.reason}”` : '');
}

/** Rows of alerts with their actions (for technicians and above); `reload` after a change. */
export function alertRows(alerts, reload, { showInstance = true } = {}) {
  return alerts.map((alert) => h('tr', { 'data-alert-id': alert.id, 'data-status': alert.status },
    h('td', {}, h('span', { class: `badge severity-${alert.severity}`, text: words(alert.severity) })),
    showInstance ? h('td', {}, h('a', { href: `#/instances/${encodeURIComponent(alert.instance_id)}`, text: alert.instance_name }),
      alert.group ? h('div', { class: 'small muted', text: alert.group }) : null) : null,
    h('td', {}, h('strong', { text: words(alert.kind) }), alert.subject ? ` · ${alert.subject}` : '',
      h('div', { class: 'small', text: alert.detail }),
      alert.flapping ? h('span', { class: 'tag', text: 'Flapping' }) : null,
      alert.silenced_until ? h('span', { class: 'tag', text: `Silenced until ${dateTime(alert.silenced_until)}` }) : null),
    h('td', {}, h('span', { class: `badge alert-${alert.status}`, text: words(alert.status) }),
      actLine('Acknowledged', alert.acknowledged), actLine('Resolved', alert.resolved)),
    h('td', { title: dateTime(alert.opened_at), text: relative(alert.opened_at) }),
    h('td', { class: 'num', text: duration(alert.duration_seconds) }),
    h('td', { class: 'row-actions' },
      alert.status === 'open' ? h('button', {
        type: 'button', 'data-action': 'ack', 'data-role': 'technician', hidden: !can('technician'),
        'aria-label': `Acknowledge ${words(alert.kind)} on ${alert.instance_name}`,
        onclick: () => acknowledge(alert, reload), text: 'Acknowledge',
      }) : null,
      alert.status !== 'resolved' ? h('button', {
        type: 'button', 'data-action': 'resolve', 'data-role': 'technician', hidden: !can('technician'),
        'aria-label': `Resolve ${words(alert.kind)} on ${alert.instance_name}`,
        onclick: () => resolve(alert, reload), text: 'Resolve',
      }) : null)));
}

export function alertHead(showInstance = true) {
  return h('thead', {}, h('tr', {},
    ['Severity', showInstance ? 'Instance' : null, 'Alert', 'Status', 'Opened', 'Duration', 'Actions']
      .filter(Boolean).map((label) => h('th', { scope: 'col', text: label }))));
}

/** The alerts page; `params`: `status`, `kind`, `instance` from the address. */
export function showAlerts(params) {
  const filter = {
    status: params.has('status') ? params.get('status') : 'open',
    kind: params.get('kind') || '',
    instance: params.get('instance') || '',
  };
  let cursor = null;
  let gone = false;
  const body = h('tbody');
  const more = h('button', { type: 'button', id: 'alerts-more', hidden: true, text: 'Show more' });
  const problem = h('div');
  const empty = h('p', { class: 'empty', hidden: true, text: 'No alerts match these filters.' });
  const exportLink = h('a', { id: 'export-alerts', class: 'button', download: true, text: 'Download CSV' });
  const statusSelect = h('select', { id: 'alerts-status' },
    [['open', 'Open'], ['acknowledged', 'Acknowledged'], ['resolved', 'Resolved'], ['', 'All']]
      .map(([value, text]) => h('option', { value, text })));
  const kindSelect = h('select', { id: 'alerts-kind' }, h('option', { value: '', text: 'All kinds' }),
    KINDS.map((k) => h('option', { value: k, text: words(k) })));
  statusSelect.value = filter.status;
  kindSelect.value = filter.kind;

  function address() {
    return `#/alerts${query({ status: filter.status || 'all', kind: filter.kind, instance: filter.instance })}`;
  }

  function setFilter() {
    filter.status = statusSelect.value;
    filter.kind = kindSelect.value;
    history.replaceState(null, '', address());
    load(false);
  }

  async function load(append) {
    const q = { status: filter.status, kind: filter.kind, instance: filter.instance };
    exportLink.setAttribute('href', `/api/v1/export/alerts.csv${query(q)}`);
    if (!append) {
      cursor = null;
      fill(body, h('tr', {}, h('td', { colspan: 7, class: 'loading', text: 'Loading alerts…' })));
    }
    more.disabled = true;
    try {
      const data = await get(`/api/v1/alerts${query({ ...q, limit: 50, cursor: append ? cursor : null })}`);
      if (gone) return;
      fill(problem);
      if (!append) fill(body);
      body.append(...alertRows(data.items, () => load(false)));
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
      empty.hidden = body.children.length > 0;
    } catch (error) {
      if (gone || error.sessionEnded) return;
      if (!append) fill(body);
      fill(problem, failed({ message: `Could not load alerts: ${error.message}` }, () => load(append)));
    } finally {
      more.disabled = false;
    }
  }

  if (filter.status === 'all') filter.status = '';
  statusSelect.value = filter.status;
  statusSelect.addEventListener('change', setFilter);
  kindSelect.addEventListener('change', setFilter);
  more.addEventListener('click', () => load(true));

  page(
    h('section', { id: 'alerts-page' },
      h('div', { class: 'page-head' }, h('h1', { text: 'Alerts' }), h('div', { class: 'tools' }, exportLink)),
      h('div', { class: 'filters' },
        h('div', { class: 'field' }, h('label', { for: 'alerts-status', text: 'Status' }), statusSelect),
        h('div', { class: 'field' }, h('label', { for: 'alerts-kind', text: 'Kind' }), kindSelect),
        filter.instance ? h('p', { class: 'small' }, 'One instance only. ',
          h('a', { href: '#/alerts', text: 'Show every instance' })) : null),
      problem,
      h('div', { class: 'table-wrap' }, h('table', { id: 'alerts', class: 'data' },
        h('caption', { class: 'sr-only', text: 'Alerts' }), alertHead(true), body)),
      empty,
      more));
  load(false);
  return () => {
    gone = true;
  };
}

/** Every alert of one instance that is not resolved, then the latest resolved ones. */
export async function instanceAlerts(instanceId) {
  const id = encodeURIComponent(instanceId);
  const [active, acked, resolved] = await Promise.all([
    getAll(`/api/v1/alerts?status=open&instance=${id}&limit=200`, 5),
    getAll(`/api/v1/alerts?status=acknowledged&instance=${id}&limit=200`, 5),
    get(`/api/v1/alerts?status=resolved&instance=${id}&limit=10`),
  ]);
  return [...active, ...acked, ...resolved.items];
}
