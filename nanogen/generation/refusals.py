"""What a person reads when the provider refuses a prompt (content policy) or a model is down (455/505)."""

from __future__ import annotations

import json

from nanogen.config import Settings
from nanogen.errors import ProviderError
from nanogen.generation.catalogue import CATALOGUE, ModelSpec, other_models
from nanogen.models import Prompt, Status
from nanogen.provider.wire import TaskRecord, TaskState, task_failed_message

# The service names a content-policy refusal in words, not a code, on generate-2 (successFlag 2 or 3).
REFUSAL_WORDS = ('sensitive', 'content policy', 'flagged', 'nsfw', 'safety', 'prohibited', 'inappropriate')
MODEL_DOWN = 'is unavailable at the provider'  # in every model-down message: the job card offers other models
DOWN_CODES = frozenset({455, 505})


def is_refusal(code: int | None, message: str) -> bool:
    return code == 400 or any(word in message.lower() for word in REFUSAL_WORDS)


def refusal_message(reason: str, *, billed: bool) -> str:
    reason = reason.strip().rstrip('.') or 'the provider gave no reason'
    charged = 'The provider billed it.' if billed else 'You were not charged.'
    return (f'The provider refused this prompt under its content policy: {reason}. {charged} '
            'Rephrase the prompt (or change the reference images), then try again.')


def model_down_message(settings: Settings, model: str, code: int | None) -> str:
    spec = CATALOGUE.get(model)
    name = spec.name if spec else model
    why = 'under maintenance' if code == 455 else 'switched off for now'
    others = other_models(settings, model)
    offer = (f' Try {" or ".join(f"{s.name} ({s.id})" for s in others)} instead.' if others
             else ' Try again later.')
    return f'{name} {MODEL_DOWN} ({why}, code {code}); you were not charged.{offer}'


def model_maintenance_message(model: str) -> str:
    """The live line while a model in maintenance (455) gets its short retry: it names the model."""
    spec = CATALOGUE.get(model)
    return f'{spec.name if spec else model} is under maintenance at the provider.'


def submit_failure(settings: Settings, model: str, exc: ProviderError) -> str:
    """The message for a submit the provider refused for good (the task was never created)."""
    if exc.provider_code == 400:
        return refusal_message(exc.provider_message or '', billed=False)
    if exc.provider_code in DOWN_CODES:
        return model_down_message(settings, model, exc.provider_code)
    return exc.user_message


def task_failure(settings: Settings, model: str, record: TaskRecord) -> tuple[str, bool]:
    """(message, billed) for an accepted task that ended without an image. Billed only when the provider said what
    it billed (operationType): a refusal or a failure costs nothing otherwise."""
    billed = record.operation_type is not None
    if record.state in (TaskState.CREATE_FAILED, TaskState.GENERATE_FAILED) and is_refusal(
            record.error_code, record.error_message):
        return refusal_message(record.error_message, billed=billed), billed
    if record.error_code in DOWN_CODES:
        return model_down_message(settings, model, record.error_code), billed
    return task_failed_message(record.error_code, record.error_message), billed


def alternatives_for(settings: Settings, prompt: Prompt) -> list[ModelSpec]:
    """The other offered models to try a prompt with when its model was down; [] otherwise."""
    if prompt.status != Status.FAILED.value or MODEL_DOWN not in (prompt.error_message or ''):
        return []
    refs = len(json.loads(prompt.reference_urls)) if prompt.reference_urls else 0
    return [s for s in other_models(settings, prompt.model) if s.max_references >= refs]
