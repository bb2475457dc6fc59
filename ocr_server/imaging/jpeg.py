"""Count a JPEG's scans from its marker structure, before any decoding.

Decoding a progressive JPEG costs about *scans x pixels*: every scan walks the whole coefficient
buffer, even a scan of a few bytes.  A 1.7 MB file whose one small AC scan is repeated 25,000
times costs minutes of CPU, so the scan count is read first (a linear pass over the bytes, no
allocation) and absurd files are refused.  Real encoders write 1 scan (baseline), 6 to 10
(libjpeg's progressive script), and rarely up to about 20 (mozjpeg's optimised scripts);
:data:`MAX_SCANS` leaves a wide margin above that.
"""

from __future__ import annotations

import re

MAX_SCANS = 64

_SOI = 0xD8
_EOI = 0xD9
_SOS = 0xDA
# Markers without a length field: TEM, RST0-7, SOI, EOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), _SOI, _EOI})
# In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte), a restart marker or fill bytes;
# anything else starts the next marker.
_MARKER_IN_ENTROPY_DATA = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def count_scans(data: bytes, stop_after: int = MAX_SCANS + 1) -> int:
    """Start-of-scan markers in ``data`` (stops counting at ``stop_after``).

    Walks the segments (length-prefixed), and inside entropy-coded data skips to the next
    ``0xFF`` that starts a real marker (``0xFF00`` is a stuffed byte, ``0xFFD0``-``D7`` are
    restart markers).  Malformed structure just ends the walk: the decoder reports it properly.
    """
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != _SOI:
        return 0
    pos, scans = 2, 0
    while pos + 1 < n:
        if data[pos] != 0xFF:
            return scans  # not at a marker: corrupt; let the decoder say so
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        pos += 2
        if marker == _EOI:
            return scans
        if marker in _STANDALONE:
            continue
        if pos + 1 >= n:
            return scans
        pos += (data[pos] << 8) | data[pos + 1]  # the segment's length includes its 2 length bytes
        if marker != _SOS:
            continue
        scans += 1
        if scans >= stop_after:
            return scans
        pos = _end_of_entropy_data(data, pos)
    return scans


def _end_of_entropy_data(data: bytes, pos: int) -> int:
    """Index of the marker that ends the entropy-coded segment starting at ``pos`` (or ``len``).

    One regular-expression search (in C), however many stuffed bytes the segment holds."""
    found = _MARKER_IN_ENTROPY_DATA.search(data, pos)
    return found.start() if found else len(data)
