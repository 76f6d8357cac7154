// Page bootstrap shared by every viewer page: asks for the admin token when
// there is none or the API refuses it, then lets the page render.

import { APIError, checkToken, clearToken, getToken, setToken, Unauthorized } from './api';
import { byId, h, replaceChildren } from './dom';

/** Renders a page into main; may throw Unauthorized or APIError. */
export type Render = (main: HTMLElement) => Promise<void>;

const TOKEN_HELP =
  'Use the admin token that replaygate printed at start-up (replaygate demo prints it) or the one configured in REPLAYGATE_ADMIN_TOKEN.';

/** Runs a page: login first when needed, then render, handling auth and API errors. */
export function run(render: Render): void {
  const start = () => {
    const main = byId('main');
    if (!getToken()) {
      showLogin(main, '', render);
      return;
    }
    void renderPage(main, render);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
}

async function renderPage(main: HTMLElement, render: Render): Promise<void> {
  showSession(main, render);
  replaceChildren(main, h('p', { class: 'status', role: 'status' }, 'Loading…'));
  try {
    await render(main);
  } catch (err) {
    handleError(main, err, render);
  }
}

/** Shows an error from a page action: a 401 returns to the login form. */
export function handleError(main: HTMLElement, err: unknown, render: Render): void {
  if (err instanceof Unauthorized) {
    clearToken();
    showLogin(main, 'The admin token was not accepted — it may have changed when replaygate restarted. Sign in again.', render);
    return;
  }
  const text = err instanceof APIError ? err.message : 'Something went wrong in the viewer: ' + String(err);
  const retry = h('button', { type: 'button', class: 'button' }, 'Try again');
  retry.addEventListener('click', () => void renderPage(main, render));
  replaceChildren(main, h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, text), retry));
}

function showSession(main: HTMLElement, render: Render): void {
  const signOut = h('button', { type: 'button', class: 'button button-quiet' }, 'Sign out');
  signOut.addEventListener('click', () => {
    clearToken();
    showLogin(main, 'Signed out. The token is forgotten in this tab.', render);
  });
  replaceChildren(byId('session'), signOut);
}

function showLogin(main: HTMLElement, message: string, render: Render): void {
  replaceChildren(byId('session'));
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help' + (message ? ' login-message' : ''),
  });
  const status = h('p', { id: 'login-message', class: message ? 'notice notice-error' : 'notice', role: 'alert', hidden: !message }, message);
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title', novalidate: true },
    h('h1', { id: 'login-title' }, 'Sign in to the replay viewer'),
    status,
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('p', { id: 'token-help', class: 'hint' }, TOKEN_HELP, ' It is kept only in this browser tab (sessionStorage) and sent as a bearer token.'),
    submit,
  );
  const say = (text: string) => {
    status.textContent = text;
    status.hidden = false;
    status.className = 'notice notice-error';
    input.setAttribute('aria-describedby', 'token-help login-message');
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      say('Enter the admin token.');
      input.focus();
      return;
    }
    submit.disabled = true;
    checkToken(token)
      .then((ok) => {
        if (!ok) {
          say('That token was not accepted. Check it and try again.');
          input.select();
          input.focus();
          return;
        }
        setToken(token);
        void renderPage(main, render).then(() => main.focus());
      })
      .catch((err: unknown) => say(err instanceof APIError ? err.message : String(err)))
      .finally(() => {
        submit.disabled = false;
      });
  });
  replaceChildren(main, form);
  input.focus();
}
