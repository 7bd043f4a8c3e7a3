"""One exception tree for nanogen; every error carries a message fit to show a person.

    NanogenError                      user_message, http_status (for the API edge)
    ├── ConfigError                   a setting is missing or unsafe (startup refuses)
    ├── InvalidInput                  bad input from a person or script (422); has `field`
    ├── NotFound                      missing, or not yours (404: we never say which)
    ├── Forbidden                     signed in but not allowed (403)
    ├── AuthError                     sign-in refused (401)
    ├── BudgetExceeded                the monthly budget is spent (402)
    ├── RateLimited                   too many requests from this user (429); has `retry_after`
    ├── ProviderError                 the Nanobanana service said no or could not be reached
    │   ├── ProviderUnavailable       can succeed later: 429, 455, 500, 5xx, network (retryable=True)
    │   │   └── ProviderRateLimited   429 from the service
    │   ├── ProviderRejected          will not succeed by retrying: 400, 401, 402, 404, 422, 501, 505, others
    │   └── ProviderBadResponse       not JSON, or not the contract's shape
    ├── ImageError                    the bytes are not an acceptable image
    └── StorageError                  the object store failed (after retries)
"""

from __future__ import annotations


class NanogenError(Exception):
    http_status = 400
    code = 'error'

    def __init__(self, user_message: str, *, detail: str | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = detail  # for logs only, never shown; must not contain secrets


class ConfigError(NanogenError):
    http_status = 500
    code = 'config'

    def __init__(self, user_message: str, *, problems: list[str] | None = None, detail: str | None = None) -> None:
        super().__init__(user_message, detail=detail)
        self.problems = problems or [user_message]  # start-up lists each one on its own line


class InvalidInput(NanogenError):
    http_status = 422
    code = 'invalid_input'

    def __init__(self, user_message: str, *, field: str | None = None, detail: str | None = None) -> None:
        super().__init__(user_message, detail=detail)
        self.field = field


class NotFound(NanogenError):
    http_status = 404
    code = 'not_found'


class Forbidden(NanogenError):
    http_status = 403
    code = 'forbidden'


class AuthError(NanogenError):
    http_status = 401
    code = 'unauthorized'


class BudgetExceeded(NanogenError):
    http_status = 402
    code = 'budget_exceeded'


class RateLimited(NanogenError):
    http_status = 429
    code = 'rate_limited'

    def __init__(self, user_message: str, *, retry_after: float = 1.0, detail: str | None = None) -> None:
        super().__init__(user_message, detail=detail)
        self.retry_after = retry_after


class ProviderError(NanogenError):
    http_status = 502
    code = 'provider_error'
    retryable = False
    retry_after: float | None = None  # seconds from the server's Retry-After header, when it sent one

    def __init__(self, user_message: str, *, provider_code: int | None = None, detail: str | None = None,
                 provider_message: str = '') -> None:
        super().__init__(user_message, detail=detail)
        self.provider_code = provider_code
        self.provider_message = provider_message  # the service's own words (msg/message), e.g. a refusal's reason


class ProviderUnavailable(ProviderError):
    code = 'provider_unavailable'
    retryable = True


class ProviderRateLimited(ProviderUnavailable):
    code = 'provider_rate_limited'


class ProviderRejected(ProviderError):
    code = 'provider_rejected'


class ProviderBadResponse(ProviderError):
    code = 'provider_bad_response'
    retryable = True


class ImageError(NanogenError):
    http_status = 422
    code = 'bad_image'


class StorageError(NanogenError):
    http_status = 503
    code = 'storage_error'
