"""Idempotency-Key replays: a request's fingerprint, and whether a stored prompt answers the same request."""

from __future__ import annotations

import hashlib
import json

from nanogen.errors import NanogenError
from nanogen.generation.requests import GenerationRequest
from nanogen.models import Prompt


class Conflict(NanogenError):
    http_status = 409
    code = 'conflict'


def request_fingerprint(req: GenerationRequest, uploads: list[bytes]) -> str:
    """SHA-256 of the whole request: every validated field, and each uploaded reference by its content (uploads
    get new storage URLs on every call, so their bytes are what identifies them)."""
    fields: dict[str, object] = {'prompt': req.prompt, 'size': req.size, 'aspect_ratio': req.aspect_ratio,
                                 'num_images': req.num_images, 'watermark': req.watermark,
                                 'reference_urls': [] if uploads else list(req.reference_urls),
                                 'uploads': [hashlib.sha256(data).hexdigest() for data in uploads]}
    if req.model != 'nanobanana':  # only then: Nano Banana requests keep the fingerprints they always had
        fields.update(model=req.model, resolution=req.resolution, google_search=req.google_search,
                      output_format=req.output_format)
    canonical = json.dumps(fields, sort_keys=True, separators=(',', ':'), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def same_request_or_conflict(existing: Prompt, req: GenerationRequest, fingerprint: str | None) -> None:
    """Conflict (409) unless `existing`, found by the same Idempotency-Key, was made from this same request."""
    if existing.request_fingerprint is not None:
        same = existing.request_fingerprint == fingerprint
    else:  # a row from before fingerprints: compare what it stores
        stored_urls = tuple(json.loads(existing.reference_urls)) if existing.reference_urls else ()
        same = ((existing.prompt, existing.image_size, existing.aspect_ratio, existing.num_images, existing.watermark,
                 existing.task_type) == (req.prompt, req.size, req.aspect_ratio, req.num_images, req.watermark,
                                         req.task_type.value)
                and (req.task_type.value == 'IMAGE_TO_IMAGE' or stored_urls == req.reference_urls))
    if not same:
        raise Conflict('This Idempotency-Key was already used for a different request: use a new key for a new '
                       'generation.')
