"""The venue dashboard: one page and its two assets, served from the `api` package's `static/` folder.

The page needs no token to load (it asks for one and then talks to `/api/v1/...`), so these routes have no auth.
Files are read with `importlib.resources`, so the page works from an installed wheel as well as from a checkout.
They are served with a Content-Security-Policy that lets the page load nothing but itself, its two assets and data:
images (its icon): no inline script or style, no other origin, and no framing by another page (clickjacking).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse, Response

from controller.inputs import shown

router = APIRouter()

# Only these files are served: a request can never name anything else in the package.
ASSETS: dict[str, str] = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
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
def _read(name: str) -> bytes:
    return files("api").joinpath("static", name).read_bytes()


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The dashboard page (it asks for a token, then reads the API)."""
    return HTMLResponse(_read("index.html"), headers=HEADERS)


@router.api_route("/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def static_asset(name: AssetName) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no such file {shown(name)}")
    return Response(_read(name), media_type=media_type, headers=HEADERS)
