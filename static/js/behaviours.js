// Small behaviours of server-rendered pages, declared in the markup with data attributes instead
// of inline event handlers (which the Content-Security-Policy forbids):
//   <form data-confirm="Delete this?">   asks before submitting
//   <input data-select-on-click>         selects its whole value when clicked (links to copy)
//   <select data-submit-on-change>       submits its form when another option is chosen
// Listeners sit on the document, so markup added later behaves the same.

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) event.preventDefault();
});

document.addEventListener('click', (event) => {
  const input = event.target;
  if (input instanceof HTMLInputElement && input.hasAttribute('data-select-on-click')) input.select();
});

document.addEventListener('change', (event) => {
  const select = event.target;
  if (select instanceof HTMLSelectElement && select.hasAttribute('data-submit-on-change') && select.form) {
    select.form.submit();
  }
});
