// The audit log: every action on the tenant, newest first (admins and owners).

import { can, get, query } from './api.js?v=@VERSION@';
import { failed, fill, h, page } from './dom.js?v=@VERSION@';
import { dateTime, relative } from './format.js?v=@VERSION@';

function actor(a) {
  switch (a.kind) {
    case 'user': return a.email || a.user_id;
    case 'support': return `Sikurd support (${a.name})`;
    case 'system': return 'Sikurd';
    default: return a.email ? `not signed in (${a.email})` : 'not signed in';
  }
}

function row(entry) {
  return h('tr', { 'data-audit-id': entry.id, 'data-result': entry.result },
    h('td', { title: dateTime(entry.at), text: `${dateTime(entry.at)} (${relative(entry.at)})` }),
    h('td', { text: actor(entry.actor) }),
    h('td', {}, h('code', { text: entry.action })),
    h('td', {}, entry.target && entry.target.startsWith('ins_')
      ? h('a', { href: `#/instances/${encodeURIComponent(entry.target)}`, text: entry.target_name || entry.target })
      : (entry.target_name || entry.target || '—')),
    h('td', { text: entry.source_ip || '—' }),
    h('td', {}, h('span', { class: `badge audit-${entry.result}`, text: entry.result === 'succeeded' ? 'Succeeded' : 'Failed' }),
      entry.reason ? h('div', { class: 'small muted', text: entry.reason }) : null));
}

/** The audit log page; returns what to do on leaving it. */
export function showAudit() {
  if (!can('admin')) {
    page(h('section', { id: 'audit-page' }, h('h1', { text: 'Audit log' }),
      h('p', { class: 'empty', text: 'Only admins and the owner can read the audit log.' })));
    return () => {};
  }
  let gone = false;
  let cursor = null;
  const body = h('tbody');
  const problem = h('div');
  const more = h('button', { type: 'button', id: 'audit-more', hidden: true, text: 'Show older entries' });

  async function load(append) {
    if (!append) fill(body, h('tr', {}, h('td', { colspan: 6, class: 'loading', text: 'Loading the audit log…' })));
    more.disabled = true;
    try {
      const data = await get(`/api/v1/audit${query({ limit: 100, cursor: append ? cursor : null })}`);
      if (gone) return;
      fill(problem);
      if (!append) fill(body);
      body.append(...data.items.map(row));
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty', text: 'Nothing recorded yet.' })));
      cursor = data.next_cursor || null;
      more.hidden = !cursor;
    } catch (error) {
      if (gone || error.sessionEnded) return;
      if (!append) fill(body);
      fill(problem, failed({ message: `Could not load the audit log: ${error.message}` }, () => load(append)));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => load(true));

  page(h('section', { id: 'audit-page' },
    h('div', { class: 'page-head' }, h('h1', { text: 'Audit log' })),
    h('p', { class: 'muted', text: 'Every sign-in and every change, refused ones too. Entries are never edited or deleted.' }),
    problem,
    h('div', { class: 'table-wrap' }, h('table', { id: 'audit', class: 'data' },
      h('caption', { class: 'sr-only', text: 'Audit log' }),
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'Target', 'Source address', 'Result'].map((t) => h('th', { scope: 'col', text: t })))),
      body)),
    more));
  load(false);
  return () => {
    gone = true;
  };
}
