"""nanogen.gctune: the serving process moves its start-up objects out of the garbage collector's generations."""

from __future__ import annotations

import gc
import weakref
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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def survivor_freeze(unfrozen: None) -> Iterator[tuple[gctune.SurvivorFreeze, Clock]]:
    clock = Clock()
    hook = gctune.SurvivorFreeze(300, clock=clock)
    hook.install()
    yield hook, clock
    hook.remove()


def test_a_full_collections_survivors_are_frozen_and_younger_collections_freeze_nothing(
        survivor_freeze: tuple[gctune.SurvivorFreeze, Clock]) -> None:
    alive = Cycle()
    gc.collect(1)
    assert gc.get_freeze_count() == 0 and any(o is alive for o in gc.get_objects())
    gc.collect()  # a full collection: what survives it is frozen, so the next one does not scan it
    assert gc.get_freeze_count() > 0 and not any(o is alive for o in gc.get_objects())


def test_a_cycle_that_dies_frozen_is_freed_by_the_periodic_whole_scan(
        survivor_freeze: tuple[gctune.SurvivorFreeze, Clock]) -> None:
    hook, clock = survivor_freeze
    cycle = Cycle()
    ref = weakref.ref(cycle)
    gc.collect()  # alive then: frozen
    del cycle
    gc.collect()
    assert ref() is not None  # frozen garbage: kept until a whole scan (the memory this trades for short pauses)
    clock.now += 299
    gc.collect()
    assert ref() is not None and gc.get_freeze_count() > 0
    clock.now += 1  # the period is over: this full collection unfreezes, the next scans everything
    gc.collect()
    assert gc.get_freeze_count() == 0 and hook.whole_scans == 0
    gc.collect()
    assert ref() is None and hook.whole_scans == 1
    assert gc.get_freeze_count() > 0  # and freezing goes on from there


def test_the_whole_scan_period_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gc_full_scan_s == 300
    monkeypatch.setenv('NANOGEN_GC_FULL_SCAN', '0')  # 0: only start-up objects are frozen
    assert Settings().gc_full_scan_s == 0
    monkeypatch.setenv('NANOGEN_GC_FULL_SCAN', '-1')
    with pytest.raises(ValueError):
        Settings()


def test_startup_installs_the_survivor_freeze_only_when_asked(unfrozen: None) -> None:
    before = list(gc.callbacks)
    try:
        gctune.freeze_startup(True, 0)
        assert gc.callbacks == before
        gctune.freeze_startup(True, 60)
        (added,) = [c for c in gc.callbacks if c not in before]
        assert isinstance(added, gctune.SurvivorFreeze) and added.full_scan_s == 60
    finally:
        gc.callbacks[:] = before
