"""Lists of addresses and networks in settings (``127.0.0.0/8,::1/128``, ``*``): the
trusted proxies and the monitoring allowlist."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network


@dataclass(frozen=True, slots=True)
class Networks:
    networks: tuple[IPv4Network | IPv6Network, ...]
    anything: bool = False  # "*"

    def contains(self, host: str) -> bool:
        if self.anything:
            return True
        try:
            address = ip_address(host)
        except ValueError:
            return False  # a Unix socket, a name: never trusted
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


def parse_networks(text: str) -> Networks:
    """Comma-separated addresses and CIDRs; ``*`` means any address. Raises ValueError on
    an entry that is neither (a setting with a typo must not silently allow no one)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if "*" in items:
        return Networks((), anything=True)
    return Networks(tuple(ip_network(item, strict=False) for item in items))
