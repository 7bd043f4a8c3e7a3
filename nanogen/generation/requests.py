"""What a person may ask for: the generation request and its validation, shared by the UI and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlparse

from nanogen.config import ASPECT_RATIOS, SIZES, Settings
from nanogen.errors import InvalidInput
from nanogen.models import TaskType

MAX_WATERMARK = 100
MAX_REFERENCES = 4
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

    @property
    def task_type(self) -> TaskType:
        return TaskType.IMAGE_TO_IMAGE if self.reference_urls else TaskType.TEXT_TO_IMAGE

    def estimated_cost(self, settings: Settings) -> Decimal:
        return settings.price_for(self.size) * self.num_images


def validate_request(*, prompt: object, size: object = 1024, aspect_ratio: object = '1:1', num_images: object = 1,
                     watermark: object = None, reference_urls: object = (),
                     max_prompt_length: int = 2000) -> GenerationRequest:
    """Check every field; raise InvalidInput naming the field and saying what to do."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput('Write a prompt: describe the image you want.', field='prompt')
    text = prompt.strip()
    if len(text) < MIN_PROMPT:
        raise InvalidInput(f'The prompt is too short: use at least {MIN_PROMPT} characters.', field='prompt')
    if (too_long := prompt_length_error(text, max_prompt_length)) is not None:
        raise InvalidInput(too_long, field='prompt')
    if '\x00' in text:
        raise InvalidInput('The prompt contains a character that is not allowed.', field='prompt')
    try:
        size_int = int(size) if not isinstance(size, bool) else -1  # type: ignore[call-overload]
    except (TypeError, ValueError):
        size_int = -1
    if size_int not in SIZES:
        raise InvalidInput(f'Choose a size of {", ".join(map(str, SIZES))} pixels.', field='size')
    if aspect_ratio not in ASPECT_RATIOS:
        raise InvalidInput(f'Choose an aspect ratio of {", ".join(ASPECT_RATIOS)}.', field='aspect_ratio')
    if isinstance(num_images, bool) or not isinstance(num_images, int) or not 1 <= num_images <= 4:
        raise InvalidInput('Choose between 1 and 4 images.', field='num_images')
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
    if len(urls) > MAX_REFERENCES:
        raise InvalidInput(f'Use at most {MAX_REFERENCES} reference images.', field='reference_urls')
    for url in urls:
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ('http', 'https') or not parsed.netloc:
            raise InvalidInput('Each reference image must be an http(s) URL the provider can fetch.',
                               field='reference_urls')
    return GenerationRequest(prompt=text, size=size_int, aspect_ratio=str(aspect_ratio), num_images=num_images,
                             watermark=mark, reference_urls=urls)
