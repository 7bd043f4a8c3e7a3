"""Batch rows checked with the single-prompt rules (`validate_request`, the catalogue's per-model limits): each row
gets its request and estimate, or its own error; a batch with any error is never submitted."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal

from nanogen.batches.inputs import RawRow
from nanogen.config import Settings
from nanogen.errors import InvalidInput
from nanogen.generation.catalogue import model_spec
from nanogen.generation.requests import GenerationRequest, parse_id, validate_request

PLACEHOLDER = 'https://reference.invalid/'  # stands in for a reference's signed URL while validating


@dataclass(frozen=True)
class PlannedRow:
    """A row after validation: `request` when valid, else `error` (and the `field` it is about)."""

    raw: RawRow
    request: GenerationRequest | None = None
    estimate: Decimal = Decimal(0)
    error: str | None = None
    field: str | None = None
    reference_image_id: int | None = None
    reference_upload: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Plan:
    rows: list[PlannedRow]
    total_estimate: Decimal
    errors: int = field(default=0)

    @property
    def ok(self) -> bool:
        return self.errors == 0


def _images(text: str | None) -> object:
    if text is None:
        return 1
    return int(text) if text.isascii() and text.isdigit() and len(text) < 4 else text


def _size_fields(settings: Settings, model: str | None, size: str | None) -> dict[str, object]:
    """The sheet's one size/resolution column, as the field the chosen model is sized by."""
    try:
        spec = model_spec(settings, model)
    except InvalidInput:
        return {'size': size}  # validate_request names the bad model
    if spec.by_resolution:
        return {'resolution': size}
    return {'size': size}


def plan_row(settings: Settings, raw: RawRow, *, own_image_ids: Collection[int], uploads: Collection[str]) -> PlannedRow:
    """Validate one row: the same checks and messages as a single prompt, plus its reference."""
    image_id: int | None = None
    upload: str | None = None
    refs: tuple[str, ...] = ()
    if raw.reference is not None:
        image_id = parse_id(raw.reference)
        if image_id is not None and image_id in own_image_ids:
            refs = (PLACEHOLDER + str(image_id),)
        elif raw.reference in uploads:
            image_id, upload, refs = None, raw.reference, (PLACEHOLDER + 'upload',)
        else:
            return PlannedRow(raw=raw, error=f'Unknown reference "{raw.reference[:60]}": give one of your gallery '
                              'image ids or the name of a file uploaded with the batch.', field='reference')
    try:
        req = validate_request(prompt=raw.prompt, aspect_ratio=raw.ratio or '1:1', num_images=_images(raw.images),
                               watermark=raw.watermark, reference_urls=refs, model=raw.model,
                               max_prompt_length=settings.prompt_max_length, settings=settings,
                               **_size_fields(settings, raw.model, raw.size))
    except InvalidInput as exc:
        return PlannedRow(raw=raw, error=exc.user_message, field=_column(exc.field))
    return PlannedRow(raw=raw, request=req, estimate=req.estimated_cost(settings), reference_image_id=image_id,
                      reference_upload=upload)


def _column(name: str | None) -> str | None:
    """The request field an error names, as the batch column a person wrote."""
    return {'aspect_ratio': 'ratio', 'num_images': 'images', 'resolution': 'size',
            'reference_urls': 'reference'}.get(name or '', name)


def plan(settings: Settings, raws: list[RawRow], *, own_image_ids: Collection[int] = (),
         uploads: Collection[str] = ()) -> Plan:
    rows = [plan_row(settings, r, own_image_ids=own_image_ids, uploads=uploads) for r in raws]
    return Plan(rows=rows, total_estimate=sum((r.estimate for r in rows), Decimal(0)),
                errors=sum(1 for r in rows if not r.ok))
