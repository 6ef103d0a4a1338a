"""Where a bearer secret may be sent, and how a URL may be shown (OpenClaw's doors for scripts:
the Gateway's `POST /tools/invoke`, an attach grant's `POST /mcp`; httpcall.py posts to them).

- http(s) only, and plain http only to loopback unless explicitly allowed (a bearer secret must
  not cross a network in clear text);
- no `user:password@` (it would be shown in errors and journals, and OpenClaw does not use it):
  refused, and its password never shown (`hide_password`); of a URL someone else chose (a
  redirect's target) only its origin is shown;
- no spaces or control characters.
"""
from __future__ import annotations

import ipaddress
import re
import urllib.parse

from parallel_agents.core.errors import EnvironmentProblem

__all__ = ["check_url", "is_loopback", "hide_password", "origin"]

# `user:password@` at the start of the authority, up to the last "@" before the path
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://|//)?(?P<user>[^/?#@:\s]*)"
                       r"(?P<password>:[^/?#\s]*)?@")
_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def hide_password(url: str) -> str:
    """`url` as it may be shown: the password of a `user:password@` replaced by `***`."""
    def masked(match: re.Match) -> str:
        if not match["password"]:
            return match[0]
        return f"{match['head'] or ''}{match['user']}:***@"
    return _USERINFO.sub(masked, url or "", count=1)


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`: all that may be said about a URL someone else chose
    (its user, password, path and query can carry secrets)."""
    try:
        parsed = urllib.parse.urlsplit(url)
        host, port = parsed.hostname, parsed.port
    except ValueError:
        return "an unparsable URL"
    if not host:
        return "an unparsable URL"
    host = f"[{host}]" if ":" in host else host
    return f"{parsed.scheme}://{host}" + (f":{port}" if port else "")


def check_url(url: str, *, field: str, what: str = "URL", secret: str = "bearer token",
              allow_insecure_http: bool = False, file=None,
              insecure_fix: str = "use https:// or an SSH tunnel to loopback") -> urllib.parse.SplitResult:
    """`url` split, or EnvironmentProblem naming `field` (and `file`): not http(s), a bad port,
    spaces or control characters, a `user:password@` (refused rather than dropped: the user
    should know it is not used, and it is never shown), or plain http to a host that is not
    loopback without `allow_insecure_http`."""
    shown = hide_password(url or "")
    try:
        parsed = urllib.parse.urlsplit(url or "")
        parsed.port  # noqa: B018 (raises ValueError for a port that is not a number 0-65535)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname \
            or _UNSENDABLE.search(url):
        raise EnvironmentProblem(f"{what} {shown!r} is not an http(s) URL", file=file, field=field,
                                 fix="e.g. http://127.0.0.1:18789")
    if "@" in parsed.netloc:
        raise EnvironmentProblem(f"{what} {shown!r} has a user name or password in it, which would "
                                 f"be shown in messages and journals (only the {secret} is sent)",
                                 file=file, field=field, fix="remove the 'user:password@' part")
    if parsed.scheme == "http" and not is_loopback(parsed.hostname) and not allow_insecure_http:
        raise EnvironmentProblem(f"plain http:// to {parsed.hostname} would send the {secret} "
                                 "unencrypted", file=file, field=field, fix=insecure_fix)
    return parsed
