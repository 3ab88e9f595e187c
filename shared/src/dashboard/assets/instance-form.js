// Adding and editing an instance; its 3CX credentials are write-only (never shown, never prefilled).

import { request } from './api.js?v=@VERSION@';
import { field, h, notify, openDialog } from './dom.js?v=@VERSION@';

/** The credential fields: an administrator's login or an API client (3CX Integrations > API). */
function credentialFields(required) {
  const kind = h('select', { id: 'instance-credential-kind' },
    h('option', { value: 'admin', text: 'Administrator login' }),
    h('option', { value: 'client_credentials', text: 'API client (3CX v20 Integrations)' }));
  const user = h('input', { id: 'instance-username', autocomplete: 'off', maxlength: 200, required });
  const secret = h('input', { id: 'instance-password', type: 'password', autocomplete: 'new-password', maxlength: 500, required });
  const userField = field('User name or extension', user);
  const secretField = field('Password', secret);
  const relabel = () => {
    const api = kind.value === 'client_credentials';
    userField.querySelector('label').textContent = api ? 'Client ID' : 'User name or extension';
    secretField.querySelector('label').textContent = api ? 'Client secret' : 'Password';
  };
  kind.addEventListener('change', relabel);
  return {
    elements: [field('Sign in with', kind), userField, secretField],
    /** Whether anything was typed (an edit keeps the stored credentials otherwise). */
    touched: () => user.value.trim() !== '' || secret.value !== '',
    /** The request's `credentials`; a half-filled pair is the user's mistake, said plainly. */
    value: () => {
      if (!user.value.trim() || !secret.value) {
        throw new Error(kind.value === 'admin'
          ? 'Give both the user name and the password.'
          : 'Give both the client ID and the client secret.');
      }
      return kind.value === 'admin'
        ? { kind: 'admin', username: user.value.trim(), password: secret.value }
        : { kind: 'client_credentials', client_id: user.value.trim(), client_secret: secret.value };
    },
  };
}

function groupList(groups) {
  return h('datalist', { id: 'instance-groups' }, groups.map((g) => h('option', { value: g })));
}

/** Opens the "add instance" dialog; `done(instance)` with the created instance. */
export function addInstance(groups, done) {
  const name = h('input', { id: 'instance-name', required: true, maxlength: 100, autocomplete: 'off' });
  const url = h('input', { id: 'instance-url', type: 'url', required: true, placeholder: 'https://pbx.example.com:5001', autocomplete: 'off' });
  const group = h('input', { id: 'instance-group', maxlength: 64, list: 'instance-groups', autocomplete: 'off' });
  const credentials = credentialFields(true);
  openDialog({
    id: 'instance-dialog',
    title: 'Add a 3CX instance',
    intro: 'Sikurd signs in to the 3CX web address with these credentials at every poll. They are stored encrypted and never shown again.',
    body: [
      field('Name', name),
      field('Web address', url, 'The address of the 3CX management console, with its port if not 443.'),
      field('Group', group, 'Optional: usually the customer it belongs to.'),
      groupList(groups),
      h('fieldset', {}, h('legend', { text: '3CX credentials' }), credentials.elements),
    ],
    confirm: 'Add instance',
    action: async () => {
      const body = { name: name.value.trim(), url: url.value.trim(), credentials: credentials.value() };
      if (group.value.trim()) body.group = group.value.trim();
      const created = await request('POST', '/api/v1/instances', body);
      notify(`${created.name} added. It is polled within the minute; "Poll now" checks it at once.`);
      done(created);
    },
  });
}

/** Opens the "edit instance" dialog; only changed fields are sent; `done(instance)` after. */
export function editInstance(instance, done) {
  const name = h('input', { id: 'instance-name', required: true, maxlength: 100, value: instance.name, autocomplete: 'off' });
  const url = h('input', { id: 'instance-url', type: 'url', required: true, value: instance.url, autocomplete: 'off' });
  const group = h('input', { id: 'instance-group', maxlength: 64, value: instance.group || '', autocomplete: 'off' });
  const credentials = credentialFields(false);
  openDialog({
    id: 'instance-dialog',
    title: `Edit ${instance.name}`,
    body: [
      field('Name', name),
      field('Web address', url),
      field('Group', group, 'Empty for no group.'),
      h('fieldset', {},
        h('legend', { text: '3CX credentials' }),
        h('p', { class: 'small muted', text: instance.credentials_set
          ? 'Stored and never shown. Leave these empty to keep them; fill both to replace them.'
          : 'None stored: fill both to set them.' }),
        credentials.elements),
    ],
    confirm: 'Save',
    action: async () => {
      const patch = {};
      if (name.value.trim() !== instance.name) patch.name = name.value.trim();
      if (url.value.trim() !== instance.url) patch.url = url.value.trim();
      const newGroup = group.value.trim();
      if (newGroup !== (instance.group || '')) patch.group = newGroup || null;
      if (credentials.touched()) patch.credentials = credentials.value();
      if (!Object.keys(patch).length) return;
      const updated = await request('PATCH', `/api/v1/instances/${encodeURIComponent(instance.id)}`, patch);
      notify(patch.credentials ? `${updated.name} saved, with the new credentials.` : `${updated.name} saved.`);
      done(updated);
    },
  });
}
