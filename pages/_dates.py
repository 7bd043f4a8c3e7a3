"""ISO date fields: the browser's type=date shows the locale's format (mm/dd/yyyy), while the app reads and writes
yyyy-mm-dd; these fields show and take yyyy-mm-dd everywhere, with a calendar to pick from."""

from __future__ import annotations

from nicegui import ui

ISO_DATE_PROPS = 'outlined dense stack-label mask="####-##-##" placeholder=yyyy-mm-dd'


def iso_date(field: ui.input) -> ui.input:
    """Make `field` an ISO date field (mask and placeholder) with a calendar button; returns it."""
    field.props(ISO_DATE_PROPS)
    with field.add_slot('append'):
        with ui.icon('event').classes('cursor-pointer'):
            with ui.menu() as menu:
                ui.date(mask='YYYY-MM-DD', on_change=lambda e: (field.set_value(e.value or ''), menu.close()))
    return field
