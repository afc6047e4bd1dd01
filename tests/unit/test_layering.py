"""DESIGN.md's package table, enforced: each package imports only what it may.

`firmware_sim` is the other side of the wire and imports nothing of ours, so a mistake in `devices/` cannot cancel
out against the same mistake in the simulator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"profiles", "devices", "controller", "api", "firmware_sim"}
ALLOWED = {
    "profiles": set(),
    "devices": {"profiles"},
    "controller": {"profiles", "devices"},
    "api": {"controller", "profiles"},
    "firmware_sim": set(),
}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_design_allows(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    if package != "api":  # the API arrives with its own issue
        assert files, f"{package}/ has no modules"
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imported_packages(path) - ALLOWED[package] - {package}
    }
    assert not wrong, sorted(wrong)


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom controller.service import Service\nimport devices.z2m\n")
    assert imported_packages(module) == {"controller", "devices"}
