"""QR codes drawn on the server as inline SVG: no image request, no script, no CDN."""

from __future__ import annotations

import qrcode
from qrcode.image.svg import SvgPathImage


def qr_svg(data: str) -> str:
    """An ``<svg>`` element (no XML declaration) encoding ``data``."""
    image = qrcode.make(data, image_factory=SvgPathImage, border=4)
    return image.to_string(encoding="unicode")
