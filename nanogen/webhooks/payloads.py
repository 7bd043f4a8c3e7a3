"""The events' bodies: a small envelope around what happened (ids, status, prompt, model, cost, image API URLs)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from nanogen.models import Prompt, Status, utcnow
from nanogen.webhooks.tables import GENERATION_COMPLETED, GENERATION_FAILED


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace('+00:00', 'Z') if value is not None else None


def body(event: str, event_id: str, data: dict[str, Any], at: datetime | None = None) -> str:
    """The JSON text every attempt of a delivery sends (stored, so retries send the same bytes)."""
    envelope = {'id': event_id, 'type': event, 'created_at': _iso(at or utcnow()), 'data': data}
    return json.dumps(envelope, separators=(',', ':'), ensure_ascii=False, default=str)


def prompt_event(prompt: Prompt) -> str | None:
    """generation.completed / generation.failed for a prompt that just ended (None for other statuses)."""
    return {Status.COMPLETED.value: GENERATION_COMPLETED, Status.FAILED.value: GENERATION_FAILED}.get(prompt.status)


def prompt_data(prompt: Prompt, image_ids: tuple[int, ...], base_url: str) -> dict[str, Any]:
    """What a receiver needs about a finished generation; image URLs are the API's (they need the owner's token),
    never presigned storage URLs."""
    files = [{'id': i, 'image': f'{base_url}/api/v1/images/{i}/file?variant=image',
              'thumb': f'{base_url}/api/v1/images/{i}/file?variant=thumb'} for i in image_ids]
    return {'prompt_id': prompt.id, 'status': prompt.status, 'prompt': prompt.prompt, 'model': prompt.model,
            'size': prompt.image_size, 'resolution': prompt.resolution, 'aspect_ratio': prompt.aspect_ratio,
            'num_images': prompt.num_images, 'cost': str(prompt.cost), 'currency': 'USD',
            'error_message': prompt.error_message, 'image_ids': list(image_ids), 'images': files,
            'status_url': f'{base_url}/api/v1/prompts/{prompt.id}',
            'created_at': _iso(prompt.created_at), 'completed_at': _iso(prompt.completed_at)}
