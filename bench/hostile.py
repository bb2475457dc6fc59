"""Hostile inputs for the hardening tests and ``bench/attacks.py``, generated in memory (no files).

Each one is cheap to make and small on the wire but expensive for a naive server:

* :func:`progressive_jpeg_bomb`: a progressive greyscale JPEG whose smallest AC scan is repeated
  thousands of times (decoding cost is scans x pixels);
* :func:`png_1bit_bomb`: a 1-bit PNG of a large side (a few kilobytes that decode to tens of
  megapixels, each decoded to a byte);
* :func:`chunked_request` and friends: raw HTTP/1.1 requests with broken framing.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

SOS = 0xDA
EOI = b"\xff\xd9"


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """``(marker, start, end)`` of every marker segment; a scan's segment includes its entropy data."""
    out, pos, n = [], 2, len(data)
    while pos + 3 < n:
        marker = data[pos + 1]
        length = (data[pos + 2] << 8) | data[pos + 3]
        end = pos + 2 + length
        if marker == SOS:
            while True:  # entropy data runs to the next marker that is not a stuffed byte or a restart
                end = data.index(b"\xff", end)
                if data[end + 1] != 0 and not 0xD0 <= data[end + 1] <= 0xD7:
                    break
                end += 1
        out.append((marker, pos, end))
        if data[end : end + 2] == EOI:
            break
        pos = end
    return out


def progressive_jpeg_bomb(side: int = 2000, repeats: int = 5000) -> bytes:
    """A valid progressive greyscale ``side`` x ``side`` JPEG with its smallest AC scan added
    ``repeats`` more times (libjpeg warns about the repeated band and decodes on)."""
    img = Image.linear_gradient("L").resize((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", progressive=True, quality=75)
    data = buf.getvalue()
    scans = [(start, end) for marker, start, end in _segments(data) if marker == SOS]
    ac_scans = [(s, e) for s, e in scans if data[s + 4 + 1 + 2 * data[s + 4]] > 0]  # Ss > 0: an AC band
    start, end = min(ac_scans, key=lambda se: se[1] - se[0])
    assert data.endswith(EOI)
    return data[:-2] + data[start:end] * repeats + EOI


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_1bit_bomb(side: int = 6324) -> bytes:
    """A black 1-bit ``side`` x ``side`` PNG: about 12 KB for 6324 px, 40 M pixels once decoded."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\0" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def multipart_body(images: list[bytes], boundary: str = "hostileboundary") -> tuple[bytes, str]:
    """A multipart/form-data body repeating field ``image``; returns ``(body, content type)``."""
    parts = []
    for i, data in enumerate(images):
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="l{i}.png"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def chunked_request(path: str, chunks: bytes, content_type: str = "image/png") -> bytes:
    """A POST whose body is ``chunks`` verbatim under ``Transfer-Encoding: chunked``."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + chunks


# name -> raw request bytes whose framing is broken; every one must be answered 4xx in JSON
MALFORMED_REQUESTS: dict[str, bytes] = {
    "bad chunk size": chunked_request("/api/v1/ocr", b"zz\r\nabc\r\n0\r\n\r\n"),
    "missing CRLF after chunk data": chunked_request("/api/v1/ocr", b"3\r\nabcXX4\r\nabcd\r\n0\r\n\r\n"),
    "bad chunk extension": chunked_request("/api/v1/ocr", b"3;\x01bad\r\nabc\r\n0\r\n\r\n"),
    "bad Content-Length": b"POST /api/v1/ocr HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n",
    "two Content-Lengths": (
        b"POST /api/v1/ocr HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
    ),
    "request line too long (414)": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "too many headers (431)": b"GET /health HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n",
    "bad request line": b"GARBAGE\r\n\r\n",
    "bad HTTP version": b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
    "bad header name": b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
}
