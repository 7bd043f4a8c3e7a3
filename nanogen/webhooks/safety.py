"""Where webhooks may go: hosts an admin allows (NANOGEN_WEBHOOK_ALLOWED_HOSTS), never a private address.

A host is allowed when it equals an entry (explicitly allowed: any address, so `127.0.0.1` can be listed for a
receiver on the same machine) or ends with a suffix entry (`.example.com`; `*` allows any host): those must resolve
only to public addresses. The check runs at registration and again before every attempt, on the addresses the
attempt then connects to (pinned), so a name that re-resolves to 10.0.0.1 later (DNS rebinding) is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from nanogen.errors import InvalidInput

MAX_URL_LENGTH = 2000


class Refused(Exception):
    """This URL may not be called (a message fit to show its owner)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`), and the host and port the request names."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def parse_allowed(text: str) -> tuple[str, ...]:
    return tuple(e.strip().lower().rstrip('.') for e in text.split(',') if e.strip())


def _host_rule(host: str, allowed: tuple[str, ...]) -> str | None:
    """'explicit', 'public' (a suffix or `*`: public addresses only) or None (not allowed)."""
    if host in allowed:
        return 'explicit'
    for entry in allowed:
        if entry == '*' or (entry.startswith(('.', '*.')) and host.endswith(entry.lstrip('*'))):
            return 'public'
    return None


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split('%', 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or InvalidInput saying what is wrong."""
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_LENGTH or not url.isprintable():
        raise InvalidInput('Give the http:// or https:// URL to send events to.', field='url')
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidInput('That URL is not valid.', field='url') from None
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise InvalidInput('Give the http:// or https:// URL to send events to.', field='url')
    if parts.username or parts.password:
        raise InvalidInput('Leave the user name and password out of the URL: deliveries are signed instead.',
                           field='url')
    return parts.scheme, parts.hostname.lower().rstrip('.'), port or (443 if parts.scheme == 'https' else 80)


async def resolve(host: str, port: int) -> list[str]:
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check(url: str, allowed: tuple[str, ...]) -> Target:
    """The URL's target if it may be called now; Refused (with the reason) otherwise."""
    scheme, host, port = split_url(url)
    rule = _host_rule(host, allowed)
    if rule is None:
        raise Refused(f'{host} is not on this server\'s list of webhook hosts (NANOGEN_WEBHOOK_ALLOWED_HOSTS); '
                      'ask an admin to add it.')
    try:
        addresses = await resolve(host, port)
    except OSError:
        raise Refused(f'{host} could not be resolved.') from None
    if not addresses:
        raise Refused(f'{host} could not be resolved.')
    if rule == 'public':
        private = [a for a in addresses if not is_public(a)]
        if private:
            raise Refused(f'{host} points to a private, loopback or link-local address; webhooks only go to public '
                          'addresses unless an admin lists the host itself.')
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, address=addresses[0])
