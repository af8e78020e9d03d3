"""The client's IP address, the one place that decides it.

``X-Forwarded-For`` is a list anyone can write to; only the entries our own proxies appended
are facts. Walking the header from the right, every hop whose sender is one of our proxies
(counted by ``TRUSTED_PROXY_COUNT``, or recognised by address in ``TRUSTED_PROXY_NETWORKS``)
vouches for the address before it; the first address a proxy of ours did not send is the
client. With neither setting the header is ignored and the peer address (``REMOTE_ADDR``)
is the client. A malformed entry ends the walk: the last address we could trust is used,
never a 500. The audit trail and allauth's rate limits both read :func:`client_ip`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def canonical_ip(value: str | None) -> str | None:
    """``value`` as a canonical address string (compressed, lower case), or None when it
    is not an IP address. Accepts ``[v6]`` and ``v4:port`` forms proxies sometimes write."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1 and "." in text:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped.compressed
        if address.scope_id:
            # A zone ("%eth0") means nothing off this host, and PostgreSQL's inet refuses it.
            address = ipaddress.IPv6Address(address.compressed.split("%", 1)[0])
    return address.compressed.lower()


@lru_cache(maxsize=8)
def _networks(specs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(spec, strict=False) for spec in specs)


def parse_proxy_networks(specs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) of trusted proxies; raises ValueError on a bad one."""
    return _networks(tuple(specs))


def _in_networks(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)


def _is_our_proxy(
    sender: str, hops_from_us: int, proxy_count: int, proxy_networks: tuple[IPNetwork, ...]
) -> bool:
    """Whether ``sender``, ``hops_from_us`` hops away (0: our peer), is one of our proxies."""
    return hops_from_us < proxy_count or _in_networks(sender, proxy_networks)


def client_ip_from(
    *,
    remote_addr: str | None,
    forwarded_for: str,
    proxy_count: int,
    proxy_networks: tuple[IPNetwork, ...],
) -> str | None:
    """The client address given the peer address and the ``X-Forwarded-For`` value."""
    peer = canonical_ip(remote_addr)
    if peer is None or not forwarded_for or (proxy_count <= 0 and not proxy_networks):
        return peer
    hops = [entry.strip() for entry in forwarded_for.split(",")]
    client = peer
    trusted_hops = 0
    # `client` is the sender of the hop being looked at; it is one of our proxies when it is
    # within the first `proxy_count` hops from us, or inside a trusted proxy network.
    while hops:
        if not _is_our_proxy(client, trusted_hops, proxy_count, proxy_networks):
            break
        previous = canonical_ip(hops.pop())
        if previous is None:
            # A proxy of ours wrote something that is not an address (or a client sent it
            # and the proxy kept it): nothing further left can be believed.
            break
        client = previous
        trusted_hops += 1
    return client


def client_ip(request: HttpRequest) -> str | None:
    """The canonical IP address of the person behind ``request`` (None if unknown)."""
    return client_ip_from(
        remote_addr=request.META.get("REMOTE_ADDR"),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", ""),
        proxy_count=settings.TRUSTED_PROXY_COUNT,
        proxy_networks=parse_proxy_networks(settings.TRUSTED_PROXY_NETWORKS),
    )


def peer_is_trusted_proxy(request: HttpRequest) -> bool:
    """Whether whoever sent ``request`` is one of our proxies, by the same settings as
    :func:`client_ip`: only then are headers a proxy sets (``X-Request-ID``) believed."""
    peer = canonical_ip(request.META.get("REMOTE_ADDR"))
    return peer is not None and _is_our_proxy(
        peer, 0, settings.TRUSTED_PROXY_COUNT, parse_proxy_networks(settings.TRUSTED_PROXY_NETWORKS)
    )


def same_site_path(url: str, request: HttpRequest) -> str | None:
    """The path (and query) of ``url`` when it is a page of this site, else None.

    For redirect targets taken from headers (``HX-Current-URL``): an absolute URL must name
    this host; what is kept is only its path, which must start with exactly one ``/`` (never
    ``//other.host`` or ``/\\other.host``, which browsers read as another host)."""
    if not url or any(ord(char) < 0x20 for char in url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or parts.netloc not in ("", request.get_host()):
        return None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or target[1:2] in ("/", "\\"):
        return None
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return None
    return target
