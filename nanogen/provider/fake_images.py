"""The contract fake's images: a real PNG per prompt, drawn deterministically from the prompt's hash (Pillow)."""

from __future__ import annotations

import hashlib
import io
import random
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont


def draw_image(prompt: str, width: int, height: int, *, variant: int = 0) -> bytes:
    """A real PNG that depends on the prompt: gradient, shapes and the prompt's text, deterministic from its hash."""
    rnd = random.Random(hashlib.sha256(f'{prompt}\x00{variant}'.encode()).digest())

    def colour() -> tuple[int, int, int]:
        return rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)

    mask = Image.linear_gradient('L').transpose(rnd.choice(list(Image.Transpose))).resize((width, height))
    image = Image.composite(Image.new('RGB', (width, height), colour()),
                            Image.new('RGB', (width, height), colour()), mask).convert('RGBA')
    overlay = Image.new('RGBA', (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rnd.randint(6, 14)):
        x, y = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randint(min(width, height) // 20, min(width, height) // 4)
        fill = (*colour(), rnd.randint(80, 190))
        shape = rnd.choice(('ellipse', 'rectangle', 'polygon'))
        if shape == 'ellipse':
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        elif shape == 'rectangle':
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=fill)
        else:
            draw.regular_polygon((x, y, r), n_sides=rnd.randint(3, 7), rotation=rnd.uniform(0, 360), fill=fill)
    size = max(12, min(width, height) // 18)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # Pillow built without FreeType: the small bitmap font still works
        font = ImageFont.load_default()
    lines = textwrap.wrap(prompt, width=max(8, int(width / (size * 0.55))))[:5] or ['(empty prompt)']
    text = '\n'.join(lines)
    _left, top, _right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
    pad = size // 2
    y0 = height - (bottom - top) - 3 * pad
    draw.rectangle((0, y0, width, height), fill=(0, 0, 0, 140))
    draw.multiline_text((pad, y0 + pad - top), text, font=font, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert('RGB').save(out, format='PNG')
    return out.getvalue()


# Images are a pure function of their inputs: re-draw on demand instead of keeping every task's bytes.
cached_image = lru_cache(maxsize=32)(draw_image)


@lru_cache(maxsize=8)
def as_jpeg(png: bytes) -> bytes:
    """The same picture as a JPEG (generate-2's default outputFormat)."""
    with Image.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        image.convert('RGB').save(out, format='JPEG', quality=90)
        return out.getvalue()


def task_image(prompt: str, width: int, height: int, variant: int, file_format: str) -> bytes:
    """One task's image in its file format; module-level so it runs in an image worker process (nanogen/pools.py)."""
    png = cached_image(prompt, width, height, variant=variant)
    return as_jpeg(png) if file_format == 'jpg' else png
