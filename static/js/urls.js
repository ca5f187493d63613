// URLs from the server, never built by hand. The server reverses each URL the page needs and
// leaves the ids it cannot know yet as named slots in braces, named as the URL pattern names them:
//
//   page.urls.branch === '/c/12/t/{turn_id}/branch.json'
//   fillUrl(page.urls.branch, { turn_id: 34 }) === '/c/12/t/34/branch.json'
//
// (converters.url_template builds them.) A reversed URL has no literal brace (Django percent-encodes
// one), so every "{name}" is a slot. A slot left without a value is an error, not a broken link.

const SLOT = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function fillUrl(template, values = {}) {
  if (typeof template !== 'string') throw new TypeError(`fillUrl: the template is ${typeof template}, not a string`);
  return template.replace(SLOT, (_, name) => {
    const value = values[name];
    if (value == null || value === '') throw new Error(`fillUrl: no value for {${name}} in ${template}`);
    return encodeURIComponent(String(value));
  });
}

// The slots a template has, in order: to check what the server sent.
export function urlSlots(template) {
  return [...String(template).matchAll(SLOT)].map((m) => m[1]);
}
