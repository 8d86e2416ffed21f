"""Where external links may lead: the policy checked before a linked store is opened.

Only location strings are judged: no file is opened, no request is sent, no host name is resolved
(local paths are resolved with ``realpath``, so ``..`` and symlinks cannot leave the allowed folder).
By default a link may lead only to a store in the folder of the linking store or below it, on the
same kind of storage: the same local file system, or the same scheme and host (bucket) of a URL.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import UnsafeLinkError

__all__ = ["ANY", "LinkPolicy"]

#: the policy value that follows every link
ANY = "any"
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_LINK_LOCAL = tuple(ipaddress.ip_network(net) for net in ("169.254.0.0/16", "fe80::/10"))
_PRIVATE = tuple(ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_FIX = (
    "Nothing was opened. If you trust this file, pass external_link_policy='any' (or a list of allowed "
    "folders and URL prefixes) to NWBZarrIO/ZarrIO."
)


@dataclass(frozen=True)
class _Url:
    """A URL split for judging: lower-case scheme and host (``netloc``), normalised absolute path."""

    scheme: str
    host: str
    path: str

    def under(self, other: _Url, strict: bool) -> bool:
        if (self.scheme, self.host) != (other.scheme, other.host):
            return False
        return _inside(self.path, other.path, strict, posixpath)


def _parse_url(location: str) -> _Url | None:
    """``location`` split, or None when it cannot be judged (chained ``a::b://`` URLs, odd schemes)."""
    scheme, _, rest = location.partition("://")
    scheme = scheme.lower()
    host, _, path = rest.partition("/")
    if not _SCHEME.fullmatch(scheme) or "::" in re.sub(r"\[[^]]*\]", "", host) + "/" + path:
        return None  # "::" chains fsspec file systems, except inside an IPv6 host
    # the path as a server may read it: escapes decoded, backslashes as slashes, query and all
    path = posixpath.normpath("/" + unquote(path).replace("\\", "/").lstrip("/"))
    return _Url(scheme, host.lower(), path)


def _inside(path: str, folder: str, strict: bool, module: Any = os.path) -> bool:
    """True when ``path`` is ``folder`` or below it (strictly below with ``strict``)."""
    try:
        common = module.commonpath([path, folder])
    except ValueError:  # one absolute, one relative, or different drives
        return False
    return common == folder and not (strict and path == folder)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a URL host is a literal of (IPv4-mapped IPv6 as IPv4), or None."""
    try:
        name = urlsplit(f"//{host}").hostname or ""
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _is_url(location: str) -> bool:
    return "://" in location


@dataclass(frozen=True)
class LinkPolicy:
    """Which locations a store may open for its external links: ``follow_any``, or the default rule plus ``roots``.

    ``roots`` are absolute local folders and ``scheme://host/prefix`` URLs allowed besides the default rule.
    """

    follow_any: bool = False
    roots: tuple[str, ...] = ()

    @classmethod
    def from_option(cls, value: Any) -> LinkPolicy:
        """The policy for ``external_link_policy``: None, ``"any"``, or a list or tuple of folders and URL prefixes."""
        if value is None:
            return cls()
        if isinstance(value, str) and value == ANY:
            return cls(follow_any=True)
        if not isinstance(value, (list, tuple)):
            raise ValueError(
                f"external_link_policy={value!r} is not valid: use None (links stay next to the file), 'any', "
                "or a list of allowed folders and URL prefixes (such as ['/data/shared', 's3://bucket/prefix'])."
            )
        return cls(roots=tuple(_root(entry) for entry in value))

    def refusal(self, here: str, target: str) -> str | None:
        """Why the store at ``here`` may not open ``target`` (None when it may)."""
        if self.follow_any or any(_matches(root, target) for root in self.roots):
            return None
        return _default_refusal(here, target)

    def check(self, here: str, target: str, link: str) -> None:
        """Raise UnsafeLinkError naming ``link`` when the store at ``here`` may not open ``target``."""
        reason = self.refusal(here, target)
        if reason is not None:
            raise UnsafeLinkError(
                f"Refused to follow {link} from '{here}': it resolves to '{target}', {reason}. By default external "
                f"links may lead only to stores in the linking file's folder or below it. {_FIX}"
            )


def _root(entry: Any) -> str:
    """One allowed root, checked: an absolute real local folder, or a normalised URL prefix."""
    text = os.fspath(entry) if isinstance(entry, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text or text == ANY:
        raise ValueError(
            f"external_link_policy entry {entry!r} is not valid: give local folders or URL prefixes as text or "
            "paths ('any' stands alone, not in a list)."
        )
    if not _is_url(text):
        return os.path.realpath(os.path.expanduser(text))
    url = _parse_url(text)
    if url is None or not url.host or url.scheme == "file":
        raise ValueError(
            f"external_link_policy entry {text!r} is not valid: URL prefixes need a scheme and a host or bucket "
            "(s3://bucket/prefix, https://host/path); give local folders as plain paths, not file:// URLs."
        )
    return f"{url.scheme}://{url.host}{url.path}"


def _matches(root: str, target: str) -> bool:
    if not _is_url(root):
        return not _is_url(target) and _inside(os.path.realpath(target), root, strict=False)
    url, prefix = _parse_url(target) if _is_url(target) else None, _parse_url(root)
    return url is not None and prefix is not None and url.under(prefix, strict=False)


def _default_refusal(here: str, target: str) -> str | None:
    """The default rule: the target is below the linking store's folder, on the same file system or host."""
    if not _is_url(here):
        if _is_url(target):
            return "a URL, while the linking file is local"
        folder = os.path.dirname(os.path.realpath(here))
        if not _inside(os.path.realpath(target), folder, strict=True):
            return "outside the linking file's folder (after resolving '..' and symlinks)"
        return None
    if not _is_url(target):
        return "a local path, while the linking file is remote"
    url, base = _parse_url(target), _parse_url(here)
    if url is None or base is None:
        return "a URL that cannot be checked"
    if url.scheme == "file":
        return "a file:// URL"
    if url.scheme != base.scheme:
        return f"a {url.scheme}:// URL, while the linking file is at a {base.scheme}:// URL"
    address = _ip(url.host) if url.scheme in ("http", "https") else None
    if address is not None and any(address in net for net in _LINK_LOCAL):
        return "a link-local address (such as a cloud metadata service)"
    if url.host != base.host:
        private = address is not None and (
            address.is_loopback or address.is_unspecified or any(address in net for net in _PRIVATE)
        )
        return "a private or loopback address" if private else "on another host or bucket"
    if not url.under(_Url(base.scheme, base.host, posixpath.dirname(base.path)), strict=True):
        return "outside the linking file's prefix"
    return None
