"""Which methods a path takes: `Allow` on a 405 and the answer to `OPTIONS`.

FastAPI makes one route per method, and Starlette's router answers 405 with the methods of the first route whose
path matched, so `DELETE /api/v1/forced-profile` was told `Allow: GET`, although that path also takes PUT. Here the
app's routes are asked, method by method, whether they would take the request: only `BaseRoute.matches`, which
holds however FastAPI nests the routes of included routers.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request, Response, status
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

__all__ = ["METHODS", "allowed_methods", "method_not_allowed"]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
"""The methods a route of this app may take (OPTIONS is answered here for every path)."""


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route takes at the scope's path, and OPTIONS, sorted."""
    allowed = {"OPTIONS"}
    for method in METHODS:
        probe: Scope = {
            "type": "http",
            "method": method,
            "path": scope["path"],
            "root_path": scope.get("root_path", ""),
            "headers": scope.get("headers", []),
        }
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            allowed.add(method)
    return sorted(allowed)


def method_not_allowed(request: Request) -> Response:
    """`OPTIONS`: 204 with `Allow`. Any other method the path does not take: 405 with the whole `Allow`."""
    allow = {"Allow": ", ".join(allowed_methods(request.app.router.routes, request.scope))}
    if request.method == "OPTIONS":
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers=allow)
    return JSONResponse({"detail": "Method Not Allowed"}, status_code=status.HTTP_405_METHOD_NOT_ALLOWED, headers=allow)
