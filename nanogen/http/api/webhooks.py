"""/api/v1/webhooks: register a URL for your events (its signing secret is shown once), list, turn off/on, delete,
send a test ping, read an endpoint's delivery history and redeliver a failed delivery. Another user's webhook
answers 404."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nanogen.errors import Forbidden
from nanogen.http.api.common import BY_ID, COMMON, IdPath, err, ok
from nanogen.http.api.models import Envelope
from nanogen.webhooks import EVENTS, DeliveryInfo, WebhookInfo

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, description='An http(s) URL on a host this server allows '
                                                  '(NANOGEN_WEBHOOK_ALLOWED_HOSTS).')
    events: list[str] = Field(default_factory=lambda: list(EVENTS), min_length=1, max_length=len(EVENTS),
                              description=f'Any of {", ".join(EVENTS)}.')
    batch_id: int | None = Field(default=None, ge=1, le=2_147_483_647,
                                 description="Only this batch's events; null: every event of your account.")


class WebhookPatch(BaseModel):
    active: bool = Field(description='false: nothing is sent to it (pending deliveries wait); true: on again.')


class WebhookOut(BaseModel):
    id: int
    user_id: int
    url: str
    events: list[str]
    batch_id: int | None
    active: bool
    created_at: datetime
    secret_hint: str = Field(description='The start of the signing secret (the whole one was shown once).')
    disabled_reason: str | None = Field(default=None, description='Why the app turned it off (its deliveries kept '
                                                                  'failing); null when on or turned off by you.')


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description='Signs every delivery (X-Nanogen-Signature); shown only now.')


class DeliveryOut(BaseModel):
    id: int = Field(description='Sent as X-Nanogen-Delivery; the same on every attempt.')
    webhook_id: int
    event: str
    event_id: str
    state: str = Field(description='pending, delivered or failed (out of attempts).')
    attempts: int
    last_status: int | None = Field(description="The receiver's last HTTP status; null: no answer.")
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


def webhook_out(info: WebhookInfo) -> WebhookOut:
    return WebhookOut(id=info.id, user_id=info.user_id, url=info.url, events=info.events, batch_id=info.batch_id,
                      active=info.active, created_at=info.created_at, secret_hint=info.secret_hint,
                      disabled_reason=info.disabled_reason)


def delivery_out(d: DeliveryInfo) -> DeliveryOut:
    return DeliveryOut(id=d.id, webhook_id=d.endpoint_id, event=d.event, event_id=d.event_id, state=d.state,
                       attempts=d.attempts, last_status=d.last_status, last_error=d.last_error,
                       next_attempt_at=d.next_attempt_at, created_at=d.created_at, delivered_at=d.delivered_at)


def build_webhooks_router(services: 'Services', Who: Any) -> APIRouter:
    router = APIRouter(tags=['webhooks'])
    hooks = services.webhooks
    assert hooks is not None

    @router.post('/webhooks', response_model=Envelope[WebhookCreatedOut], status_code=201,
                 responses={**COMMON, 404: err('batch_id is not a batch of yours.')},
                 summary='Register a webhook (the secret is shown once)')
    async def create_webhook(who: Who, body: WebhookIn) -> JSONResponse:
        new = await hooks.register(who.id, body.url, body.events, batch_id=body.batch_id)
        return ok(WebhookCreatedOut(**webhook_out(new.info).model_dump(), secret=new.secret), status=201)

    @router.get('/webhooks', response_model=Envelope[list[WebhookOut]], summary='Your webhooks (admins: all=true)',
                responses={**COMMON, 403: err('all=true from someone who is not an admin.')})
    async def list_webhooks(who: Who, everyone: Annotated[bool, Query(alias='all', description="Admins: every "
                                                                      "user's.")] = False) -> JSONResponse:
        if everyone and not who.is_admin:
            raise Forbidden('Only admins may list every user\'s webhooks.')
        return ok([webhook_out(w) for w in await hooks.endpoints(who.id, everyone=everyone)])

    @router.get('/webhooks/{webhook_id}', response_model=Envelope[WebhookOut], responses=BY_ID, summary='One webhook')
    async def get_webhook(webhook_id: IdPath, who: Who) -> JSONResponse:
        return ok(webhook_out(await hooks.get(who.id, webhook_id)))

    @router.patch('/webhooks/{webhook_id}', response_model=Envelope[WebhookOut], responses=BY_ID,
                  summary='Turn a webhook off or on')
    async def patch_webhook(webhook_id: IdPath, who: Who, body: WebhookPatch) -> JSONResponse:
        return ok(webhook_out(await hooks.set_active(who.id, webhook_id, body.active)))

    @router.delete('/webhooks/{webhook_id}', response_model=Envelope[None], responses=BY_ID,
                   summary='Delete a webhook (and its delivery history)')
    async def delete_webhook(webhook_id: IdPath, who: Who) -> JSONResponse:
        await hooks.delete(who.id, webhook_id)
        return ok(None)

    @router.get('/webhooks/{webhook_id}/deliveries', response_model=Envelope[list[DeliveryOut]], responses=BY_ID,
                summary='Its newest deliveries')
    async def deliveries(webhook_id: IdPath, who: Who,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50) -> JSONResponse:
        return ok([delivery_out(d) for d in await hooks.deliveries(who.id, webhook_id, limit)])

    @router.post('/webhooks/{webhook_id}/test', response_model=Envelope[DeliveryOut], status_code=202,
                 responses=BY_ID, summary='Send a ping event now')
    async def ping(webhook_id: IdPath, who: Who) -> JSONResponse:
        return ok(delivery_out(await hooks.ping(who.id, webhook_id)), status=202)

    @router.post('/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver', response_model=Envelope[DeliveryOut],
                 status_code=202, responses=BY_ID, summary='Send a failed delivery again')
    async def redeliver(webhook_id: IdPath, delivery_id: IdPath, who: Who) -> JSONResponse:
        info = await hooks.redeliver(who.id, delivery_id, endpoint_id=webhook_id)
        return ok(delivery_out(info), status=202)

    return router
