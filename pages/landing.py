"""The public pages: landing and sign-in."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from nicegui import ui

from nanogen.accounts.guard import safe_redirect
from nanogen.accounts.signin_messages import login_error_text
from nanogen.errors import InvalidInput

from .frame import frame, services


@ui.page('/', title='nanogen')
def landing_page(request: Request) -> None:
    if getattr(request.state, 'identity', None) is not None:
        ui.navigate.to('/dashboard')
        return
    with frame(None, ''):
        with ui.column().classes('w-full items-center text-center gap-6 py-16'):
            ui.label('nanogen').classes('text-5xl font-bold text-primary')
            ui.label('Your team\'s image studio: write a prompt, get an image, keep every prompt and image with '
                     'its cost, and find, reuse and share what you made.').classes('text-lg max-w-2xl')
            ui.button('Sign in', icon='login', on_click=lambda: ui.navigate.to('/login')).props('size=lg')


@ui.page('/login', title='Sign in · nanogen')
def login_page(request: Request, redirect_to: str = '/dashboard', error: str = '') -> None:
    target = safe_redirect(redirect_to)
    if getattr(request.state, 'identity', None) is not None:
        ui.navigate.to(target)
        return
    svc = services()
    with frame(None, ''):
        with ui.card().classes('w-full max-w-md mx-auto p-6 gap-4'):
            ui.label('Sign in to nanogen').classes('text-2xl font-semibold')
            if error:
                ui.label(login_error_text(error)).classes('text-negative').mark('login-refusal')
            if svc.local_sign_in is None:
                ui.button('Sign in with Google', icon='login',
                          on_click=lambda: ui.navigate.to(f'/auth/oidc/login?redirect_to={quote(target, safe="")}')
                          ).classes('w-full')
                return
            ui.label('Local sign-in: this install has no Google client configured, so anyone who can reach it '
                     'picks a name and email. Configure GOOGLE_CLIENT_ID for real sign-in.').classes(
                'text-sm opacity-70')
            name = ui.input('Name').props('outlined autocomplete=name').classes('w-full').mark('name')
            email = ui.input('Email').props('outlined type=email autocomplete=email').classes('w-full').mark('email')
            message = ui.label().classes('text-negative').mark('login-error')

            def submit() -> None:
                assert svc.local_sign_in is not None
                try:
                    ticket = svc.local_sign_in.ticket(name.value or '', email.value or '')
                except InvalidInput as exc:
                    message.text = exc.user_message
                    return
                ui.navigate.to(f'/auth/local?t={ticket}&redirect_to={quote(target, safe="")}')

            email.on('keydown.enter', submit)
            ui.button('Sign in', icon='login', on_click=submit).classes('w-full').mark('sign-in')
