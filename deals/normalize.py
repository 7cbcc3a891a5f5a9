"""Normalisation of end-customer identity: name, registrable domain and tax id.

These three keys are what conflict detection, the pre-submit check, direct-account and
self-dealing rules compare, so they must be computed the same way everywhere: call
`customer_keys()` (or the three functions below) and never hand-roll a variant.

* `normalize_name` folds case, quotes and punctuation and strips legal-form words in
  Russian, English, German and Chinese: ``ООО «Ромашка»`` → ``ромашка``,
  ``ACME, Inc.`` → ``acme``, ``华为技术有限公司`` → ``华为技术``.
* `registrable_domain` reduces a URL, host or e-mail address to the domain a company
  registered (``https://shop.acme.co.uk/x`` → ``acme.co.uk``) and returns ``""`` for public
  mail providers (gmail.com, mail.ru, qq.com …), IP addresses and bare hosts.
* `normalize_tax_id` keeps digits only.

The public-suffix data comes from the snapshot bundled inside tldextract: the extractor is
built with ``suffix_list_urls=()`` (no URL is ever fetched — `find_first_response` loops over
an empty tuple and `_get_suffix_lists` falls back to ``pkgutil.get_data("tldextract",
".tld_set_snapshot")``) and ``cache_dir=None`` (no disk cache is read or written). Never use
the module-level ``tldextract.extract``: its default extractor downloads the list over HTTP.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract
from django.conf import settings

# --- names -------------------------------------------------------------------------------

# Legal-form words and phrases, already folded (lower case, no punctuation), as token tuples.
# Phrases are matched before single words, longest first.
_LEGAL_FORM_PHRASES_RAW = [
    # Russian / CIS (full forms).
    "общество с ограниченной ответственностью",
    "общество с дополнительной ответственностью",
    "закрытое акционерное общество",
    "открытое акционерное общество",
    "публичное акционерное общество",
    "непубличное акционерное общество",
    "акционерное общество",
    "индивидуальный предприниматель",
    "товарищество с ограниченной ответственностью",
    "автономная некоммерческая организация",
    "некоммерческая организация",
    "государственное унитарное предприятие",
    "муниципальное унитарное предприятие",
    "федеральное государственное унитарное предприятие",
    "производственный кооператив",
    # English.
    "limited liability company",
    "limited liability partnership",
    "public limited company",
    "private limited",
    "pvt ltd",
    "pty ltd",
    "co ltd",
    "co inc",
    "and company",
    "and co",
    # German.
    "gesellschaft mit beschränkter haftung",
    "gesellschaft mbh",
    "gmbh and co kg",
    "gmbh co kg",
    "gmbh and co kgaa",
    "ag and co kg",
    "eingetragener verein",
    "eingetragene genossenschaft",
    "haftungsbeschränkt",
]
# Russian / CIS forms stand before the name ("ООО Ромашка") or, in lists, after it; the
# Latin-script forms only ever follow the name, so "AG Barr" keeps its "AG".
_PREFIX_LEGAL_FORM_WORDS = frozenset(
    {
        # Russian / CIS abbreviations.
        "ооо",
        "одо",
        "ао",
        "зао",
        "оао",
        "пао",
        "нао",
        "ип",
        "тоо",
        "чп",
        "уп",
        "чуп",
        "гуп",
        "муп",
        "фгуп",
        "ано",
        "нко",
        "пк",
    }
)
_LEGAL_FORM_WORDS = _PREFIX_LEGAL_FORM_WORDS | frozenset(
    {
        # English.
        "llc",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "plc",
        "llp",
        "lp",
        "pte",
        "pty",
        "pvt",
        "co",
        "company",
        # German and other European forms met in Russian/Chinese channel data.
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "kgaa",
        "ohg",
        "gbr",
        "ug",
        "ev",
        "eg",
        "se",
        "aktiengesellschaft",
        "kommanditgesellschaft",
        "sa",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        # Chinese forms written apart from the name, e.g. after "（中国）".
        "有限公司",
        "有限责任公司",
        "有限責任公司",
        "股份有限公司",
        "集团有限公司",
        "集團有限公司",
        "公司",
    }
)
# Chinese forms are written without spaces, so they are stripped as suffixes (longest first),
# simplified and traditional.
_CHINESE_LEGAL_SUFFIXES = sorted(
    [
        "股份有限公司",
        "有限责任公司",
        "有限責任公司",
        "集团有限公司",
        "集團有限公司",
        "有限公司",
        "分公司",
        "总公司",
        "總公司",
        "公司",
    ],
    key=len,
    reverse=True,
)

# Quotes of every kind («» "" „“ ‚‘ '' 「」 『』) and all punctuation/symbols become spaces.
_DOTTED_ABBREVIATION = re.compile(r"\b(?:\w\.){2,}", re.UNICODE)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_UNDERSCORE = re.compile(r"_+")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    text = text.casefold().replace("ё", "е")
    # "L.L.C." / "S.A." / "e.V." → "llc" / "sa" / "ev" before dots become spaces.
    text = _DOTTED_ABBREVIATION.sub(lambda m: m.group(0).replace(".", ""), text)
    text = text.replace("&", " and ").replace("+", " and ")
    text = _NON_WORD.sub(" ", text)
    text = _UNDERSCORE.sub(" ", text)
    return " ".join(text.split())


_CONJUNCTIONS = frozenset({"and", "und", "и"})
_LEGAL_FORM_PHRASES = sorted({tuple(_fold(p).split()) for p in _LEGAL_FORM_PHRASES_RAW}, key=len, reverse=True)
# Phrases written in Cyrillic may also lead the name.
_PREFIX_LEGAL_FORM_PHRASES = [p for p in _LEGAL_FORM_PHRASES if re.search("[а-я]", p[0])]


def _strip_chinese_suffixes(token: str) -> str:
    changed = True
    while changed and token:
        changed = False
        for suffix in _CHINESE_LEGAL_SUFFIXES:
            if token.endswith(suffix) and len(token) > len(suffix):
                token = token[: -len(suffix)]
                changed = True
                break
    return token


def _strip_one(tokens: list[str], *, at_start: bool) -> bool:
    """Remove one legal-form phrase or word (or a dangling "and") at one end; True if removed."""
    for phrase in _PREFIX_LEGAL_FORM_PHRASES if at_start else _LEGAL_FORM_PHRASES:
        n = len(phrase)
        if len(tokens) > n and tuple(tokens[:n] if at_start else tokens[-n:]) == phrase:
            del tokens[slice(0, n) if at_start else slice(-n, None)]
            return True
    index = 0 if at_start else -1
    words = _PREFIX_LEGAL_FORM_WORDS if at_start else _LEGAL_FORM_WORDS
    if len(tokens) > 1 and (tokens[index] in words or tokens[index] in _CONJUNCTIONS):
        del tokens[index]
        return True
    if not at_start and tokens:
        stripped = _strip_chinese_suffixes(tokens[-1])
        if stripped != tokens[-1]:
            tokens[-1] = stripped
            return True
    return False


def normalize_name(name: str) -> str:
    """The comparable form of a company name: folded, punctuation-free, legal forms removed.

    Legal forms are stripped only at the ends, repeatedly: Russian forms at the start or the
    end ("ООО Ромашка", "Ромашка ООО"), all others at the end ("Acme Corp", "Siemens AG",
    "Foo GmbH & Co. KG", "华为技术有限公司"), so short forms such as "AG", "SE" or "Co" inside or
    at the front of a name are kept. The last word is never removed,
    so a company literally called "Company" still has a key.
    """
    tokens = _fold(name).split()
    changed = True
    while changed and tokens:
        changed = _strip_one(tokens, at_start=True) or _strip_one(tokens, at_start=False)
    return " ".join(tokens)


# --- domains ------------------------------------------------------------------------------

# Mail providers whose domain says nothing about who the customer is.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        # International.
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "zoho.com",
        "mail.com",
        "gmx.com",
        # Russia / CIS.
        "mail.ru",
        "bk.ru",
        "list.ru",
        "inbox.ru",
        "internet.ru",
        "yandex.ru",
        "yandex.com",
        "yandex.kz",
        "yandex.by",
        "ya.ru",
        "rambler.ru",
        "lenta.ru",
        "autorambler.ru",
        "ro.ru",
        "tut.by",
        # China.
        "qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "tom.com",
        # Germany.
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "freenet.de",
        "posteo.de",
    }
)


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # Offline by construction (see the module docstring). Private suffixes (github.io,
    # blogspot.com …) are honoured so "acme.github.io" is not reduced to "github.io".
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def public_mail_domains() -> frozenset[str]:
    extra = getattr(settings, "PRM", {}).get("PUBLIC_MAIL_DOMAINS_EXTRA", ())
    return PUBLIC_MAIL_DOMAINS | {d.strip().lower() for d in extra if d.strip()}


def _to_unicode_host(host: str) -> str:
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


def _host_of(value: str) -> str:
    value = unicodedata.normalize("NFKC", value or "").strip()
    if not value:
        return ""
    if "@" in value and "://" not in value:
        value = value.rsplit("@", 1)[1]
    if "://" not in value:
        value = "//" + value.lstrip("/")
    try:
        host = urlsplit(value).hostname or ""
    except ValueError:
        return ""
    return _to_unicode_host(host.strip().strip(".").casefold())


def registrable_domain(value: str) -> str:
    """The registrable domain of a URL, host or e-mail address, or "" when there is none.

    ``https://www.shop.acme.co.uk/x`` → ``acme.co.uk``; ``ivan@mail.acme.ru`` → ``acme.ru``;
    ``ivan@gmail.com`` → ``""`` (public mail); ``10.0.0.1`` / ``localhost`` → ``""``.
    Internationalised names are kept in Unicode (``xn--…`` labels are decoded).
    """
    host = _host_of(value)
    if not host or "." not in host:
        return ""
    result = _extractor()(host)
    if not result.suffix or not result.domain:
        return ""
    domain = result.top_domain_under_public_suffix
    if domain in public_mail_domains():
        return ""
    return domain


# --- tax ids ------------------------------------------------------------------------------

_NOT_DIGIT = re.compile(r"[^0-9]")


def normalize_tax_id(value: str) -> str:
    """Digits only (full-width digits are folded first): ``"7707 083-893"`` → ``"7707083893"``."""
    return _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", value or ""))


@dataclass(frozen=True)
class CustomerKeys:
    """The identity keys of an end customer; empty strings mean "unknown"."""

    name: str
    domain: str
    tax_id: str

    @property
    def is_empty(self) -> bool:
        return not (self.name or self.domain or self.tax_id)


def customer_keys(*, name: str = "", website: str = "", email: str = "", tax_id: str = "") -> CustomerKeys:
    """Normalise raw form input into comparable keys. The website wins over the e-mail domain."""
    return CustomerKeys(
        name=normalize_name(name),
        domain=registrable_domain(website) or registrable_domain(email),
        tax_id=normalize_tax_id(tax_id),
    )
