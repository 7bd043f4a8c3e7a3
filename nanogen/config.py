"""One Settings class: every knob of nanogen, read from the environment (and `.env`)."""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import zlib
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nanogen.errors import ConfigError

SIZES: tuple[int, ...] = (512, 768, 1024, 1536)
ASPECT_RATIOS: tuple[str, ...] = ('1:1', '9:16', '16:9', '3:4', '4:3', '3:2', '2:3', '5:4', '4:5', '21:9')
DEFAULT_PRICES = {512: Decimal('0.005'), 768: Decimal('0.010'), 1024: Decimal('0.0125'), 1536: Decimal('0.045')}
MODEL_IDS: tuple[str, ...] = ('nanobanana', 'nanobanana-pro', 'nanobanana-2')  # the catalogue: generation/catalogue
RESOLUTIONS: tuple[str, ...] = ('1K', '2K', '4K')
PRICED_BY_SIZE: tuple[str, ...] = ('nanobanana',)  # the others are priced by resolution (generation/catalogue)
# USD per image for the models priced by resolution; NANOGEN_MODEL_PRICES overrides any of them.
DEFAULT_RESOLUTION_PRICES: dict[str, dict[str, Decimal]] = {
    'nanobanana-pro': {'1K': Decimal('0.09'), '2K': Decimal('0.09'), '4K': Decimal('0.12')},
    'nanobanana-2': {'1K': Decimal('0.04'), '2K': Decimal('0.06'), '4K': Decimal('0.08')},
}
log = logging.getLogger(__name__)
REAL_SERVICE_URL = 'https://api.nanobananaapi.ai'
GOOGLE_METADATA_URL = 'https://accounts.google.com/.well-known/openid-configuration'


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def parse_model_prices(text: str) -> dict[str, dict[str, Decimal]]:
    """NANOGEN_MODEL_PRICES: JSON like {"nanobanana": {"1024": 0.02}, "nanobanana-2": {"4K": 0.1}} (USD per image;
    keys are output sizes for Nano Banana, resolutions for Pro and 2). An unknown model, or a key its model is not
    priced by (which would never be used), is refused with the reason: a typo must not leave a price unchanged."""
    try:
        data = json.loads(text)
        table = {str(model): {str(size).upper(): Decimal(str(price)) for size, price in sizes.items()}
                 for model, sizes in data.items()}
    except (ValueError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValueError('NANOGEN_MODEL_PRICES must be JSON like {"nanobanana-pro": {"1K": 0.09}}') from exc
    for model, sizes in table.items():
        if model not in MODEL_IDS:
            raise ValueError(f'NANOGEN_MODEL_PRICES: unknown model {model!r}; the models are {", ".join(MODEL_IDS)}')
        keys = tuple(map(str, SIZES)) if model in PRICED_BY_SIZE else RESOLUTIONS
        for size, price in sizes.items():
            if size not in keys:
                raise ValueError(f'NANOGEN_MODEL_PRICES: {model} is priced by '
                                 f'{"output size" if model in PRICED_BY_SIZE else "resolution"}: its keys are '
                                 f'{", ".join(keys)}, not {size!r}')
            if not price.is_finite() or price < 0:
                raise ValueError(f'NANOGEN_MODEL_PRICES: prices are USD >= 0 ({model} {size}: {price})')
    return table


class Settings(BaseSettings):
    """Every setting, with the environment variable that sets it (see the README's table)."""

    model_config = SettingsConfigDict(env_file='.env', extra='ignore', populate_by_name=True)

    # --- runtime
    env: Literal['development', 'production'] = Field('development', validation_alias=_env('NANOGEN_ENV'))
    host: str = Field('0.0.0.0', validation_alias=_env('NANOGEN_HOST'))
    port: int = Field(8080, validation_alias=_env('PORT'))
    data_dir: Path = Field(Path('./data'), validation_alias=_env('NANOGEN_DATA_DIR'))
    database_url: str = Field('', validation_alias=_env('NANOGEN_DATABASE_URL'))
    secret_key: str = Field('', validation_alias=_env('NANOGEN_SECRET_KEY'))
    public_url: str = Field('', validation_alias=_env('NANOGEN_PUBLIC_URL'))
    log_format: Literal['text', 'json'] = Field('text', validation_alias=_env('NANOGEN_LOG_FORMAT'))
    log_level: str = Field('INFO', validation_alias=_env('NANOGEN_LOG_LEVEL'))

    # --- provider
    nanobanana_api_key: str = Field('', validation_alias=_env('NANOBANANA_API_KEY'))
    nanobanana_base_url: str = Field(REAL_SERVICE_URL, validation_alias=_env('NANOBANANA_BASE_URL'))
    demo_latency_s: float = Field(3.0, validation_alias=_env('NANOGEN_DEMO_LATENCY'))
    poll_initial_s: float = Field(2.0, validation_alias=_env('NANOGEN_POLL_INITIAL'))
    poll_max_s: float = Field(15.0, validation_alias=_env('NANOGEN_POLL_MAX'))
    generation_timeout_s: float = Field(600.0, validation_alias=_env('NANOGEN_GENERATION_TIMEOUT'))
    provider_timeout_s: float = Field(30.0, validation_alias=_env('NANOGEN_PROVIDER_TIMEOUT'))
    provider_retries: int = Field(4, validation_alias=_env('NANOGEN_PROVIDER_RETRIES'))
    # A model in maintenance (455) is retried this long from the first submit, not the whole generation timeout:
    # then the prompt fails saying which model is down and offering the others.
    model_down_wait_s: float = Field(30.0, ge=0, validation_alias=_env('NANOGEN_MODEL_DOWN_WAIT'))
    download_max_bytes: int = Field(40 * 1024 * 1024, validation_alias=_env('NANOGEN_DOWNLOAD_MAX_BYTES'))
    max_image_pixels: int = Field(64_000_000, validation_alias=_env('NANOGEN_MAX_IMAGE_PIXELS'))
    reference_max_pixels: int = Field(24_000_000, validation_alias=_env('NANOGEN_REFERENCE_MAX_PIXELS'))
    prompt_max_length: int = Field(2000, validation_alias=_env('NANOGEN_PROMPT_MAX_LENGTH'))
    max_concurrent_per_user: int = Field(8, validation_alias=_env('NANOGEN_MAX_CONCURRENT_PER_USER'))
    batch_concurrency: int = Field(4, ge=1, validation_alias=_env('NANOGEN_BATCH_CONCURRENCY'))
    batch_max_rows: int = Field(1000, ge=1, validation_alias=_env('NANOGEN_BATCH_MAX_ROWS'))

    # --- storage (local disk by default; R2 / any S3 when configured)
    r2_account_id: str = Field('', validation_alias=_env('R2_ACCOUNT_ID'))
    r2_access_key_id: str = Field('', validation_alias=_env('R2_ACCESS_KEY_ID'))
    r2_secret_access_key: str = Field('', validation_alias=_env('R2_SECRET_ACCESS_KEY'))
    r2_bucket: str = Field('', validation_alias=_env('R2_BUCKET'))
    r2_public_url: str = Field('', validation_alias=_env('R2_PUBLIC_URL'))
    s3_endpoint_url: str = Field('', validation_alias=_env('NANOGEN_S3_ENDPOINT_URL'))
    s3_region: str = Field('auto', validation_alias=_env('NANOGEN_S3_REGION'))
    presign_expiry_s: int = Field(900, validation_alias=_env('NANOGEN_PRESIGN_EXPIRY'))

    # --- sign-in
    google_client_id: str = Field('', validation_alias=_env('GOOGLE_CLIENT_ID'))
    google_client_secret: str = Field('', validation_alias=_env('GOOGLE_CLIENT_SECRET'))
    oidc_metadata_url: str = Field(GOOGLE_METADATA_URL, validation_alias=_env('NANOGEN_OIDC_METADATA_URL'))
    allowed_domains: str = Field('', validation_alias=_env('NANOGEN_ALLOWED_DOMAINS'))
    admin_emails: str = Field('', validation_alias=_env('NANOGEN_ADMIN_EMAILS'))
    oidc_groups_claim: str = Field('', validation_alias=_env('NANOGEN_OIDC_GROUPS_CLAIM'))  # '' : not mapped
    session_max_age_s: int = Field(14 * 24 * 3600, validation_alias=_env('NANOGEN_SESSION_MAX_AGE'))

    # --- costs and budgets
    price_512: Decimal = Field(DEFAULT_PRICES[512], validation_alias=_env('NANOGEN_PRICE_512'))
    price_768: Decimal = Field(DEFAULT_PRICES[768], validation_alias=_env('NANOGEN_PRICE_768'))
    price_1024: Decimal = Field(DEFAULT_PRICES[1024], validation_alias=_env('NANOGEN_PRICE_1024'))
    price_1536: Decimal = Field(DEFAULT_PRICES[1536], validation_alias=_env('NANOGEN_PRICE_1536'))
    model_prices: str = Field('', validation_alias=_env('NANOGEN_MODEL_PRICES'))
    models: str = Field(','.join(MODEL_IDS), validation_alias=_env('NANOGEN_MODELS'))
    default_model: str = Field('nanobanana', validation_alias=_env('NANOGEN_DEFAULT_MODEL'))
    monthly_budget_usd: Decimal = Field(Decimal('0'), validation_alias=_env('NANOGEN_MONTHLY_BUDGET'))
    team_monthly_cap_usd: Decimal = Field(Decimal('0'), validation_alias=_env('NANOGEN_TEAM_MONTHLY_CAP'))

    # --- API and operations
    cors_origins: str = Field('', validation_alias=_env('NANOGEN_CORS_ORIGINS'))
    metrics_token: str = Field('', validation_alias=_env('NANOGEN_METRICS_TOKEN'))
    retention_days: int = Field(0, validation_alias=_env('NANOGEN_RETENTION_DAYS'))
    api_rate_per_minute: int = Field(120, validation_alias=_env('NANOGEN_API_RATE_PER_MINUTE'))
    undo_window_s: float = Field(8.0, ge=0, validation_alias=_env('NANOGEN_UNDO_WINDOW'))

    # --- webhooks (issue 17): where they may go, how often they are tried
    webhook_allowed_hosts: str = Field('', validation_alias=_env('NANOGEN_WEBHOOK_ALLOWED_HOSTS'))
    webhook_max_attempts: int = Field(8, ge=1, le=50, validation_alias=_env('NANOGEN_WEBHOOK_MAX_ATTEMPTS'))
    webhook_backoff_s: float = Field(30.0, gt=0, validation_alias=_env('NANOGEN_WEBHOOK_BACKOFF'))
    webhook_timeout_s: float = Field(5.0, gt=0, le=60, validation_alias=_env('NANOGEN_WEBHOOK_TIMEOUT'))
    webhook_disable_after: int = Field(5, ge=0, le=1000, validation_alias=_env('NANOGEN_WEBHOOK_DISABLE_AFTER'))

    # --- several replicas (README "Scale out")
    redis_url: str = Field('', validation_alias=AliasChoices('NANOGEN_REDIS_URL', 'NICEGUI_REDIS_URL'))
    secret_key_rotate: bool = Field(False, validation_alias=_env('NANOGEN_SECRET_KEY_ROTATE'))

    # --- job engine (procrastinate; issue 14)
    worker: bool = Field(True, validation_alias=_env('NANOGEN_WORKER'))
    worker_concurrency: int = Field(20, ge=1, validation_alias=_env('NANOGEN_WORKER_CONCURRENCY'))
    provider_concurrency: int = Field(8, ge=1, validation_alias=_env('NANOGEN_PROVIDER_CONCURRENCY'))
    worker_heartbeat_s: float = Field(2.0, gt=0, validation_alias=_env('NANOGEN_WORKER_HEARTBEAT_S'))
    stalled_after_s: float = Field(8.0, gt=0, validation_alias=_env('NANOGEN_STALLED_AFTER_S'))
    shutdown_grace_s: float = Field(20.0, ge=0, validation_alias=_env('NANOGEN_SHUTDOWN_GRACE'))

    # --- blocking work's own bounded pools (nanogen/pools.py; issue 18)
    image_workers: int = Field(1, ge=0, le=64, validation_alias=_env('NANOGEN_IMAGE_WORKERS'))
    db_threads: int = Field(6, ge=1, le=64, validation_alias=_env('NANOGEN_DB_THREADS'))
    storage_threads: int = Field(6, ge=1, le=64, validation_alias=_env('NANOGEN_STORAGE_THREADS'))
    reconnect_timeout_s: float = Field(10.0, ge=3, le=120, validation_alias=_env('NANOGEN_RECONNECT_TIMEOUT'))
    gc_freeze: bool = Field(True, validation_alias=_env('NANOGEN_GC_FREEZE'))
    gc_full_scan_s: float = Field(300.0, ge=0, le=86400, validation_alias=_env('NANOGEN_GC_FULL_SCAN'))

    @field_validator('public_url', 'nanobanana_base_url', 'r2_public_url', 's3_endpoint_url')
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip('/')

    @field_validator('model_prices')
    @classmethod
    def _check_model_prices(cls, value: str) -> str:
        if value.strip():
            parse_model_prices(value)  # refuse a malformed table at start, with the reason
        return value

    @model_validator(mode='after')
    def _check(self) -> Settings:
        if self.poll_initial_s <= 0 or self.poll_max_s < self.poll_initial_s:
            raise ValueError('NANOGEN_POLL_INITIAL must be > 0 and not above NANOGEN_POLL_MAX')
        if self.generation_timeout_s <= 0:
            raise ValueError('NANOGEN_GENERATION_TIMEOUT must be > 0')
        if self.stalled_after_s <= self.worker_heartbeat_s:
            raise ValueError('NANOGEN_STALLED_AFTER_S must be above NANOGEN_WORKER_HEARTBEAT_S')
        offered = self.model_list
        unknown = [m for m in (m.strip() for m in self.models.split(',')) if m and m not in MODEL_IDS]
        if unknown or not offered:
            raise ValueError(f'NANOGEN_MODELS must name some of {", ".join(MODEL_IDS)} (unknown: {", ".join(unknown)})')
        if self.default_model not in offered:
            raise ValueError(f'NANOGEN_DEFAULT_MODEL must be one of NANOGEN_MODELS ({", ".join(offered)})')
        return self

    # --- derived values
    @property
    def model_price_table(self) -> dict[str, dict[str, Decimal]]:
        return parse_model_prices(self.model_prices) if self.model_prices.strip() else {}

    @property
    def model_list(self) -> list[str]:
        """The models this install offers (NANOGEN_MODELS), in the catalogue's order."""
        named = {m.strip() for m in self.models.split(',')}
        return [m for m in MODEL_IDS if m in named]

    @property
    def is_production(self) -> bool:
        return self.env == 'production'

    @property
    def demo_mode(self) -> bool:
        """No API key: the built-in contract fake serves as the provider."""
        return not self.nanobanana_api_key

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def s3_enabled(self) -> bool:
        return bool(self.r2_bucket and self.r2_access_key_id and self.r2_secret_access_key
                    and (self.r2_account_id or self.s3_endpoint_url))

    @property
    def s3_endpoint(self) -> str:
        return self.s3_endpoint_url or f'https://{self.r2_account_id}.r2.cloudflarestorage.com'

    @property
    def allowed_domain_list(self) -> list[str]:
        return [d.strip().lower() for d in self.allowed_domains.split(',') if d.strip()]

    @property
    def admin_email_list(self) -> list[str]:
        return [e.strip().lower() for e in self.admin_emails.split(',') if e.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(',') if o.strip()]

    @property
    def https(self) -> bool:
        return self.public_url.startswith('https://')

    def price_for(self, size: int, model: str = 'nanobanana') -> Decimal:
        """USD per image: the model's own price for this size when NANOGEN_MODEL_PRICES names one, else by size."""
        own = self.model_price_table.get(model, {}).get(str(size))
        if own is not None:
            return own
        return {512: self.price_512, 768: self.price_768, 1024: self.price_1024, 1536: self.price_1536}[size]

    def price_for_resolution(self, model: str, resolution: str) -> Decimal:
        """USD per image for a model priced by resolution (Pro, 2): NANOGEN_MODEL_PRICES, else the default."""
        own = self.model_price_table.get(model, {}).get(resolution.upper())
        if own is not None:
            return own
        return DEFAULT_RESOLUTION_PRICES.get(model, DEFAULT_RESOLUTION_PRICES['nanobanana-2'])[resolution.upper()]

    def resolved_database_url(self) -> str:
        return self.database_url or f'sqlite:///{(self.data_dir / "nanogen.db").resolve()}'

    def resolve_secret_key(self) -> str:
        """The signing key. Production must set it; development keeps a generated one under the data dir."""
        if self.secret_key:
            problem = secret_key_problem(self.secret_key) if self.is_production else None
            if problem:
                raise ConfigError(problem)
            return self.secret_key
        if self.is_production:
            raise ConfigError(SECRET_KEY_REQUIRED)
        path = self.data_dir / 'secret_key'
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Born 0600 (never briefly readable by others under a loose umask); O_EXCL: a concurrent start wins once.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, 'w') as out:
            out.write(key)
        return key

    def startup_problems(self) -> list[str]:
        """Every unsafe or missing setting, each as one short line (empty when the app may start)."""
        problems: list[str] = []
        if self.is_production and not self.oidc_enabled:
            problems.append('Local sign-in is refused when NANOGEN_ENV=production: set GOOGLE_CLIENT_ID '
                            'and GOOGLE_CLIENT_SECRET')
        if self.is_production and self.demo_mode:
            problems.append('The demo provider is refused when NANOGEN_ENV=production: set NANOBANANA_API_KEY')
        if not self.worker and not self.resolved_database_url().startswith('postgres'):
            problems.append('NANOGEN_WORKER=false (a web-only replica) needs PostgreSQL as NANOGEN_DATABASE_URL: '
                            'on SQLite the jobs run inside the one process')
        if self.is_production:
            problem = secret_key_problem(self.secret_key) if self.secret_key else SECRET_KEY_REQUIRED
            if problem:
                problems.append(problem)
        return problems

    def check_startup(self) -> None:
        """Refuse unsafe combinations before anything starts, naming all of them at once."""
        problems = self.startup_problems()
        if problems:
            raise ConfigError('; '.join(problems), problems=problems)
        if self.is_production and not self.https:
            log.warning('NANOGEN_PUBLIC_URL is not https in production (%s): session cookies are not marked Secure '
                        'and provider callbacks travel in the clear', self.public_url or 'unset')
        self.resolve_secret_key()


SECRET_KEY_REQUIRED = 'NANOGEN_SECRET_KEY is required when NANOGEN_ENV=production'
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_BITS = 96


def secret_key_problem(key: str) -> str | None:
    """Why `key` is unfit to sign sessions in production, or None. An estimate: length, distinct characters, the
    Shannon entropy of its characters, and whether it compresses (a repeated pattern such as 'abcabc...')."""
    advice = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f'NANOGEN_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters in production: {advice}'
    counts = Counter(key)
    bits = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values()) * len(key)
    compressed = len(zlib.compress(key.encode(), 9)) - 8  # zlib's own header and checksum
    if len(counts) < 10 or bits < MIN_SECRET_KEY_BITS or compressed < len(key) * 0.75:
        return f'NANOGEN_SECRET_KEY looks guessable (too few distinct characters or a repeated pattern): {advice}'
    return None
