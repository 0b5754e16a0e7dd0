"""The client's address behind trusted proxies (`NUMBORS_TRUSTED_PROXIES`).

The socket peer is the client unless it is a trusted proxy (its address is in one of the
configured CIDRs). Then `X-Forwarded-For` is read from the right: each proxy appends the
address it received the request from, so the right-most address that is not a trusted proxy
is the client; whatever lies left of it was written by that client and may be forged.
Every address being a trusted proxy: the left-most. An entry that is not an IP address ends
the walk at the nearest trusted hop (a proxy never writes one, so someone forged it). With
no trusted proxies (the default) the header is never read: a client that sets it itself
cannot choose its address for login throttling, registration and chat limits, or the
audit trail's `src_endpoint`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network


def parse_proxies(setting: str) -> tuple[Network, ...]:
    """`NUMBORS_TRUSTED_PROXIES`: comma-separated CIDRs (a bare address is a /32 or /128).
    A malformed one is a configuration error (ValueError) rather than silently ignored."""
    return tuple(
        ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()
    )


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_ip(
    peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]
) -> str | None:
    """The client's address: `peer` (the socket's), or, when `peer` is a trusted proxy, the
    right-most untrusted address of the `X-Forwarded-For` headers (in the order received)."""
    if peer is None or not proxies:
        return peer
    hop = _address(peer)
    if hop is None or not _trusted(hop, proxies):
        return peer
    entries = [e for header in forwarded_for for e in header.split(",") if e.strip()]
    for entry in reversed(entries):
        found = _address(entry)
        if found is None:
            break
        hop = found
        if not _trusted(hop, proxies):
            break
    return str(hop)
