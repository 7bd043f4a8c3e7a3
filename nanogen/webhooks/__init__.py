"""Webhooks (issue 17): signed POSTs of generation and batch events to URLs a user registers.

tables (endpoints, deliveries) <- service (register, emit, the generation store's final hook) <- sender (the loop
that claims and posts due deliveries, with backoff); safety (allowed hosts, no private addresses) and signing
(HMAC-SHA256 of "{timestamp}.{body}") are leaves. Generation never imports this package: bootstrap hands it
`WebhookService.record_final` as the store's final hook.
"""

from nanogen.webhooks.sender import WebhookSender
from nanogen.webhooks.service import DeliveryInfo, NewWebhook, WebhookInfo, WebhookService
from nanogen.webhooks.tables import BATCH_COMPLETED, EVENTS, GENERATION_COMPLETED, GENERATION_FAILED, PING

__all__ = ['BATCH_COMPLETED', 'EVENTS', 'GENERATION_COMPLETED', 'GENERATION_FAILED', 'PING', 'DeliveryInfo',
           'NewWebhook', 'WebhookInfo', 'WebhookSender', 'WebhookService']
