"""Keep libtiff's own error printing out of the server's output.

Pillow decodes compressed TIFFs with libtiff, whose default error handler writes lines such as
``ZIPDecode: Decoding error at scanline 0`` straight to stderr, bypassing logging: a client could
write non-JSON lines into our logs at will.  The decoder's failure already reaches us as an
exception (answered 422), so the handler is simply removed.  Best effort: where libtiff cannot be
found in the process (not Linux, a static build) nothing changes.
"""

from __future__ import annotations

import ctypes
from pathlib import Path


def loaded_library(stem: str, maps: Path = Path("/proc/self/maps")) -> str | None:
    """Path of the shared library named ``<stem>...so...`` loaded in this process, if any."""
    try:
        lines = maps.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        name = Path(path).name
        if name.startswith(stem) and ".so" in name:
            return path
    return None


def silence_libtiff() -> bool:
    """Remove libtiff's stderr error and warning handlers; ``True`` when done."""
    from PIL import Image  # noqa: F401  (loads Pillow's _imaging and with it libtiff)

    path = loaded_library("libtiff")
    if path is None:
        return False
    try:
        lib = ctypes.CDLL(path)
        for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
            setter = getattr(lib, name)
            setter.restype = ctypes.c_void_p
            setter.argtypes = [ctypes.c_void_p]
            setter(None)
    except (OSError, AttributeError):
        return False
    return True
