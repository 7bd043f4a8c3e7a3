"""The shared page frame and the guarded-page decorator every signed-in page uses."""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from fastapi import Request
from nicegui import Event, app, ui

from nanogen.accounts.guard import SIGNED_OUT_MESSAGE
from nanogen.accounts.users import Identity, SessionKey
from nanogen.config import Settings
from nanogen.events import PromptEvent
from nanogen.studio import Studio

# Sentence-case labels as written, on every button (Quasar uppercases by default: GENERATE next to Favourite).
ui.button.default_props('no-caps')
# Live status lines ("Generating…"): Quasar's text-info is pale cyan on white (below WCAG AA); these pass AA in both
# themes (#1e40af on white and #93c5fd on the dark page are both above 7:1).
LIVE_CSS = '.nanogen-live { color: #1e40af; } .body--dark .nanogen-live { color: #93c5fd; }'
NAV: dict[str, tuple[str, str, bool]] = {}  # path -> (label, icon, admin only); re-imports overwrite
_studio: Studio | None = None  # set by pages.register; page modules register their routes at import, so they
# reach it here rather than through a closure
_user_events: dict[int, Event[PromptEvent]] = {}
_account_events: dict[int, Event[[]]] = {}


def set_services(studio: Studio) -> None:
    """Called once by the composition root; bridges the core's events to per-user NiceGUI events."""
    global _studio
    _studio = studio
    _user_events.clear()
    _account_events.clear()

    def account_changed(user_id: int) -> None:
        # Disabled, signed out (here or everywhere), demoted, deleted: each open tab of theirs re-checks itself.
        target = _account_events.get(user_id)
        if target is not None:
            target.emit()
    studio.users.on_change.append(account_changed)

    def forward(event: PromptEvent) -> None:
        target = _user_events.get(event.user_id)
        if target is not None:
            target.emit(event)
    studio.bus.subscribe(forward)


def services() -> Studio:
    """The pages' facade (nanogen.studio): the services they may call, never the database or HTTP client."""
    assert _studio is not None, 'set_services() was not called'
    return _studio


def user_events(user_id: int) -> Event[PromptEvent]:
    """The live status changes of one user's prompts; a page's subscription dies with its client."""
    if user_id not in _user_events:
        _user_events[user_id] = Event()
    return _user_events[user_id]


def account_events(user_id: int) -> Event[[]]:
    if user_id not in _account_events:
        _account_events[user_id] = Event()
    return _account_events[user_id]


class SignedOut(asyncio.CancelledError):
    """Ends a UI action whose user is no longer signed in; NiceGUI drops a cancelled handler silently."""


@dataclass(frozen=True)
class PageContext:
    """What a guarded page gets. `services` checks, before every service call, that the person who opened the page
    is still signed in (issue 11, finding 4): websocket events run long after the request the guard saw."""

    user: Identity
    services: Studio
    request: Request
    session: SessionKey | None = None
    admin_page: bool = False

    async def current(self) -> Identity | None:
        """Who this tab's session is now, or None (disabled, deleted, signed out here or everywhere, or no longer
        an admin on an admin page)."""
        identity = await services().auth.current(self.session)
        if identity is None or identity.id != self.user.id or (self.admin_page and not identity.is_admin):
            return None
        return identity

    async def require_user(self) -> Identity:
        """The one check every UI action passes (through `services`): a tab whose user is gone is told and sent to
        sign in, and the action stops before it changes anything."""
        identity = await self.current()
        if identity is None:
            # The tab's own client, not ui.navigate: timers and pushes also run actions, outside any click.
            ui.context.client.open(SIGNED_OUT_PATH)
            raise SignedOut()
        return identity


# NiceGUI answers 500 when a page has not built within `response_timeout` (3 s by default). On busy cores a page that
# reads a big library can take longer; a slow page is better than an error page (making it fast is issue 18's).
PAGE_RESPONSE_TIMEOUT_S = 20.0
SIGNED_OUT_PATH = f'/login?error={quote(SIGNED_OUT_MESSAGE, safe="")}'  # the sign-in page tells them why


class _CheckedService:
    """A service whose coroutine methods first run `check` (PageContext.require_user); everything else passes."""

    def __init__(self, target: object, check: Callable[[], Awaitable[object]]) -> None:
        self._target = target
        self._check = check

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.iscoroutinefunction(value):
            return value

        @functools.wraps(value)
        async def checked(*args: Any, **kwargs: Any) -> Any:
            await self._check()
            return await value(*args, **kwargs)
        return checked


class _CheckedServices:
    """`ctx.services`: the Studio facade, each service wrapped in the user check."""

    def __init__(self, target: Studio) -> None:
        self._target = target
        # The PageContext's require_user, held weakly: the context holds this object, and a strong reference back
        # would make each page load a reference cycle, left for the garbage collector (issue 18).
        self._check: weakref.WeakMethod[Callable[[], Awaitable[object]]] | None = None
        # While the page is built inside the HTTP request, the guard has just checked this session: skip the repeat.
        self.building = True

    def checked_by(self, ctx: PageContext) -> None:
        self._check = weakref.WeakMethod(ctx.require_user)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, (str, int, float, bool, dict, list, Settings)) or value is None:
            return value
        return _CheckedService(value, self._run_check)

    async def _run_check(self) -> None:
        if self.building:
            return
        check = self._check() if self._check is not None else None
        if check is None:  # the page (its context) is gone: nothing may act for it
            raise SignedOut()
        await check()


def guarded_page(path: str, *, title: str, nav: str | None = None, icon: str = 'article',
                 admin: bool = False) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Any]]:
    """`@guarded_page('/x', title='X')` on `async def x(ctx: PageContext, ...)`: signed-in users only.

    The middleware already refuses anonymous requests; this checks again, so a page can never forget.
    """
    if nav:
        NAV[path] = (nav, icon, admin)

    def decorator(fn: Callable[..., Awaitable[None]]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def wrapper(request: Request, **kwargs: Any) -> None:
            identity: Identity | None = getattr(request.state, 'identity', None)
            if identity is None:
                ui.navigate.to(f'/login?redirect_to={quote(path, safe="")}')
                return
            checked = _CheckedServices(services())
            ctx = PageContext(user=identity, services=cast(Studio, checked), request=request,
                              session=SessionKey.of(request.session), admin_page=admin)
            checked.checked_by(ctx)
            if admin and not identity.is_admin:
                with frame(ctx, 'Not allowed'):
                    ui.label('This page is for admins only.').classes('text-lg')
                return

            client = ui.context.client

            async def recheck() -> None:  # pushed when this user is disabled, signed out, demoted or deleted
                if await ctx.current() is None:
                    client.open(SIGNED_OUT_PATH)  # this tab's own client, whoever's action caused the push
            account_events(identity.id).subscribe(recheck)
            try:
                await fn(ctx, **kwargs)
            finally:
                checked.building = False

        params = list(inspect.signature(fn).parameters.values())[1:]
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter('request', inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request), *params])
        del wrapper.__wrapped__  # FastAPI must read our signature, not the wrapped function's
        return ui.page(path, title=f'{title} · nanogen', response_timeout=PAGE_RESPONSE_TIMEOUT_S)(wrapper)
    return decorator


@contextmanager
def frame(ctx: PageContext | None, title: str) -> Iterator[ui.column]:
    """Header with navigation, demo badge, dark mode and the user's menu; then the page's column."""
    ui.colors(primary='#6d28d9', secondary='#0f766e', accent='#db2777')
    ui.add_css(LIVE_CSS)
    dark = ui.dark_mode(value=app.storage.user.get('dark', None) if _has_user_storage() else None)
    drawer = _NavDrawer(ctx) if ctx else None
    with ui.header(elevated=True).classes('items-center gap-2 px-4 py-2 bg-primary'):
        if drawer is not None:  # phones and narrow windows: the nav row is hidden, the hamburger opens the drawer
            ui.button(icon='menu', on_click=drawer.toggle).props('flat round dense color=white').classes(
                'lg:hidden').mark('nav-menu')
        ui.link('nanogen', '/dashboard' if ctx else '/').classes(
            'text-xl font-bold text-white no-underline mr-2')
        if _studio is not None and _studio.demo_mode:
            ui.badge('Demo provider', color='amber').props('text-color=black').tooltip(
                'No NANOBANANA_API_KEY is set: images come from the built-in demo provider, not the real service.')
        if ctx:
            current = ctx.request.url.path
            NavRow(nav_items(ctx), current).classes('max-lg:hidden').mark('nav-row')
        ui.space()

        _dark_mode_button(dark)
        if ctx:
            with ui.button().props('flat round color=white').classes('p-0'):
                if ctx.user.avatar_url:
                    ui.image(ctx.user.avatar_url).classes('w-8 h-8 rounded-full')
                else:
                    ui.avatar(ctx.user.name[:1].upper() or '?', color='white', text_color='primary', size='md')
                _user_menu(ctx)
    with ui.column().classes('w-full max-w-7xl mx-auto p-4 gap-4') as column:
        ui.label(title).classes('text-2xl font-semibold')
        yield column


NAV_ORDER = ('/dashboard', '/generator', '/gallery', '/history', '/analytics')  # the studio first; others follow


class NavRow(ui.element, component='_nav_row.js'):
    """The header's page links as one element (see _nav_row.js)."""

    def __init__(self, items: list[tuple[str, str, str]], current: str) -> None:
        super().__init__()
        self._props['items'] = [{'path': path, 'label': label, 'icon': icon} for path, label, icon in items]
        self._props['current'] = current

    def _displayed_contents(self, *, only_visible: bool) -> list[Any]:
        """The labels, for NiceGUI's element filter (user.should_see and friends)."""
        return [item['label'] for item in self._props['items']]


def nav_items(ctx: PageContext) -> list[tuple[str, str, str]]:
    """(path, label, icon) of the pages this user may open, in a stable, sensible order."""
    items = [(path, label, icon) for path, (label, icon, admin_only) in NAV.items()
             if not admin_only or ctx.user.is_admin]
    rank = {path: n for n, path in enumerate(NAV_ORDER)}
    return sorted(items, key=lambda item: (rank.get(item[0], len(rank)), item[1]))


def _user_menu(ctx: PageContext) -> ui.menu:
    """The avatar's menu; its items are built when it first opens (most page loads never open it: issue 18)."""
    menu = ui.menu().mark('user-menu')

    def fill(opened: bool) -> None:
        if not opened or menu.default_slot.children:
            return
        with menu:
            ui.label(ctx.user.email).classes('px-4 py-2 text-sm opacity-70')
            for path, label, _icon in nav_items(ctx):
                ui.menu_item(label, on_click=lambda p=path: ui.navigate.to(p))
            ui.separator()
            ui.menu_item('Sign out', on_click=lambda: ui.navigate.to('/auth/logout')).mark('menu-sign-out')
    menu.on_value_change(lambda e: fill(bool(e.value)))
    return menu


class _NavDrawer:
    """The navigation as a left drawer; it overlays the page and starts closed, so it never squeezes a phone. Its
    items are built on the first open: most page loads never open it (issue 18: pages that build little)."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.drawer = ui.left_drawer(value=False, bordered=True).props('behavior=mobile overlay width=240')
        self.built = False

    def toggle(self) -> None:
        if not self.built:
            self.built = True
            self._build()
        self.drawer.toggle()

    def _build(self) -> None:
        ctx, current = self.ctx, self.ctx.request.url.path
        with self.drawer:
            ui.label(ctx.user.name).classes('text-lg font-semibold px-2')
            ui.label(ctx.user.email).classes('text-xs opacity-70 px-2 pb-2')
            with ui.list().classes('w-full'):
                for path, label, icon in nav_items(ctx):
                    with ui.item(on_click=lambda p=path: ui.navigate.to(p)).props(
                            'clickable active' if path == current else 'clickable').mark(
                            f'drawer-{path.strip("/")}'):
                        with ui.item_section().props('avatar'):
                            ui.icon(icon)
                        ui.item_section(label)


# auto (follow the browser) -> dark -> light -> auto; each state shows its own icon and says what it is.
DARK_CYCLE: dict[bool | None, tuple[bool | None, str, str]] = {
    None: (True, 'brightness_auto', 'Theme: follows your device (click for dark)'),
    True: (False, 'dark_mode', 'Theme: dark (click for light)'),
    False: (None, 'light_mode', 'Theme: light (click to follow your device)'),
}


def _dark_mode_button(dark: ui.dark_mode) -> ui.button:
    """Cycles the three states by setting the value (`toggle()` refuses auto); the choice is saved per user."""
    def show() -> None:
        _next, icon, tip = DARK_CYCLE.get(dark.value, DARK_CYCLE[None])
        button.props['icon'] = icon
        button.update()
        tooltip.text = tip

    def cycle() -> None:
        dark.set_value(DARK_CYCLE.get(dark.value, DARK_CYCLE[None])[0])
        if _has_user_storage():
            app.storage.user['dark'] = dark.value
        show()
    button = ui.button(on_click=cycle).props('flat round color=white').mark('dark-mode')
    with button:
        tooltip = ui.tooltip('')
    show()
    return button


def _has_user_storage() -> bool:
    try:
        app.storage.user  # noqa: B018 - raises outside a page request context
        return True
    except RuntimeError:
        return False


def notify_error(message: str) -> None:
    ui.notify(message, type='negative', multi_line=True, close_button=True)
