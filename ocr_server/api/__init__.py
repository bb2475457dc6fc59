"""The HTTP layer: JSON API (``v1``), operational endpoints (``ops``), error mapping, request hooks.

This is the only package (with ``web`` and ``uploads``) that imports Flask.
"""
