"""DESIGN.md's package table, enforced: each package imports only what it may.

`firmware_sim` is the other side of the wire and imports nothing of ours, so a mistake in `devices/` cannot cancel
out against the same mistake in the simulator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"profiles", "devices", "controller", "api", "firmware_sim", "testkit"}
ALLOWED = {
    "profiles": set(),
    "devices": {"profiles"},
    "controller": {"profiles", "devices", "api"},  # api only from controller/cli/, below
    "api": {"controller", "profiles"},
    "firmware_sim": set(),
    "testkit": {"profiles", "devices", "controller", "firmware_sim"},  # the tests' and benches' support, never theirs
}
# controller's three rooms: the pure core, the I/O shell around it, and the CLI outside both.
LAYERS = {
    "controller.core": {"controller.core"},
    "controller.shell": {"controller.core", "controller.shell"},
    "controller.cli": {"controller.core", "controller.shell", "controller.cli", "api"},
    "api": {"controller.core", "controller.shell", "api"},
}
# What the core may not touch: it takes time and state as arguments and does no I/O.
NOT_IN_CORE = {
    "asyncio",
    "socket",
    "selectors",
    "sqlite3",
    "threading",
    "multiprocessing",
    "subprocess",
    "ssl",
    "time",
    "os",
    "shutil",
    "urllib",
    "http",
    "paho",
    "influxdb_client",
    "phue",
    "uvicorn",
    "httpx",
    "requests",
    "fastapi",
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
    module.write_text("import os\nfrom controller.shell.service import Service\nimport devices.z2m\n")
    assert imported_packages(module) == {"controller", "devices"}


def imported_modules(path: Path, package: str | None = None) -> set[str]:
    """Every module a file imports, by its full dotted name (relative imports resolved against its package)."""
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> str | None:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_the_layers_inside_it(layer: str) -> None:
    files = sorted((ROOT / layer.replace(".", "/")).rglob("*.py"))
    assert files, f"{layer} has no modules"
    wrong = set()
    for path in files:
        for module in imported_modules(path):
            target = _layer(module)
            if target is not None and target not in LAYERS[layer]:
                wrong.add(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, sorted(wrong)


def test_controller_has_nothing_outside_its_three_layers() -> None:
    loose = {p.name for p in (ROOT / "controller").glob("*.py")} - {"__init__.py", "__main__.py"}
    assert not loose, f"put {sorted(loose)} in controller/core, controller/shell or controller/cli"


def test_the_core_does_no_io() -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "controller" / "core").rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in NOT_IN_CORE
    }
    assert not wrong, sorted(wrong)


def test_the_layer_check_sees_a_shell_import_in_the_core(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("from controller.shell.record import EventRecord\nfrom ..shell import bus\nimport time\n")
    imported = imported_modules(module, "controller.core")
    assert {"controller.shell.record", "controller.shell.bus", "time"} <= imported
    assert _layer("controller.shell.record") not in LAYERS["controller.core"]


def test_no_benchmark_imports_the_tests() -> None:
    """bench/ takes its support from testkit/: a benchmark is not a test, and tests/ is no library."""
    files = sorted((ROOT / "bench").rglob("*.py"))
    assert files, "bench/ has no modules"
    wrong = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in imported_modules(path, "bench")
        if module.split(".")[0] == "tests"
    }
    assert not wrong, sorted(wrong)


def _defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
    return False


def test_every_row_of_where_does_x_live_names_code_that_exists() -> None:
    """docs/architecture.md's table sends a newcomer to a file and a name: both must be there."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Where does X live", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "::" in line]
    assert len(rows) >= 20, "the table lost its rows"
    missing = []
    for row in rows:
        where = row.rstrip(" |").rsplit("`", 2)[-2]
        file, name = where.split("::")
        if not (ROOT / file).is_file() or not _defines(ROOT / file, name):
            missing.append(where)
    assert not missing, missing


METHODS_MAX = 20
"""A class with more than this many methods holds more than one idea (the old `Service` had 57)."""


def test_no_class_in_the_controller_holds_more_than_twenty_methods() -> None:
    crowded = []
    for path in sorted((ROOT / "controller").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                if len(methods) > METHODS_MAX:
                    crowded.append(f"{path.relative_to(ROOT)}: {node.name} has {len(methods)} methods")
    assert not crowded, crowded
