"""Image bytes in, checked and finished images out: decode/validate, resize, watermark, thumbnail (Pillow).

Every function here is pure and CPU-bound; async callers run them in the image workers (`nanogen.pools.in_images`).
Nothing here touches module-wide Pillow settings (`Image.MAX_IMAGE_PIXELS`, `LOAD_TRUNCATED_IMAGES`),
because other threads may be decoding at the same time.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from nanogen.config import ASPECT_RATIOS, SIZES
from nanogen.errors import ImageError

log = logging.getLogger(__name__)

# Only these decoders may see untrusted bytes: fewer parsers, smaller attack surface.
# (Pillow's JPEG plugin also opens MPO, the multi-picture JPEG many phones write.)
ACCEPTED_FORMATS = ('PNG', 'JPEG', 'WEBP', 'GIF')
THUMBNAIL_EDGE = 256
THUMBNAIL_QUALITY = 70
WATERMARK_MAX_CHARS = 100
EXTENSIONS = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif'}

Source = Literal['provider', 'upload']

_NOT_AN_IMAGE = {
    'provider': 'The provider returned something that is not an image.',
    'upload': 'The uploaded file is not an image. Use PNG, JPEG, WebP or GIF.',
}
_EMPTY = {
    'provider': 'The provider returned an empty image.',
    'upload': 'The uploaded file is empty.',
}
_DAMAGED = {
    'provider': 'The provider returned a damaged or incomplete image.',
    'upload': 'The uploaded image is damaged or incomplete.',
}


@dataclass(frozen=True)
class ProcessedImage:
    """A finished image plus what is stored next to it."""

    image: bytes  # final image, PNG
    content_type: str
    width: int
    height: int
    original: bytes  # the provider's bytes as received (they decoded cleanly)
    original_content_type: str
    thumbnail: bytes  # WebP, long edge THUMBNAIL_EDGE
    sha256: str  # of `image`


def target_dimensions(size: int, aspect_ratio: str) -> tuple[int, int]:
    """(width, height) for a size (the long edge) and an aspect ratio such as '16:9'."""
    if size not in SIZES:
        raise ValueError(f'unknown size {size!r}; expected one of {SIZES}')
    if aspect_ratio not in ASPECT_RATIOS:
        raise ValueError(f'unknown aspect ratio {aspect_ratio!r}; expected one of {ASPECT_RATIOS}')
    w_part, h_part = (int(p) for p in aspect_ratio.split(':'))
    short = round(size * min(w_part, h_part) / max(w_part, h_part))
    return (size, short) if w_part >= h_part else (short, size)


def sniff_content_type(data: bytes) -> str | None:
    """The image MIME type announced by the leading magic bytes, or None if it is none we accept."""
    if data.startswith(b'\x89PNG\r\n\x1a\n'):
        return 'image/png'
    if data.startswith(b'\xff\xd8\xff'):
        return 'image/jpeg'
    if data[:6] in (b'GIF87a', b'GIF89a'):
        return 'image/gif'
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'image/webp'
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as the header claims, read without Pillow; None when it cannot tell.

    Only used to word the error when Pillow refuses a decompression bomb before saying its size.
    """
    try:
        if data.startswith(b'\x89PNG\r\n\x1a\n') and data[12:16] == b'IHDR':
            width, height = struct.unpack('>II', data[16:24])
            return width, height
        if data[:6] in (b'GIF87a', b'GIF89a'):
            width, height = struct.unpack('<HH', data[6:10])
            return width, height
        if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
            chunk = data[12:16]
            if chunk == b'VP8X':
                return 1 + int.from_bytes(data[24:27], 'little'), 1 + int.from_bytes(data[27:30], 'little')
            if chunk == b'VP8 ':
                width, height = struct.unpack('<HH', data[26:30])
                return width & 0x3FFF, height & 0x3FFF
            if chunk == b'VP8L':
                bits = int.from_bytes(data[21:25], 'little')
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if data.startswith(b'\xff\xd8'):
            pos = 2
            while pos + 9 <= len(data) and data[pos] == 0xFF:
                marker = data[pos + 1]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                    height, width = struct.unpack('>HH', data[pos + 5:pos + 9])
                    return width, height
                pos += 2 + struct.unpack('>H', data[pos + 2:pos + 4])[0]
    except struct.error:
        pass
    return None


def extension_for(content_type: str) -> str:
    """The file extension for an accepted image type ('image/jpeg' -> 'jpg'); ValueError for others."""
    try:
        return EXTENSIONS[content_type.split(';')[0].strip().lower()]
    except KeyError:
        raise ValueError(f'no extension for content type {content_type!r}') from None


def _megabytes(n: int) -> str:
    return f'{n / (1024 * 1024):.1f}'.removesuffix('.0')


def decode(data: bytes, *, max_bytes: int, max_pixels: int, source: Source = 'provider',
           max_edge: int | None = None) -> Image.Image:
    """Check that `data` is one acceptable image and return it decoded, upright, RGB/RGBA, without metadata.

    Long because: the checks run in the order that keeps a hostile file cheap (size, header, pixel count, format,
    then the decode), and each one names its own error for the person.

    `source` only picks the wording of the error a person sees ('upload' for reference images).
    `max_edge` downscales to that long side; a JPEG is then decoded at a reduced scale (draft), so its full-size
    pixels never exist in memory.
    Raises ImageError for empty, oversized, non-image, damaged or too-many-pixel input.
    """
    if not data:
        raise ImageError(_EMPTY[source])
    if len(data) > max_bytes:
        size, limit = _megabytes(len(data)), _megabytes(max_bytes)
        if size == limit:  # just over: megabytes would read "1 MB; the limit is 1 MB"
            size, limit = f'{len(data):,} bytes', f'{max_bytes:,} bytes'
        else:
            size, limit = f'{size} MB', f'{limit} MB'
        raise ImageError(f'The image is too large ({size}; the limit is {limit}).', detail=f'{len(data)} bytes')
    if sniff_content_type(data) is None:
        # Cheap early exit for the common failure: an HTML or JSON error page in place of an image.
        raise ImageError(_NOT_AN_IMAGE[source], detail=f'leading bytes {data[:16]!r}')

    def too_many_pixels(width: int, height: int) -> ImageError:
        return ImageError(f'The image is too large ({width}x{height} pixels; the limit is '
                          f'{max_pixels / 1_000_000:g} megapixels).', detail=f'{width * height} pixels')

    # Image.open reads only the header, so the size check below happens before any pixel is decoded.
    # Pillow raises its own bomb error (or warning, which is an exception under -W error) for
    # headers above its global limit; both mean the same thing to the person.
    try:
        img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        dimensions = header_size(data)
        if dimensions is not None:
            raise too_many_pixels(*dimensions) from exc
        raise ImageError('The image is too large (too many pixels).', detail=str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(_NOT_AN_IMAGE[source], detail=str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(_DAMAGED[source], detail=f'{type(exc).__name__}: {exc}') from exc
    with img:
        width, height = img.size
        if width < 1 or height < 1:
            raise ImageError(_DAMAGED[source], detail=f'header size {width}x{height}')
        if width * height > max_pixels:
            raise too_many_pixels(width, height)
        try:
            # One decode pass: load() refuses pixel data cut short (LOAD_TRUNCATED_IMAGES stays off); a PNG cut
            # after its pixels, or with a corrupt chunk, is caught by the chunk walk below, which is what verify()
            # checked, without verify()'s second decompression.
            if max_edge and img.format == 'JPEG' and max(width, height) > max_edge:
                ratio = max_edge / max(width, height)
                img.draft(img.mode, (max(1, math.ceil(width * ratio)), max(1, math.ceil(height * ratio))))
            img.load()  # animated GIF/WebP: the first frame
            if img.format == 'PNG' and not _png_chunks_intact(data):
                raise ImageError(_DAMAGED[source], detail='PNG chunk structure or checksum broken')
            out = _normalise(img)
            if max_edge and max(out.size) > max_edge:
                out.thumbnail((max_edge, max_edge))  # Image.reduce by whole factors first, then a resample
            return out
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_many_pixels(width, height) from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
            # Pillow reports truncation and corrupt streams through a mix of these.
            raise ImageError(_DAMAGED[source], detail=f'{type(exc).__name__}: {exc}') from exc


def _png_chunks_intact(data: bytes) -> bool:
    """Every chunk is whole with a matching CRC, up to and including IEND (a walk over lengths: no decoding)."""
    pos, end, view = 8, len(data), memoryview(data)  # the view: checksumming IDAT copies nothing
    while pos + 12 <= end:
        (length,) = struct.unpack('>I', data[pos:pos + 4])
        body_end = pos + 8 + length
        if body_end + 4 > end:
            return False
        kind = data[pos + 4:pos + 8]
        (crc,) = struct.unpack('>I', data[body_end:body_end + 4])
        if zlib.crc32(view[pos + 4:body_end]) != crc:
            return False
        if kind == b'IEND':
            return True
        pos = body_end + 4
    return False


PLAIN_PNG_CHUNKS = frozenset({b'IHDR', b'IDAT', b'IEND'})


def plain_png(data: bytes) -> bool:
    """A PNG of 8-bit RGB or RGBA pixels, not interlaced, with no chunk beside them: no metadata (text, EXIF, time),
    no colour profile or gamma, no palette, no bytes after IEND. Call it on bytes decode() accepted (chunks whole, CRCs checked)."""
    if not data.startswith(b'\x89PNG\r\n\x1a\n') or len(data) < 33 or data[12:16] != b'IHDR':
        return False
    bit_depth, colour_type, _compression, _filter, interlace = data[24:29]
    if bit_depth != 8 or colour_type not in (2, 6) or interlace != 0:
        return False
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], 'big')
        kind = data[pos + 4:pos + 8]
        if kind not in PLAIN_PNG_CHUNKS:
            return False
        if kind == b'IEND':
            return pos + 12 + length == len(data)  # nothing hidden after it either
        pos += 12 + length
    return False


def _normalise(img: Image.Image) -> Image.Image:
    """Upright, RGB or RGBA, sRGB-ish and with no metadata left to leak (EXIF GPS, comments...)."""
    # In place: `img` is the decode's own, and an image with no orientation to fix is then not copied at all.
    ImageOps.exif_transpose(img, in_place=True)
    upright = img
    has_alpha = upright.mode in ('RGBA', 'LA', 'PA') or (
        upright.mode == 'P' and 'transparency' in upright.info)
    if upright.mode.startswith('I;16') or upright.mode == 'I':
        # 16-bit greyscale: scale to 8 bits first, otherwise convert() clips to white.
        upright = upright.convert('I').point(lambda v: v / 256).convert('L')
    mode = 'RGBA' if has_alpha else 'RGB'
    profile = upright.info.get('icc_profile')
    # The profile goes with the metadata, so apply it now (this is also how CMYK JPEGs keep their colours).
    out = _to_srgb(upright, profile, mode) if profile else None
    if out is None:
        out = upright.convert(mode)  # always a new image (also in the same mode), carrying a copy of the info dict
    out.info = {}  # no metadata left (the pixels are what is saved; the encoders write only what info holds)
    return out


def _to_srgb(img: Image.Image, profile: bytes, mode: str) -> Image.Image | None:
    """`img` converted from its embedded profile to sRGB in `mode`; None when the profile is unusable."""
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(img, src, ImageCms.createProfile('sRGB'), outputMode=mode)
    except Exception as exc:
        log.info('ignoring unusable ICC profile: %s', exc)
        return None


def resize_crop(img: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width x height, then crop the centre: exactly width x height pixels."""
    if width < 1 or height < 1:
        raise ValueError(f'bad target size {width}x{height}')
    if img.size == (width, height):
        return img  # the decode's own image, used by nothing else: no copy
    return ImageOps.fit(img, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def _fitted_font(draw: ImageDraw.ImageDraw, text: str, size: int, max_width: int
                 ) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, str]:
    """The largest font (from `size` down to a legible floor) in which `text` fits; else shorten the text."""
    floor = min(size, 10)
    while True:
        font = ImageFont.load_default(size=size)
        if draw.textlength(text, font=font) <= max_width:
            return font, text
        if size <= floor:
            break
        size = max(floor, int(size * 0.85))
    while len(text) > 1 and draw.textlength(text + '…', font=font) > max_width:
        text = text[:-1]
    return font, text.rstrip() + '…'


def draw_watermark(img: Image.Image, text: str) -> Image.Image:
    """Text in the bottom-right corner on a semi-transparent dark box, sized to the image."""
    text = ' '.join(text.split())[:WATERMARK_MAX_CHARS].rstrip()  # one line: newlines would break the box
    if not text:
        return img.copy()
    width, height = img.size
    short = min(width, height)
    margin = max(4, round(short * 0.02))
    pad = max(3, round(short * 0.012))
    overlay = Image.new('RGBA', img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    max_text_width = max(1, width - 2 * margin - 2 * pad)
    font, text = _fitted_font(draw, text, max(12, round(short * 0.035)), max_text_width)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    x1, y1 = width - margin, height - margin
    x0, y0 = max(0, x1 - box_w), max(0, y1 - box_h)
    draw.rounded_rectangle((x0, y0, x1, y1), radius=pad, fill=(0, 0, 0, 165))
    # textbbox is relative to the anchor, so subtract its offsets to sit the ink inside the padding.
    draw.text((x0 + pad - left, y0 + pad - top), text, font=font, fill=(255, 255, 255, 235))
    marked = Image.alpha_composite(img.convert('RGBA'), overlay)
    return marked if img.mode == 'RGBA' else marked.convert(img.mode)


def make_thumbnail(img: Image.Image) -> bytes:
    """A small WebP preview, long edge THUMBNAIL_EDGE (never upscaled)."""
    scale = min(1.0, THUMBNAIL_EDGE / max(img.size))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # Straight from the finished image (no copy); reducing_gap lets Pillow shrink by whole factors first.
    thumb = img if size == img.size else img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    if thumb.mode not in ('RGB', 'RGBA'):
        thumb = thumb.convert('RGB')
    buf = io.BytesIO()
    thumb.save(buf, format='WEBP', quality=THUMBNAIL_QUALITY, method=4)
    return buf.getvalue()


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    # Level 1 is about 3x faster to encode than the default 6 for ~15 % more bytes; this runs once per image on the
    # critical path between the provider finishing and the page being told.
    img.save(buf, format='PNG', compress_level=1)
    return buf.getvalue()


def process(data: bytes, *, size: int | None, aspect_ratio: str, watermark: str | None, max_bytes: int,
            max_pixels: int) -> ProcessedImage:
    """The provider's bytes -> the final PNG at exactly the requested dimensions (size None: the provider's own, as
    for the models sized by resolution), plus thumbnail."""
    decoded = decode(data, max_bytes=max_bytes, max_pixels=max_pixels)
    width, height = target_dimensions(size, aspect_ratio) if size is not None else decoded.size
    final = resize_crop(decoded, width, height)
    if watermark:
        final = draw_watermark(final, watermark)
    # A plain 8-bit RGB/RGBA PNG kept as it came (no resize, no watermark) is already the final PNG: its pixels are
    # exactly what decode() gave, and it carries nothing but them. Re-encoding it was a third of this function.
    image = data if final is decoded and plain_png(data) else _png_bytes(final)  # resized or marked: a new image
    original_type = sniff_content_type(data)
    assert original_type is not None  # decode() refused anything without a known signature
    return ProcessedImage(
        image=image, content_type='image/png', width=width, height=height,
        original=data, original_content_type=original_type,
        thumbnail=make_thumbnail(final), sha256=hashlib.sha256(image).hexdigest(),
    )
