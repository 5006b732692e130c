"""Which e-mails a receiving mail server vouched for: only its own (topmost) Authentication-Results counts."""

from __future__ import annotations

import pytest

from services.intake.domain.email_auth import aligned, sender_authenticated
from services.intake.domain.inbound import parse_email

OURS = frozenset({"mx.kecamatan.example.id"})


def raw(*results: str, sender: str = "Budi <budi@warga.example.id>", extra: str = "") -> bytes:
    headers = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    return (
        f"{headers}From: {sender}\r\n{extra}To: pengaduan@kecamatan.example.id\r\nSubject: KK\r\n"
        f"Message-ID: <1@warga.example.id>\r\n\r\nTerlampir.\r\n"
    ).encode()


@pytest.mark.parametrize(
    "result, expected",
    [
        ("mx.kecamatan.example.id; dmarc=pass (p=none) header.from=warga.example.id", True),
        (
            "mx.kecamatan.example.id; spf=pass smtp.mailfrom=x@warga.example.id; dkim=pass header.d=warga.example.id header.s=s1",
            True,
        ),
        ("mx.kecamatan.example.id; dkim=pass header.i=@mail.warga.example.id", True),  # a subdomain of From's: aligned
        ("Mx.Kecamatan.Example.Id; dmarc=pass header.from=WARGA.example.id", True),  # ids and domains are case-blind
        ("mx.kecamatan.example.id 1; dmarc=pass header.from=warga.example.id", True),  # with a version
        ("mx.kecamatan.example.id; dmarc=fail header.from=warga.example.id", False),
        ("mx.kecamatan.example.id; dmarc=pass header.from=penipu.example.com", False),  # DMARC of another domain
        ("mx.kecamatan.example.id; dkim=pass header.d=penipu.example.com", False),  # signed, but not by From's domain
        ("mx.kecamatan.example.id; spf=pass smtp.mailfrom=budi@warga.example.id", False),  # SPF alone: not From
        ("mx.kecamatan.example.id; none", False),
        ("mx.penipu.example.com; dmarc=pass header.from=warga.example.id", False),  # another server's word
        ("mx.kecamatan.example.id; dkim=pass header.d=warga.example.id;;; garbage!!", False),  # unreadable
    ],
)
def test_one_header(result, expected):
    assert parse_email(raw(result), OURS).authenticated is expected


def test_only_the_topmost_header_of_ours_counts_so_a_forged_one_below_it_does_nothing():
    ours_fail = "mx.kecamatan.example.id; dmarc=fail header.from=warga.example.id"
    forged_pass = "mx.kecamatan.example.id; dmarc=pass header.from=warga.example.id"
    assert parse_email(raw(ours_fail, forged_pass), OURS).authenticated is False
    # another server's header above ours is skipped, ours is read
    assert parse_email(raw("mx.lain.example.net; dmarc=fail", forged_pass), OURS).authenticated is True


def test_nothing_is_vouched_for_without_configured_servers_or_with_two_senders():
    good = "mx.kecamatan.example.id; dmarc=pass header.from=warga.example.id"
    assert parse_email(raw(good), frozenset()).authenticated is False
    two = parse_email(raw(good, sender="budi@warga.example.id, siti@lain.example.id"), OURS)
    assert two.authenticated is False
    assert parse_email(raw(), OURS).authenticated is False  # no header at all: From alone proves nothing


def test_a_folded_header_is_read():
    folded = "mx.kecamatan.example.id;\r\n\tdkim=pass header.d=warga.example.id header.s=s1\r\n\theader.b=AbC;\r\n\tdmarc=pass"
    assert parse_email(raw(folded), OURS).authenticated is True


@pytest.mark.parametrize(
    "signer, domain, expected",
    [
        ("example.id", "example.id", True),
        ("example.id", "mail.example.id", True),
        ("a.example.id", "example.id", True),
        ("notexample.id", "example.id", False),
        ("example.id.evil.com", "example.id", False),
        ("", "example.id", False),
    ],
)
def test_alignment(signer, domain, expected):
    assert aligned(signer, domain) is expected


def test_headers_are_read_top_first():
    assert sender_authenticated(["mx.kecamatan.example.id; dmarc=pass header.from=b.id"], "a@b.id", OURS) is True


def test_a_dmarc_pass_that_does_not_name_the_domain_it_judged_vouches_for_nothing():
    assert sender_authenticated(["mx.kecamatan.example.id; dmarc=pass"], "a@b.id", OURS) is False
    assert parse_email(raw("mx.kecamatan.example.id; dmarc=pass (p=reject)"), OURS).authenticated is False


# The mail server's DMARC judged the domain of the address it read; Python's parser may read another one.
SPOOFS = [
    "budi@warga.example.id <penyerang@penipu.example.com>",  # read by Python as budi@..., judged on penipu
    "budi@warga.example.id<penyerang@penipu.example.com>",
    '"budi@warga.example.id" <penyerang@penipu.example.com>',  # read right, but shows Budi's address
    "=?utf-8?q?budi=40warga=2Eexample=2Eid?= <penyerang@penipu.example.com>",  # the same, encoded
    '"budi\uff20warga.example.id" <penyerang@penipu.example.com>',  # a full-width @
]


@pytest.mark.parametrize("sender", SPOOFS)
@pytest.mark.parametrize(
    "result",
    [
        "mx.kecamatan.example.id; dmarc=pass",
        "mx.kecamatan.example.id; dmarc=pass header.from=penipu.example.com",
        "mx.kecamatan.example.id; dmarc=pass header.from=warga.example.id",  # a server that read it as Python did
    ],
    ids=["no-header.from", "judged-penipu", "judged-warga"],
)
def test_a_from_read_two_ways_is_never_vouched_for(sender, result):
    assert parse_email(raw(result, sender=sender), OURS).authenticated is False


def test_two_from_headers_are_never_vouched_for():
    good = "mx.kecamatan.example.id; dmarc=pass header.from=warga.example.id"
    assert parse_email(raw(good, extra="From: budi@warga.example.id\r\n"), OURS).authenticated is False


@pytest.mark.parametrize(
    "sender",
    [
        "Budi <budi@warga.example.id>",
        "budi@warga.example.id",
        '"Budi Santoso, S.Pd." <budi@warga.example.id>',
        "=?utf-8?q?Budi_Santoso?= <budi@warga.example.id>",
    ],
)
def test_an_ordinary_from_still_is(sender):
    good = "mx.kecamatan.example.id; dmarc=pass header.from=warga.example.id"
    assert parse_email(raw(good, sender=sender), OURS).authenticated is True
