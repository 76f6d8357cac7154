// An accessible confirmation dialog built on <dialog>: focus moves into it,
// Escape cancels, and focus returns to the button that opened it.

import { h } from './dom';

/** Asks a yes/no question; resolves true when the user confirms. */
export function confirmDialog(title: string, text: string, confirmLabel: string): Promise<boolean> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
  const ok = h('button', { type: 'button', class: 'button button-danger' }, confirmLabel);
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-text' },
    h('h2', { id: 'dialog-title' }, title),
    h('p', { id: 'dialog-text' }, text),
    h('div', { class: 'dialog-actions' }, cancel, ok),
  );
  document.body.appendChild(dialog);
  return new Promise((resolve) => {
    let answer = false;
    cancel.addEventListener('click', () => dialog.close());
    ok.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    });
    dialog.showModal();
    cancel.focus();
  });
}
