"""The venue dashboard: one page, its stylesheet and its ES modules, served from the `api` package's `static/` folder.

The page needs no token to load (it asks for one and then talks to `/api/v1/...`), so these routes have no auth.
Files are read with `importlib.resources`, so the page works from an installed wheel as well as from a checkout.
They are served with a Content-Security-Policy that lets the page load nothing but itself, its own files and data:
images (its icon): no inline script or style, no other origin, and no framing by another page (clickjacking).
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse, Response

from controller.core.inputs import shown

router = APIRouter()

# Only these files are served: a request can never name anything else in the package.
ASSETS: dict[str, str] = {
    "dashboard.js": "text/javascript; charset=utf-8",  # the old entry point: it loads js/main.js
    "dashboard.css": "text/css; charset=utf-8",
}
MODULES = ("static", "js")
"""The page's ES modules: every file of this folder whose name MODULE_NAME matches, and nothing else."""
MODULE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,40}\.js")
JAVASCRIPT = "text/javascript; charset=utf-8"  # a module script of any other type is refused (with nosniff)
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    # The page is small and changes with the installed version; revalidate so a tablet picks up an upgrade.
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
AssetName = Annotated[str, Path(max_length=64)]


@cache
def _read(*parts: str) -> bytes:
    return files("api").joinpath("static", *parts).read_bytes()


@cache
def modules() -> frozenset[str]:
    """The module names that can be asked for: listed once from the folder, so a request only ever picks one of
    them by exact name (no path of its own reaches the file system)."""
    folder = files("api").joinpath(*MODULES)
    if not folder.is_dir():  # an install without them (see pyproject's package-data): 404s, not 500s
        return frozenset()
    return frozenset(f.name for f in folder.iterdir() if f.is_file() and MODULE_NAME.fullmatch(f.name))


def _not_found(name: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no such file {shown(name)}")


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The dashboard page (it asks for a token, then reads the API)."""
    return HTMLResponse(_read("index.html"), headers=HEADERS)


@router.api_route("/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def static_asset(name: AssetName) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise _not_found(name)
    return Response(_read(name), media_type=media_type, headers=HEADERS)


@router.api_route("/static/js/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def static_module(name: AssetName) -> Response:
    if not MODULE_NAME.fullmatch(name) or name not in modules():
        raise _not_found(name)
    return Response(_read("js", name), media_type=JAVASCRIPT, headers=HEADERS)
