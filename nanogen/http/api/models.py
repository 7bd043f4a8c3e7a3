"""The REST API's request and response shapes (what /api/docs shows), and their conversion from rows."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nanogen.accounts.users import Identity
from nanogen.library.queries import ImageRow, image_row
from nanogen.models import Image, Prompt

T = TypeVar('T')
SizeLiteral = Literal[512, 768, 1024, 1536]
RatioLiteral = Literal['1:1', '9:16', '16:9', '3:4', '4:3', '3:2', '2:3', '5:4', '4:5', '21:9',
                       '1:4', '1:8', '4:1', '8:1', 'auto']  # the last five: some models only (GET /models)
ModelLiteral = Literal['nanobanana', 'nanobanana-pro', 'nanobanana-2']
ResolutionLiteral = Literal['1K', '2K', '4K']
StatusLiteral = Literal['QUEUED', 'PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED']
VariantLiteral = Literal['image', 'original', 'thumb']


class ImageSize(enum.IntEnum):
    """A size in a query string ('1024' arrives as text; a JSON body must send a number)."""

    PX512 = 512
    PX768 = 768
    PX1024 = 1024
    PX1536 = 1536


def money(value: Decimal) -> str:
    """USD as a plain decimal string ('0.0125'): exact, unlike a JSON float."""
    return f'{Decimal(value).normalize():f}'


class ErrorBody(BaseModel):
    code: str = Field(description='Stable machine-readable code, e.g. `invalid_input`, `not_found`, `rate_limited`.')
    message: str = Field(description='What went wrong and what to do, fit to show a person.')
    field: str | None = Field(None, description='The request field at fault, for `invalid_input`.')
    details: list[dict[str, Any]] | None = Field(None, description='Every field-level problem, for `invalid_input`.')
    retry_after: float | None = Field(None, description='Seconds to wait before trying again (also a header).')


class ErrorEnvelope(BaseModel):
    model_config = ConfigDict(json_schema_extra={'example': {
        'success': False, 'data': None,
        'error': {'code': 'invalid_input', 'message': 'size: Input should be 512, 768, 1024 or 1536',
                  'field': 'size'}}})
    success: Literal[False] = False
    data: None = None
    error: ErrorBody


class Envelope(BaseModel, Generic[T]):
    """Every JSON answer: `success`, then `data` on success or `error` on failure."""

    success: bool = True
    data: T | None = None
    error: ErrorBody | None = None


class GenerateIn(BaseModel):
    """What to generate. Text to image, or image to image when reference image URLs are given."""

    # strict: `num_images: true` or `2.0` and `size: 512.0` are refused (422), not read as 1, 2 and 512.
    model_config = ConfigDict(extra='forbid', strict=True, json_schema_extra={'example': {
        'prompt': 'a red fox in fresh snow, golden hour', 'size': 1024, 'aspect_ratio': '16:9', 'num_images': 2,
        'watermark': 'ACME', 'reference_image_urls': []}})
    prompt: str = Field(min_length=1, max_length=20_000, description='What the image should show (3 characters '
                        'or more; the server limit is NANOGEN_PROMPT_MAX_LENGTH, 2000 by default).')
    model: ModelLiteral | None = Field(None, description='nanobanana (Nano Banana), nanobanana-pro or nanobanana-2 '
                                       'among those the server offers (NANOGEN_MODELS); null: its default.')
    size: SizeLiteral | None = Field(None, description='Pixels on the long side (Nano Banana only; 1024 when null).')
    resolution: ResolutionLiteral | None = Field(None, description='1K, 2K or 4K (Nano Banana Pro and 2 only; '
                                                 '1K when null).')
    aspect_ratio: RatioLiteral = Field('1:1', description="One of the model's ratios (1:4, 1:8, 4:1 and 8:1: "
                                       "Nano Banana 2 only; auto: Pro and 2).")
    num_images: int = Field(1, ge=1, le=4, description='More than 1 from a model without numImages: one provider request per image.')
    watermark: str | None = Field(None, max_length=100, description='Text stamped in a corner.')
    reference_image_urls: list[str] = Field(default_factory=list, max_length=14,
                                            description='http(s) URLs the provider fetches (image to image): up to '
                                                        '4 (Nano Banana), 8 (Pro) or 14 (2).')
    google_search: bool | None = Field(None, description='Google-search grounding (Nano Banana 2 only).')
    output_format: Literal['png', 'jpg'] | None = Field(None, description="The provider's file format (Nano Banana "
                                                        '2 only; jpg when null).')

    @field_validator('prompt', 'watermark')
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 and c not in '\n\t' for c in value):
            raise ValueError('must not contain control characters')
        return value

    @field_validator('size', 'num_images', mode='before')
    @classmethod
    def _whole_numbers_only(cls, value: object) -> object:
        # A Literal matches 512.0 (it equals 512), whatever `strict` says: refuse anything but a JSON integer.
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError('must be a whole number (not text, a decimal or true/false)')
        return value

    @field_validator('reference_image_urls')
    @classmethod
    def _urls_are_printable(cls, value: list[str]) -> list[str]:
        if any(len(u) > 2048 or not u.isprintable() for u in value):
            raise ValueError('each URL must be printable and at most 2048 characters')
        return value


class FileUrls(BaseModel):
    image: str = Field(description='The processed image (PNG).')
    original: str = Field(description="The provider's original.")
    thumb: str = Field(description='A small WebP thumbnail.')


class ImageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={'example': {
        'id': 42, 'prompt_id': 7, 'position': 0, 'width': 1024, 'height': 576, 'size_bytes': 812345,
        'is_favourite': False, 'created_at': '2026-03-01T12:00:00Z', 'prompt': 'a red fox in fresh snow',
        'image_size': 1024, 'aspect_ratio': '16:9', 'watermark': None, 'cost': '0.025', 'duration_ms': 7400,
        'files': {'image': 'https://nanogen.example/api/v1/images/42/file?variant=image',
                  'original': 'https://nanogen.example/api/v1/images/42/file?variant=original',
                  'thumb': 'https://nanogen.example/api/v1/images/42/file?variant=thumb'}}})
    id: int
    prompt_id: int
    position: int = Field(description='0-based place among the images of its prompt.')
    width: int
    height: int
    size_bytes: int
    is_favourite: bool
    created_at: datetime
    prompt: str
    image_size: int
    aspect_ratio: str
    watermark: str | None
    cost: str = Field(description="The whole prompt's cost in USD, as a decimal string.")
    duration_ms: int | None
    root_image_id: int | None = Field(None, description='The first of its versions (null: it is a root).')
    version_count: int = Field(1, description='Live versions in its tree, the root included.')
    model: str = Field('nanobanana', description="The model that made it.")
    resolution: str | None = Field(None, description='1K, 2K or 4K for Nano Banana Pro and 2 (their image_size is '
                                                     'then a placeholder 1024); null for Nano Banana.')
    tags: list[str] = Field(default_factory=list, description='Its tags, sorted (set with PUT .../tags).')
    rating: int | None = Field(None, description='1 to 5 stars; null: not rated (set with PUT .../rating).')
    files: FileUrls


class PromptOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={'example': {
        'id': 7, 'status': 'COMPLETED', 'prompt': 'a red fox in fresh snow', 'task_type': 'TEXT_TO_IMAGE',
        'image_size': 1024, 'aspect_ratio': '16:9', 'num_images': 1, 'watermark': None, 'error_message': None,
        'estimated_cost': '0.0125', 'cost': '0.0125', 'duration_ms': 7400, 'created_at': '2026-03-01T12:00:00Z',
        'completed_at': '2026-03-01T12:00:07Z', 'status_url': 'https://nanogen.example/api/v1/prompts/7',
        'image_ids': [42], 'images': []}})
    id: int
    status: StatusLiteral = Field(description='PENDING -> PROCESSING -> COMPLETED, FAILED or CANCELLED; '
                                              'QUEUED: a batch row waiting its turn.')
    prompt: str
    task_type: str
    model: str = Field(description='The model asked for (nanobanana, nanobanana-pro, nanobanana-2).')
    image_size: int
    resolution: str | None = Field(description='1K, 2K or 4K for the models sized by resolution; else null.')
    aspect_ratio: str
    num_images: int
    watermark: str | None
    billed_operation: str | None = Field(description="What the provider billed (its operationType), when it said.")
    error_message: str | None = Field(description='Why it failed or was cancelled.')
    estimated_cost: str
    cost: str = Field(description='What it cost in USD (0 until it completes).')
    suspect_submits: int = Field(0, description='Times it was sent again after a submit whose answer was lost (a '
                                                'crash or a cut connection): the provider may have billed each of '
                                                'those too, so their estimate is included in `cost`. Usually 0.')
    duration_ms: int | None
    created_at: datetime
    completed_at: datetime | None
    status_url: str = Field(description='GET this to follow the prompt.')
    image_ids: list[int]
    images: list[ImageOut] = Field(description='Filled in for a single prompt; empty in lists.')


class ListOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description='Pass as `cursor` for the next page; null on the last page.')


class DeletedOut(BaseModel):
    id: int
    deleted: bool = True
    undo_until: datetime | None = Field(
        None, description='Until then `POST /api/v1/images/{id}/restore` brings the image back; after it the files '
                          'are gone for good. The image is hidden from every read at once.')


class MeOut(BaseModel):
    id: int
    email: str
    name: str
    avatar_url: str
    is_admin: bool
    via_token: bool = Field(description='True when this request was authenticated by a personal API token.')


class UsageBucket(BaseModel):
    period_start: datetime
    prompts: int
    completed: int
    failed: int
    images: int
    spend: str = Field(description='USD, as a decimal string.')


class UsageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={'example': {
        'period': 'day', 'date_from': '2026-03-01T00:00:00Z', 'date_to': '2026-03-03T00:00:00Z',
        'buckets': [{'period_start': '2026-03-01T00:00:00Z', 'prompts': 3, 'completed': 2, 'failed': 1,
                     'images': 4, 'spend': '0.05'}],
        'totals': {'period_start': '2026-03-01T00:00:00Z', 'prompts': 3, 'completed': 2, 'failed': 1,
                   'images': 4, 'spend': '0.05'}}})
    period: Literal['day', 'month']
    date_from: datetime
    date_to: datetime
    buckets: list[UsageBucket] = Field(description='Only periods with activity, oldest first.')
    totals: UsageBucket


# ---------------------------------------------------------------------------------------------- conversions

def file_urls(base: str, image_id: int) -> FileUrls:
    url = f'{base}/api/v1/images/{image_id}/file?variant='
    return FileUrls(image=url + 'image', original=url + 'original', thumb=url + 'thumb')


def image_out(base: str, row: ImageRow, labels: tuple[list[str], int | None] | None = None) -> ImageOut:
    """`labels`: the image's (tags, stars) from Tagging.labels_of; None: none."""
    tags, rating = labels or ([], None)
    return ImageOut(id=row.id, prompt_id=row.prompt_id, position=row.position, width=row.width, height=row.height,
                    size_bytes=row.size_bytes, is_favourite=row.is_favourite, created_at=row.created_at,
                    prompt=row.prompt, image_size=row.image_size, aspect_ratio=row.aspect_ratio,
                    watermark=row.watermark, cost=money(row.cost), duration_ms=row.duration_ms,
                    root_image_id=row.root_image_id, version_count=row.version_count, model=row.model,
                    resolution=row.resolution, tags=tags, rating=rating,
                    files=file_urls(base, row.id))


def prompt_out(base: str, prompt: Prompt, images: list[Image] | None = None) -> PromptOut:
    assert prompt.id is not None
    images = images or []
    return PromptOut(id=prompt.id, status=prompt.status, prompt=prompt.prompt,
                     task_type=prompt.task_type, model=prompt.model, image_size=prompt.image_size,
                     resolution=prompt.resolution, billed_operation=prompt.billed_operation,
                     aspect_ratio=prompt.aspect_ratio,
                     num_images=prompt.num_images, watermark=prompt.watermark, error_message=prompt.error_message,
                     estimated_cost=money(prompt.estimated_cost), cost=money(prompt.cost),
                     suspect_submits=prompt.suspect_submits,
                     duration_ms=prompt.duration_ms, created_at=prompt.created_at, completed_at=prompt.completed_at,
                     status_url=f'{base}/api/v1/prompts/{prompt.id}',
                     image_ids=[i.id for i in images if i.id is not None],
                     images=[image_out(base, image_row(i, prompt)) for i in images])


def me_out(identity: Identity) -> MeOut:
    return MeOut(id=identity.id, email=identity.email, name=identity.name, avatar_url=identity.avatar_url,
                 is_admin=identity.is_admin, via_token=identity.via_token)
