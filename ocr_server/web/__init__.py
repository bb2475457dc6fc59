"""The upload page at ``/``: plain HTML, CSS and JavaScript served from this package (no CDN).

The page only calls the public API (``/api/v1/info``; ``/api/v1/ocr``, JSON with page images for
documents and the other output formats for the download buttons; and, for several files at once,
``/api/v1/jobs``), so it is also a living example of how to use it.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from ..api.state import get_state

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@bp.get("/")
def index() -> str:
    limits = get_state().config.limits
    return render_template("index.html", max_upload_bytes=limits.max_upload_bytes, max_pages=limits.max_pages)
