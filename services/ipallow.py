"""IP allowlists: IPv4/IPv6 addresses and CIDR ranges, one a line; an empty list allows everywhere."""
import ipaddress
import re

from flask_babel import lazy_gettext as _l

MAX_ENTRIES = 100
MAX_CHARS = 6000


def entries(text):
    """The non-empty entries of a list (lines, commas or spaces separate them)."""
    return [e for e in re.split(r"[\s,;]+", text or "") if e]


def parse(text):
    """(networks, problem): the list's networks, or a translated reason why it cannot be saved."""
    if len(text or "") > MAX_CHARS:
        return [], _l("The list is too long: at most %(n)d entries.", n=MAX_ENTRIES)
    items = entries(text)
    if len(items) > MAX_ENTRIES:
        return [], _l("The list is too long: at most %(n)d entries.", n=MAX_ENTRIES)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            return [], _l("“%(entry)s” is not an IP address or a range like 192.0.2.0/24.", entry=item[:60])
    return networks, None


def normalized(text):
    """The list as saved: one network per line, in the order given, duplicates dropped."""
    networks, _problem = parse(text)
    seen = []
    for network in networks:
        if network not in seen:
            seen.append(network)
    return "\n".join(str(n) if n.num_addresses > 1 else str(n.network_address) for n in seen)


def address(ip):
    """The client address as an ip_address (an IPv4-mapped IPv6 address as IPv4), or None."""
    try:
        parsed = ipaddress.ip_address((ip or "").split("%", 1)[0])
    except ValueError:
        return None
    return parsed.ipv4_mapped if getattr(parsed, "ipv4_mapped", None) else parsed


def allowed(ip, text):
    """True when `ip` is in the list, or the list is empty."""
    networks, _problem = parse(text)
    if not networks:
        return True
    client = address(ip)
    return client is not None and any(client.version == n.version and client in n for n in networks)


def sign_in_allowed(user, ip, user_list=None, org_list=None):
    """Both the person's own list and their organization's must allow `ip` (either may be empty)."""
    user_list = user.ip_allowlist if user_list is None else user_list
    org_list = user.organization.ip_allowlist if org_list is None else org_list
    return allowed(ip, user_list) and allowed(ip, org_list)
