"""axe-core's accessibility audit on a page in real Chromium: the vendored engine
(tests/vendor/axe-core/, checked against its SHA-256) run on the page as it is, its violations as
readable lines."""
from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
# The WCAG 2.1 A and AA rules.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def _engine() -> str:
    source = AXE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    if digest != AXE_SHA256:
        raise AssertionError(f"{AXE} is not the axe-core the tests name (sha256 {digest}); see its README.md")
    return source.decode("utf-8")


def axe_violations(page, *, include: str | None = None) -> list[str]:
    """WCAG 2.1 A/AA violations on the page (or within the `include` selector), one line each:
    the rule, its help text and the elements that break it. The engine is evaluated through the
    browser's debugging protocol, so the page's Content Security Policy does not stand in its way."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(_engine())
    result = page.evaluate(
        """async ([include, tags]) => {
            const context = include ? { include: [include] } : document;
            const options = { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] };
            const { violations } = await window.axe.run(context, options);
            return violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
        }""",
        [include, AXE_TAGS],
    )
    return list(result)


def axe_audit(page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations of the given impacts, each as {id, impact, help, nodes},
    a node as {target, summary}: the element's selector and the first line of what fails on it
    (for contrast: the ratio and both colours)."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(_engine())
    result = page.evaluate(
        """async ([tags, impacts]) => {
            const options = { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] };
            const { violations } = await window.axe.run(document, options);
            const firstLine = (text) => (text || '').split('\\n').map((l) => l.trim())
                .filter((l) => l && !/^Fix (any|all) of the following:?$/.test(l))[0] || '';
            return violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: firstLine(n.failureSummary) })),
            }));
        }""",
        [AXE_TAGS, list(impacts)],
    )
    return list(result)
