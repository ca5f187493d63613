// The icons of workbench/icons.py, drawn from the inline sprite base.html renders.
const SVG = "http://www.w3.org/2000/svg";

/** A decorative icon: the button or link it sits in carries the words (text or aria-label). */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}
