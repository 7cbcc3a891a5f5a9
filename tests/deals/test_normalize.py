"""Normalisation of end-customer names, domains and tax ids (pure functions, no database)."""

import pytest

from deals import normalize
from deals.normalize import customer_keys, normalize_name, normalize_tax_id, registrable_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Russian.
        ("ООО «Ромашка»", "ромашка"),
        ('ООО "Ромашка"', "ромашка"),
        ("Ромашка, ООО", "ромашка"),
        ("Общество с ограниченной ответственностью «Ёлка»", "елка"),
        ("АО «Тинькофф Банк»", "тинькофф банк"),
        ("ПАО Сбербанк", "сбербанк"),
        ("ЗАО „Торговый дом Ромашка“", "торговый дом ромашка"),
        ("Публичное акционерное общество «Газпром нефть»", "газпром нефть"),
        ("ИП Иванов", "иванов"),
        ("ТОО «Казахтелеком»", "казахтелеком"),
        # English.
        ("Acme Corp.", "acme"),
        ("ACME, Inc", "acme"),
        ("Acme Inc.", "acme"),
        ("acme llc", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme Limited", "acme"),
        ("Smith & Co", "smith"),
        ("Tesco PLC", "tesco"),
        ("“Acme” Corporation", "acme"),
        # German.
        ("Siemens AG", "siemens"),
        ("Siemens Aktiengesellschaft", "siemens"),
        ("Robert Bosch GmbH", "robert bosch"),
        ("Müller GmbH & Co. KG", "müller"),
        ("Straße Bau GmbH", "strasse bau"),
        ("SAP SE", "sap"),
        # Chinese.
        ("华为技术有限公司", "华为技术"),
        ("中国石油天然气股份有限公司", "中国石油天然气"),
        ("阿里巴巴（中国）有限公司", "阿里巴巴 中国"),
        ("腾讯科技(深圳)有限公司", "腾讯科技 深圳"),
        ("小米科技有限责任公司", "小米科技"),
        ("台灣積體電路製造股份有限公司", "台灣積體電路製造"),
        # Short legal forms inside or in front of a Latin name are part of the name.
        ("AG Barr plc", "ag barr"),
        ("Co-op Bank", "co op bank"),
        # A name made of a legal form only keeps it; empty stays empty.
        ("Company", "company"),
        ("", ""),
        ("  «»  ", ""),
    ],
)
def test_normalize_name_strips_legal_forms_case_quotes_and_punctuation(raw, expected):
    assert normalize_name(raw) == expected


def test_normalize_name_variants_of_one_company_are_equal():
    assert normalize_name("ООО «Ромашка»") == normalize_name("ромашка ооо") == normalize_name("ЗАО Ромашка")
    assert normalize_name("Acme Corp.") == normalize_name("ACME, Inc") == normalize_name("Acme GmbH")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://shop.acme.co.uk/x", "acme.co.uk"),
        ("https://www.shop.acme.co.uk/x", "acme.co.uk"),
        ("http://WWW.Romashka.RU", "romashka.ru"),
        ("romashka.ru", "romashka.ru"),
        ("www.romashka.ru/contacts", "romashka.ru"),
        ("https://user:pw@sub.example.de:8443/path?q=1", "example.de"),
        ("https://www.huawei.com.cn", "huawei.com.cn"),
        ("https://кремль.рф", "кремль.рф"),
        ("http://xn--80adxhks.xn--p1ai/", "москва.рф"),
        ("https://acme.github.io/site", "acme.github.io"),
        ("ivan@acme.ru", "acme.ru"),
        ("ivan@mail.acme.ru", "acme.ru"),
        # Public mail providers never identify a customer.
        ("ivan@gmail.com", ""),
        ("ivan@mail.ru", ""),
        ("ivan@yandex.ru", ""),
        ("wang@qq.com", ""),
        ("li@163.com", ""),
        ("hans@web.de", ""),
        ("https://mail.yandex.ru", ""),
        # Nothing registrable.
        ("10.0.0.1", ""),
        ("http://localhost:8000", ""),
        ("not a url", ""),
        ("", ""),
    ],
)
def test_registrable_domain_reduces_urls_and_emails(raw, expected):
    assert registrable_domain(raw) == expected


def test_registrable_domain_extra_public_mail_domains_from_settings(settings):
    settings.PRM = {**getattr(settings, "PRM", {}), "PUBLIC_MAIL_DOMAINS_EXTRA": ["corpmail.example"]}
    assert registrable_domain("a@corpmail.example") == ""


def test_registrable_domain_never_touches_the_network(monkeypatch):
    """The extractor is built offline; any HTTP attempt would fail this test."""
    import requests

    def _no_network(*args, **kwargs):
        raise AssertionError("tldextract tried to fetch the suffix list")

    monkeypatch.setattr(requests.Session, "request", _no_network)
    normalize._extractor.cache_clear()
    extractor = normalize._extractor()
    assert extractor.suffix_list_urls == ()
    assert extractor._cache.enabled is False
    assert registrable_domain("https://a.b.example.co.uk") == "example.co.uk"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7707083893", "7707083893"),
        ("7707 083-893", "7707083893"),
        ("ИНН 7707083893", "7707083893"),
        ("７７０７０８３８９３", "7707083893"),
        ("DE129273398", "129273398"),
        ("", ""),
    ],
)
def test_normalize_tax_id_keeps_digits_only(raw, expected):
    assert normalize_tax_id(raw) == expected


def test_customer_keys_prefers_website_over_email_domain():
    keys = customer_keys(name="Acme Inc", website="https://acme.com", email="x@acme-mail.com", tax_id="12-34")
    assert (keys.name, keys.domain, keys.tax_id) == ("acme", "acme.com", "1234")
    assert customer_keys(name="Acme", email="x@acme.com").domain == "acme.com"
    assert customer_keys(name="Acme", email="x@gmail.com").domain == ""
