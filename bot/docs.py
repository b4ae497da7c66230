"""API documentation served offline: Swagger UI and ReDoc from the assets the
``fastapi-offline`` package ships (FastAPI's self-hosting recipe), and the favicon.

A street office's network may have no internet; no page of ours asks another host for
anything (the browser tests fail on any request leaving 127.0.0.1).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
FAVICON = Path(__file__).resolve().parent / "static" / "favicon.svg"
LOCAL_ONLY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:"
)
HIDE_LOGO = 'a[href*="redocly.com"], a[href*="redoc.ly"] { display: none !important; }'


def install(app: FastAPI) -> None:
    """Add /docs, /redoc, their assets under /static/docs, and /favicon.ico."""
    app.mount("/static/docs", StaticFiles(directory=ASSETS), name="docs-assets")
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title} · API 文档",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
            # no badge from the public validator service
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi,
            title=f"{app.title} · API 文档",
            redoc_js_url="/static/docs/redoc.standalone.js",
            redoc_favicon_url="/favicon.ico",
            with_google_fonts=False,
        )
        # ReDoc's side menu shows its maker's logo from their CDN: the policy keeps the
        # browser from asking for it, and the link is hidden
        html = bytes(page.body).decode().replace("</head>", f"<style>{HIDE_LOGO}</style></head>")
        return HTMLResponse(html, headers={"Content-Security-Policy": LOCAL_ONLY})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(
            FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )
