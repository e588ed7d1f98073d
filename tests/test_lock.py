"""Installs are reproducible: the lock pins, with hashes, everything pyproject.toml asks for."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def locked() -> dict[str, tuple[str, int]]:
    """Each locked package: its version and how many hashes it has."""
    text = (ROOT / "requirements" / "dev.txt").read_text()
    entries = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)((?: \\\n\s+--hash=sha256:\w+)*)", text, re.M)
    return {
        canonicalize_name(name): (version, hashes.count("--hash="))
        for name, version, hashes in entries
    }


def test_the_lock_pins_every_dependency_and_dev_extra_with_hashes_in_the_versions_asked_for():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    asked = [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]
    pins = locked()

    for requirement in asked:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in the lock: run make lock"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version), f"{name}=={version}: run make lock"
        assert hashes > 0
    # Every line of the lock has its hashes, or pip refuses the whole file.
    assert all(hashes > 0 for _, hashes in pins.values())
