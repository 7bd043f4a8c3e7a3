"""What the provider billed (its `operationType`) against what we estimated: the recorded cost and the mismatch."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from nanogen.config import Settings
from nanogen.generation.catalogue import CATALOGUE, unit_price
from nanogen.models import Prompt
from nanogen.provider.wire import billed_by

log = logging.getLogger(__name__)


def billing_columns(prompt: Prompt, operation_type: str | None) -> dict[str, Any]:
    """The prompt columns for a finished task's operationType; a mismatch with the estimate is logged (WARNING)."""
    if not operation_type:
        return {}
    billed = billed_by(operation_type)
    expected = (prompt.model, prompt.resolution)
    mismatch = billed is None or billed[0] != expected[0] or (billed[1] or None) != (expected[1] or None)
    if mismatch:
        log.warning('prompt %s: the provider billed %r, we estimated model %s at %s', prompt.id, operation_type,
                    prompt.model, prompt.resolution or f'{prompt.image_size}px')
    return {'billed_operation': operation_type, 'billing_mismatch': mismatch}


def unit_cost(settings: Settings, prompt: Prompt) -> Decimal:
    """USD per image for a completed prompt: the price of what the provider billed when it said (and we know that
    model), else of what was asked for."""
    billed = billed_by(prompt.billed_operation)
    if billed is not None and billed[0] in CATALOGUE:
        model, resolution = billed
        if resolution and CATALOGUE[model].by_resolution:
            return unit_price(settings, model, prompt.image_size, resolution)
        if not resolution and not CATALOGUE[model].by_resolution:
            return unit_price(settings, model, prompt.image_size, None)
    return unit_price(settings, prompt.model, prompt.image_size, prompt.resolution)
