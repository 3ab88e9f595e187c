// Sign in and sign up.

import { request } from './api.js?v=@VERSION@';
import { busy, h, page } from './dom.js?v=@VERSION@';

function field(id, label, attrs) {
  return h('div', { class: 'field' },
    h('label', { for: id, text: label }),
    h('input', { id, name: id, required: true, ...attrs }));
}

/** The sign-in form; `done(session)` once signed in. */
export function showSignIn(done, ended) {
  const error = h('p', { id: 'signin-error', class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'signin-submit', class: 'primary', text: 'Sign in' });
  const form = h('form', { id: 'signin', class: 'card narrow', novalidate: true },
    h('h1', { text: 'Sign in to Sikurd' }),
    ended ? h('p', { class: 'info', text: 'Your session has ended. Sign in again to continue where you were.' }) : null,
    field('signin-email', 'E-mail', { type: 'email', autocomplete: 'username' }),
    field('signin-password', 'Password', { type: 'password', autocomplete: 'current-password' }),
    error,
    h('div', { class: 'actions' }, submit),
    h('p', { class: 'muted' }, 'New to Sikurd? ', h('a', { href: '#/signup', text: 'Create an account' })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const email = form.querySelector('#signin-email').value.trim();
    const password = form.querySelector('#signin-password').value;
    if (!email || !password) {
      error.textContent = 'Enter your e-mail address and password.';
      return;
    }
    busy(submit, async () => {
      const me = await request('POST', '/api/v1/auth/login', { email, password }, { expect401: true });
      done(me);
    }, error);
  });
  page(form);
  form.querySelector('#signin-email').focus();
}

/** The sign-up form: a new tenant and its owner. */
export function showSignUp(done) {
  const error = h('p', { id: 'signup-error', class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'signup-submit', class: 'primary', text: 'Create account' });
  const form = h('form', { id: 'signup', class: 'card narrow', novalidate: true },
    h('h1', { text: 'Create a Sikurd account' }),
    field('signup-tenant', 'Company (MSP) name', { type: 'text', autocomplete: 'organization', maxlength: 100 }),
    field('signup-name', 'Your name', { type: 'text', autocomplete: 'name', maxlength: 100 }),
    field('signup-email', 'E-mail', { type: 'email', autocomplete: 'username' }),
    field('signup-password', 'Password (at least 12 characters)', {
      type: 'password', autocomplete: 'new-password', minlength: 12,
    }),
    error,
    h('div', { class: 'actions' }, submit),
    h('p', { class: 'muted' }, 'Have an account? ', h('a', { href: '#/signin', text: 'Sign in' })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = (id) => form.querySelector(`#${id}`).value;
    const body = {
      tenant_name: value('signup-tenant').trim(),
      name: value('signup-name').trim(),
      email: value('signup-email').trim(),
      password: value('signup-password'),
    };
    if (Object.values(body).some((v) => !v)) {
      error.textContent = 'Fill in every field.';
      return;
    }
    if (body.password.length < 12) {
      error.textContent = 'The password needs at least 12 characters.';
      return;
    }
    busy(submit, async () => {
      done(await request('POST', '/api/v1/signup', body, { expect401: true }));
    }, error);
  });
  page(form);
}
