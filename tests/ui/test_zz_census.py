from collections import Counter
from nicegui import ui
from nicegui.testing import User
from tests.ui.helpers import elements, eventually, should_see, sign_in
from tests.ui.studio import wait_for_cards


async def test_census(user: User) -> None:
    await sign_in(user, then='/generator')
    await should_see(user, 'Demo provider')
    client = user.client
    print('\nEMPTY generator elements', len(client.elements))
    from tests.ui.studio import app_services, user_id
    from nanogen.generation.requests import validate_request
    services = app_services(); uid = await user_id(services, 'ada@example.com')
    for i in range(8):
        await services.generation.create(uid, validate_request(prompt=f'prompt {i}'))
    def done():
        return len([e for e in elements(user) if e.props.get('job', {}).get('images')]) >= 8
    await eventually(done, timeout=60)
    print('8 completed cards elements', len(client.elements))
    c = Counter(type(e).__name__ for e in client.elements.values())
    print(c.most_common(25))
    await user.open('/dashboard'); print('dashboard', len(user.client.elements))
    await user.open('/gallery'); print('gallery', len(user.client.elements))
    await user.open('/history'); print('history', len(user.client.elements))
