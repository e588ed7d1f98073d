"""axe-core in the page under test: WCAG 2.2 A/AA checks for the browser tests.

tests/vendor/axe.min.js is the npm package axe-core 4.14.1 (MPL-2.0, tests/vendor/LICENSE).
The test injects it through WebDriver, which the page's Content-Security-Policy does not govern,
so the app serves no extra script and its policy stays as strict as in production.
"""

from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_VERSION = "4.14.1"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

RUN = """
const [context, tags, done] = arguments;
axe.run(context || document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
  .then((results) => done({violations: results.violations.map((rule) => ({
    id: rule.id,
    impact: rule.impact,
    help: rule.help,
    nodes: rule.nodes.map((node) => ({target: node.target, summary: node.failureSummary})),
  }))}))
  .catch((error) => done({error: String(error)}));
"""


def violations(driver, context: str | dict | None = None) -> list[dict]:
    """axe's WCAG 2.2 A/AA violations on the current page, or within `context` (a selector or
    an axe context object)."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text())
    driver.set_script_timeout(60)
    outcome = driver.execute_async_script(RUN, context, WCAG_22_AA)
    if "error" in outcome:
        raise AssertionError(f"axe could not run on {driver.current_url}: {outcome['error']}")
    return outcome["violations"]


def describe(found: list[dict]) -> str:
    """One readable block per violated rule: rule, impact, what it asks, each element and why."""
    lines = []
    for rule in found:
        lines.append(f"- {rule['id']} ({rule['impact']}): {rule['help']}")
        for node in rule["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {target}: {summary}")
    return "\n".join(lines)


def assert_accessible(driver, context: str | dict | None = None) -> None:
    """Fail with a readable list when axe finds any WCAG 2.2 A/AA violation on the page."""
    found = violations(driver, context)
    assert not found, f"axe {AXE_VERSION} on {driver.current_url}:\n{describe(found)}"
