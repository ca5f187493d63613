// A file dropped on a page opens in place of the page unless the page cancels the drop: a reader
// of a shared page, a viewer, or anyone letting go of a file beside where it can be attached
// would lose the page. Every page that may meet a dropped file calls guardFileDrops(); the places
// that take files (attachments-tray.js's dropTarget) cancel the drop themselves first, and the
// guard leaves what they did alone.

/** The drag carries files (not text or a link being dragged). */
export function carriesFiles(event) {
  return [...(event.dataTransfer?.types || [])].includes('Files');
}

let guarded = false;

/**
 * Cancels every drag and drop of files that nothing on the page took. The pointer shows that the
 * page does not take it (dropEffect "none"), so the drop does nothing: no navigation, no note.
 * Listens on the window, so it runs after the page's own listeners (the bubbling ends there).
 */
export function guardFileDrops(target = window) {
  if (guarded) return;
  guarded = true;
  for (const type of ['dragenter', 'dragover']) {
    target.addEventListener(type, (event) => {
      if (event.defaultPrevented || !carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'none';
    });
  }
  target.addEventListener('drop', (event) => {
    if (event.defaultPrevented || !carriesFiles(event)) return;
    event.preventDefault();
  });
}
