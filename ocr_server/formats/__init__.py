"""Documents out: the OCR result as JSON, plain text, hOCR, ALTO XML or a searchable PDF.

Every writer is a pure function of :class:`~ocr_server.formats.model.Document` to bytes.  The
format is chosen by the ``format`` query parameter, else by the ``Accept`` header, else JSON; an
``Accept`` that names none of ours also gets JSON (clients that send ``Accept: */*`` or something
generic must keep working), while an unknown ``format`` value is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UnknownFormat
from .alto import MEDIA_TYPE as ALTO_TYPE
from .alto import write_alto
from .hocr import MEDIA_TYPE as HOCR_TYPE
from .hocr import write_hocr
from .model import Document
from .pdf import MEDIA_TYPE as PDF_TYPE
from .pdf import write_pdf
from .text import MEDIA_TYPE as TEXT_TYPE
from .text import write_text


@dataclass(frozen=True)
class OutputFormat:
    name: str
    media_type: str
    extension: str
    accept: tuple[str, ...]  # media types in Accept that select it
    writer: Callable[[Document], bytes] | None  # None: JSON, written by the API


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("json", "application/json", "json", ("application/json",), None),
        OutputFormat("text", TEXT_TYPE, "txt", ("text/plain",), write_text),
        OutputFormat(
            "hocr", HOCR_TYPE, "hocr.html", ("text/vnd.hocr+html", "text/html", "application/xhtml+xml"), write_hocr
        ),
        OutputFormat(
            "alto", ALTO_TYPE, "alto.xml", ("application/alto+xml", "application/xml", "text/xml"), write_alto
        ),
        OutputFormat("pdf", PDF_TYPE, "pdf", ("application/pdf",), write_pdf),
    )
}
ALIASES = {"txt": "text", "html": "hocr", "xml": "alto", "alto4": "alto"}


def choose_format(param: str | None, accept: list[tuple[str, float]]) -> OutputFormat:
    """The output format for a ``format`` parameter and the parsed ``Accept`` (type, quality) list.

    Accept is honoured by quality, ties in the order the client listed them; ``*/*`` and types we
    do not write fall back to JSON.
    """
    if param:
        name = ALIASES.get(param.strip().lower(), param.strip().lower())
        if name not in FORMATS:
            raise UnknownFormat(f"unknown format {param[:40]!r}: use one of {', '.join(FORMATS)}")
        return FORMATS[name]
    ranked = sorted(((q, -i, mt.lower()) for i, (mt, q) in enumerate(accept) if q > 0), reverse=True)
    for _q, _i, media_type in ranked:
        for fmt in FORMATS.values():
            if media_type in fmt.accept:
                return fmt
        if media_type in ("*/*", "application/*"):
            return FORMATS["json"]
    return FORMATS["json"]
