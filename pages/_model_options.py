"""The generator's model choice and the options that follow it: size or resolution, ratios, count, 2's extras."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from nicegui import ui

from nanogen.config import Settings
from nanogen.generation.catalogue import CATALOGUE, ModelSpec, estimate, model_spec, offered_models


class ModelOptions:
    """Builds the widgets; on a model change shows only what that model supports and keeps choices valid."""

    def __init__(self, settings: Settings, *, size: str, ratio: str, model: str | None,
                 on_change: Callable[[], None]) -> None:
        self.settings = settings
        self.on_change = on_change
        self.initial = (size, ratio, model if model in settings.model_list else settings.default_model)

    @property
    def spec(self) -> ModelSpec:
        return CATALOGUE[self.model_choice.value]

    def build(self) -> None:
        size, ratio, model = self.initial
        offered = offered_models(self.settings)
        self.model_choice = ui.select({s.id: s.name for s in offered}, value=model, label='Model').props(
            'outlined dense').classes('w-full').mark('model')
        self.model_choice.set_visibility(len(offered) > 1)
        spec = model_spec(self.settings, model)
        sizes = CATALOGUE['nanobanana'].sizes
        self.size_choice = ui.toggle({s: f'{s}px' for s in sizes},
                                     value=int(size) if size in map(str, sizes) else 1024).props(
            'spread no-caps').mark('size')
        self.resolution_choice = ui.toggle({r: r for r in ('1K', '2K', '4K')}, value='1K').props(
            'spread no-caps').mark('resolution')
        with ui.row().classes('w-full gap-2 no-wrap'):
            self.ratio_choice = ui.select(list(spec.ratios), value=ratio if ratio in spec.ratios else '1:1',
                                          label='Aspect ratio').props('outlined dense').classes('grow').mark('ratio')
            self.count = ui.select({1: '1 image', 2: '2 images', 3: '3 images', 4: '4 images'}, value=1,
                                   label='Images').props('outlined dense').classes('grow').mark('count')
        self.one_image = ui.label().classes('text-xs opacity-70').mark('one-image-note')
        with ui.row().classes('w-full gap-4 items-center') as self.extras:
            self.google_search = ui.switch('Google-search grounding').mark('google-search')
            self.output_format = ui.toggle({'jpg': 'JPG', 'png': 'PNG'}, value='jpg').props('no-caps dense').mark(
                'output-format')
        for element in (self.size_choice, self.resolution_choice, self.count):
            element.on_value_change(self.on_change)
        self.model_choice.on_value_change(lambda: self.follow_model())
        self.follow_model(notify=False)  # the form shows its first estimate once it has built its label

    def follow_model(self, *, notify: bool = True) -> None:
        spec = self.spec
        self.size_choice.set_visibility(not spec.by_resolution)
        self.resolution_choice.set_visibility(spec.by_resolution)
        self.ratio_choice.set_options(list(spec.ratios),
                                      value=self.ratio_choice.value if self.ratio_choice.value in spec.ratios else '1:1')
        self.one_image.set_text('' if spec.max_images > 1 else
                                f'{spec.name} makes one image per request: several images are sent as several '
                                'requests, on one prompt.')
        self.one_image.set_visibility(spec.max_images == 1)
        self.extras.set_visibility(spec.grounding or bool(spec.output_formats))
        if notify:
            self.on_change()

    def request_fields(self) -> dict[str, Any]:
        """The validate_request keywords for what is chosen (only the fields the model has)."""
        spec = self.spec
        fields: dict[str, Any] = {'model': spec.id, 'aspect_ratio': self.ratio_choice.value,
                                  'num_images': int(self.count.value)}
        if spec.by_resolution:
            fields['resolution'] = self.resolution_choice.value
        else:
            fields['size'] = self.size_choice.value
        if spec.grounding:
            fields['google_search'] = bool(self.google_search.value)
        if spec.output_formats:
            fields['output_format'] = self.output_format.value
        return fields

    def estimate(self) -> Decimal:
        spec = self.spec
        return estimate(self.settings, spec.id, size=int(self.size_choice.value),
                        resolution=self.resolution_choice.value if spec.by_resolution else None,
                        count=int(self.count.value))

    @property
    def max_references(self) -> int:
        return self.spec.max_references
