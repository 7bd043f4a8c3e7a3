"""Every generator input and the message each bad one gets (the UI and the API share this validation)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nanogen.config import Settings
from nanogen.errors import InvalidInput
from nanogen.generation.requests import validate_request
from nanogen.models import TaskType


@pytest.mark.parametrize(('fields', 'field', 'message'), [
    ({'prompt': ''}, 'prompt', 'Write a prompt: describe the image you want.'),
    ({'prompt': '   '}, 'prompt', 'Write a prompt: describe the image you want.'),
    ({'prompt': None}, 'prompt', 'Write a prompt: describe the image you want.'),
    ({'prompt': 'ab'}, 'prompt', 'The prompt is too short: use at least 3 characters.'),
    ({'prompt': 'x' * 2001}, 'prompt', 'The prompt is too long: 2001 characters, the limit is 2000.'),
    ({'prompt': 'a cat\x00'}, 'prompt', 'The prompt contains a character that is not allowed.'),
    ({'size': 1000}, 'size', 'Choose a size of 512, 768, 1024, 1536 pixels.'),
    ({'size': 'big'}, 'size', 'Choose a size of 512, 768, 1024, 1536 pixels.'),
    ({'size': True}, 'size', 'Choose a size of 512, 768, 1024, 1536 pixels.'),
    ({'aspect_ratio': '7:5'}, 'aspect_ratio', 'Choose an aspect ratio of 1:1, 9:16, 16:9, 3:4, 4:3, 3:2, 2:3, 5:4, 4:5, 21:9.'),
    ({'num_images': 0}, 'num_images', 'Choose between 1 and 4 images.'),
    ({'num_images': 5}, 'num_images', 'Choose between 1 and 4 images.'),
    ({'num_images': '2'}, 'num_images', 'Choose between 1 and 4 images.'),
    ({'watermark': 'w' * 101}, 'watermark', 'The watermark is too long: the limit is 100 characters.'),
    ({'watermark': 42}, 'watermark', 'The watermark must be text.'),
    ({'reference_urls': ['file:///etc/passwd']}, 'reference_urls',
     'Each reference image must be an http(s) URL the provider can fetch.'),
    ({'reference_urls': ['https://x.example/a.png'] * 5}, 'reference_urls', 'Use at most 4 reference images.'),
])
def test_each_bad_input_gets_its_message(fields: dict[str, object], field: str, message: str) -> None:
    values: dict[str, object] = {'prompt': 'a red fox', **fields}
    with pytest.raises(InvalidInput) as caught:
        validate_request(**values)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert caught.value.user_message == message


def test_a_good_request_is_normalised_and_priced() -> None:
    req = validate_request(prompt='  a red fox  ', size='768', aspect_ratio='16:9', num_images=3, watermark='  ',
                           reference_urls=['https://cdn.example/ref.png'])
    assert (req.prompt, req.size, req.aspect_ratio, req.num_images, req.watermark) == ('a red fox', 768, '16:9', 3,
                                                                                        None)
    assert req.task_type is TaskType.IMAGE_TO_IMAGE
    assert req.estimated_cost(Settings()) == Decimal('0.030')
    assert validate_request(prompt='a red fox').task_type is TaskType.TEXT_TO_IMAGE


def test_the_prompt_limit_follows_the_setting() -> None:
    assert validate_request(prompt='x' * 50, max_prompt_length=50).prompt == 'x' * 50
    with pytest.raises(InvalidInput, match='51 characters, the limit is 50'):
        validate_request(prompt='x' * 51, max_prompt_length=50)


def test_model_prices_override_size_prices_and_bad_tables_are_refused() -> None:
    settings = Settings(NANOGEN_MODEL_PRICES='{"nanobanana": {"1024": 0.02}, "nanobanana-2": {"4k": 0.1}}')  # type: ignore[call-arg]
    assert settings.price_for(1024) == Decimal('0.02')
    assert settings.price_for(512) == Decimal('0.005')  # not named: the size price
    assert settings.price_for_resolution('nanobanana-2', '4K') == Decimal('0.1')
    assert settings.price_for_resolution('nanobanana-2', '2K') == Decimal('0.06')  # not named: the default
    for bad, reason in (
            ('{"nanobanana2": {"4K": 1}}', "unknown model 'nanobanana2'; the models are nanobanana, nanobanana-pro"),
            ('{"nanobanana-pro": {"1024": 0.09}}', "nanobanana-pro is priced by resolution: its keys are 1K, 2K, 4K, "
                                                   "not '1024'"),
            ('{"nanobanana": {"2K": 0.09}}', "nanobanana is priced by output size: its keys are 512, 768, 1024, 1536"),
            ('{"nanobanana": {"1000": 1}}', 'its keys are 512'),
            ('{"nanobanana-2": {"1K": -1}}', 'prices are USD >= 0'),
            ('not json', 'must be JSON'), ('[1, 2]', 'must be JSON')):
        with pytest.raises(ValueError, match='NANOGEN_MODEL_PRICES') as refused:
            Settings(NANOGEN_MODEL_PRICES=bad)  # type: ignore[call-arg]
        assert reason in str(refused.value), (bad, str(refused.value))
