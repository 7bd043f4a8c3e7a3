"""What a person may ask for: the generation request and its validation, shared by the UI and the API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlparse

from nanogen.config import Settings
from nanogen.errors import InvalidInput
from nanogen.generation.catalogue import CATALOGUE, STANDARD_MAX_REFERENCES, ModelSpec, model_spec, unit_price
from nanogen.models import Prompt, TaskType
from nanogen.provider.wire import MODEL_STANDARD

MAX_WATERMARK = 100
MAX_REFERENCES = STANDARD_MAX_REFERENCES  # Nano Banana's; each model's own is in the catalogue
MIN_PROMPT = 3
MAX_DB_ID = 2**31 - 1  # ids are 32-bit integer columns on both SQLite and PostgreSQL


def parse_id(text: object) -> int | None:
    """A database id from a URL or query string: ASCII digits in 1..MAX_DB_ID, else None (the caller says 404).
    `str.isdigit` and `int` accept other scripts' digits and any size; the database accepts neither."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 1 <= text <= MAX_DB_ID else None
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_DB_ID else None
TOO_LONG_PREFIX = 'The prompt is too long'


def prompt_length_error(prompt: str, max_prompt_length: int) -> str | None:
    """The message for a prompt over the limit, or None; the generator shows it live while one types."""
    length = len(prompt.strip())
    if length > max_prompt_length:
        return f'{TOO_LONG_PREFIX}: {length} characters, the limit is {max_prompt_length}.'
    return None


@dataclass(frozen=True)
class GenerationRequest:
    """A validated request: build it with `validate_request`, never by hand from user input."""

    prompt: str
    size: int = 1024
    aspect_ratio: str = '1:1'
    num_images: int = 1
    watermark: str | None = None
    reference_urls: tuple[str, ...] = field(default_factory=tuple)
    model: str = MODEL_STANDARD
    resolution: str | None = None  # Pro and 2: 1K, 2K or 4K (then `size` is unused and stays 1024)
    google_search: bool = False  # 2 only
    output_format: str | None = None  # 2 only: png or jpg
    source_image_id: int | None = None  # an edit: the image it starts from (set by generation.edits, not by input)

    @property
    def task_type(self) -> TaskType:
        return TaskType.IMAGE_TO_IMAGE if self.reference_urls else TaskType.TEXT_TO_IMAGE

    def estimated_cost(self, settings: Settings) -> Decimal:
        return unit_price(settings, self.model, self.size, self.resolution) * self.num_images


def validate_request(*, prompt: object, size: object = 1024, aspect_ratio: object = '1:1', num_images: object = 1,
                     watermark: object = None, reference_urls: object = (),
                     max_prompt_length: int = 2000, model: object = None, resolution: object = None,
                     google_search: object = None, output_format: object = None,
                     settings: Settings | None = None) -> GenerationRequest:
    """Check every field against the chosen model (with `settings`: one this install offers; None -> its default;
    without: Nano Banana unless named); raise InvalidInput naming the field and saying what to do.

    Long because: one ordered list of checks, each with the message the person reads."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput('Write a prompt: describe the image you want.', field='prompt')
    text = prompt.strip()
    if len(text) < MIN_PROMPT:
        raise InvalidInput(f'The prompt is too short: use at least {MIN_PROMPT} characters.', field='prompt')
    if (too_long := prompt_length_error(text, max_prompt_length)) is not None:
        raise InvalidInput(too_long, field='prompt')
    if '\x00' in text:
        raise InvalidInput('The prompt contains a character that is not allowed.', field='prompt')
    spec = model_spec(settings, model) if settings is not None else _any_model(model)
    size_int, resolution_value = _size_or_resolution(spec, size, resolution)
    if aspect_ratio not in spec.ratios:
        raise InvalidInput(f'Choose an aspect ratio of {", ".join(spec.ratios)}.', field='aspect_ratio')
    if isinstance(num_images, bool) or not isinstance(num_images, int) or not 1 <= num_images <= 4:
        raise InvalidInput('Choose between 1 and 4 images.', field='num_images')
    options = _model_options(spec, google_search, output_format)
    mark: str | None = None
    if watermark is not None:
        if not isinstance(watermark, str):
            raise InvalidInput('The watermark must be text.', field='watermark')
        mark = watermark.strip() or None
        if mark and len(mark) > MAX_WATERMARK:
            raise InvalidInput(f'The watermark is too long: the limit is {MAX_WATERMARK} characters.',
                               field='watermark')
    if reference_urls and not isinstance(reference_urls, list | tuple):
        raise InvalidInput('Each reference image must be an http(s) URL the provider can fetch.',
                           field='reference_urls')
    urls: tuple[str, ...] = tuple(reference_urls or ())  # type: ignore[arg-type]  # each is checked below
    if len(urls) > spec.max_references:
        raise InvalidInput(f'Use at most {spec.max_references} reference images.', field='reference_urls')
    for url in urls:
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ('http', 'https') or not parsed.netloc:
            raise InvalidInput('Each reference image must be an http(s) URL the provider can fetch.',
                               field='reference_urls')
    return GenerationRequest(prompt=text, size=size_int, aspect_ratio=str(aspect_ratio), num_images=num_images,
                             watermark=mark, reference_urls=urls, model=spec.id, resolution=resolution_value,
                             google_search=options[0], output_format=options[1])


def _any_model(model: object) -> ModelSpec:
    name = MODEL_STANDARD if model is None or model == '' else model
    if not isinstance(name, str) or name not in CATALOGUE:
        raise InvalidInput(f'Choose a model of {", ".join(CATALOGUE)}.', field='model')
    return CATALOGUE[name]


def _size_or_resolution(spec: ModelSpec, size: object, resolution: object) -> tuple[int, str | None]:
    """(size, None) for a model sized in pixels, (1024, resolution) for one sized by resolution."""
    if spec.by_resolution:
        if size not in (None, 1024, '1024'):
            raise InvalidInput(f'{spec.name} is sized by resolution ({spec.choices_text()}): send resolution, '
                               'not size.', field='size')
        value = '1K' if resolution is None else resolution
        if not isinstance(value, str) or value.upper() not in spec.resolutions:
            raise InvalidInput(f'Choose a resolution of {spec.choices_text()} for {spec.name}.', field='resolution')
        return 1024, value.upper()
    if resolution is not None:
        raise InvalidInput(f'{spec.name} is sized in pixels ({spec.choices_text()}): send size, not resolution.',
                           field='resolution')
    try:
        size_int = int(1024 if size is None else size) if not isinstance(size, bool) else -1  # type: ignore[call-overload]
    except (TypeError, ValueError):
        size_int = -1
    if size_int not in spec.sizes:
        raise InvalidInput(f'Choose a size of {", ".join(map(str, spec.sizes))} pixels.', field='size')
    return size_int, None


def _model_options(spec: ModelSpec, google_search: object, output_format: object) -> tuple[bool, str | None]:
    """Grounding and output format: only for a model that has them."""
    if google_search not in (None, False):
        if not spec.grounding:
            raise InvalidInput(f'{spec.name} has no Google-search grounding: choose Nano Banana 2 for it.',
                               field='google_search')
        if google_search is not True:
            raise InvalidInput('google_search must be true or false.', field='google_search')
    if output_format is not None:
        if not spec.output_formats:
            raise InvalidInput(f'{spec.name} has no output format choice: choose Nano Banana 2 for it.',
                               field='output_format')
        if output_format not in spec.output_formats:
            raise InvalidInput(f'Choose an output format of {", ".join(spec.output_formats)}.',
                               field='output_format')
    fmt = (output_format or 'jpg') if spec.output_formats else None
    return google_search is True, fmt if isinstance(fmt, str) else None


def retry_request(settings: Settings, old: Prompt, model: str | None = None) -> GenerationRequest:
    """An ended prompt's settings as a new request, as they were (Retry) or moved to `model` (Try <model>): each
    setting the new model has is kept (count, ratio, resolution or size, grounding, format), the others take its
    defaults. The source image of an edit is the caller's to carry over (it is never taken from input)."""
    if model is None or model == old.model:
        return GenerationRequest(prompt=old.prompt, size=old.image_size, aspect_ratio=old.aspect_ratio,
                                 num_images=old.num_images, watermark=old.watermark,
                                 reference_urls=tuple(json.loads(old.reference_urls or '[]')), model=old.model,
                                 resolution=old.resolution, google_search=old.google_search,
                                 output_format=old.output_format)
    spec = model_spec(settings, model)
    return validate_request(
        prompt=old.prompt, model=spec.id, watermark=old.watermark, settings=settings, num_images=old.num_images,
        aspect_ratio=old.aspect_ratio if old.aspect_ratio in spec.ratios else '1:1',
        size=old.image_size if old.image_size in spec.sizes else 1024,
        resolution=(old.resolution if old.resolution in spec.resolutions else spec.resolutions[0])
        if spec.by_resolution else None,
        google_search=old.google_search if spec.grounding else None,
        output_format=old.output_format if old.output_format in spec.output_formats else None,
        reference_urls=tuple(json.loads(old.reference_urls or '[]')), max_prompt_length=settings.prompt_max_length)
