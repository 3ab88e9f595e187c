// Building the page without markup strings: text is always set as text, never parsed as HTML.

/**
 * Makes an element. `attrs`: `class`, `text`, `on<event>` handlers, `hidden`/`disabled`
 * booleans, anything else as an attribute (null or false leaves it out).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element, attributes as in `h`. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The page's main region, emptied, with `children`. */
export function page(...children) {
  return fill(document.getElementById('main'), ...children);
}

let noticeTimer = null;

/** A short message at the top of the page; errors stay until dismissed or replaced. */
export function notify(message, kind = 'ok') {
  const box = document.getElementById('notice');
  clearTimeout(noticeTimer);
  box.className = `notice notice-${kind}`;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  fill(box, h('span', { text: message }), h('button', {
    type: 'button', class: 'quiet', 'aria-label': 'Dismiss', text: '×', onclick: () => { box.hidden = true; },
  }));
  box.hidden = false;
  if (kind !== 'error') noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

export function clearNotice() {
  document.getElementById('notice').hidden = true;
}

/**
 * Runs `action` with `button` disabled and marked busy; an error is shown in `errorEl` (or as
 * a notice) and rethrown to no one: nothing fails silently.
 */
export async function busy(button, action, errorEl = null) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = `${label}…`;
  if (errorEl) errorEl.textContent = '';
  try {
    return await action();
  } catch (error) {
    if (error && error.sessionEnded) return undefined;
    const message = error && error.message ? error.message : 'Something went wrong.';
    if (errorEl) errorEl.textContent = message;
    else notify(message, 'error');
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}

/** A message shown where a part of the page could not load, with a retry. */
export function failed(error, retry) {
  return h('div', { class: 'failed', role: 'alert' },
    h('p', { text: error && error.message ? error.message : 'Could not load this.' }),
    retry ? h('button', { type: 'button', onclick: retry, text: 'Try again' }) : null);
}

/** A labelled form field: `input`, `select` or `textarea` element `control` with its id. */
export function field(label, control, help = null) {
  const helpId = help ? `${control.id}-help` : null;
  if (helpId) control.setAttribute('aria-describedby', helpId);
  return h('div', { class: 'field' },
    h('label', { for: control.id, text: label }),
    control,
    help ? h('p', { id: helpId, class: 'small muted', text: help }) : null);
}

/** What is wrong with an invalid form control, naming it by its label. */
function problemWith(control) {
  const label = control.labels && control.labels[0] ? control.labels[0].textContent : 'A field';
  const v = control.validity;
  if (v.valueMissing) return `${label}: required.`;
  if (v.tooShort) return `${label}: at least ${control.minLength} characters.`;
  if (v.tooLong) return `${label}: at most ${control.maxLength} characters.`;
  if (v.rangeUnderflow || v.rangeOverflow) return `${label}: from ${control.min} to ${control.max}.`;
  if (v.typeMismatch && control.type === 'email') return `${label}: not an e-mail address.`;
  if (v.typeMismatch && control.type === 'url') return `${label}: not a web address (https://…).`;
  return `${label}: ${control.validationMessage || 'not valid.'}`;
}

/**
 * A modal form dialog made for one use. `body`: its fields; `action()` runs on submit with the
 * dialog showing progress; a rejection's message stays in the dialog (which stays open) until
 * the action succeeds or the user cancels. Escape and Cancel close it; focus returns to where it
 * was. `id` names the dialog (`dialog#<id>`, its submit button `#<id>-submit`).
 */
export function openDialog({ id, title, intro = null, body = [], confirm, danger = false, action }) {
  const opener = document.activeElement;
  const error = h('p', { id: `${id}-error`, class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: `${id}-submit`, class: danger ? 'danger' : 'primary', text: confirm });
  const cancel = h('button', { type: 'button', class: 'quiet', text: 'Cancel' });
  const form = h('form', { method: 'dialog', novalidate: true },
    h('h2', { id: `${id}-title`, text: title }),
    intro ? h('p', { class: 'muted', text: intro }) : null,
    body,
    error,
    h('div', { class: 'actions' }, cancel, submit));
  const dialog = h('dialog', { id, 'aria-labelledby': `${id}-title` }, form);
  const close = () => {
    if (dialog.open) dialog.close();
  };
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  cancel.addEventListener('click', close);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const invalid = form.querySelector('input:invalid, select:invalid, textarea:invalid');
    if (invalid) {
      error.textContent = problemWith(invalid);
      invalid.focus();
      return;
    }
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    submit.textContent = `${confirm}…`;
    error.textContent = '';
    try {
      await action();
      close();
    } catch (failure) {
      if (failure && failure.sessionEnded) close();
      else error.textContent = failure && failure.message ? failure.message : 'Something went wrong.';
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
      submit.textContent = confirm;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = form.querySelector('input, select, textarea');
  (first || submit).focus();
  return dialog;
}
