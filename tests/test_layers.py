"""The imports point one way: channels -> inbox core -> models; features stay out of both."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "helpline"
CHANNELS = ("chat", "forms", "phone")
STAFF_FEATURES = (
    "followup",
    "survey",
    "reports",
    "api",
    "admin",
    "retention",
    "search",
    "canned",
)


def imported_packages(package: str) -> dict[str, set[str]]:
    """For each module of helpline.<package>, the helpline packages it imports."""
    found = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "helpline" and len(parts) > 1:
                    names.add(parts[1])
        found[str(path.relative_to(PACKAGE))] = names
    return found


def test_the_inbox_core_imports_no_channel_and_no_feature():
    for module, packages in imported_packages("inbox").items():
        assert not packages & {*CHANNELS, *STAFF_FEATURES, "abuse"}, module


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_imports_no_staff_feature(channel):
    for module, packages in imported_packages(channel).items():
        assert not packages & set(STAFF_FEATURES), module


def test_the_check_sees_an_import_inside_a_function(tmp_path, monkeypatch):
    module = tmp_path / "inbox" / "example.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from helpline.survey import service\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path)
    assert imported_packages("inbox") == {"inbox/example.py": {"survey"}}
