"""/docs without a CDN: Swagger UI's files come from the fastapi-offline package (which ships
them), the page and its start-up script from here, so the Content-Security-Policy can forbid
inline scripts and every other origin (the product runs offline; FastAPI's default page
loads Swagger UI from a CDN and stays blank there). ReDoc is not served: it injects inline
styles, which the policy forbids."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

SWAGGER_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} - API docs</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" href="/docs/assets/favicon.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

# FastAPI's own settings for Swagger UI, plus: no calls to the public validator service, and
# the key entered under "Authorize" kept across reloads.
INIT_JS = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  persistAuthorization: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def install_docs(app: FastAPI) -> None:
    page = PAGE.format(title=app.title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(INIT_JS, media_type="text/javascript")

    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_ASSETS), name="docs-assets")
