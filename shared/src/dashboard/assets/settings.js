// Alert settings: notification channels, the routes that send alerts to them, maintenance windows.

import { can, del, get, getAll, post, request } from './api.js?v=@VERSION@';
import { busy, failed, field, fill, h, notify, openDialog, page } from './dom.js?v=@VERSION@';
import { dateTime, duration, relative, words } from './format.js?v=@VERSION@';

const FORMATS = [['generic', 'Generic (Sikurd JSON)'], ['slack', 'Slack'], ['teams', 'Microsoft Teams']];
const SEVERITIES = [['info', 'Info and above (everything)'], ['warning', 'Warning and above'], ['critical', 'Critical only']];
const DAYS = [['mon', 'Mon'], ['tue', 'Tue'], ['wed', 'Wed'], ['thu', 'Thu'], ['fri', 'Fri'], ['sat', 'Sat'], ['sun', 'Sun']];

// Shared pieces.

/** `1 route`, `3 routes`. */
function count(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function option(value, text) {
  return h('option', { value, text });
}

/** An error the dialog shows as is, after focusing what needs fixing. */
function refuse(message, focus = null) {
  if (focus) focus.focus();
  return new Error(message);
}

/** Shows or hides a part of a form; hidden controls are disabled so nothing checks or sends them. */
function shown(section, on) {
  section.hidden = !on;
  for (const control of section.querySelectorAll('input, select, textarea')) control.disabled = !on;
}

/** A fieldset of checkboxes, one per `[value, label]`; `chosen()` lists the values ticked. */
function checkGroup(id, legend, help, options, ticked = [], extraClass = '') {
  const boxes = options.map(([value]) => h('input', { type: 'checkbox', id: `${id}-${value}`, value, checked: ticked.includes(value) }));
  return {
    el: h('fieldset', { id, class: `checks ${extraClass}`.trim(), 'aria-describedby': help ? `${id}-help` : null },
      h('legend', { text: legend }),
      help ? h('p', { id: `${id}-help`, class: 'small muted', text: help }) : null,
      h('div', { class: 'options' }, boxes.map((box, i) => h('label', { class: 'check', for: box.id }, box, ` ${options[i][1]}`)))),
    chosen: () => boxes.filter((box) => box.checked).map((box) => box.value),
    focus: () => boxes.length && boxes[0].focus(),
  };
}

/** A checkbox with its label after it. */
function checkbox(id, label, checked) {
  const box = h('input', { type: 'checkbox', id, checked });
  return { box, el: h('div', { class: 'field' }, h('label', { class: 'check', for: id }, box, ` ${label}`)) };
}

/** A whole number typed in `input`, or null when it is empty. */
function number(input) {
  return input.value.trim() === '' ? null : Number(input.value);
}

function rowButton(action, text, label, role, onclick) {
  return h('button', { type: 'button', 'data-action': action, 'data-role': role, hidden: !can(role), 'aria-label': label, text, onclick });
}

/** Asks before deleting; `action()` deletes, the dialog showing progress and any error. */
function confirmDelete(id, title, intro, action) {
  openDialog({ id, title, intro, confirm: 'Delete', danger: true, action });
}

/**
 * A page of one table: heading and tools, a loading row, an error with a retry, an empty text.
 * `load()` resolves with the data, `rows(data)` makes the rows. Returns `{ leave, reload }`.
 */
function tablePage({ section, title, intro, tools, table, columns, what, empty, hint = null, load, rows }) {
  let gone = false;
  let latest = 0;
  const body = h('tbody');
  const problem = h('div');
  const none = h('p', { class: 'empty', hidden: true, text: empty });
  async function reload() {
    const mine = ++latest;
    none.hidden = true;
    fill(body, h('tr', {}, h('td', { colspan: columns.length, class: 'loading', text: `Loading ${what}…` })));
    try {
      const data = await load();
      if (gone || mine !== latest) return;
      fill(problem);
      fill(body, rows(data));
      none.hidden = body.children.length > 0;
    } catch (error) {
      if (gone || mine !== latest || error.sessionEnded) return;
      fill(body);
      fill(problem, failed({ message: `Could not load ${what}: ${error.message}` }, reload));
    }
  }
  page(h('section', { id: section },
    h('div', { class: 'page-head' }, h('h1', { text: title }), h('div', { class: 'tools' }, tools)),
    h('p', { class: 'muted', text: intro }),
    hint,
    problem,
    h('div', { class: 'table-wrap' }, h('table', { id: table, class: 'data' },
      h('caption', { class: 'sr-only', text: title }),
      h('thead', {}, h('tr', {}, columns.map((label) => h('th', { scope: 'col', text: label })))),
      body)),
    none));
  reload();
  return { leave: () => { gone = true; }, reload };
}

// Channels.

function channelTarget(channel) {
  if (channel.type === 'email') return (channel.to || []).join(', ');
  const format = FORMATS.find(([value]) => value === channel.format);
  return `${channel.origin || '—'} · ${format ? format[1] : words(channel.format)}`;
}

/** E-mail addresses typed one a line or separated by commas, each once. */
function addresses(text) {
  return [...new Set(text.split(/[\s,;]+/).filter(Boolean))];
}

/** Shows a webhook's signing secret, which the server gives only once. */
function showSecret(channel) {
  const input = h('input', { id: 'signing-secret', readonly: true, value: channel.signing_secret, autocomplete: 'off', spellcheck: 'false' });
  const status = h('p', { class: 'small', role: 'status' });
  const copy = h('button', { type: 'button', id: 'copy-secret', text: 'Copy' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = 'Copied.';
    } catch {
      input.select();
      status.textContent = 'Could not copy: the secret is selected, copy it with the keyboard.';
    }
  });
  openDialog({
    id: 'secret-dialog',
    title: `Signing secret of ${channel.name}`,
    intro: 'Sikurd signs every post to this webhook with this secret (header X-Sikurd-Signature), so the receiver can '
      + 'check it came from Sikurd. It is shown only once: copy it now and keep it with the receiver.',
    body: [field('Signing secret', input), copy, status],
    confirm: 'Done',
    action: async () => {},
  });
  input.select();
}

/** The fields of one channel type, shown only while that type is chosen. */
function channelFields(channel) {
  const to = h('textarea', { id: 'channel-to', rows: 4, required: true, autocomplete: 'off', spellcheck: 'false' });
  to.value = channel && channel.to ? channel.to.join('\n') : '';
  const url = h('input', {
    id: 'channel-url', type: 'url', required: !channel, maxlength: 2048, autocomplete: 'off', placeholder: 'https://hooks.example.com/…',
  });
  const format = h('select', { id: 'channel-format' }, FORMATS.map(([value, text]) => option(value, text)));
  format.value = channel && channel.format ? channel.format : 'generic';
  const rotate = checkbox('channel-rotate', 'Rotate the signing secret (the old one stops signing at once)', false);
  const urlHelp = channel
    ? `Leave empty to keep the current address (${channel.origin || 'not shown'}).`
    : 'HTTPS to a public host. Slack and Teams put their token in it: it is stored encrypted and never shown again.';
  return {
    to, url, format, rotate: rotate.box,
    email: h('div', {}, field('Recipients', to, 'One e-mail address a line, or separated by commas: 1 to 10.')),
    webhook: h('div', {}, field('Webhook URL', url, urlHelp), field('Format', format), channel ? rotate.el : null),
  };
}

/** The create request from the dialog's fields. */
function newChannel(type, name, f) {
  if (type === 'email') return { type, name, to: recipients(f.to) };
  return { type, name, url: f.url.value.trim(), format: f.format.value };
}

function recipients(textarea) {
  const to = addresses(textarea.value);
  if (to.length < 1 || to.length > 10) throw refuse(`Give 1 to 10 e-mail addresses, not ${to.length}.`, textarea);
  return to;
}

/** The patch from the dialog's fields: only what changed. */
function channelPatch(channel, name, f) {
  const patch = {};
  if (name !== channel.name) patch.name = name;
  if (channel.type === 'email') {
    const to = recipients(f.to);
    if (to.join('\n') !== (channel.to || []).join('\n')) patch.to = to;
    return patch;
  }
  if (f.url.value.trim()) patch.url = f.url.value.trim();
  if (f.format.value !== channel.format) patch.format = f.format.value;
  if (f.rotate.checked) patch.rotate_secret = true;
  return patch;
}

/** Adds a channel (`channel` null) or edits one; `done()` after a change. */
function channelDialog(channel, done) {
  const name = h('input', { id: 'channel-name', required: true, maxlength: 100, autocomplete: 'off', value: channel ? channel.name : null });
  const type = h('select', { id: 'channel-type' }, option('email', 'E-mail'), option('webhook', 'Webhook'));
  const f = channelFields(channel);
  const pick = () => {
    const chosen = channel ? channel.type : type.value;
    shown(f.email, chosen === 'email');
    shown(f.webhook, chosen === 'webhook');
  };
  type.addEventListener('change', pick);
  pick();
  let secret = null;
  const dialog = openDialog({
    id: 'channel-dialog',
    title: channel ? `Edit ${channel.name}` : 'Add a notification channel',
    intro: channel ? `${channel.type === 'email' ? 'E-mail' : 'Webhook'} channel.` : 'Where alerts are sent: e-mail recipients or a webhook.',
    body: [field('Name', name), channel ? null : field('Type', type), f.email, f.webhook],
    confirm: channel ? 'Save' : 'Add channel',
    action: async () => {
      const trimmed = name.value.trim();
      if (!channel) {
        const created = await post('/api/v1/channels', newChannel(type.value, trimmed, f));
        notify(`${created.name} added.`);
        secret = created.signing_secret ? created : null;
      } else {
        const patch = channelPatch(channel, trimmed, f);
        if (!Object.keys(patch).length) return notify('Nothing changed.');
        const saved = await request('PATCH', `/api/v1/channels/${encodeURIComponent(channel.id)}`, patch);
        notify(patch.rotate_secret ? `${saved.name} saved, with a new signing secret.` : `${saved.name} saved.`);
        secret = saved.signing_secret ? saved : null;
      }
      done();
    },
  });
  // The secret dialog opens once this one has closed and handed focus back.
  dialog.addEventListener('close', () => { if (secret) showSecret(secret); });
}

function deleteChannel(channel, done) {
  confirmDelete('channel-delete-dialog', `Delete ${channel.name}?`,
    'Every route stops sending to it. A route that used only this channel is removed, an escalation left '
      + 'without channels stops, and notifications still due to it are dropped.',
    async () => {
      const result = await del(`/api/v1/channels/${encodeURIComponent(channel.id)}`);
      const changed = [];
      if (result && result.routes_removed.length) changed.push(`${count(result.routes_removed.length, 'route')} removed`);
      if (result && result.routes_updated.length) changed.push(`${count(result.routes_updated.length, 'route')} updated`);
      notify(`${channel.name} deleted.${changed.length ? ` ${changed.join(', ')}.` : ''}`);
      done();
    });
}

function channelRow(channel, reload) {
  const test = rowButton('test', 'Send test', `Send a test notice to ${channel.name}`, 'admin', () => busy(test, async () => {
    await post(`/api/v1/channels/${encodeURIComponent(channel.id)}/test`);
    notify(`Test notice sent to ${channel.name}.`);
  }));
  return h('tr', { 'data-channel-id': channel.id, 'data-type': channel.type },
    h('th', { scope: 'row', text: channel.name }),
    h('td', { text: channel.type === 'email' ? 'E-mail' : 'Webhook' }),
    h('td', { class: 'target', text: channelTarget(channel) }),
    h('td', { title: relative(channel.created_at), text: dateTime(channel.created_at) }),
    h('td', { class: 'row-actions' }, test,
      rowButton('edit', 'Edit', `Edit ${channel.name}`, 'admin', () => channelDialog(channel, reload)),
      rowButton('delete', 'Delete', `Delete ${channel.name}`, 'admin', () => deleteChannel(channel, reload))));
}

/** The notification channels page; returns what to do on leaving it. */
export function showChannels() {
  const add = h('button', {
    type: 'button', id: 'add-channel', class: 'primary', 'data-role': 'admin', hidden: !can('admin'), text: 'Add channel',
    onclick: () => channelDialog(null, view.reload),
  });
  const view = tablePage({
    section: 'channels-page',
    title: 'Notification channels',
    intro: 'Where alerts are sent: e-mail recipients and webhooks (Slack, Teams or your own). Routes say which alerts go where.',
    tools: [add],
    table: 'channels',
    columns: ['Name', 'Type', 'Target', 'Created', 'Actions'],
    what: 'channels',
    empty: can('admin') ? 'No channels yet: add one, then a route to send alerts to it.' : 'No channels yet: an administrator can add them.',
    load: () => get('/api/v1/channels'),
    rows: (data) => data.items.map((channel) => channelRow(channel, view.reload)),
  });
  return view.leave;
}

// Routes.

function channelNames(ids, channels) {
  return ids.map((id) => (channels.find((c) => c.id === id) || { name: id }).name).join(', ');
}

/** The request from the route dialog's fields, checked as far as the browser can. */
function routeRequest(f) {
  const channels = f.channels.chosen();
  const escalateTo = f.escalateTo.chosen();
  const escalateAfter = number(f.escalateAfter);
  if (!channels.length) throw refuse('Choose at least one channel to send to.', f.channels);
  if (channels.length > 5) throw refuse(`Choose at most 5 channels to send to, not ${channels.length}.`, f.channels);
  if (escalateAfter !== null && !escalateTo.length) throw refuse('Choose the channels to escalate to, or clear "Escalate after".', f.escalateTo);
  if (escalateAfter === null && escalateTo.length) throw refuse('Give the minutes before escalating, or untick the escalation channels.', f.escalateAfter);
  if (escalateTo.length > 5) throw refuse(`Choose at most 5 channels to escalate to, not ${escalateTo.length}.`, f.escalateTo);
  return {
    name: f.name.value.trim(),
    kinds: f.kinds.chosen(),
    min_severity: f.severity.value,
    channels,
    remind_every_minutes: number(f.remind),
    escalate_after_minutes: escalateAfter,
    escalate_to: escalateTo,
    notify_resolved: f.resolved.box.checked,
  };
}

/** Adds a route (`route` null) or replaces one; `done()` after a change. */
function routeDialog(route, kinds, channels, done) {
  const r = route || { name: '', kinds: [], min_severity: 'info', channels: [], escalate_to: [], notify_resolved: true };
  const channelOptions = channels.map((c) => [c.id, c.name]);
  const f = {
    name: h('input', { id: 'route-name', required: true, maxlength: 100, autocomplete: 'off', value: r.name || null }),
    kinds: checkGroup('route-kinds', 'Alert kinds', 'None ticked routes every kind, including kinds added later.',
      kinds.map((k) => [k, words(k)]), r.kinds),
    severity: h('select', { id: 'route-severity' }, SEVERITIES.map(([value, text]) => option(value, text))),
    channels: checkGroup('route-channels', 'Send to', '1 to 5 channels.', channelOptions, r.channels),
    remind: h('input', { id: 'route-remind', type: 'number', min: 15, max: 10080, step: 1, value: r.remind_every_minutes ?? null }),
    escalateAfter: h('input', { id: 'route-escalate-after', type: 'number', min: 5, max: 10080, step: 1, value: r.escalate_after_minutes ?? null }),
    escalateTo: checkGroup('route-escalate-to', 'Escalate to', 'Required when escalating: up to 5 channels.', channelOptions, r.escalate_to),
    resolved: checkbox('route-resolved', 'Also notify when the alert resolves', r.notify_resolved !== false),
  };
  f.severity.value = r.min_severity;
  openDialog({
    id: 'route-dialog',
    title: route ? `Edit ${route.name}` : 'Add a route',
    intro: 'Which alerts go to which channels.',
    body: [
      field('Name', f.name), f.kinds.el, field('Minimum severity', f.severity), f.channels.el,
      field('Remind every (minutes)', f.remind, 'Optional: notify again while the alert stays open and unacknowledged, every 15 to 10080 minutes.'),
      field('Escalate after (minutes)', f.escalateAfter, 'Optional: once the alert has been open and unacknowledged this long (5 to 10080 minutes).'),
      f.escalateTo.el, f.resolved.el,
    ],
    confirm: route ? 'Save' : 'Add route',
    action: async () => {
      const body = routeRequest(f);
      const saved = route
        ? await request('PUT', `/api/v1/routes/${encodeURIComponent(route.id)}`, body)
        : await post('/api/v1/routes', body);
      notify(route ? `${saved.name} saved.` : `${saved.name} added.`);
      done();
    },
  });
}

function deleteRoute(route, done) {
  confirmDelete('route-delete-dialog', `Delete ${route.name}?`,
    'Its alerts are no longer sent through it from now on; notifications already planned through it are still sent.',
    async () => {
      await del(`/api/v1/routes/${encodeURIComponent(route.id)}`);
      notify(`${route.name} deleted.`);
      done();
    });
}

function routeRow(route, data, reload) {
  const severity = route.min_severity;
  return h('tr', { 'data-route-id': route.id },
    h('th', { scope: 'row', text: route.name }),
    h('td', { text: route.kinds.length ? route.kinds.map(words).join(', ') : 'All kinds' }),
    h('td', {}, h('span', { class: `badge severity-${severity}`, text: words(severity) }),
      severity === 'critical' ? null : h('span', { class: 'small muted', text: ' and above' })),
    h('td', { text: channelNames(route.channels, data.channels) }),
    h('td', { text: route.remind_every_minutes ? `every ${duration(route.remind_every_minutes * 60)}` : '—' }),
    h('td', { text: route.escalate_after_minutes
      ? `after ${duration(route.escalate_after_minutes * 60)} to ${channelNames(route.escalate_to, data.channels)}` : '—' }),
    h('td', { text: route.notify_resolved ? 'Yes' : 'No' }),
    h('td', { class: 'row-actions' },
      rowButton('edit', 'Edit', `Edit ${route.name}`, 'admin', () => routeDialog(route, data.kinds, data.channels, reload)),
      rowButton('delete', 'Delete', `Delete ${route.name}`, 'admin', () => deleteRoute(route, reload))));
}

async function loadRoutes() {
  const [routes, channels, rules] = await Promise.all([get('/api/v1/routes'), get('/api/v1/channels'), get('/api/v1/rules')]);
  return { routes: routes.items, channels: channels.items, kinds: rules.kinds };
}

/** The alert routing page; returns what to do on leaving it. */
export function showRoutes() {
  let data = null;
  const hint = h('p', { id: 'routes-need-channel', class: 'info', hidden: true },
    'Routes send alerts to notification channels, and there are none yet. ',
    h('a', { href: '#/channels', text: 'Add a channel first' }), '.');
  const add = h('button', {
    type: 'button', id: 'add-route', class: 'primary', 'data-role': 'admin', hidden: !can('admin'), disabled: true, text: 'Add route',
    onclick: () => {
      if (data.channels.length) return routeDialog(null, data.kinds, data.channels, view.reload);
      hint.hidden = false;
      return hint.querySelector('a').focus();
    },
  });
  const view = tablePage({
    section: 'routes-page',
    title: 'Alert routing',
    intro: 'Each route sends the alerts it matches to its channels, with optional reminders and escalation.',
    tools: [add],
    hint,
    table: 'routes',
    columns: ['Name', 'Alert kinds', 'Minimum severity', 'Channels', 'Reminders', 'Escalation', 'On resolve', 'Actions'],
    what: 'routes',
    empty: 'No routes yet: alerts open, but nobody is notified.',
    load: loadRoutes,
    rows: (loaded) => {
      data = loaded;
      add.disabled = false;
      hint.hidden = data.channels.length > 0 || !can('admin');
      return data.routes.map((route) => routeRow(route, data, view.reload));
    },
  });
  return view.leave;
}

// Maintenance windows.

const pad = (n) => String(n).padStart(2, '0');

/** An RFC 3339 time (or milliseconds) as a `datetime-local` value in the browser's time zone. */
function localInput(time) {
  const d = new Date(time);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `UTC+02:00`, `UTC−05:30`, `UTC`. */
function utcOffset(minutes) {
  if (!minutes) return 'UTC';
  const m = Math.abs(minutes);
  return `UTC${minutes < 0 ? '−' : '+'}${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
}

/** `tenant`, `group` or `instance`. */
function scopeKind(scope) {
  return typeof scope === 'string' ? scope : Object.keys(scope)[0];
}

function scopeCell(scope, instances) {
  const kind = scopeKind(scope);
  if (kind === 'tenant') return 'Whole tenant';
  if (kind === 'group') return `Group ${scope.group}`;
  const instance = instances.find((i) => i.id === scope.instance);
  return instance
    ? h('a', { href: `#/instances/${encodeURIComponent(instance.id)}`, text: instance.name })
    : `Instance ${scope.instance}`;
}

function scopeText(scope, instances) {
  const cell = scopeCell(scope, instances);
  return typeof cell === 'string' ? cell : cell.textContent;
}

function scheduleText(s) {
  if (s.type === 'once') return `${dateTime(s.starts_at)} – ${dateTime(s.ends_at)}`;
  const days = s.days.map((d) => (DAYS.find(([value]) => value === d) || [d, d])[1]).join(', ');
  return `Every ${days} at ${s.start} (${utcOffset(s.utc_offset_minutes)}) for ${duration(s.duration_minutes * 60)}`;
}

/** Whether the window silences now (the server says: `active_until`, `next_end`). */
function windowState(w) {
  if (w.active_until) {
    return h('span', {}, h('span', { class: 'tag', text: 'Active now' }),
      h('div', { class: 'small muted', title: dateTime(w.active_until), text: `ends ${relative(w.active_until)}` }));
  }
  if (!w.next_end) return h('span', { class: 'muted', text: 'Ended' });
  if (w.schedule.type === 'once') return h('span', { title: dateTime(w.schedule.starts_at), text: `Starts ${relative(w.schedule.starts_at)}` });
  return 'Not now';
}

/** The scope picker: the whole tenant, a group (typed, with the fleet's groups offered) or an instance. */
function scopeFields(scope, instances) {
  const kind = h('select', { id: 'window-scope' }, option('tenant', 'Whole tenant'), option('group', 'A group'), option('instance', 'One instance'));
  kind.value = scopeKind(scope);
  const groups = [...new Set(instances.map((i) => i.group).filter(Boolean))].sort();
  const group = h('input', { id: 'window-group', required: true, maxlength: 64, list: 'window-groups', autocomplete: 'off', value: scope.group || null });
  const sorted = [...instances].sort((a, b) => a.name.localeCompare(b.name));
  const instance = h('select', { id: 'window-instance', required: true }, option('', 'Choose an instance'),
    sorted.map((i) => option(i.id, i.group ? `${i.name} (${i.group})` : i.name)));
  if (scope.instance && !instances.some((i) => i.id === scope.instance)) instance.append(option(scope.instance, `${scope.instance} (not in the fleet)`));
  instance.value = scope.instance || '';
  const groupPart = h('div', {}, field('Group', group, 'Matched ignoring case.'),
    h('datalist', { id: 'window-groups' }, groups.map((g) => h('option', { value: g }))));
  const instancePart = h('div', {}, field('Instance', instance));
  const pick = () => {
    shown(groupPart, kind.value === 'group');
    shown(instancePart, kind.value === 'instance');
  };
  kind.addEventListener('change', pick);
  pick();
  return {
    elements: [field('Applies to', kind), groupPart, instancePart],
    value: () => {
      if (kind.value === 'group') return { group: group.value.trim() };
      if (kind.value === 'instance') return { instance: instance.value };
      return 'tenant';
    },
  };
}

/** The once fields: start and end in the browser's time zone. */
function onceFields(s) {
  const later = (ms) => localInput(Math.ceil(Date.now() / 300_000) * 300_000 + ms);
  const starts = h('input', { id: 'window-starts', type: 'datetime-local', required: true, value: s.starts_at ? localInput(s.starts_at) : later(0) });
  const ends = h('input', { id: 'window-ends', type: 'datetime-local', required: true, value: s.ends_at ? localInput(s.ends_at) : later(7_200_000) });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'your time zone';
  return {
    el: h('div', {}, field('Starts', starts, `Your local time (${zone}).`), field('Ends', ends)),
    value: () => {
      const from = new Date(starts.value);
      const to = new Date(ends.value);
      if (to <= from) throw refuse('The end must come after the start.', ends);
      if (to.getTime() <= Date.now()) throw refuse('The end must be in the future.', ends);
      return { type: 'once', starts_at: from.toISOString(), ends_at: to.toISOString() };
    },
  };
}

/** The weekly fields: days, local start time, duration, fixed UTC offset. */
function weeklyFields(s) {
  const days = checkGroup('window-days', 'Days', null, DAYS, s.days || [], 'days');
  const start = h('input', { id: 'window-time', type: 'time', required: true, value: s.start || '22:00' });
  const length = h('input', { id: 'window-duration', type: 'number', required: true, min: 1, max: 10080, step: 1, value: s.duration_minutes ?? 120 });
  const here = -new Date().getTimezoneOffset();
  const offset = h('input', { id: 'window-offset', type: 'number', required: true, min: -720, max: 840, step: 1, value: s.utc_offset_minutes ?? here });
  return {
    el: h('div', {}, days.el, field('Start time', start), field('Duration (minutes)', length, '1 to 10080 (a week).'),
      field('UTC offset (minutes)', offset, `Minutes added to UTC for the start time; this browser is at ${here} (${utcOffset(here)}) `
        + 'today. It is fixed and does not follow daylight saving time: change it when the clocks change.')),
    value: () => {
      if (!days.chosen().length) throw refuse('Tick at least one day.', days);
      return {
        type: 'weekly', days: days.chosen(), start: start.value.slice(0, 5),
        duration_minutes: Number(length.value), utc_offset_minutes: Number(offset.value),
      };
    },
  };
}

/** Adds a window (`win` null) or replaces one; `done()` after a change. */
function windowDialog(win, instances, done) {
  const scope = scopeFields(win ? win.scope : 'tenant', instances);
  const s = win ? win.schedule : { type: 'once' };
  const type = h('select', { id: 'window-type' }, option('once', 'Once'), option('weekly', 'Every week'));
  type.value = s.type;
  const once = onceFields(s.type === 'once' ? s : {});
  const weekly = weeklyFields(s.type === 'weekly' ? s : {});
  const pick = () => {
    shown(once.el, type.value === 'once');
    shown(weekly.el, type.value === 'weekly');
  };
  type.addEventListener('change', pick);
  pick();
  const reason = h('input', { id: 'window-reason', maxlength: 100, autocomplete: 'off', value: win && win.reason ? win.reason : null });
  openDialog({
    id: 'window-dialog',
    title: win ? 'Edit the maintenance window' : 'Add a maintenance window',
    intro: 'During the window, alerts of its scope still open and resolve, but nobody is notified until it ends.',
    body: [...scope.elements, field('Schedule', type), once.el, weekly.el, field('Reason', reason, 'Optional, up to 100 characters: shown to whoever sees the silence.')],
    confirm: win ? 'Save' : 'Add window',
    action: async () => {
      const body = { scope: scope.value(), reason: reason.value.trim() || null, schedule: (type.value === 'once' ? once : weekly).value() };
      if (win) await request('PUT', `/api/v1/maintenance-windows/${encodeURIComponent(win.id)}`, body);
      else await post('/api/v1/maintenance-windows', body);
      notify(win ? 'Maintenance window saved.' : 'Maintenance window added.');
      done();
    },
  });
}

function deleteWindow(win, what, done) {
  confirmDelete('window-delete-dialog', `Delete the maintenance window for ${what}?`,
    'Alerts of this scope are notified again from now on. Notifications it already held back still wait for the end it had.',
    async () => {
      await del(`/api/v1/maintenance-windows/${encodeURIComponent(win.id)}`);
      notify('Maintenance window deleted.');
      done();
    });
}

function windowRow(win, instances, reload) {
  const what = scopeText(win.scope, instances);
  return h('tr', { 'data-window-id': win.id, 'data-schedule': win.schedule.type },
    h('th', { scope: 'row' }, scopeCell(win.scope, instances)),
    h('td', { text: scheduleText(win.schedule) }),
    h('td', { text: win.reason || '—' }),
    h('td', { text: win.created_by || '—' }),
    h('td', {}, windowState(win)),
    h('td', { class: 'row-actions' },
      rowButton('edit', 'Edit', `Edit the maintenance window for ${what}`, 'technician', () => windowDialog(win, instances, reload)),
      rowButton('delete', 'Delete', `Delete the maintenance window for ${what}`, 'technician', () => deleteWindow(win, what, reload))));
}

/** The maintenance windows page; returns what to do on leaving it. */
export function showMaintenance() {
  let instances = [];
  const add = h('button', {
    type: 'button', id: 'add-window', class: 'primary', 'data-role': 'technician', hidden: !can('technician'), disabled: true,
    text: 'Add window', onclick: () => windowDialog(null, instances, view.reload),
  });
  const view = tablePage({
    section: 'maintenance-page',
    title: 'Maintenance windows',
    intro: 'Times when alerts still open and resolve but nobody is notified: planned work, or an instance muted for a while.',
    tools: [add],
    table: 'windows',
    columns: ['Scope', 'Schedule', 'Reason', 'Created by', 'Status', 'Actions'],
    what: 'maintenance windows',
    empty: 'No maintenance windows.',
    load: () => Promise.all([get('/api/v1/maintenance-windows'), getAll('/api/v1/instances?limit=200')]),
    rows: ([windows, fleet]) => {
      instances = fleet;
      add.disabled = false;
      return windows.items.map((win) => windowRow(win, instances, view.reload));
    },
  });
  return view.leave;
}
