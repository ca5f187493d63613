// "What the model saw": what it says of a request's attached files (shown by static/js/context.js).
// The body shows each image as a short placeholder, never its base64, and each text file in full.

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function filesFacts(files = [], context = {}) {
  const facts = [];
  const images = files.filter((f) => f.kind === 'image').length;
  const texts = files.length - images;
  if (images) facts.push(`${plural(images, 'image')} sent: each shown below as a placeholder with its name, type, size in pixels and bytes`);
  if (texts) facts.push(`${plural(texts, 'text file')} sent in full, as documents before the prompt’s text`);
  const left = Number(context?.images_left_out) || 0;
  if (left > 0) facts.push(`${plural(left, 'image')} ${left === 1 ? 'was' : 'were'} left out: this model cannot see images`);
  return facts;
}
