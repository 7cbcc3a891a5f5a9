"""Russian translation: the catalogue is complete and compiled, and the UI switches to Russian.

How to update translations (after adding or changing marked strings):

    cd /work/main   # the project root
    # 1. Extract: adds new msgids, keeps existing translations, marks changed ones "#, fuzzy".
    DJANGO_DEBUG=1 .venv/bin/python manage.py makemessages -l ru \\
        --ignore=.venv --ignore=var --ignore=staticfiles --ignore=node_modules --ignore=tests
    # 2. Translate: fill every empty msgstr (msgstr[0..2] for plurals: 1 / 2-4 / 5+, as in
    #    «1 партнёр», «2 партнёра», «5 партнёров»), check and remove every "#, fuzzy" flag.
    #    List what is left to do:
    msgattrib --untranslated --only-fuzzy locale/ru/LC_MESSAGES/django.po   # fuzzy ones
    msgattrib --untranslated locale/ru/LC_MESSAGES/django.po                # empty + fuzzy
    # 3. Check and compile (must print "N translated messages." and nothing else):
    msgfmt --check --statistics -o /dev/null locale/ru/LC_MESSAGES/django.po
    DJANGO_DEBUG=1 .venv/bin/python manage.py compilemessages -l ru --ignore=.venv --ignore=node_modules
    # 4. Commit both django.po and django.mo, then run these tests:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_i18n REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/pytest tests/test_i18n.py -p no:cacheprovider

Glossary (keep it consistent): partner — партнёр; tier — уровень; channel manager — канальный
менеджер; channel lead — руководитель канала; deal registration — регистрация сделки; deal
protection — защита сделки; end customer — конечный заказчик; direct account — прямой клиент;
key account — ключевой клиент; cabinet — кабинет партнёра; agreement — договор; interaction —
взаимодействие; next step — следующий шаг; dormant — спящий; invitation — приглашение; partner
admin / rep — администратор / менеджер партнёра; tax id — ИНН; decision maker — ЛПР. Quotes in
Russian text are «ёлочки».
"""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"
RU_PLURAL_FORMS = (
    "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")

# A few terms checked end to end in the rendered pages.
RU_LOG_IN = "Войти"
RU_PARTNERS = "Партнёры"


# --- a minimal .po parser (polib is not a dependency) ----------------------------------------


def _unquote(token: str) -> str:
    assert token.startswith('"') and token.endswith('"'), token
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], token[1:-1])


def parse_po(text: str) -> list[dict]:
    """Entries as dicts: msgid, msgid_plural, msgstr (dict index → text; -1 when singular), flags,
    locations. Obsolete entries ("#~") are skipped."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry = {"msgid": None, "msgid_plural": None, "msgctxt": None, "msgstr": {}, "flags": set(), "locations": []}
        current = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#:"):
                entry["locations"] += line[2:].split()
            elif line.startswith("#"):
                continue
            elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line):
                keyword, index, value = match.groups()
                if keyword.startswith("msgstr"):
                    current = ("msgstr", int(index) if index is not None else -1)
                    entry["msgstr"][current[1]] = _unquote(value)
                else:
                    current = (keyword, None)
                    entry[keyword] = _unquote(value)
            elif line.startswith('"'):
                if current[0] == "msgstr":
                    entry["msgstr"][current[1]] += _unquote(line)
                else:
                    entry[current[0]] += _unquote(line)
            else:
                raise AssertionError(f"Unexpected line in {PO_FILE.name}: {line!r}")
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def po_entries():
    entries = parse_po(PO_FILE.read_text(encoding="utf-8"))
    assert entries and entries[0]["msgid"] == "", "the .po file must start with its header"
    return entries


def _where(entry) -> str:
    return f"{entry['msgid']!r} ({', '.join(entry['locations'][:2])})"


def _msgfmt() -> str:
    path = shutil.which("msgfmt")
    assert path, "msgfmt is missing: install gettext (apt-get install gettext)"
    return path


# --- (a) the catalogue is complete ------------------------------------------------------------


def test_po_header_is_russian_with_three_plural_forms(po_entries):
    header = po_entries[0]["msgstr"][-1]
    assert "Language: ru\n" in header
    assert "charset=UTF-8" in header
    plural_forms = re.search(r"Plural-Forms: ([^\n]*)", header).group(1)
    assert plural_forms.replace(" ", "") == RU_PLURAL_FORMS.replace(" ", "")
    assert "fuzzy" not in po_entries[0]["flags"]


def test_every_message_is_translated_and_none_is_fuzzy(po_entries):
    messages = po_entries[1:]
    assert len(messages) > 500  # sanity: the parser saw the whole catalogue
    fuzzy = [_where(e) for e in messages if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries (check the translation, then remove the flag): {fuzzy}"
    empty = []
    for entry in messages:
        expected = [0, 1, 2] if entry["msgid_plural"] is not None else [-1]
        if sorted(entry["msgstr"]) != expected or not all(entry["msgstr"].values()):
            empty.append(_where(entry))
    assert not empty, f"untranslated entries (plurals need msgstr[0], [1] and [2]): {empty}"


def test_texts_marked_lazy_by_alias_are_in_the_catalogue(po_entries):
    """Services mark module-level texts `_lazy("…")` (gettext_lazy under another name); the
    project's makemessages extracts that keyword too (prm/management/commands/makemessages.py).
    Every such literal in the code must be in the catalogue, or Russian users read English."""
    root = Path(settings.BASE_DIR)
    marked = set()
    for path in root.glob("*/**/*.py"):
        if path.parts[len(root.parts)] in {".venv", "tests", "var", "node_modules"}:
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r'\b_lazy\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
            marked.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))).replace('\\"', '"'))
    assert len(marked) > 20, "sanity: the scan found the services' _lazy texts"
    catalogue = {e["msgid"] for e in po_entries}
    missing = sorted(marked - catalogue)
    assert not missing, f"_lazy texts missing from the catalogue (run makemessages, then translate): {missing}"


def test_placeholders_and_markup_are_kept(po_entries):
    problems = []
    for entry in po_entries[1:]:
        for index, msgstr in entry["msgstr"].items():
            source = entry["msgid_plural"] if index > 0 and entry["msgid_plural"] else entry["msgid"]
            if set(PLACEHOLDER.findall(msgstr)) != set(PLACEHOLDER.findall(source)):
                problems.append(f"{_where(entry)}: placeholders differ in msgstr[{index}]")
            if re.findall(r"</?\w+", msgstr) != re.findall(r"</?\w+", source):
                problems.append(f"{_where(entry)}: HTML tags differ in msgstr[{index}]")
            if '"' in msgstr or "“" in msgstr or "”" in msgstr:
                problems.append(f"{_where(entry)}: use «ёлочки» in Russian text")
    assert not problems, "\n".join(problems)


def test_msgfmt_check_reports_no_untranslated_fuzzy_or_errors():
    result = subprocess.run(
        [_msgfmt(), "--check", "--statistics", "-o", "/dev/null", str(PO_FILE)],
        capture_output=True,
        text=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    assert re.fullmatch(r"\d+ translated messages?\.", output), output


# --- (b) the compiled catalogue is up to date -------------------------------------------------


def test_mo_file_is_compiled_from_the_current_po(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run([_msgfmt(), "-o", str(fresh), str(PO_FILE)], check=True, capture_output=True)
    with fresh.open("rb") as fresh_file, MO_FILE.open("rb") as committed_file:
        expected = gettext.GNUTranslations(fresh_file)._catalog
        committed = gettext.GNUTranslations(committed_file)._catalog
    stale = sorted(str(key) for key in expected.keys() ^ committed.keys())[:10]
    assert committed == expected, (
        "locale/ru/LC_MESSAGES/django.mo is stale: run compilemessages (see the module docstring). "
        f"First differing keys: {stale}"
    )


def test_russian_plurals_use_three_forms():
    with translation.override("ru"):
        forms = {
            n: translation.ngettext("%(days)s day", "%(days)s days", n) % {"days": n} for n in (1, 3, 5, 11, 21, 22, 25)
        }
    assert forms == {
        1: "1 день",
        3: "3 дня",
        5: "5 дней",
        11: "11 дней",
        21: "21 день",
        22: "22 дня",
        25: "25 дней",
    }


# --- (c) pages render in Russian --------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_is_russian_with_accept_language():
    response = Client().get(reverse("login"), headers={"accept-language": "ru"})
    content = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ru">' in content
    assert RU_LOG_IN in content
    assert "Забыли пароль?" in content
    assert "Forgot your password?" not in content


@pytest.mark.django_db
def test_login_page_stays_english_by_default():
    content = Client().get(reverse("login")).content.decode()
    assert '<html lang="en">' in content
    assert "Log in" in content
    assert RU_LOG_IN not in content


@pytest.mark.django_db
def test_staff_partner_list_is_russian_with_language_cookie(manager_client, partner_a):
    manager_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    response = manager_client.get(reverse("staff:partner_list"))
    content = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ru">' in content
    assert RU_PARTNERS in content
    assert "Канальный менеджер" in content
    assert "Новый партнёр" in content
    assert partner_a.name in content


@pytest.mark.django_db
def test_staff_partner_detail_is_russian(manager_client, partner_a):
    manager_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    response = manager_client.get(reverse("staff:partner_detail", args=[partner_a.public_id]))
    content = response.content.decode()
    assert response.status_code == 200
    for text in ("Записать взаимодействие", "Договоры", "Журнал изменений", "Юридическое название"):
        assert text in content, text


@pytest.mark.django_db
def test_partner_cabinet_is_russian(partner_admin_client):
    partner_admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    content = partner_admin_client.get(reverse("cabinet:home")).content.decode()
    assert "Кабинет" in content
    assert "Ваш канальный менеджер" in content


# --- (d) the language switcher ----------------------------------------------------------------


@pytest.mark.django_db
def test_language_switcher_posts_to_set_language_and_next_page_is_russian(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager, backend="django.contrib.auth.backends.ModelBackend")
    page_url = reverse("staff:partner_list")

    page = client.get(page_url).content.decode()
    form = re.search(r'<form action="([^"]+)" method="post"[^>]*>(.*?)</form>', page, re.S)
    assert form, "the language switcher form is missing"
    action, body = form.groups()
    assert action == reverse("set_language")
    assert re.search(r'<select name="language"', body)
    assert {code for code, _name in settings.LANGUAGES} <= set(re.findall(r'<option value="(\w+)"', body))
    next_url = re.search(r'name="next" type="hidden" value="([^"]*)"', body).group(1)
    assert next_url == page_url
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)

    response = client.post(action, {"language": "ru", "next": next_url, "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302
    assert response["Location"] == page_url
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"

    content = client.get(response["Location"]).content.decode()
    assert '<html lang="ru">' in content
    assert RU_PARTNERS in content
    assert re.search(r'<option value="ru" selected>', content)

    # And back to English.
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', content).group(1)
    client.post(action, {"language": "en", "next": page_url, "csrfmiddlewaretoken": csrf})
    content = client.get(page_url).content.decode()
    assert '<html lang="en">' in content
    assert RU_PARTNERS not in content


@pytest.mark.django_db
def test_login_page_switches_to_russian_before_log_in():
    client = Client()
    response = client.post(reverse("set_language"), {"language": "ru", "next": reverse("login")}, follow=True)
    content = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("login")
    assert RU_LOG_IN in content


def test_set_language_saves_choice_on_profile_and_login_restores_it(manager_client, manager, password):
    from django.test import Client

    manager_client.post(reverse("set_language"), {"language": "ru", "next": "/"})
    manager.refresh_from_db()
    assert manager.language == "ru"
    fresh = Client()
    response = fresh.post(reverse("login"), {"username": manager.email, "password": password})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert "Партнёры" in fresh.get(reverse("staff:partner_list")).content.decode()


def test_set_language_ignores_unknown_language(manager_client, manager):
    manager_client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    manager.refresh_from_db()
    assert manager.language == "en"
