"""The venue dashboard: one page and its two assets, served from the `api` package's `static/` folder.

The page needs no token to load (it asks for one and then talks to `/api/v1/...`), so these routes have no auth.
Files are read with `importlib.resources`, so the page works from an installed wheel as well as from a checkout.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

router = APIRouter()

# Only these files are served: a request can never name anything else in the package.
ASSETS: dict[str, str] = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
# The page is small and changes with the installed version; revalidate so a tablet picks up an upgrade.
NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@cache
def _read(name: str) -> bytes:
    return files("api").joinpath("static", name).read_bytes()


@router.get("/", include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The dashboard page (it asks for a token, then reads the API)."""
    return HTMLResponse(_read("index.html"), headers=NO_CACHE)


@router.get("/static/{name}", include_in_schema=False)
async def static_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no such file {name!r}")
    return Response(_read(name), media_type=media_type, headers=NO_CACHE)
