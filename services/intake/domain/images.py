"""Photos and scans re-encoded from their pixels: what is stored is a fresh JPEG or PNG drawn by Pillow, so no
EXIF (GPS position, camera, owner), no comment, no colour profile and no bytes after the image (a JPEG/HTML
polyglot) survive. An image that does not decode, or would decode to more than ``max_pixels`` pixels (a
decompression bomb), is refused.

Pure: bytes in, bytes out, no I/O. Refusals carry a stable ``code`` and a message in Bahasa Indonesia.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

import pillow_heif
from PIL import Image, ImageCms, ImageOps

DEFAULT_MAX_PIXELS: Final = 40_000_000
JPEG_QUALITY: Final = 90
# the parser Pillow may use for each type (``filetype`` already said what the bytes are): a PNG is never handed
# to the JPEG parser, and no other of Pillow's parsers ever sees an upload
_FORMATS: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
REENCODED: Final = frozenset({*_FORMATS, "image/heic"})


class ImageRefused(Exception):
    """Codes: ``attachment_unreadable`` (does not decode), ``attachment_image_too_large`` (too many pixels)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


def reencode(data: bytes, content_type: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[bytes, str]:
    """(the clean bytes, their content type) of an image of ``content_type`` (one of ``REENCODED``). A PNG
    stays a PNG, a WebP with transparency becomes a PNG; everything else (JPEG, HEIC, opaque WebP) a JPEG.
    Raises ``ImageRefused``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _decoded(data, content_type, max_pixels)
            image = _upright(image)
            as_png = content_type == "image/png" or (content_type == "image/webp" and _has_alpha(image))
            image = _srgb(image)
            image = _for_png(image) if as_png else _for_jpeg(image)
            image.info = {}  # comment, text chunks, XMP, EXIF, ICC: Pillow writes what ``info`` holds
            out = io.BytesIO()
            if as_png:
                image.save(out, "PNG")
            else:
                image.save(out, "JPEG", quality=JPEG_QUALITY)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(max_pixels) from None
    except Exception:  # noqa: BLE001  (hostile bytes make Pillow's parsers raise many kinds of error)
        raise ImageRefused(
            "attachment_unreadable", "Gambar tidak dapat dibaca (rusak atau bukan gambar yang utuh)."
        ) from None
    return out.getvalue(), "image/png" if as_png else "image/jpeg"


def _decoded(data: bytes, content_type: str, max_pixels: int) -> Image.Image:
    """The first frame, decoded, after its declared size was checked (the header is read before any pixel)."""
    if content_type == "image/heic":
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        _check_size(heif.size, max_pixels)
        return heif.to_pillow()
    fmt = _FORMATS.get(content_type)
    if fmt is None:
        raise ImageRefused("attachment_unreadable", "Berkas ini bukan gambar yang dapat diolah.")
    image = Image.open(io.BytesIO(data), formats=[fmt])
    _check_size(image.size, max_pixels)
    image.load()
    return image


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageRefused("attachment_unreadable", "Gambar tidak dapat dibaca (ukurannya kosong).")
    if width * height > max_pixels:
        raise _too_large(max_pixels)


def _too_large(max_pixels: int) -> ImageRefused:
    mp = max_pixels / 1_000_000
    shown = f"{mp:.0f}" if mp == int(mp) else f"{mp:.1f}".replace(".", ",")
    return ImageRefused(
        "attachment_image_too_large",
        f"Gambar terlalu besar (maksimal {shown} megapiksel). Kirim foto dengan resolusi lebih kecil.",
    )


def _upright(image: Image.Image) -> Image.Image:
    """Turned as the camera's EXIF orientation says (the tag itself is not kept); a broken EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(image)  # a new image (None only when asked to work in place)
    except Exception:  # noqa: BLE001  (whatever a hostile EXIF block makes Pillow raise, the pixels stay as they are)
        return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _srgb(image: Image.Image) -> Image.Image:
    """Pixels moved into sRGB when the image carries another colour profile (phones write Display P3), since
    the profile itself is not kept; an unusable profile is dropped."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted or image


def _for_png(image: Image.Image) -> Image.Image:
    if image.mode in ("1", "L", "LA", "RGB", "RGBA"):
        return image.copy()
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _for_jpeg(image: Image.Image) -> Image.Image:
    if image.mode in ("L", "RGB"):
        return image.copy()
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
