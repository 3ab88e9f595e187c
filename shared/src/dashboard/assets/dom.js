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
