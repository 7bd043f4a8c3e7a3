"""The gallery's grid: its tiles (thumbnail, selection box, badges, Edit) in runs of up to a page, each run one element
drawn by the browser (`_gallery_tiles.js`). What each tile shows lives here only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments

from nanogen.library.queries import ImageRow

# A drag needs data set (Firefox starts none without it); its type tells a board chip the drop is a tile, not a file
# from the desktop (pages/_gallery_boards.py). The server hears only "this tile"; it keeps what is being dragged.
DRAG_TYPE = 'application/x-nanogen-image'
RUN_MAX = 60  # tiles per element: a live arrival joins the top run until it holds this many


def tile(row: ImageRow) -> dict[str, Any]:
    """What one tile shows: its thumbnail (by id), the prompt as alt text, the favourite star, the versions badge."""
    return {'id': row.id, 'alt': row.prompt, 'fav': row.is_favourite, 'versions': row.version_count}


class TileRun(ui.element, component='_gallery_tiles.js'):
    """Up to a page of tiles as one element: its `tiles` prop is everything they show, `selected` the ticked ones."""

    def __init__(self, tiles: list[dict[str, Any]], *, drag_type: str, editable: bool) -> None:
        super().__init__()
        self._props['tiles'] = tiles
        self._props['selected'] = []
        self._props['drag_type'] = drag_type
        self._props['editable'] = editable

    @property
    def tiles(self) -> list[dict[str, Any]]:
        tiles: list[dict[str, Any]] = self._props['tiles']
        return tiles

    def ids(self) -> list[int]:
        return [t['id'] for t in self.tiles]

    def _displayed_contents(self, *, only_visible: bool) -> list[Any]:
        """What the tiles show as text (version counts), for NiceGUI's element filter (user.should_see)."""
        return [str(t['versions']) for t in self.tiles if t['versions'] > 1]


class TileGrid:
    """The grid on the page, with the tiles in grid order. `on_select(id, ticked)`; `on_edit`: offer Edit (any image
    the viewer may see: the new version is theirs); `on_drag`: tiles can be dragged (onto a board chip). An event
    names a tile by id: one this grid does not show (a crafted event) is ignored."""

    def __init__(self, *, on_open: Callable[[int], Any], on_select: Callable[[int, bool], Any],
                 on_edit: Callable[[int], Any] | None = None, on_drag: Callable[[int], Any] | None = None) -> None:
        self.on_open, self.on_select, self.on_edit, self.on_drag = on_open, on_select, on_edit, on_drag
        self.grid = ui.element('div').classes(
            'w-full grid gap-2 grid-cols-2 sm:grid-cols-3 md:grid-cols-4 lg:grid-cols-6').mark('grid')
        self.runs: list[TileRun] = []
        self.run_of: dict[int, TileRun] = {}
        self.live: TileRun | None = None  # the top run live arrivals join

    def __contains__(self, image_id: int) -> bool:
        return image_id in self.run_of

    def clear(self) -> None:
        self.grid.clear()
        self.runs, self.run_of, self.live = [], {}, None

    def append(self, rows: Iterable[ImageRow], selected: set[int]) -> None:
        """A page of rows after the tiles shown (those already shown are skipped)."""
        tiles = [tile(r) for r in rows if r.id not in self.run_of]
        if tiles:
            self._add(tiles, len(self.runs), selected)

    def prepend(self, rows: Iterable[ImageRow], selected: set[int]) -> None:
        """Rows above all the tiles shown, in the order given (a live arrival, an image opened by link)."""
        tiles = [tile(r) for r in rows if r.id not in self.run_of]
        if not tiles:
            return
        live = self.live
        if live is not None and self.runs and self.runs[0] is live and len(live.tiles) + len(tiles) <= RUN_MAX:
            live.tiles[:0] = tiles
            self.run_of.update((t['id'], live) for t in tiles)
            self._show_selected(live, selected, force=True)
        else:
            self.live = self._add(tiles, 0, selected)

    def replace(self, row: ImageRow) -> None:
        """The tile of this row shows it as it is now (favourite, versions)."""
        run = self.run_of.get(row.id)
        if run is not None:
            run.tiles[:] = [tile(row) if t['id'] == row.id else t for t in run.tiles]
            run.update()

    def remove(self, image_id: int) -> None:
        run = self.run_of.pop(image_id, None)
        if run is None:
            return
        run.tiles[:] = [t for t in run.tiles if t['id'] != image_id]
        run._props['selected'] = [i for i in run._props['selected'] if i != image_id]
        if run.tiles:
            run.update()
        else:
            self.runs.remove(run)
            run.delete()
            if run is self.live:
                self.live = None

    def show_selected(self, selected: set[int]) -> None:
        """Tick exactly these boxes (e.g. all cleared); runs whose boxes do not change are not sent."""
        for run in self.runs:
            self._show_selected(run, selected)

    # ------------------------------------------------------------------ internals
    def _add(self, tiles: list[dict[str, Any]], index: int, selected: set[int]) -> TileRun:
        with self.grid:
            run = TileRun(tiles, drag_type=DRAG_TYPE if self.on_drag is not None else '',
                          editable=self.on_edit is not None).mark('tiles')
        run._props['selected'] = [t['id'] for t in tiles if t['id'] in selected]
        run.on('open', lambda e: self._call(run, e, self.on_open))
        run.on('select', lambda e: self._select(run, e))
        if self.on_edit is not None:
            run.on('edit', lambda e: self._call(run, e, self.on_edit))
        if self.on_drag is not None:
            run.on('drag', lambda e: self._call(run, e, self.on_drag))
        if index < len(self.runs):
            run.move(self.grid, target_index=index)
        self.runs.insert(index, run)
        self.run_of.update((t['id'], run) for t in tiles)
        return run

    def _shown(self, run: TileRun, image_id: Any) -> int | None:
        """The id an event names, if it is a tile of that run (anything else a browser may send is ignored)."""
        return image_id if type(image_id) is int and self.run_of.get(image_id) is run else None

    def _call(self, run: TileRun, e: GenericEventArguments, handler: Callable[[int], Any] | None) -> Any:
        image_id = self._shown(run, e.args)
        return handler(image_id) if handler is not None and image_id is not None else None

    def _select(self, run: TileRun, e: GenericEventArguments) -> Any:
        args = e.args if isinstance(e.args, dict) else {}
        image_id = self._shown(run, args.get('id'))
        if image_id is None:
            return None
        ticked = args.get('value') is True
        # The browser has ticked it already: the prop follows without a round trip back (it is sent with the run's
        # next update, or a page built again).
        others = [i for i in run._props['selected'] if i != image_id]
        run._props['selected'] = [*others, image_id] if ticked else others
        return self.on_select(image_id, ticked)

    @staticmethod
    def _show_selected(run: TileRun, selected: set[int], *, force: bool = False) -> None:
        ticked = [i for i in run.ids() if i in selected]
        if force or sorted(ticked) != sorted(run._props['selected']):
            run._props['selected'] = ticked
            run.update()
