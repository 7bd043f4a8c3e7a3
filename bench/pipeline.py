"""Pipeline throughput and gallery page weight.

`python -m bench.pipeline` processes the same provider images two ways, each storing 3 objects into a moto S3
server over real HTTP: nanogen's path (imaging.process in a thread + S3Storage.put x3, as GenerationService does)
and a raw Pillow + boto3 loop doing the same work. Target: the ratio of their images per second is close to 1.
It then weighs a gallery page of 60 thumbnails against the same 60 full processed PNGs. Target: under 1/10.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import time
from typing import Any

import boto3
from botocore.config import Config
from PIL import Image, ImageDraw, ImageFont, ImageOps

from bench.common import quiet_logs, report, verdict
from nanogen.images import pipeline as imaging
from nanogen.images.s3 import S3Storage
from nanogen.provider.fake import draw_image
from tests.support.s3 import TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, moto_s3_server

MAX_BYTES, MAX_PIXELS = 40 * 1024 * 1024, 64_000_000


def raw_process(data: bytes, size: int, watermark: str) -> tuple[bytes, bytes]:
    """The same work without nanogen: decode, fit, watermark, PNG, WebP thumbnail."""
    img = Image.open(io.BytesIO(data))
    img.load()
    img = img.convert('RGB')
    if img.size != (size, size):
        img = ImageOps.fit(img, (size, size), method=Image.Resampling.LANCZOS)
    overlay = Image.new('RGBA', img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    font = ImageFont.load_default(size=max(12, round(size * 0.035)))
    draw.rounded_rectangle((size - 220, size - 50, size - 20, size - 20), radius=6, fill=(0, 0, 0, 165))
    draw.text((size - 210, size - 48), watermark, font=font, fill=(255, 255, 255, 235))
    img = Image.alpha_composite(img.convert('RGBA'), overlay).convert('RGB')
    png = io.BytesIO()
    img.save(png, format='PNG', compress_level=6)
    thumb = img.copy()
    thumb.thumbnail((imaging.THUMBNAIL_EDGE, imaging.THUMBNAIL_EDGE), Image.Resampling.LANCZOS)
    webp = io.BytesIO()
    thumb.save(webp, format='WEBP', quality=imaging.THUMBNAIL_QUALITY, method=4)
    hashlib.sha256(png.getvalue()).hexdigest()
    return png.getvalue(), webp.getvalue()


def raw_loop(sources: list[bytes], endpoint: str, bucket: str, size: int) -> float:
    client = boto3.session.Session(aws_access_key_id=TEST_ACCESS_KEY_ID, aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
                                   region_name=TEST_REGION).client('s3', endpoint_url=endpoint, config=Config(
                                       s3={'addressing_style': 'path'}, request_checksum_calculation='when_required'))
    client.create_bucket(Bucket=bucket)
    started = time.perf_counter()
    for n, data in enumerate(sources):
        png, webp = raw_process(data, size, 'ACME')
        client.put_object(Bucket=bucket, Key=f'raw/{n}/image.png', Body=png, ContentType='image/png')
        client.put_object(Bucket=bucket, Key=f'raw/{n}/original.png', Body=data, ContentType='image/png')
        client.put_object(Bucket=bucket, Key=f'raw/{n}/thumb.webp', Body=webp, ContentType='image/webp')
    return time.perf_counter() - started


async def nanogen_loop(sources: list[bytes], endpoint: str, bucket: str, size: int
                       ) -> tuple[float, list[imaging.ProcessedImage]]:
    storage = S3Storage(bucket=bucket, endpoint_url=endpoint, access_key_id=TEST_ACCESS_KEY_ID,
                        secret_access_key=TEST_SECRET_ACCESS_KEY, region=TEST_REGION)
    await storage.ensure_bucket()
    out: list[imaging.ProcessedImage] = []
    started = time.perf_counter()
    for n, data in enumerate(sources):
        p = await asyncio.to_thread(imaging.process, data, size=size, aspect_ratio='1:1', watermark='ACME',
                                    max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
        await storage.put(f'users/1/{n}/0/image.png', p.image, content_type=p.content_type)
        await storage.put(f'users/1/{n}/0/original.png', p.original, content_type=p.original_content_type)
        await storage.put(f'users/1/{n}/0/thumb.webp', p.thumbnail, content_type='image/webp')
        out.append(p)
    elapsed = time.perf_counter() - started
    storage.close()
    return elapsed, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=60)
    parser.add_argument('--size', type=int, default=1024)
    args = parser.parse_args(argv)
    quiet_logs()
    sources = [draw_image(f'pipeline bench {n}', 1024, 1024) for n in range(args.images)]  # not timed
    with moto_s3_server() as endpoint:
        # Warm both paths (fonts, codecs, boto3's service model) so neither pays first-use costs in the timing.
        raw_loop(sources[:3], endpoint, 'bench-warm-raw', args.size)
        asyncio.run(nanogen_loop(sources[:3], endpoint, 'bench-warm-nanogen', args.size))
        raw_times, our_times = [], []
        for round_ in range(2):  # alternate, since the machine is shared: load spikes hit both sides alike
            raw_times.append(raw_loop(sources, endpoint, f'bench-raw-{round_}', args.size))
            elapsed, processed = asyncio.run(nanogen_loop(sources, endpoint, f'bench-nanogen-{round_}', args.size))
            our_times.append(elapsed)
    raw_rate = args.images / (sum(raw_times) / len(raw_times))
    our_rate = args.images / (sum(our_times) / len(our_times))
    thumbs = sum(len(p.thumbnail) for p in processed[:60])
    full = sum(len(p.image) for p in processed[:60])
    figures: dict[str, Any] = {
        'throughput': {'images': args.images, 'size_px': args.size, 'nanogen_images_per_s': round(our_rate, 2),
                       'raw_pillow_boto3_images_per_s': round(raw_rate, 2),
                       'ratio_nanogen_to_raw': round(our_rate / raw_rate, 3),
                       'target': 'ratio >= 0.9', 'verdict': 'PASS' if our_rate / raw_rate >= 0.9 else 'MISS'},
        'gallery_page_weight': {'thumbnails': min(60, len(processed)), 'thumbnails_bytes': thumbs,
                                'full_png_bytes': full, 'ratio': round(thumbs / full, 4),
                                'target': 'ratio < 0.1', 'verdict': verdict(thumbs / full, 0.1)},
    }
    report('pipeline', figures)


if __name__ == '__main__':
    main()
