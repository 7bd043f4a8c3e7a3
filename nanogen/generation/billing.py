"""What the provider billed (its `operationType`) against what we estimated: the recorded cost and the mismatch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from nanogen.config import Settings
from nanogen.generation.catalogue import CATALOGUE, unit_price
from nanogen.models import Prompt
from nanogen.provider.wire import billed_by

log = logging.getLogger(__name__)


def billing_columns(prompt: Prompt, operation_types: Sequence[str | None]) -> dict[str, Any]:
    """The prompt columns for its finished tasks' operationTypes (every task, in task order; '' for one that named
    none); each one that differs from the estimate is logged (WARNING) and marks the mismatch."""
    if not any(operation_types):
        return {}
    mismatch = False
    for operation_type in filter(None, operation_types):
        billed = billed_by(operation_type)
        if billed is None or billed[0] != prompt.model or (billed[1] or None) != (prompt.resolution or None):
            mismatch = True
            log.warning('prompt %s: the provider billed %r, we estimated model %s at %s', prompt.id, operation_type,
                        prompt.model, prompt.resolution or f'{prompt.image_size}px')
    return {'billed_operation': ','.join(op or '' for op in operation_types), 'billing_mismatch': mismatch}


def price_of(settings: Settings, prompt: Prompt, operation_type: str | None) -> Decimal:
    """USD for one image: the price of what the provider billed when it said (and we know that model), else of
    what was asked for."""
    billed = billed_by(operation_type)
    if billed is not None and billed[0] in CATALOGUE:
        model, resolution = billed
        if resolution and CATALOGUE[model].by_resolution:
            return unit_price(settings, model, prompt.image_size, resolution)
        if not resolution and not CATALOGUE[model].by_resolution:
            return unit_price(settings, model, prompt.image_size, None)
    return unit_price(settings, prompt.model, prompt.image_size, prompt.resolution)


def unit_cost(settings: Settings, prompt: Prompt) -> Decimal:
    """USD per image of a completed one-task prompt (its images all come from that task)."""
    return price_of(settings, prompt, (prompt.billed_operation or '').split(',')[0] or None)


def tasks_cost(settings: Settings, prompt: Prompt, billed: Sequence[str | None]) -> Decimal:
    """A prompt of several one-image tasks: the sum of each billed task's price (its own operationType, or what was
    asked when it named none), so tasks billed differently are each priced as billed."""
    return sum((price_of(settings, prompt, op) for op in billed), Decimal(0))
