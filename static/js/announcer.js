// The page's one live region: a reply's start and end, said once each (a transcript itself is
// never live: a streaming reply would be read out frame by frame), and what an action did.
export function announcer(region) {
  return function announce(text) {
    if (region.textContent === text) {
      // The same words again are news again: empty the region first, so they are read.
      region.textContent = '';
      setTimeout(() => (region.textContent = text), 100);
    } else {
      region.textContent = text;
    }
  };
}
