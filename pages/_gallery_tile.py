"""One gallery tile: the thumbnail, its selection box and its badges (what each tile shows lives here only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from nanogen.library.queries import ImageRow

from ._text import set_attr

# A drag needs data set (Firefox starts none without it); its type tells a board chip the drop is a tile, not a file
# from the desktop (pages/_gallery_boards.py). The server hears only "this tile"; it keeps what is being dragged.
DRAG_TYPE = 'application/x-nanogen-image'
DRAG_START_JS = f"(e) => {{ e.dataTransfer.effectAllowed = 'copy'; e.dataTransfer.setData('{DRAG_TYPE}', '1'); emit(); }}"


def gallery_tile(row: ImageRow, *, selected: bool, on_open: Callable[[int], Any],
                 on_select: Callable[[int, bool], Any], on_edit: Callable[[int], Any] | None = None,
                 on_drag: Callable[[int], Any] | None = None) -> ui.element:
    """Build one tile in the current container; the caller places and keeps it. `on_edit`: offer Edit (any image the
    viewer may see: the new version is theirs). `on_drag`: the tile can be dragged (onto a board chip)."""
    with ui.element('div').classes('relative group aspect-square rounded overflow-hidden bg-gray-200') as tile:
        if on_drag is not None:
            tile.props('draggable=true').on('dragstart', lambda: on_drag(row.id), js_handler=DRAG_START_JS)
            tile.mark(f'drag-{row.id}')
        set_attr(set_attr(ui.image(f'/files/{row.id}/thumb').props('fit=cover loading=lazy no-spinner'),
                          'data-image-id', row.id), 'alt', row.prompt).classes(
            'w-full h-full cursor-pointer').on('click', lambda: on_open(row.id)).mark(f'tile-{row.id}')
        ui.checkbox(value=selected, on_change=lambda e: on_select(row.id, bool(e.value))).props('dense').classes(
            'absolute top-1 left-1 bg-white/70 rounded').mark(f'select-{row.id}')
        if row.is_favourite:
            ui.icon('star', color='amber').classes('absolute top-1 right-1 text-xl').mark(f'fav-{row.id}')
        if row.version_count > 1:  # it has versions: how many, in its whole tree
            with ui.badge(color='primary').classes('absolute bottom-1 left-1 flex items-center gap-1').tooltip(
                    f'{row.version_count} versions').mark(f'versions-{row.id}'):
                ui.icon('layers', size='xs')
                ui.label(str(row.version_count))
        if on_edit is not None:
            ui.button(icon='edit', on_click=lambda: on_edit(row.id)).props('round dense size=sm color=white '
                                                                           'text-color=primary').classes(
                'absolute bottom-1 right-1').tooltip('Edit by instruction').mark(f'edit-tile-{row.id}')
    return tile
