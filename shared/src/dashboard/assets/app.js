// The dashboard: hash routes, the session, and the frame around every page.

import { can, post, request, session, setSession, whenSessionEnds } from './api.js?v=@VERSION@';
import { clearNotice, fill, notify, page, h } from './dom.js?v=@VERSION@';
import { showSignIn, showSignUp } from './signin.js?v=@VERSION@';
import { showFleet } from './fleet.js?v=@VERSION@';
import { showInstance } from './instance.js?v=@VERSION@';
import { showAlerts } from './alerts.js?v=@VERSION@';
import { showAudit } from './audit.js?v=@VERSION@';
import { showReports } from './reports.js?v=@VERSION@';
import { showConfirmDeletion } from './deletion.js?v=@VERSION@';
import { showUsers } from './users.js?v=@VERSION@';
import { showChannels, showMaintenance, showRoutes } from './settings.js?v=@VERSION@';

const NEXT_KEY = 'sikurd.next';
let leave = null;

/** Where to go after signing in: the page the user was on when the session ended. */
function rememberPlace(hash) {
  if (hash && hash.startsWith('#/') && !hash.startsWith('#/sign')) sessionStorage.setItem(NEXT_KEY, hash);
}

function takePlace() {
  const next = sessionStorage.getItem(NEXT_KEY);
  sessionStorage.removeItem(NEXT_KEY);
  return next && next.startsWith('#/') ? next : '#/fleet';
}

function showFrame() {
  const me = session();
  const top = document.getElementById('top');
  top.hidden = !me;
  document.body.dataset.userRole = me ? me.role : '';
  for (const el of document.querySelectorAll('#top [data-role]')) el.hidden = !can(el.dataset.role);
  if (me) fill(document.getElementById('who'), `${me.user.name} · ${me.tenant.name} · ${me.role}`);
  const route = location.hash.split('/')[1] || '';
  for (const link of document.querySelectorAll('[data-nav]')) {
    const here = link.dataset.nav === route || (route === 'instances' && link.dataset.nav === 'fleet');
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** Called by the sign-in page with the new session. */
function signedIn(me) {
  setSession(me);
  location.hash = takePlace();
}

async function route() {
  const hash = location.hash || '#/fleet';
  if (!hash.startsWith('#/')) return;
  if (leave) {
    leave();
    leave = null;
  }
  const [path, search] = hash.slice(2).split('?');
  const parts = path.split('/').map(decodeURIComponent);
  const params = new URLSearchParams(search || '');
  if (parts[0] === 'confirm-deletion' && parts[1]) {
    showFrame();
    leave = showConfirmDeletion(parts[1]);
    return;
  }
  if (parts[0] === 'signin' || parts[0] === 'signup') {
    if (session()) {
      location.hash = '#/fleet';
      return;
    }
    showFrame();
    if (parts[0] === 'signin') showSignIn(signedIn, params.get('ended') === '1');
    else showSignUp(signedIn);
    return;
  }
  if (!session()) {
    rememberPlace(hash);
    location.hash = '#/signin';
    return;
  }
  showFrame();
  const main = document.getElementById('main');
  const pages = {
    fleet: () => showFleet(),
    instances: () => (parts[1] ? showInstance(parts[1]) : null),
    alerts: () => showAlerts(params),
    maintenance: () => showMaintenance(),
    channels: () => showChannels(),
    routes: () => showRoutes(),
    users: () => showUsers(),
    audit: () => showAudit(),
    reports: () => showReports(params),
  };
  leave = Object.hasOwn(pages, parts[0]) ? pages[parts[0]]() : null;
  if (!leave) {
    location.hash = '#/fleet';
    return;
  }
  main.focus({ preventScroll: true });
}

whenSessionEnds(() => {
  rememberPlace(location.hash);
  showFrame();
  location.hash = '#/signin?ended=1';
});

document.getElementById('signout').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await post('/api/v1/auth/logout');
  } catch (error) {
    if (error.status !== 401) {
      notify(`Could not sign out: ${error.message}`, 'error');
      button.disabled = false;
      return;
    }
  }
  button.disabled = false;
  setSession(null);
  sessionStorage.removeItem(NEXT_KEY);
  clearNotice();
  location.hash = '#/signin';
});

document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});

async function start() {
  try {
    setSession(await request('GET', '/api/v1/me', undefined, { expect401: true }));
  } catch (error) {
    if (error.status !== 401) {
      page(h('div', { class: 'failed', role: 'alert' },
        h('p', { text: `Sikurd could not start: ${error.message}` }),
        h('button', { type: 'button', text: 'Try again', onclick: () => location.reload() })));
      return;
    }
    setSession(null);
  }
  window.addEventListener('hashchange', route);
  route();
}

start();
