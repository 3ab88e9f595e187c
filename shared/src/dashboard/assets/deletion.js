// Confirming an account's deletion from the link in the owner's e-mail (no session needed).

import { request } from './api.js?v=@VERSION@';
import { busy, h, page } from './dom.js?v=@VERSION@';

/** The confirmation page for `token`. */
export function showConfirmDeletion(token) {
  const error = h('p', { id: 'confirm-deletion-error', class: 'error', role: 'alert' });
  const result = h('div', { id: 'confirm-deletion-result', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', id: 'confirm-deletion', class: 'danger', text: 'Delete the account' });
  button.addEventListener('click', () => busy(button, async () => {
    await request('POST', '/api/v1/tenant-deletion/confirm', { token }, { expect401: true });
    button.hidden = true;
    result.append(h('p', { class: 'info', text: 'Confirmed. The account is locked: every session has ended and no one can sign in. Everything Sikurd holds on it is deleted within 7 days.' }));
  }, error));
  page(h('section', { id: 'confirm-deletion-page', class: 'card narrow' },
    h('h1', { text: 'Delete this Sikurd account?' }),
    h('p', { text: 'Sikurd support asked to delete the account this link was sent for, with its instances, their credentials, metrics, backup history, alerts, audit log, users and settings.' }),
    h('p', { text: 'Confirming locks the account at once and cannot be undone. If you did not ask for this, close this page and tell support.' }),
    error, result, h('div', { class: 'actions' }, button)));
  return () => {};
}
