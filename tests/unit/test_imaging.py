"""imaging: exact output sizes, the watermark, and refusal of bad bytes before they cost memory."""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from nanogen.config import ASPECT_RATIOS, SIZES
from nanogen.errors import ImageError
from nanogen.images import pipeline as imaging

LIMITS = {'max_bytes': 40 * 1024 * 1024, 'max_pixels': 64_000_000}


def encode(img: Image.Image, fmt: str = 'PNG', **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@functools.cache
def photo(width: int = 640, height: int = 480) -> Image.Image:
    """A busy picture (gradient + noise) so encoders cannot make it trivially small."""
    noise = Image.effect_noise((width, height), 60)
    gradient = Image.linear_gradient('L').resize((width, height))
    return Image.merge('RGB', (noise, gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))


@functools.cache
def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit all-black PNG of width x height: a few dozen KB that would decode to a huge image."""
    row = b'\x00' * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b''.join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr) + png_chunk(b'IDAT', idat) + png_chunk(b'IEND', b'')


def pixels_never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError('pixels were decoded')
    monkeypatch.setattr(ImageFile.ImageFile, 'load', refuse)


# ---------------------------------------------------------------- dimensions

@pytest.mark.parametrize(('size', 'ratio', 'expected'), [
    (1024, '1:1', (1024, 1024)), (1024, '16:9', (1024, 576)), (1024, '9:16', (576, 1024)),
    (512, '4:3', (512, 384)), (1536, '2:3', (1024, 1536)), (768, '21:9', (768, 329)),
])
def test_target_dimensions_long_edge_is_the_size(size: int, ratio: str, expected: tuple[int, int]) -> None:
    assert imaging.target_dimensions(size, ratio) == expected


@pytest.mark.parametrize(('size', 'ratio'), [(1000, '1:1'), (1024, '2:1'), (1024, '16/9')])
def test_target_dimensions_refuses_unknown_values(size: int, ratio: str) -> None:
    with pytest.raises(ValueError):
        imaging.target_dimensions(size, ratio)


@pytest.mark.parametrize('ratio', ASPECT_RATIOS)
@pytest.mark.parametrize('size', SIZES)
def test_every_size_and_ratio_gives_exact_pixels(size: int, ratio: str) -> None:
    smooth = Image.linear_gradient('L').resize((300, 200)).convert('RGB')  # cheap to encode at 1536 px
    result = imaging.process(encode(smooth), size=size, aspect_ratio=ratio, watermark=None, **LIMITS)
    width, height = imaging.target_dimensions(size, ratio)
    with Image.open(io.BytesIO(result.image)) as out:
        assert out.format == 'PNG' and out.size == (width, height)
    assert (result.width, result.height) == (width, height)
    assert max(width, height) == size
    w_part, h_part = (int(p) for p in ratio.split(':'))
    assert abs(width * h_part - height * w_part) <= max(w_part, h_part)  # the ratio, to within a pixel


def test_process_reports_hash_type_and_keeps_the_original() -> None:
    source = encode(photo(), 'JPEG', quality=90)
    result = imaging.process(source, size=512, aspect_ratio='1:1', watermark=None, **LIMITS)
    assert result.content_type == 'image/png' and result.image.startswith(b'\x89PNG')
    assert result.sha256 == hashlib.sha256(result.image).hexdigest()
    assert result.original == source and result.original_content_type == 'image/jpeg'


# ---------------------------------------------------------------- watermark

def corner_boxes(size: tuple[int, int]) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    w, h = size
    return (0, 0, w // 3, h // 3), (w - w // 3, h - h // 8, w, h)


@pytest.mark.parametrize('background', [(255, 255, 255), (0, 0, 0), (40, 160, 90)])
def test_watermark_marks_the_bottom_right_and_leaves_the_top_left(background: tuple[int, int, int]) -> None:
    plain = Image.new('RGB', (1024, 576), background)
    marked = imaging.draw_watermark(plain, 'ACME internal')
    top_left, bottom_right = corner_boxes(plain.size)
    assert marked.size == plain.size and marked.mode == plain.mode
    assert marked.crop(top_left).tobytes() == plain.crop(top_left).tobytes()
    corner = marked.crop(bottom_right).convert('L')
    low, high = corner.getextrema()
    assert high >= 200 and low <= 100  # white text on a dark box (contrast > 4.5:1) on any background


def test_process_applies_the_watermark() -> None:
    source = encode(Image.new('RGB', (600, 600), (200, 200, 200)))
    plain = imaging.process(source, size=512, aspect_ratio='1:1', watermark=None, **LIMITS)
    marked = imaging.process(source, size=512, aspect_ratio='1:1', watermark='© Team', **LIMITS)
    with Image.open(io.BytesIO(plain.image)) as a, Image.open(io.BytesIO(marked.image)) as b:
        top_left, bottom_right = corner_boxes(a.size)
        assert a.crop(top_left).tobytes() == b.crop(top_left).tobytes()
        assert a.crop(bottom_right).tobytes() != b.crop(bottom_right).tobytes()


def test_watermark_text_is_trimmed_to_100_characters() -> None:
    img = Image.new('RGB', (1536, 1536), (90, 90, 90))
    text = 'watermark ' * 10
    assert imaging.draw_watermark(img, text + 'and much more text ' * 20).tobytes() == \
        imaging.draw_watermark(img, text).tobytes()


def test_blank_watermark_changes_nothing() -> None:
    img = photo()
    assert imaging.draw_watermark(img, '  \n ').tobytes() == img.tobytes()


def test_long_watermark_stays_inside_a_small_image() -> None:
    img = Image.new('RGB', (512, 512), (255, 255, 255))
    marked = imaging.draw_watermark(img, 'W' * 100)
    assert marked.crop((0, 0, 512, 400)).tobytes() == img.crop((0, 0, 512, 400)).tobytes()
    assert marked.crop((0, 480, 512, 512)).convert('L').getextrema()[0] <= 100


# ---------------------------------------------------------------- thumbnails

def test_thumbnail_is_a_small_webp() -> None:
    result = imaging.process(encode(photo(1024, 1024)), size=1024, aspect_ratio='16:9', watermark=None, **LIMITS)
    assert result.thumbnail[:4] == b'RIFF' and result.thumbnail[8:12] == b'WEBP'
    assert len(result.thumbnail) < len(result.image) / 10
    with Image.open(io.BytesIO(result.thumbnail)) as thumb:
        assert thumb.size == (256, 144)


# ---------------------------------------------------------------- refusing bad bytes

def test_truncated_png_is_refused() -> None:
    data = encode(photo())
    with pytest.raises(ImageError, match='damaged or incomplete'):
        imaging.decode(data[:len(data) // 2], **LIMITS)


def test_png_missing_its_end_is_refused() -> None:
    with pytest.raises(ImageError, match='damaged or incomplete'):
        imaging.decode(encode(photo())[:-12], **LIMITS)  # the IEND chunk cut off


def test_html_is_not_an_image() -> None:
    with pytest.raises(ImageError) as caught:
        imaging.decode(b'<!DOCTYPE html><html><body>502 Bad Gateway</body></html>', **LIMITS)
    assert caught.value.user_message == 'The provider returned something that is not an image.'


def test_upload_errors_speak_of_the_upload() -> None:
    with pytest.raises(ImageError, match='The uploaded file is not an image'):
        imaging.decode(b'%PDF-1.7 ...', **LIMITS, source='upload')
    with pytest.raises(ImageError, match='The uploaded file is empty'):
        imaging.decode(b'', **LIMITS, source='upload')


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(ImageError) as caught:
        imaging.decode(b'', **LIMITS)
    assert caught.value.user_message == 'The provider returned an empty image.'


def test_over_max_bytes_is_refused() -> None:
    data = encode(photo())
    with pytest.raises(ImageError, match=rf'too large \({len(data):,} bytes; the limit is {len(data) - 1:,} bytes'):
        imaging.decode(data, max_bytes=len(data) - 1, max_pixels=LIMITS['max_pixels'])
    with pytest.raises(ImageError, match=r'too large \(.* MB; the limit is 0.1 MB\)'):
        imaging.decode(data, max_bytes=100 * 1024, max_pixels=LIMITS['max_pixels'])
    assert imaging.decode(data, max_bytes=len(data), max_pixels=LIMITS['max_pixels']).size == (640, 480)


def test_decompression_bomb_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = bomb_png(20000, 20000)
    assert len(bomb) < 100_000
    pixels_never_loaded(monkeypatch)
    with pytest.raises(ImageError, match=r'The image is too large \(20000x20000 pixels; the limit is 64 megapixels'):
        imaging.decode(bomb, **LIMITS)
    # Above Pillow's own bomb limit too: its refusal is reported the same way.
    with pytest.raises(ImageError, match=r'too large \(20000x20000 pixels'):
        imaging.decode(bomb, max_bytes=LIMITS['max_bytes'], max_pixels=10**12)


def test_our_pixel_limit_applies_below_pillows(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = bomb_png(9000, 8000)  # 72 Mpx: under Pillow's default limit, over ours
    assert Image.MAX_IMAGE_PIXELS > 9000 * 8000
    pixels_never_loaded(monkeypatch)
    with pytest.raises(ImageError, match=r'too large \(9000x8000 pixels; the limit is 64 megapixels'):
        imaging.decode(bomb, **LIMITS)


def test_pixel_limit_is_inclusive() -> None:
    img = imaging.decode(encode(photo(100, 50)), max_bytes=10**6, max_pixels=5000)
    assert img.size == (100, 50)
    with pytest.raises(ImageError, match='100x50 pixels'):
        imaging.decode(encode(photo(100, 50)), max_bytes=10**6, max_pixels=4999)


@pytest.mark.parametrize(('size', 'maker'), [
    ((30000, 20), lambda: b'GIF89a' + struct.pack('<HH', 30000, 20)),
    ((16384, 16384), lambda: b'RIFF\0\0\0\0WEBPVP8X' + bytes(8) + (16383).to_bytes(3, 'little') * 2),
    ((640, 480), lambda: encode(photo(), 'JPEG')),
    ((640, 480), lambda: encode(photo(), 'WEBP')),
])
def test_header_size_reads_each_format(size: tuple[int, int], maker: object) -> None:
    assert imaging.header_size(maker()) == size  # type: ignore[operator]


# ---------------------------------------------------------------- accepted inputs

@pytest.mark.parametrize(('fmt', 'content_type', 'options'), [
    ('JPEG', 'image/jpeg', {'quality': 85}),
    ('WEBP', 'image/webp', {'quality': 80}),
    ('GIF', 'image/gif', {}),
    ('PNG', 'image/png', {}),
])
def test_common_formats_are_accepted(fmt: str, content_type: str, options: dict[str, object]) -> None:
    data = encode(photo(), fmt, **options)
    assert imaging.sniff_content_type(data) == content_type
    result = imaging.process(data, size=768, aspect_ratio='4:3', watermark='x', **LIMITS)
    assert (result.width, result.height) == (768, 576)
    assert result.original_content_type == content_type
    assert imaging.extension_for(content_type) in ('jpg', 'webp', 'gif', 'png')


def test_sniff_refuses_other_bytes() -> None:
    assert imaging.sniff_content_type(b'<html>') is None
    assert imaging.sniff_content_type(b'') is None
    with pytest.raises(ValueError):
        imaging.extension_for('text/html')


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new('RGB', (64, 64), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format='GIF', save_all=True, append_images=frames[1:], duration=100)
    img = imaging.decode(buf.getvalue(), **LIMITS)
    assert img.mode == 'RGB' and img.getpixel((10, 10)) == (255, 0, 0)


def test_metadata_is_stripped_and_orientation_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x010E] = 'secret-gps-description'
    data = encode(photo(200, 100), 'JPEG', exif=exif.tobytes(), comment=b'secret-comment')
    img = imaging.decode(data, **LIMITS)
    assert img.size == (100, 200)
    assert not img.info and not img.getexif()
    result = imaging.process(data, size=512, aspect_ratio='1:1', watermark=None, **LIMITS)
    assert b'secret' not in result.image and b'secret' not in result.thumbnail


def test_png_text_chunks_are_stripped() -> None:
    meta = PngImagePlugin.PngInfo()
    meta.add_text('Comment', 'secret-text')
    result = imaging.process(encode(photo(), pnginfo=meta), size=512, aspect_ratio='1:1', watermark=None,
                             **LIMITS)
    assert b'secret' not in result.image


def test_a_plain_png_already_at_its_size_is_kept_as_it_came() -> None:
    """No metadata, 8-bit RGB(A), no resize, no watermark: re-encoding it would only cost time on the critical path."""
    for img in (photo(512, 512), photo(512, 512).convert('RGBA')):
        data = encode(img, compress_level=9)  # a level the pipeline never writes: the bytes tell which path ran
        result = imaging.process(data, size=512, aspect_ratio='1:1', watermark=None, **LIMITS)
        assert result.image == data and result.sha256 == hashlib.sha256(data).hexdigest()
        assert result.thumbnail.startswith(b'RIFF') and imaging.plain_png(data)


def with_trailer(data: bytes) -> bytes:
    return data + b'secret-after-the-end'


def with_text(img: Image.Image) -> bytes:
    meta = PngImagePlugin.PngInfo()
    meta.add_text('Comment', 'secret-text')
    return encode(img, pnginfo=meta)


@pytest.mark.parametrize(('make', 'watermark'), [
    (lambda img: with_text(img), None),  # a text chunk
    (lambda img: encode(img, icc_profile=b'secret-profile'), None),  # a colour profile (unusable, so ignored)
    (lambda img: encode(img, dpi=(300, 300)), None),  # any other ancillary chunk (pHYs)
    (lambda img: with_trailer(encode(img)), None),  # bytes after IEND
    (lambda img: encode(img.convert('P')), None),  # a palette
    (lambda img: encode(img.convert('L')), None),  # greyscale: stored as RGB
    (lambda img: encode(img), 'nanogen'),  # a watermark changes the pixels
])
def test_a_png_with_anything_beside_plain_pixels_is_encoded_again(make: object, watermark: str | None) -> None:
    data = make(photo(512, 512))  # type: ignore[operator]
    result = imaging.process(data, size=512, aspect_ratio='1:1', watermark=watermark, **LIMITS)
    assert result.image != data and b'secret' not in result.image
    assert imaging.plain_png(result.image)  # what it writes carries nothing but the pixels
    with Image.open(io.BytesIO(result.image)) as final:
        assert final.mode in ('RGB', 'RGBA') and final.size == (512, 512)


def test_a_plain_png_that_needs_resizing_is_encoded_again() -> None:
    data = encode(photo(640, 480))
    result = imaging.process(data, size=512, aspect_ratio='1:1', watermark=None, **LIMITS)
    assert result.image != data and Image.open(io.BytesIO(result.image)).size == (512, 512)


@pytest.mark.parametrize(('img', 'mode'), [
    (Image.new('RGBA', (32, 32), (255, 0, 0, 128)), 'RGBA'),
    (Image.new('LA', (32, 32), (10, 20)), 'RGBA'),
    (Image.new('P', (32, 32), 3), 'RGB'),
    (Image.new('L', (32, 32), 77), 'RGB'),
    (Image.new('CMYK', (32, 32), (0, 0, 0, 0)), 'RGB'),
])
def test_modes_become_rgb_or_rgba(img: Image.Image, mode: str) -> None:
    fmt = 'JPEG' if img.mode == 'CMYK' else 'PNG'
    assert imaging.decode(encode(img, fmt), **LIMITS).mode == mode


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    img = Image.new('I;16', (16, 16), 32768)
    decoded = imaging.decode(encode(img), **LIMITS)
    assert decoded.mode == 'RGB' and 120 <= decoded.getpixel((0, 0))[0] <= 136
