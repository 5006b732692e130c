"""Whether the receiving mail server vouched for an e-mail's ``From:``: its ``Authentication-Results`` header
(RFC 8601, parsed with ``authres``) says ``dmarc=pass`` with ``header.from`` naming the From domain we read
(a pass that does not say which domain it judged counts for nothing), or ``dkim=pass`` with a signing domain
(``d=``) aligned with it. Whether the From header is one we read as the mail server did is
``domain.inbound``'s part (a From with parse defects is never vouched for).

Anyone can write an ``Authentication-Results`` header into a message they send. Only the topmost one whose
authserv-id (its first word) is one of ours counts: a receiving server adds its own above everything the sender
wrote (and RFC 8601 section 5 has it remove forged copies of its own), so a forged one further down, or one
naming another server, is never read.

Pure: no I/O, no DNS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import authres

_FOLD = re.compile(r"\r?\n[ \t]*")
_COMMENT = re.compile(r"\([^()]*\)")


def from_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def aligned(signer: str, domain: str) -> bool:
    """Relaxed alignment (DMARC, RFC 7489 3.1.1) without a public-suffix list: the same domain, or one a
    subdomain of the other. Nobody but a domain's owner can publish a DKIM key under it, so a looser
    match than the organisational domain admits no stranger."""
    signer, domain = signer.strip().lower().rstrip("."), domain.strip().lower().rstrip(".")
    if not signer or not domain:
        return False
    return signer == domain or domain.endswith("." + signer) or signer.endswith("." + domain)


def _authserv_id(value: str) -> str:
    """The first word of a header value that ``authres`` could not parse (comments removed)."""
    head = _COMMENT.sub(" ", value.split(";", 1)[0]).split()
    return head[0].lower().rstrip(".") if head else ""


def sender_authenticated(headers: Iterable[str], sender: str, authserv_ids: frozenset[str]) -> bool:
    """True when the topmost ``Authentication-Results`` of ``headers`` (top of the message first) written by
    one of ``authserv_ids`` passes DMARC for ``sender``'s domain, or DKIM with an aligned ``d=``."""
    if not authserv_ids:
        return False
    domain = from_domain(sender)
    for raw in headers:
        value = _FOLD.sub(" ", str(raw)).strip()
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # noqa: BLE001  (authres raises its own SyntaxError and others on odd headers)
            if _authserv_id(value) in authserv_ids:
                return False  # ours, but unreadable: it vouches for nothing, and no header below it counts
            continue
        if (parsed.authserv_id or "").lower().rstrip(".") not in authserv_ids:
            continue
        return _passes(parsed.results, domain)
    return False


def _passes(results: Iterable[Any], domain: str) -> bool:  # authres' results (untyped)
    for result in results:
        method, outcome = (result.method or "").lower(), (result.result or "").lower()
        if outcome != "pass":
            continue
        props = {(p.type or "").lower() + "." + (p.name or "").lower(): (p.value or "") for p in result.properties}
        if method == "dmarc":
            # only a verdict that names the domain it judged, and it is the one we read: a From header two
            # parsers read differently (``victim@a.example <x@b.example>``) is judged on b, read as a
            said = props.get("header.from", "").strip()
            if said and from_domain(said) == domain:
                return True
        elif method == "dkim":
            signer = props.get("header.d") or from_domain(props.get("header.i", ""))
            if aligned(signer, domain):
                return True
    return False
