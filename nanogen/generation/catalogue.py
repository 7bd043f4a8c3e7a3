"""The model catalogue: what each Nanobanana model offers (sizes or resolutions, ratios, references, options)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from nanogen.config import ASPECT_RATIOS, RESOLUTIONS, SIZES, Settings
from nanogen.errors import InvalidInput
from nanogen.models import Prompt
from nanogen.provider.wire import ALL_RATIOS as ALL_RATIOS  # re-exported: the ratios a library filter takes
from nanogen.provider.wire import (
    MAX_IMAGES,
    MODEL_2,
    MODEL_PRO,
    MODEL_STANDARD,
    PRO_MAX_IMAGE_URLS,
    V2_MAX_IMAGE_URLS,
    V2_OUTPUT_FORMATS,
    V2_RATIOS,
)

STANDARD_MAX_REFERENCES = 4  # the app's own limit for Nano Banana (its endpoint documents none)


@dataclass(frozen=True)
class ModelSpec:
    """One model as the generator and the API offer it."""

    id: str  # the `model` value of the API and of prompt rows
    name: str  # what a person reads
    sizes: tuple[int, ...]  # output sizes the app resizes to (Nano Banana); empty when priced by resolution
    resolutions: tuple[str, ...]  # 1K/2K/4K (Pro, 2): the provider's pixels are kept as they come
    ratios: tuple[str, ...]
    max_references: int
    max_images: int  # numImages in one task (more images, up to 4, are made as one task each)
    grounding: bool = False  # Google-search grounding (2 only)
    output_formats: tuple[str, ...] = ()  # the provider's file format (2 only)

    @property
    def by_resolution(self) -> bool:
        return bool(self.resolutions)

    def choices_text(self) -> str:
        return ', '.join(self.resolutions) if self.by_resolution else ', '.join(f'{s} px' for s in self.sizes)


CATALOGUE: dict[str, ModelSpec] = {
    MODEL_STANDARD: ModelSpec(MODEL_STANDARD, 'Nano Banana', sizes=SIZES, resolutions=(), ratios=ASPECT_RATIOS,
                              max_references=STANDARD_MAX_REFERENCES, max_images=MAX_IMAGES),
    MODEL_PRO: ModelSpec(MODEL_PRO, 'Nano Banana Pro', sizes=(), resolutions=RESOLUTIONS,
                         ratios=(*ASPECT_RATIOS, 'auto'), max_references=PRO_MAX_IMAGE_URLS, max_images=1),
    MODEL_2: ModelSpec(MODEL_2, 'Nano Banana 2', sizes=(), resolutions=RESOLUTIONS, ratios=V2_RATIOS,
                       max_references=V2_MAX_IMAGE_URLS, max_images=1, grounding=True,
                       output_formats=V2_OUTPUT_FORMATS),
}


def offered_models(settings: Settings) -> list[ModelSpec]:
    """The models this install offers (NANOGEN_MODELS), default first."""
    specs = [CATALOGUE[m] for m in settings.model_list]
    return sorted(specs, key=lambda spec: spec.id != settings.default_model)


def model_spec(settings: Settings, model: object) -> ModelSpec:
    """The spec of an offered model (None or '' -> the default); InvalidInput naming those on offer otherwise."""
    name = settings.default_model if model is None or model == '' else model
    if not isinstance(name, str) or name not in settings.model_list:
        names = ', '.join(f'{s.id} ({s.name})' for s in offered_models(settings))
        raise InvalidInput(f'Choose a model this studio offers: {names}.', field='model')
    return CATALOGUE[name]


def reference_limit(settings: Settings, model: object) -> int:
    """How many reference images the model takes (its own when named and offered, else the default model's)."""
    try:
        return model_spec(settings, model).max_references
    except InvalidInput:
        return model_spec(settings, None).max_references


def unit_price(settings: Settings, model: str, size: int, resolution: str | None) -> Decimal:
    """USD for one image of `model` at this size (Nano Banana) or resolution (Pro, 2)."""
    if resolution:
        return settings.price_for_resolution(model, resolution)
    return settings.price_for(size, model)


def estimate(settings: Settings, model: str, *, size: int = 1024, resolution: str | None = None,
             count: int = 1) -> Decimal:
    """The cost shown before submitting (generator, edit dialog, lightbox edit): `count` images of `model` at this
    size (Nano Banana) or resolution (Pro, 2; None means the 1K a request defaults to)."""
    spec = CATALOGUE[model]
    return unit_price(settings, model, size, (resolution or '1K') if spec.by_resolution else None) * count


def task_count(model: str, num_images: int) -> int:
    """How many provider tasks one prompt needs: one, or one per image for a model without numImages."""
    spec = CATALOGUE.get(model)
    return num_images if spec is not None and spec.max_images < num_images else 1


def task_estimate(prompt: Prompt) -> Decimal:
    """The estimate of one of the prompt's tasks (what a possibly billed resubmit or an accepted task costs)."""
    return prompt.estimated_cost / task_count(prompt.model, prompt.num_images)


def saved_task_ids(prompt: Prompt) -> list[str]:
    """The provider task ids saved for a prompt: the one `provider_task_id`, or each of its one-image tasks."""
    if prompt.task_ids:
        ids: list[str] = json.loads(prompt.task_ids)
        return ids
    return [prompt.provider_task_id] if prompt.provider_task_id else []


def other_models(settings: Settings, model: str) -> list[ModelSpec]:
    """Offered models other than `model`: what to suggest when it is down."""
    return [spec for spec in offered_models(settings) if spec.id != model]


def size_label(model: str, size: int, resolution: str | None) -> str:
    """How history, cards and analytics name what was asked for: '1024px' (Nano Banana), 'Nano Banana 2 4K'."""
    spec = CATALOGUE.get(model)
    if resolution:
        return f'{spec.name if spec else model} {resolution}'
    return f'{size}px' if spec is None or spec.id == MODEL_STANDARD else f'{spec.name} {size}px'
