"""nanogen.gctune: the serving process moves its start-up objects out of the garbage collector's generations."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from nanogen import gctune
from nanogen.config import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freezing_takes_what_is_alive_out_of_every_generation(unfrozen: None) -> None:
    alive = [object()]  # a container that exists before the freeze
    assert any(o is alive for o in gc.get_objects())
    assert gctune.freeze_startup(True) is True
    assert gc.get_freeze_count() > 0
    assert not any(o is alive for o in gc.get_objects())  # no generation holds it: no collection scans it


def test_disabled_leaves_the_collector_alone(unfrozen: None) -> None:
    assert gctune.freeze_startup(False) is False
    assert gc.get_freeze_count() == 0


def test_the_setting_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gc_freeze is True
    monkeypatch.setenv('NANOGEN_GC_FREEZE', 'false')
    assert Settings().gc_freeze is False


def test_malloc_arenas_are_limited_unless_the_environment_chose() -> None:
    assert gctune.limit_malloc_arenas({}) is True  # glibc answered mallopt(M_ARENA_MAX, 2) with success
    assert gctune.limit_malloc_arenas({'MALLOC_ARENA_MAX': '4'}) is False
