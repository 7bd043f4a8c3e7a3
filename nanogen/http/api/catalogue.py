"""GET /api/v1/models: the models this server offers, what each supports, and its prices."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nanogen.generation.catalogue import offered_models, unit_price
from nanogen.http.api.common import ok
from nanogen.http.api.models import Envelope, money
from nanogen.provider.wire import MAX_IMAGES

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


class ModelOut(BaseModel):
    id: str = Field(description='The `model` value of POST /images/generate.')
    name: str
    default: bool
    sizes: list[int] = Field(description='Output sizes in pixels (`size`); empty for a model sized by resolution.')
    resolutions: list[str] = Field(description='`resolution` values; empty for a model sized in pixels.')
    aspect_ratios: list[str]
    max_reference_images: int
    max_images: int = Field(description='`num_images` at most.')
    images_per_request: int = Field(description='numImages in one provider request: a model without it makes '
                                    'several images as one request each, recorded as one prompt.')
    google_search: bool = Field(description='Whether `google_search` (grounding) is offered.')
    output_formats: list[str] = Field(description='`output_format` values; empty when not offered.')
    prices: dict[str, str] = Field(description='USD per image, by size or resolution.')


def build_catalogue_router(services: 'Services', Who: Any) -> APIRouter:
    router = APIRouter(tags=['generation'])
    settings = services.settings

    @router.get('/models', response_model=Envelope[list[ModelOut]], summary='The models on offer')
    async def models(who: Who) -> JSONResponse:
        out = []
        for spec in offered_models(settings):
            keys: list[tuple[str, int, str | None]] = (
                [(r, 1024, r) for r in spec.resolutions] if spec.by_resolution else [(str(s), s, None) for s in spec.sizes])
            out.append(ModelOut(id=spec.id, name=spec.name, default=spec.id == settings.default_model,
                                sizes=list(spec.sizes), resolutions=list(spec.resolutions),
                                aspect_ratios=list(spec.ratios), max_reference_images=spec.max_references,
                                max_images=MAX_IMAGES, images_per_request=spec.max_images, google_search=spec.grounding,
                                output_formats=list(spec.output_formats),
                                prices={k: money(unit_price(settings, spec.id, size, res)) for k, size, res in keys}))
        return ok(out)

    return router
