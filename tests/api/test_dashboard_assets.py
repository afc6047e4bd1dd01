"""The dashboard's files as a browser asks for them: the page, its stylesheet and its ES modules under /static/js/.

No venue runs: the app answers these from the package alone, through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.routes.dashboard import MODULE_NAME, modules
from controller.shell.service import Service
from tests.integration.harness import example_venue

STATIC = Path(str(files("api").joinpath("static")))
ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']""")
Ask = Callable[[list[tuple[str, str]]], list[httpx.Response]]


@pytest.fixture
def ask(tmp_path: Path) -> Ask:
    """ask([(method, path), ...]) -> the responses, in order (redirects followed: "/static/js/" is sent to
    "/static/js" first)."""
    app = create_app(Service(example_venue("mqtt://127.0.0.1:1", tmp_path)), "admin-token")

    def run(requests: list[tuple[str, str]]) -> list[httpx.Response]:
        async def send() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://d.test", follow_redirects=True) as c:
                return [await c.request(method, path) for method, path in requests]

        return asyncio.run(send())

    return run


def test_every_module_is_served_as_javascript_with_the_pages_headers(ask: Ask) -> None:
    on_disk = sorted(p.name for p in (STATIC / "js").glob("*.js"))
    assert on_disk and sorted(modules()) == on_disk
    for name, r in zip(on_disk, ask([("GET", f"/static/js/{name}") for name in on_disk]), strict=True):
        assert r.status_code == 200, name
        assert r.headers["Content-Type"] == "text/javascript; charset=utf-8", name
        assert r.content == (STATIC / "js" / name).read_bytes(), name
        assert r.headers["Content-Security-Policy"].startswith("default-src 'self'; img-src 'self' data:;")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-cache"


def test_head_answers_like_get_without_the_body(ask: Ask) -> None:
    paths = ["/static/js/main.js", "/static/dashboard.js", "/static/dashboard.css", "/"]
    answers = ask([(method, path) for path in paths for method in ("GET", "HEAD")])
    for path, get, head in zip(paths, answers[::2], answers[1::2], strict=True):
        assert get.status_code == 200 and get.content, path
        assert head.status_code == 200 and head.content == b"", path
        assert head.headers["Content-Type"] == get.headers["Content-Type"], path
        assert head.headers["Content-Security-Policy"] == get.headers["Content-Security-Policy"], path


def test_the_page_loads_its_entry_module_and_every_import_is_served() -> None:
    """A module that names a file the route does not serve breaks the whole page: every import must resolve."""
    page = (STATIC / "index.html").read_text()
    assert '<script type="module" src="/static/js/main.js"></script>' in page
    served = modules()
    for module in (STATIC / "js").glob("*.js"):
        for target in IMPORT.findall(module.read_text()):
            assert target.startswith("./") and target[2:] in served, f"{module.name} imports {target}"
    assert IMPORT.findall((STATIC / "dashboard.js").read_text()) == ["/static/js/main.js"]


def test_nothing_but_the_modules_is_served_from_the_folder(ask: Ask) -> None:
    refused = [
        "/static/js/nope.js",
        "/static/js/package.json",  # in the folder (for node's tests), not a module
        "/static/js/Main.js",
        "/static/js/main.mjs",
        "/static/js/.main.js",
        "/static/js/main.js.map",
        "/static/js/..%2Fdashboard.css",
        "/static/js/%2e%2e%2findex.html",
        "/static/js/..%5C..%5Capp.py",
        "/static/js/main.js%00.css",
        "/static/js/",
        "/static/js",
        "/static/main.js",
    ]
    for path, r in zip(refused, ask([("GET", path) for path in refused]), strict=True):
        assert r.status_code == 404, (path, r.status_code)
        assert len(r.content) < 200, path
    assert not MODULE_NAME.fullmatch("package.json") and not MODULE_NAME.fullmatch("../main.js")


def test_a_huge_name_is_refused_before_any_lookup(ask: Ask) -> None:
    (r,) = ask([("GET", f"/static/js/{'a' * 5000}.js")])
    assert r.status_code == 422 and len(r.content) < 2000


def test_an_installed_package_has_every_file_of_the_dashboard() -> None:
    """setuptools' package-data globs do not recurse: a folder under static/ needs a pattern of its own, or the
    wheel (and so the Docker image) ships a page whose modules are missing."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    packaged = {path for pattern in patterns for path in (ROOT / "api").glob(pattern) if path.is_file()}
    every = sorted(p for p in (ROOT / "api" / "static").rglob("*") if p.is_file())
    missing = [str(p.relative_to(ROOT)) for p in every if p not in packaged]
    assert missing == [], f"pyproject.toml's package-data for api misses {missing}"
