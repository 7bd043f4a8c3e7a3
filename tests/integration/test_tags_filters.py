"""Tags, stars, saved searches and the gallery's filters on them (issue 16), SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nanogen.errors import InvalidInput, NotFound
from nanogen.library.queries import ImageQuery, list_images
from nanogen.library.tagging import query_from_json, query_to_json
from tests.integration.test_boards import team
from tests.support.library import make_images


async def ids(services, uid: int, **query: object) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(r.id for r in (await list_images(services.db, uid, ImageQuery(**query))).items)  # type: ignore[arg-type]


async def test_tags_and_stars_filter_the_gallery_and_only_the_owner_sets_them(studio) -> None:
    services, ada, bob = studio
    fox, whale, owl = await make_images(services, ada, 'three animals', n=3)
    tagging = services.library.tagging
    assert await tagging.set_tags(ada, fox, ['Spring ', 'zine', 'zine']) == ['spring', 'zine']
    await tagging.set_tags(ada, whale, ['zine'])
    await tagging.set_rating(ada, fox, 5)
    await tagging.set_rating(ada, whale, 2)
    assert await ids(services, ada, tags=('zine',)) == sorted([fox, whale])
    assert await ids(services, ada, tags=('zine', 'spring')) == [fox]  # every tag
    assert await ids(services, ada, min_rating=3) == [fox]
    assert await ids(services, ada, min_rating=2, tags=('zine',)) == sorted([fox, whale])
    assert await ids(services, ada, tags=('nothing',)) == []
    assert await ids(services, ada) == sorted([fox, whale, owl])
    assert await tagging.rating_of(ada, fox) == 5
    await tagging.set_rating(ada, fox, None)
    assert await ids(services, ada, min_rating=1) == [whale]
    with pytest.raises(NotFound):
        await tagging.set_tags(bob, fox, ['mine'])
    with pytest.raises(NotFound):
        await tagging.set_rating(bob, fox, 1)
    with pytest.raises(InvalidInput):
        await tagging.set_rating(ada, fox, 6)
    with pytest.raises(InvalidInput):
        await tagging.set_tags(ada, fox, ['<script>'])
    with pytest.raises(InvalidInput):
        await ids(services, ada, min_rating=9)
    assert await ids(services, bob, tags=('zine',)) == []  # Bob's gallery: his images only


async def test_model_board_and_cost_filters(studio) -> None:
    services, ada, _bob = studio
    fox, whale = await make_images(services, ada, 'two animals', n=2)
    board = await services.library.boards.create(ada, 'B')
    await services.library.boards.add_images(ada, board.id, [whale])
    assert await ids(services, ada, board_id=board.id) == [whale]
    model = (await services.library.get_prompt(ada, (await services.library.get_image(ada, fox)).prompt_id)).model
    assert await ids(services, ada, model=model) == sorted([fox, whale])
    assert await ids(services, ada, model='no-such-model') == []
    assert await ids(services, ada, cost_min=Decimal('1000')) == []
    assert await ids(services, ada, cost_max=Decimal('1000')) == sorted([fox, whale])
    with pytest.raises(InvalidInput):
        await ids(services, ada, cost_min=Decimal(2), cost_max=Decimal(1))


async def test_tag_suggestions_come_from_mine_and_my_groups_shared_images(studio) -> None:
    services, ada, bob = studio
    (fox,) = await make_images(services, ada, 'a fox')
    (kite,) = await make_images(services, bob, 'a kite')
    tagging = services.library.tagging
    await tagging.set_tags(ada, fox, ['forest'])
    await tagging.set_tags(bob, kite, ['festival', 'private'])
    assert await tagging.suggest(ada, 'f') == ['forest']  # Bob's tags are his until he shares
    group = await team(services, (ada, 'member'), (bob, 'member'))
    board = await services.library.boards.create(bob, 'Fest')
    await services.library.boards.add_images(bob, board.id, [kite])
    await services.library.boards.share_with_group(bob, board.id, group)
    assert await tagging.suggest(ada, 'F') == ['festival', 'forest']
    assert await tagging.suggest(ada) == ['festival', 'forest', 'private']


async def test_saved_searches_keep_their_filters(studio) -> None:
    services, ada, bob = studio
    query = ImageQuery(search='fox', tags=('zine',), min_rating=4, cost_max=Decimal('0.05'), size=1024)
    assert query_from_json(query_to_json(query)) == query
    saved = await services.library.tagging.save_search(ada, 'Best foxes', query)
    assert [(s.name, s.query) for s in await services.library.tagging.saved_searches(ada)] == [('Best foxes', query)]
    assert await services.library.tagging.saved_searches(bob) == []
    with pytest.raises(NotFound):
        await services.library.tagging.delete_saved_search(bob, saved.id)
    await services.library.tagging.delete_saved_search(ada, saved.id)
    assert await services.library.tagging.saved_searches(ada) == []
