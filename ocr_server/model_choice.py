"""Which loaded model a request reads with: ``?model=NAME`` or ``?model=NAME:VERSION``.

A server loads its default bundle plus ``model.additional`` ones (see :mod:`ocr_server.config`);
this module is the pure rule that maps a request's ``model`` parameter onto one of them, kept apart
from Flask so the rule is unit-tested on its own and the CLI or the jobs API can share it.

Why these rules: the name alone is what a client knows ("I want Chinese": ``crnn-zh``), so it must
be enough; when the server holds several versions of that name, the default wins if it is one of
them (the operator's choice), else the newest (an explicit ``:VERSION`` picks any loaded one).  A
model that is installed on disk but not loaded is refused like an unknown one: loading on demand
would put seconds of work and unbounded memory behind an ordinary request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from .errors import UnknownModel

_PARAM = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9-]{0,62})(?:[:@](?P<version>[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?))?$"
)


class Named(Protocol):
    """What is needed of a loaded model (:class:`~ocr_server.recognition.recognizer.ModelInfo`)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...


def parse_model_param(value: str) -> tuple[str, str | None]:
    """``"crnn-zh"`` → ``("crnn-zh", None)``; ``"crnn-zh:1.0.0"`` (or ``@``) → ``("crnn-zh", "1.0.0")``.

    Raises :class:`~ocr_server.errors.UnknownModel` (400) for anything else, quoting at most 40
    characters of it."""
    match = _PARAM.match(value.strip())
    if match is None:
        raise UnknownModel(f"model {value[:40]!r} is not NAME or NAME:VERSION (e.g. crnn-zh or crnn-zh:1.0.0)")
    return match["name"], match["version"]


def _version_key(version: str) -> tuple[int, ...]:
    core = re.split(r"[-+]", version, maxsplit=1)[0]
    return tuple(int(p) for p in core.split("."))


def choose_model(loaded: Sequence[Named], value: str | None) -> int:
    """Index into ``loaded`` (the default first) of the model ``value`` asks for; ``None`` or an
    empty value is the default.  Unknown or not loaded: :class:`UnknownModel` naming what is."""
    if value is None or not value.strip():
        return 0
    name, version = parse_model_param(value)
    candidates = [i for i, m in enumerate(loaded) if m.name == name and (version is None or m.version == version)]
    if not candidates:
        have = ", ".join(f"{m.name}:{m.version}" for m in loaded) or "none"
        wanted = f"{name}:{version}" if version else name
        raise UnknownModel(f"model {wanted} is not loaded by this server (loaded: {have})")
    if 0 in candidates:
        return 0
    return max(candidates, key=lambda i: _version_key(loaded[i].version))
