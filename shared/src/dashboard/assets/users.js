// Users and roles: who can sign in to the tenant and what each may do; one's own account.

import { can, del, getAll, request, session, setSession } from './api.js?v=@VERSION@';
import { failed, field, fill, h, notify, openDialog, page } from './dom.js?v=@VERSION@';
import { dateTime, words } from './format.js?v=@VERSION@';

const ROLE_HELP = {
  owner: 'Everything, including transferring ownership. One per tenant.',
  admin: 'Manages instances, users, channels, routing and rules; reads the audit log.',
  technician: 'Polls, acknowledges and resolves alerts, sets maintenance windows.',
  viewer: 'Reads the fleet, alerts and settings.',
};

/** The roles the signed-in user may give (an owner may also hand over ownership). */
function assignable() {
  return can('owner') ? ['admin', 'technician', 'viewer', 'owner'] : ['admin', 'technician', 'viewer'];
}

function roleSelect(id, current) {
  const select = h('select', { id }, assignable().map((r) => h('option', { value: r, text: words(r) })));
  select.value = current;
  return select;
}

function roleHelp(select) {
  const help = h('p', { class: 'small muted', 'aria-live': 'polite', text: ROLE_HELP[select.value] });
  select.addEventListener('change', () => { help.textContent = ROLE_HELP[select.value]; });
  return help;
}

function addUser(done) {
  const name = h('input', { id: 'user-name', required: true, maxlength: 100, autocomplete: 'off' });
  const email = h('input', { id: 'user-email', type: 'email', required: true, autocomplete: 'off' });
  const role = h('select', { id: 'user-role' }, ['technician', 'viewer', 'admin'].map((r) => h('option', { value: r, text: words(r) })));
  const password = h('input', { id: 'user-password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' });
  openDialog({
    id: 'user-dialog',
    title: 'Add a user',
    intro: 'Give them this first password yourself; they can change it under "Your account".',
    body: [field('Name', name), field('E-mail address', email), field('Role', role), roleHelp(role),
      field('First password', password, 'At least 12 characters.')],
    confirm: 'Add user',
    action: async () => {
      const user = await request('POST', '/api/v1/users', {
        name: name.value.trim(), email: email.value.trim(), role: role.value, password: password.value,
      });
      notify(`${user.name} can now sign in as ${words(user.role).toLowerCase()}.`);
      done();
    },
  });
}

function changeRole(user, done) {
  const role = roleSelect('user-role', user.role);
  openDialog({
    id: 'role-dialog',
    title: `Role of ${user.name}`,
    body: [field('Role', role), roleHelp(role)],
    confirm: 'Save',
    action: async () => {
      if (role.value === user.role) return;
      await request('PATCH', `/api/v1/users/${encodeURIComponent(user.id)}`, { role: role.value });
      notify(role.value === 'owner' ? `${user.name} now owns the tenant; you are an admin.` : `${user.name} is now ${role.value}.`);
      if (role.value === 'owner') setSession(await request('GET', '/api/v1/me'));
      done();
    },
  });
}

function removeUser(user, done) {
  openDialog({
    id: 'remove-user-dialog',
    title: `Remove ${user.name}?`,
    intro: `${user.email} can no longer sign in; their sessions end at once. What they did stays in the audit log.`,
    confirm: 'Remove user',
    danger: true,
    action: async () => {
      await del(`/api/v1/users/${encodeURIComponent(user.id)}`);
      notify(`${user.name} removed.`);
      done();
    },
  });
}

/** The signed-in user's own name, e-mail address and password. */
function editAccount(me, done) {
  const name = h('input', { id: 'account-name', required: true, maxlength: 100, value: me.name, autocomplete: 'name' });
  const email = h('input', { id: 'account-email', type: 'email', required: true, value: me.email, autocomplete: 'email' });
  const password = h('input', { id: 'account-password', type: 'password', minlength: 12, autocomplete: 'new-password' });
  const current = h('input', { id: 'account-current-password', type: 'password', autocomplete: 'current-password' });
  openDialog({
    id: 'account-dialog',
    title: 'Your account',
    body: [field('Name', name), field('E-mail address', email),
      field('New password', password, 'Leave empty to keep it. At least 12 characters; your other sessions end.'),
      field('Current password', current, 'Needed to change the e-mail address or the password.')],
    confirm: 'Save',
    action: async () => {
      const patch = {};
      if (name.value.trim() !== me.name) patch.name = name.value.trim();
      if (email.value.trim() !== me.email) patch.email = email.value.trim();
      if (password.value) patch.password = password.value;
      if ((patch.email || patch.password) && !current.value) {
        throw new Error('Give your current password to change the e-mail address or the password.');
      }
      if (!Object.keys(patch).length) return;
      if (patch.email || patch.password) patch.current_password = current.value;
      await request('PATCH', `/api/v1/users/${encodeURIComponent(me.id)}`, patch);
      if (patch.password) {
        // A new password ends every session of the user, this one included.
        setSession(null);
        notify('Your password is changed. Sign in with it again.');
        location.hash = '#/signin';
        return;
      }
      setSession(await request('GET', '/api/v1/me'));
      notify('Your account is saved.');
      done();
    },
  });
}

/** Whether the signed-in user may change `user` (admins: up to admins; the owner: everyone). */
function manages(user) {
  const me = session();
  if (!me || user.id === me.user.id || user.role === 'owner') return false;
  return can('owner') || (can('admin') && user.role !== 'owner');
}

/** The users page; returns what to do on leaving it. */
export function showUsers() {
  let gone = false;
  const body = h('tbody');
  const problem = h('div');
  const me = () => session().user;

  const load = () => getAll('/api/v1/users?limit=200', 10).then((users) => {
    if (gone) return;
    fill(problem);
    fill(body, users.map((user) => h('tr', { 'data-user-id': user.id },
      h('th', { scope: 'row' }, user.name, user.id === me().id ? h('span', { class: 'tag', text: 'You' }) : null),
      h('td', { text: user.email }),
      h('td', {}, h('span', { class: 'badge role', text: words(user.role) })),
      h('td', { text: dateTime(user.created_at) }),
      h('td', { class: 'row-actions' },
        manages(user) ? h('button', {
          type: 'button', 'data-action': 'role', 'data-role': 'admin', 'aria-label': `Change the role of ${user.name}`,
          text: 'Change role', onclick: () => changeRole(user, load),
        }) : null,
        manages(user) ? h('button', {
          type: 'button', class: 'danger', 'data-action': 'remove', 'data-role': 'admin', 'aria-label': `Remove ${user.name}`,
          text: 'Remove', onclick: () => removeUser(user, load),
        }) : null,
        user.id === me().id ? h('button', {
          type: 'button', id: 'edit-account', text: 'Your account', onclick: () => editAccount(me(), load),
        }) : null))));
  }).catch((error) => {
    if (gone || error.sessionEnded) return;
    fill(problem, failed({ message: `Could not load the users: ${error.message}` }, load));
  });

  page(h('section', { id: 'users-page' },
    h('div', { class: 'page-head' }, h('h1', { text: 'Users and roles' }),
      h('div', { class: 'tools' }, h('button', {
        type: 'button', id: 'add-user', class: 'primary', 'data-role': 'admin', hidden: !can('admin'),
        text: 'Add user', onclick: () => addUser(load),
      }))),
    h('dl', { class: 'roles small' }, Object.entries(ROLE_HELP).flatMap(([role, text]) => [h('dt', { text: words(role) }), h('dd', { text })])),
    problem,
    h('div', { class: 'table-wrap' }, h('table', { id: 'users', class: 'data' },
      h('caption', { class: 'sr-only', text: 'Users' }),
      h('thead', {}, h('tr', {}, ['Name', 'E-mail address', 'Role', 'Added', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
      body))));
  fill(body, h('tr', {}, h('td', { colspan: 5, class: 'loading', text: 'Loading users…' })));
  load();
  return () => {
    gone = true;
  };
}
