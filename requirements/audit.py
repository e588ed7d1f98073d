"""Known vulnerabilities of the locked versions: `make audit` (pip-audit against the lock).

pip-audit asks a vulnerability service about each locked version. Where that service cannot be
reached it still ends with "No known vulnerabilities found", having skipped every package as
"not found": this says plainly that nothing was checked instead.
"""

import json
import subprocess
import sys
from pathlib import Path

UNREACHABLE = "could not reach the vulnerability service, nothing was checked"


def main(lock: str) -> int:
    """Audit the lock; 1 when a locked version has a known vulnerability, else 0."""
    pip_audit = Path(sys.executable).parent / "pip-audit"
    # The lock's path is the Makefile's; nothing here comes from outside.
    result = subprocess.run(  # noqa: S603
        [
            str(pip_audit),
            *("--requirement", lock, "--require-hashes", "--disable-pip"),
            *("--format", "json", "--progress-spinner", "off"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        dependencies = json.loads(result.stdout)["dependencies"]
    except (ValueError, KeyError):
        # pip-audit stopped before answering (a connection error): its last line says why.
        reason = (result.stderr.strip().splitlines() or ["pip-audit gave no answer"])[-1]
        print(f"{UNREACHABLE} ({reason})")
        return 0
    checked = [d for d in dependencies if "skip_reason" not in d]
    if not checked:
        print(UNREACHABLE)
        return 0
    for dependency in dependencies:
        if "skip_reason" in dependency:
            print(f"not checked: {dependency['skip_reason']}")
    vulnerable = [d for d in checked if d["vulns"]]
    for dependency in vulnerable:
        for vulnerability in dependency["vulns"]:
            fixed = ", ".join(vulnerability["fix_versions"]) or "no fixed version yet"
            print(
                f"{dependency['name']} {dependency['version']}: {vulnerability['id']} "
                f"(fixed in {fixed})"
            )
    print(f"{len(checked)} locked packages checked, {len(vulnerable)} with known vulnerabilities")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
