"""Middlewares of the web gallery: security headers, friendly error pages, and a
``Server`` header that names no software version."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: no inline scripts or styles, nothing from other origins, never framed
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "media-src 'self'",
        # the atlas's pages ask their own status endpoints (fetch) as renders land
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # unlisted galleries carry their key in the URL: never send it to another site
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: ("Bad request", "That address doesn't look right."),
    404: ("Not found", "This dream isn't here: it may have been unpublished or deleted, or the link is wrong."),
    405: ("Method not allowed", "This page can only be read."),
    500: ("Something went wrong", "The gallery hit an error. Please try again in a moment."),
    503: ("Unavailable", "The gallery can't reach its storage right now. Please try again in a moment."),
}


#: the ``Server`` header of every response (aiohttp's default names its version)
SERVER_NAME = "DreamBot"


async def hide_server_version(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` signal: replace aiohttp's ``Server: Python/x aiohttp/y``."""
    response.headers["Server"] = SERVER_NAME


def hide_server_version_everywhere() -> None:
    """Also for the answers aiohttp makes before any app sees the request (``400 Bad
    Request`` to a malformed request line or header): those take their ``Server``
    header from a module constant, and no signal or middleware runs for them.
    Replacing that constant is the only way; it affects aiohttp servers only (the
    client's ``User-Agent`` is a separate copy). Idempotent.
    """
    import aiohttp.web_response

    aiohttp.web_response.SERVER_SOFTWARE = SERVER_NAME


def _apply_headers(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add :data:`SECURITY_HEADERS` to every response, errors included."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _apply_headers(exc)
        raise
    if not response.prepared:
        _apply_headers(response)
    return response


def error_pages(render: Callable[[web.Request, int, str, str], web.Response]) -> Callable:
    """A middleware that turns HTTP errors and crashes into HTML pages made by ``render``.

    ``render(request, status, title, message)`` builds the page. Redirects and
    304s pass through untouched; JSON endpoints (``/healthz``) build their own
    responses and are not affected.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            title, message = ERROR_TEXTS.get(exc.status, (exc.reason, ""))
            response = render(request, exc.status, title, message)
            for name in ("Allow", "Retry-After"):
                if name in exc.headers:
                    response.headers[name] = exc.headers[name]
            return response
        except Exception:
            log.exception("error serving %s %s", request.method, request.path)
            title, message = ERROR_TEXTS[500]
            return render(request, 500, title, message)

    return middleware
