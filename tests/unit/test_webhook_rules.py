"""Webhook rules with no I/O: the signature's exact form, which hosts and addresses are allowed, secrets scrubbed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from nanogen.errors import InvalidInput
from nanogen.logs import scrub
from nanogen.webhooks import safety, signing


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1","type":"ping"}'
    expected = hmac.new(b'whsec_k', b'1767225600.' + body, hashlib.sha256).hexdigest()
    assert signing.signature('whsec_k', 1767225600, body) == f'sha256={expected}'
    headers = signing.headers(secret='whsec_k', event='ping', delivery_id=7, timestamp=1767225600, body=body)
    assert headers['X-Nanogen-Delivery'] == '7' and headers['X-Nanogen-Event'] == 'ping'
    assert signing.verify('whsec_k', '1767225600', body, headers['X-Nanogen-Signature'])
    assert not signing.verify('whsec_k', '1767225601', body, headers['X-Nanogen-Signature'])
    assert not signing.verify('whsec_k', 'soon', body, headers['X-Nanogen-Signature'])


@pytest.mark.parametrize(('address', 'public'), [
    ('93.184.215.14', True), ('2606:4700::1111', True), ('10.0.0.1', False), ('172.16.5.4', False),
    ('192.168.0.1', False), ('127.0.0.1', False), ('169.254.169.254', False), ('100.64.0.1', False),
    ('0.0.0.0', False), ('::1', False), ('fe80::1%eth0', False), ('fd00::1', False), ('::ffff:10.0.0.1', False),
    ('224.0.0.1', False)])
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert safety.is_public(address) is public


async def test_allowed_hosts_exact_suffix_and_star() -> None:
    allowed = safety.parse_allowed(' 127.0.0.1 , .Example.com., ')
    assert allowed == ('127.0.0.1', '.example.com')
    assert (await safety.check('http://127.0.0.1:9/x', allowed)).address == '127.0.0.1'  # listed as such
    for refused in ('http://example.org/x', 'http://evil-example.com/x', 'http://127.0.0.2/x'):
        with pytest.raises(safety.Refused):
            await safety.check(refused, allowed)
    with pytest.raises(safety.Refused, match='private'):
        await safety.check('http://[::1]:9/x', ('*',))
    with pytest.raises(safety.Refused, match='private'):
        await safety.check('http://127.0.0.1:9/x', ('*',))  # `*` is public addresses only
    for bad in ('javascript:alert(1)', 'http://', 'http://a:b@127.0.0.1/', 'http://127.0.0.1:99999/', 'x' * 2001):
        with pytest.raises(InvalidInput):
            safety.split_url(bad)


def test_webhook_secrets_never_reach_a_log_line() -> None:
    secret = signing.new_secret()
    assert secret.startswith('whsec_') and secret not in scrub(f'registered with {secret} for ada')
