// Copying to the clipboard: one button, with the copy icon, that says "Copied" for a moment.
import { icon } from './icons.js';

const SAID_FOR = 1600; // ms the button says what happened

/** Put `text` on the clipboard; true when it got there. The Clipboard API needs a secure context
 * (https, or 127.0.0.1); elsewhere a hidden field is selected and copied the old way. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_) {
    const field = document.createElement('textarea');
    field.value = text;
    field.setAttribute('readonly', '');
    field.className = 'visually-hidden';
    document.body.append(field);
    field.select();
    let copied = false;
    try {
      copied = document.execCommand('copy');
    } catch (_) {
      copied = false;
    }
    field.remove();
    return copied;
  }
}

/** Make `button` copy what `text()` gives when clicked, its label saying "Copied" (or `failed`)
 * for a moment, and back. Its first <span> is the label. */
export function wireCopy(button, text, { failed = 'Copy failed: select the text and copy it' } = {}) {
  const label = button.querySelector('span') || button;
  const idle = label.textContent;
  let timer = null;
  button.addEventListener('click', async () => {
    const copied = await copyText(text());
    label.textContent = copied ? 'Copied' : failed;
    button.querySelector('use')?.setAttribute('href', copied ? '#i-check' : '#i-copy');
    button.classList.toggle('copied', copied);
    clearTimeout(timer);
    timer = setTimeout(() => {
      label.textContent = idle;
      button.querySelector('use')?.setAttribute('href', '#i-copy');
      button.classList.remove('copied');
    }, SAID_FOR);
  });
  return button;
}

/** A new copy button for `text()` (or a string): "Copy" with the copy icon, or `label`. */
export function copyButton(text, { label = 'Copy', className = 'button compact', failed } = {}) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = className;
  const words = document.createElement('span');
  words.textContent = label;
  button.append(icon('copy'), words);
  return wireCopy(button, typeof text === 'function' ? text : () => text, failed ? { failed } : {});
}
