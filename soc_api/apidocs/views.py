"""Swagger UI on ``/docs`` without a CDN: its files come from the ``swagger-ui-bundle-v2``
package (Apache-2.0, installed with citysoc) and are served under ``/docs/assets/``; the page
starts it with a script of ours, so the page has no inline script and keeps the console's
Content-Security-Policy. The remote validator badge is off: the page sends no request
anywhere but to this server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from citysoc.core.errors import NotFoundError

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# The only files of the bundle that are served, and their types.
ASSETS: Final[dict[str, str]] = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
BUNDLE = Path(str(swagger_ui_path))
# Swagger UI's stylesheet draws its icons as data: images; nothing else is widened.
DOCS_CSP: Final = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
)

PAGE: Final = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API reference</title>
  <link rel="icon" href="/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <script src="/docs/assets/swagger-ui-bundle.js" defer></script>
  <script src="/static/apidocs.js" defer></script>
</head>
<body>
  <main id="swagger-ui" data-openapi="{openapi}"><noscript>The API reference needs
  JavaScript; the OpenAPI document itself is at <a href="{openapi}">{openapi}</a>.</noscript>
  </main>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def api_reference(request: Request) -> Response:
    """The interactive reference of the OpenAPI document this server publishes."""
    app = request.app
    html = PAGE.format(title=app.title, openapi=app.openapi_url or "/openapi.json")
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP})


@router.get("/docs/assets/{name}")
def api_reference_asset(name: str) -> Response:
    """One file of the Swagger UI bundle (the listed ones only)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundError(f"no API reference file {name!r}")
    path = BUNDLE / name
    if not path.is_file():
        log.error("the Swagger UI bundle lacks %s (looked at %s)", name, path)
        raise NotFoundError(f"the Swagger UI bundle lacks {name!r}: reinstall citysoc")
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
