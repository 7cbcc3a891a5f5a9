"""Demo data for deal registration: the product catalogue, holidays, direct accounts, ~1,500
end customers (Russian, CIS, European and Chinese companies) and ~2,000 registrations over the
past year in every status, with open and resolved conflicts, flags and extension requests.

Two paths, on purpose:

* The year's closed history (won, lost, rejected, expired and abandoned drafts) is
  bulk-inserted like the partners section: fixture rows, no audit trail, no notifications.
* Everything that is still live — drafts, the review queue, returned and approved
  registrations, extensions, every conflict and flag — goes through `deals.services` with the
  clock set to the moment it happened (`_Clock.at`), so references, SLA deadlines, conflict
  evidence, flags, audit rows and in-app notifications are computed the real way.

E-mail: the services notify people, and `notification_send` e-mails after commit when the user
has `email_notifications` on. The seeder switches that preference off for every user while it
runs and restores it at the end (`_emails_paused`): the in-app notifications are real, but the
seed never queues thousands of e-mails about events that "happened" months ago. This keeps
the services untouched and patches nothing but the clock.

Deterministic: everything random comes from `ctx.rng`, every date is relative to `ctx.now`.
"""

from __future__ import annotations

import datetime as dt
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from unittest import mock

from django.db import connection
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Least

from deals import services
from deals.models import (
    STAGE_PROBABILITY,
    Conflict,
    ConflictOutcome,
    ConflictStatus,
    DealProduct,
    DealReferenceCounter,
    DealRegistration,
    DealStage,
    DealStatus,
    DirectAccount,
    EndCustomer,
    Holiday,
    Product,
    ProductLine,
    ProtectionExtension,
)
from deals.normalize import customer_keys
from deals.services import sla
from deals.services._common import name_similarity_threshold
from partners.demo import (
    BALTIC,
    BATCH,
    CN_CITIES,
    NORTHWIND,
    DemoContext,
    _digits,
    chinese_uscc,
    cis_tax_id,
    eu_vat,
    russian_inn,
)
from partners.models import Contact, Partner, PartnerStatus, Region
from prm.exceptions import ApplicationError, StateError
from prm.models import AuditLog, Currency, Notification, Role, User

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

# --- catalogue ------------------------------------------------------------------------------

CATALOGUE = [
    # line name, code, [(product, SKU, list price EUR)]
    (
        "Network security",
        "network-security",
        [
            ("NGFW 1200 appliance", "NS-FW1200", 4900),
            ("NGFW 4500 appliance", "NS-FW4500", 18500),
            ("NGFW virtual edition", "NS-FWVE", 2900),
            ("Secure SD-WAN gateway", "NS-SDWAN", 3600),
            ("Intrusion prevention subscription (1 year)", "NS-IPS-1Y", 1200),
        ],
    ),
    (
        "Cloud backup",
        "cloud-backup",
        [
            ("Cloud backup for servers (per TB)", "CB-SRV-TB", 420),
            ("Cloud backup for Microsoft 365 (per user)", "CB-M365", 36),
            ("Disaster recovery as a service", "CB-DRAAS", 9600),
            ("Immutable backup storage (per TB)", "CB-IMM-TB", 540),
        ],
    ),
    (
        "Endpoint protection",
        "endpoint-protection",
        [
            ("Endpoint protection (per seat)", "EP-STD", 28),
            ("Endpoint detection and response (per seat)", "EP-EDR", 54),
            ("Mobile threat defence (per device)", "EP-MTD", 19),
            ("Managed detection and response (per seat)", "EP-MDR", 96),
        ],
    ),
    (
        "Analytics",
        "analytics",
        [
            ("Security analytics platform", "AN-SIEM", 24000),
            ("Log collector (per 1,000 EPS)", "AN-LOG-1K", 3100),
            ("Threat intelligence feed (1 year)", "AN-TI-1Y", 7800),
            ("Compliance reporting pack", "AN-COMP", 5200),
        ],
    ),
]
# Catalogue list prices are in EUR; rough demo exchange rates for deal values.
RATE = {
    Currency.EUR: 1,
    Currency.USD: Decimal("1.08"),
    Currency.RUB: 98,
    Currency.KZT: 520,
    Currency.BYN: Decimal("3.5"),
    Currency.CNY: Decimal("7.8"),
}

HOLIDAYS = [((1, d), "Новогодние каникулы") for d in range(1, 9)] + [
    ((2, 23), "День защитника Отечества"),
    ((3, 8), "Международный женский день"),
    ((5, 1), "Праздник Весны и Труда"),
    ((5, 9), "День Победы"),
    ((6, 12), "День России"),
    ((11, 4), "День народного единства"),
]

# --- end-customer names ---------------------------------------------------------------------

RU_ROOTS = [
    ("Агро", "agro"),
    ("Строй", "stroy"),
    ("Энерго", "energo"),
    ("Пром", "prom"),
    ("Мед", "med"),
    ("Транс", "trans"),
    ("Хим", "khim"),
    ("Нефте", "nefte"),
    ("Металл", "metall"),
    ("Лес", "les"),
    ("Фарм", "farm"),
    ("Авто", "avto"),
    ("Электро", "elektro"),
    ("Тепло", "teplo"),
    ("Водо", "vodo"),
    ("Стекло", "steklo"),
    ("Хлеб", "khleb"),
    ("Текстиль", "tekstil"),
    ("Порт", "port"),
    ("Судо", "sudo"),
    ("Сталь", "stal"),
    ("Цемент", "tsement"),
    ("Зерно", "zerno"),
    ("Рыб", "ryb"),
    ("Сахар", "sakhar"),
    ("Уголь", "ugol"),
    ("Кабель", "kabel"),
    ("Шина", "shina"),
    ("Био", "bio"),
    ("Бум", "bum"),
    ("Гидро", "gidro"),
    ("Торф", "torf"),
]
RU_TAILS = [
    ("снаб", "snab"),
    ("монтаж", "montazh"),
    ("комплекс", "kompleks"),
    ("инвест", "invest"),
    ("ресурс", "resurs"),
    ("логистик", "logistik"),
    ("холдинг", "holding"),
    ("маш", "mash"),
    ("техника", "tekhnika"),
    ("торг", "torg"),
    ("развитие", "razvitie"),
    ("сбыт", "sbyt"),
    ("завод", "zavod"),
    ("альянс", "alyans"),
    ("прибор", "pribor"),
    ("сеть", "set"),
    ("инжиниринг", "engineering"),
    ("трест", "trest"),
    ("стандарт", "standart"),
    ("профиль", "profil"),
]
RU_ADJECTIVES = [
    ("Северный", "severny"),
    ("Уральский", "uralsky"),
    ("Волжский", "volzhsky"),
    ("Сибирский", "sibirsky"),
    ("Балтийский", "baltiysky"),
    ("Камский", "kamsky"),
    ("Донской", "donskoy"),
    ("Приморский", "primorsky"),
    ("Байкальский", "baykalsky"),
    ("Алтайский", "altaysky"),
    ("Енисейский", "eniseysky"),
    ("Ладожский", "ladozhsky"),
    ("Тверской", "tverskoy"),
    ("Кубанский", "kubansky"),
    ("Окский", "oksky"),
    ("Московский", "moskovsky"),
    ("Невский", "nevsky"),
    ("Рязанский", "ryazansky"),
    ("Курский", "kursky"),
    ("Тульский", "tulsky"),
    ("Сахалинский", "sakhalinsky"),
    ("Ямальский", "yamalsky"),
    ("Южный", "yuzhny"),
    ("Смоленский", "smolensky"),
]
RU_NOUNS = [
    ("Металлург", "metallurg"),
    ("Подшипник", "podshipnik"),
    ("Кирпич", "kirpich"),
    ("Фармацевт", "farmatsevt"),
    ("Машиностроитель", "mashinostroitel"),
    ("Полимер", "polimer"),
    ("Бетон", "beton"),
    ("Хлебокомбинат", "khlebokombinat"),
    ("Молокозавод", "molokozavod"),
    ("Трубопрокат", "truboprokat"),
    ("Элеватор", "elevator"),
    ("Судоремонт", "sudoremont"),
    ("Агрохолдинг", "agroholding"),
    ("Ритейл", "riteyl"),
    ("Стройтрест", "stroytrest"),
    ("Энергосбыт", "energosbyt"),
    ("Мясокомбинат", "myasokombinat"),
    ("Стеклозавод", "steklozavod"),
    ("Бумкомбинат", "bumkombinat"),
    ("Рудник", "rudnik"),
    ("Порт", "port"),
    ("Лесопромышленник", "lesoprom"),
]
RU_FORMS = [("ООО", 55), ("АО", 22), ("ПАО", 6), ("ЗАО", 5), ("ООО ПК", 6), ("АО НПО", 6)]
KZ_ROOTS = [
    ("Алатау", "alatau"),
    ("Каспий", "kaspiy"),
    ("Сарыарка", "saryarka"),
    ("Жетысу", "zhetysu"),
    ("Есиль", "esil"),
    ("Иртыш", "irtysh"),
    ("Тенгри", "tengri"),
    ("Кокше", "kokshe"),
    ("Балхаш", "balkhash"),
    ("Шелковый Путь", "silkway"),
]
EU_CUSTOMERS = {
    # country: (legal form, TLD, first words, business words)
    "GB": (
        "Ltd",
        "co.uk",
        [
            "Harrow",
            "Fenwick",
            "Ashford",
            "Brampton",
            "Coldstream",
            "Wexley",
            "Marlow",
            "Thornbury",
            "Kingsmere",
            "Ambleside",
            "Holloway",
            "Radcliffe",
            "Tewkesbury",
        ],
        [
            "Logistics",
            "Foods",
            "Engineering",
            "Retail",
            "Insurance",
            "Hotels",
            "Packaging",
            "Media",
            "Pharma",
            "Building Supplies",
            "Dairies",
        ],
    ),
    "DE": (
        "GmbH",
        "de",
        [
            "Rhein",
            "Bergmann",
            "Hofmann",
            "Schwarzwald",
            "Weser",
            "Lindner",
            "Mosel",
            "Kaiser",
            "Ostsee",
            "Harz",
            "Allgäu",
        ],
        [
            "Maschinenbau",
            "Logistik",
            "Lebensmittel",
            "Stahlbau",
            "Versicherung",
            "Bauwerke",
            "Kunststoff",
            "Pharma",
            "Druckerei",
            "Brauerei",
        ],
    ),
    "FR": (
        "SAS",
        "fr",
        ["Loire", "Garonne", "Provence", "Lavande", "Bretagne", "Montclair", "Vendôme"],
        ["Logistique", "Alimentaire", "Bâtiment", "Transports", "Cosmétiques", "Énergie"],
    ),
    "NL": (
        "B.V.",
        "nl",
        ["Zeeland", "Waddenzee", "Tulp", "Molen", "Haven"],
        ["Logistiek", "Voeding", "Bouw", "Energie", "Zorg"],
    ),
    "PL": (
        "Sp. z o.o.",
        "pl",
        ["Bałtyk", "Tatry", "Warta", "Odra", "Karpaty", "Podlasie"],
        ["Logistyka", "Budownictwo", "Spożywcza", "Energetyka", "Meble"],
    ),
    "LV": ("SIA", "lv", ["Gauja", "Kurzeme", "Vidzeme", "Jūrmala"], ["Loģistika", "Būve", "Pārtika", "Enerģija"]),
    "LT": ("UAB", "lt", ["Neris", "Žemaitija", "Aukštaitija", "Trakai"], ["Logistika", "Statyba", "Maistas"]),
    "EE": ("AS", "ee", ["Pärnu", "Saaremaa", "Emajõgi"], ["Logistika", "Ehitus", "Toit"]),
    "FI": ("Oy", "fi", ["Saimaa", "Lappi", "Kuopio", "Pohjola"], ["Logistiikka", "Rakennus", "Elintarvike"]),
    "IT": ("S.p.A.", "it", ["Toscana", "Brenta", "Vesuvio", "Garda"], ["Logistica", "Alimentari", "Costruzioni"]),
    "ES": ("S.A.", "es", ["Ebro", "Guadalquivir", "Costa Brava", "Sierra"], ["Logística", "Alimentación", "Energía"]),
    "CZ": ("a.s.", "cz", ["Morava", "Šumava", "Krkonoše"], ["Logistika", "Stavby", "Potraviny"]),
    "AT": ("GmbH", "at", ["Tirol", "Wachau", "Salzach"], ["Logistik", "Lebensmittel", "Holzbau"]),
}
CN_CUSTOMER_BRANDS = [
    ("长城", "changcheng"),
    ("东方", "dongfang"),
    ("华夏", "huaxia"),
    ("泰山", "taishan"),
    ("黄河", "huanghe"),
    ("长江", "changjiang"),
    ("珠江", "zhujiang"),
    ("昆仑", "kunlun"),
    ("紫金", "zijin"),
    ("宏达", "hongda"),
    ("盛世", "shengshi"),
    ("德胜", "desheng"),
    ("嘉禾", "jiahe"),
    ("永安", "yongan"),
    ("福星", "fuxing"),
    ("光明", "guangming"),
]
CN_CUSTOMER_BUSINESS = [
    ("制药", "pharma"),
    ("物流", "logistics"),
    ("食品", "food"),
    ("机械制造", "machinery"),
    ("新能源", "newenergy"),
    ("化工", "chem"),
    ("纺织", "textile"),
    ("汽车零部件", "autoparts"),
    ("医疗器械", "medtech"),
    ("建设工程", "construction"),
    ("电力设备", "power"),
    ("零售", "retail"),
]
CN_FORMS = [("有限公司", 70), ("股份有限公司", 20), ("集团有限公司", 10)]

DIRECT_ACCOUNTS = [
    # name, website, country — the vendor's own key accounts (fictional)
    ("ПАО «Росгидросеть»", "rosgidroset.ru", "RU"),
    ("АО «Национальная Транспортная Компания»", "ntk-transport.ru", "RU"),
    ("ПАО «Сбережения и Кредит»", "sberkredit.ru", "RU"),
    ("АО «Федеральная Почтовая Служба»", "fedpost.ru", "RU"),
    ("ПАО «ТелеМост»", "telemost-pao.ru", "RU"),
    ("АО «Газнефтехимпереработка»", "gnhp.ru", "RU"),
    ("ГК «Атомэнергомаш»", "atomenergomash-gk.ru", "RU"),
    ("ПАО «Аэрофлот-Карго»", "aerocargo.ru", "RU"),
    ("АО «Российские Магистрали»", "rusmagistral.ru", "RU"),
    ("ПАО «Уральская Горно-Металлургическая»", "ugmk-pao.ru", "RU"),
    ("ПАО «СибЭнергоХолдинг»", "sibenergoholding.ru", "RU"),
    ("АО «КазТрансОйл Сервис»", "kto-service.kz", "KZ"),
    ("АО «Казахстанские Железные Дороги»", "kzd.kz", "KZ"),
    ("ОАО «Белорусский Нефтехим»", "belneftekhim.by", "BY"),
    ("Globex International plc", "globex-intl.com", "GB"),
    ("Initech Holdings Ltd", "initech-holdings.co.uk", "GB"),
    ("Umbrella Pharmaceuticals GmbH", "umbrella-pharma.de", "DE"),
    ("Deutsche Netzwerk AG", "dnetz-ag.de", "DE"),
    ("Hanseatische Versicherung AG", "hanse-versicherung.de", "DE"),
    ("Compagnie Générale d'Énergie SA", "cge-energie.fr", "FR"),
    ("Royal Maritime Group N.V.", "royalmaritime.nl", "NL"),
    ("Polska Grupa Przemysłowa S.A.", "pgp-sa.pl", "PL"),
    ("Nordic Telecom Oyj", "nordictelecom.fi", "FI"),
    ("Banca Italiana del Nord S.p.A.", "bancanord.it", "IT"),
    ("中国远洋航运集团有限公司", "cosship-group.com.cn", "CN"),
    ("国家智能电网有限公司", "smartgrid-cn.com.cn", "CN"),
    ("华南铁路投资集团有限公司", "scrail.com.cn", "CN"),
    ("上海国际金融控股有限公司", "shifh.com.cn", "CN"),
    ("北京城市建设集团有限公司", "bjcity-build.com.cn", "CN"),
    ("深圳港口集团有限公司", "szport-group.com.cn", "CN"),
]

TITLES = {
    "ru": [
        "Модернизация сетевой защиты головного офиса",
        "Резервное копирование филиальной сети",
        "Защита рабочих станций ({n} мест)",
        "Внедрение платформы аналитики ИБ",
        "Замена межсетевых экранов в ЦОД",
        "Защита удалённых сотрудников",
        "Катастрофоустойчивость 1С и почты",
        "SD-WAN для сети магазинов",
        "Продление и расширение лицензий",
        "Пилот EDR с переходом в продуктив",
    ],
    "en": [
        "Head-office network security refresh",
        "Branch backup consolidation",
        "Endpoint protection roll-out ({n} seats)",
        "Security analytics platform",
        "Data-centre firewall replacement",
        "Remote workforce protection",
        "Disaster recovery for ERP and e-mail",
        "SD-WAN for the store network",
        "Licence renewal and expansion",
        "EDR pilot to production",
    ],
    "zh": [
        "总部网络安全升级",
        "分支机构备份整合",
        "终端防护部署（{n} 台）",
        "安全数据分析平台",
        "数据中心防火墙替换",
        "远程办公安全防护",
        "ERP 与邮件容灾",
        "门店网络 SD-WAN 改造",
        "许可续订与扩容",
        "EDR 试点转正式部署",
    ],
}
LOST_REASONS = {
    "ru": [
        "Заказчик выбрал конкурента по цене",
        "Бюджет перенесён на следующий год",
        "Проект заморожен заказчиком",
        "Проиграли тендер: требование по сертификации",
        "Заказчик остался на текущем решении",
    ],
    "en": [
        "Customer chose a competitor on price",
        "Budget moved to next year",
        "Project put on hold by the customer",
        "Lost the tender on certification requirements",
        "Customer renewed the incumbent solution",
    ],
}
REJECT_REASONS = {
    "ru": [
        "Заказчик уже работает с нами напрямую",
        "Нет подтверждения интереса заказчика: встреча не проводилась",
        "Регистрация дублирует ранее одобренную сделку",
        "Объём проекта не соответствует заявленному",
    ],
    "en": [
        "The customer is already served directly by our team",
        "No evidence of customer engagement: no meeting took place",
        "Duplicates a registration approved earlier",
        "Project scope does not match the registered products",
    ],
}
RETURN_REASONS = {
    "ru": [
        "Укажите ИНН заказчика и контактное лицо",
        "Уточните состав продуктов и количество лицензий",
        "Приложите информацию о проведённой встрече с заказчиком",
    ],
    "en": [
        "Please add the customer's tax id and a contact person",
        "Please specify the products and the number of licences",
        "Please describe the meeting held with the customer",
    ],
}
EXTENSION_REASONS = {
    "ru": ["Заказчик перенёс закупочную процедуру на месяц", "Идёт согласование договора у юристов заказчика"],
    "en": ["The customer moved the purchase committee by a month", "Contract is in legal review at the customer"],
}

# Deliberate conflicts: the second partner enters the same company differently.
# (first partner's customer name, second partner's input: how it differs) — see _conflict_input.
CONFLICT_KINDS = ["tax_id", "domain", "name"]


# --- the demo clock -------------------------------------------------------------------------


class _Clock:
    """Run service calls "at" a past moment.

    Services read `timezone.now()`, which is patched. `created_at` columns default to the
    unpatched function, so the rows each call created (found by their id range) get the
    moment afterwards, in one UPDATE per table (`finish`). Old notifications are marked read.
    """

    MODELS = (DealRegistration, EndCustomer, Conflict, ProtectionExtension, AuditLog, Notification)

    def __init__(self, now: dt.datetime):
        self.now = now
        self.ranges: dict[type, list[tuple[int, int, dt.datetime]]] = {m: [] for m in self.MODELS}

    def _max_ids(self) -> list[int]:
        tables = [connection.ops.quote_name(m._meta.db_table) for m in self.MODELS]
        sql = "SELECT " + ", ".join(f"(SELECT COALESCE(MAX(id), 0) FROM {t})" for t in tables)  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchone())

    @contextmanager
    def at(self, moment: dt.datetime):
        moment = min(moment, self.now)
        before = self._max_ids()
        with mock.patch("django.utils.timezone.now", return_value=moment):
            yield moment
        after = self._max_ids()
        for model, lo, hi in zip(self.MODELS, before, after, strict=True):
            if hi > lo:
                self.ranges[model].append((lo + 1, hi, moment))

    def finish(self) -> None:
        with connection.cursor() as cursor:
            for model, ranges in self.ranges.items():
                if not ranges:
                    continue
                table = connection.ops.quote_name(model._meta.db_table)
                for start in range(0, len(ranges), 1000):
                    chunk = ranges[start : start + 1000]
                    values = ", ".join(["(%s, %s, %s::timestamptz)"] * len(chunk))
                    cursor.execute(
                        f"UPDATE {table} AS t SET created_at = v.at FROM (VALUES {values}) AS v(lo, hi, at) "  # noqa: S608
                        "WHERE t.id BETWEEN v.lo AND v.hi",
                        [x for r in chunk for x in r],
                    )
            # What happened more than three days ago has been seen.
            lo = min((r[0] for r in self.ranges[Notification]), default=None)
            if lo is not None:
                Notification.objects.filter(pk__gte=lo, read_at__isnull=True, created_at__lt=self.now - 3 * DAY).update(
                    read_at=self.now - 2 * DAY
                )


@contextmanager
def _emails_paused():
    """Users get in-app notifications while seeding, but no e-mail is queued (see module doc)."""
    ids = list(User.objects.filter(email_notifications=True).values_list("pk", flat=True))
    User.objects.filter(pk__in=ids).update(email_notifications=False)
    try:
        yield ids
    finally:
        User.objects.filter(pk__in=ids).update(email_notifications=True)


# --- state ----------------------------------------------------------------------------------


@dataclass
class _State:
    ctx: DemoContext
    clock: _Clock
    products: list[Product] = field(default_factory=list)
    by_line: dict[str, list[Product]] = field(default_factory=dict)
    customers: dict[str, list[EndCustomer]] = field(default_factory=dict)  # by market
    live_pool: dict[str, list[EndCustomer]] = field(default_factory=dict)  # no look-alikes
    direct_accounts: list[DirectAccount] = field(default_factory=list)
    users: dict[int, list[User]] = field(default_factory=dict)  # partner id → registrants
    partners: list[Partner] = field(default_factory=list)  # active, with registrations
    new_user_ids: list[int] = field(default_factory=list)
    taken_names: list[str] = field(default_factory=list)  # normalised names live customers avoid

    @property
    def rng(self):
        return self.ctx.rng

    @property
    def now(self) -> dt.datetime:
        return self.ctx.now


def seed(ctx: DemoContext) -> None:
    clock = _Clock(ctx.now)
    state = _State(ctx=ctx, clock=clock)
    with _emails_paused() as paused:
        _seed_catalogue(state)
        _seed_holidays(state)
        _seed_direct_accounts(state)
        _seed_registrants(state)
        _seed_customers(state)
        _seed_history(state)
        _seed_live(state)
        # What the beat jobs would have done by now (expiry, escalations, reminders).
        with clock.at(ctx.now):
            services.deal_protection_expire(now=ctx.now)
            services.conflicts_escalate_overdue(now=ctx.now)
            services.deal_review_sla_check(now=ctx.now)
            services.deal_protection_send_reminders(now=ctx.now)
        clock.finish()
        # A customer record is as old as its first registration.
        EndCustomer.objects.update(
            created_at=Least(
                F("created_at"),
                Subquery(
                    DealRegistration.objects.filter(end_customer=OuterRef("pk"))
                    .order_by("created_at")
                    .values("created_at")[:1]
                ),
            )
        )
        paused.extend(state.new_user_ids)
    _count_summary(ctx)


def _count_summary(ctx: DemoContext) -> None:
    for status, label in DealStatus.choices:
        ctx.count(f"deal registrations: {label.lower()}", DealRegistration.objects.filter(status=status).count())
    ctx.count("conflicts (open)", Conflict.objects.filter(status=ConflictStatus.OPEN).count())
    ctx.count("conflicts (resolved)", Conflict.objects.filter(status=ConflictStatus.RESOLVED).count())
    ctx.count("protection extensions", ProtectionExtension.objects.count())


# --- reference data -------------------------------------------------------------------------


def _seed_catalogue(state: _State) -> None:
    now = state.now
    for name, code, items in CATALOGUE:
        line, _ = ProductLine.objects.get_or_create(code=code, defaults={"name": name, "created_at": now - 400 * DAY})
        made = []
        for product_name, sku, _price in items:
            product, _ = Product.objects.get_or_create(
                sku=sku, defaults={"line": line, "name": product_name, "created_at": now - 400 * DAY}
            )
            made.append(product)
        state.by_line[code] = made
        state.products.extend(made)
    state.ctx.count("products", len(state.products))


def _seed_holidays(state: _State) -> None:
    today = state.ctx.today
    rows = [
        Holiday(date=dt.date(year, month, day), name=name)
        for year in (today.year - 1, today.year, today.year + 1)
        for (month, day), name in HOLIDAYS
        if dt.date(year, month, day) != today
    ]
    Holiday.objects.bulk_create(rows, ignore_conflicts=True)
    state.ctx.count("holidays", len(rows))


def _seed_direct_accounts(state: _State) -> None:
    rng = state.rng
    owners = [state.ctx.user("lead@demo.prm"), *state.ctx.managers]
    rows = []
    for name, website, country in DIRECT_ACCOUNTS:
        tax = _tax_id(rng, country)
        keys = customer_keys(name=name, website=website, tax_id=tax)
        rows.append(
            DirectAccount(
                name=name,
                normalized_name=keys.name,
                website=f"https://www.{website}",
                domain=keys.domain,
                tax_id=keys.tax_id,
                country=country,
                owner=rng.choice(owners),
                notes="Key account served by the vendor's direct sales team.",
                created_at=state.now - rng.randint(200, 900) * DAY,
            )
        )
    state.direct_accounts = DirectAccount.objects.bulk_create(rows)
    state.ctx.count("direct accounts", len(rows))


def _tax_id(rng, country: str) -> str:
    if country == "RU":
        return russian_inn(rng, rng.choice(["77", "78", "50", "66", "54", "16", "52", "63"]))
    if country in ("KZ", "BY", "UZ", "AM", "AZ", "KG"):
        return cis_tax_id(rng, country)
    if country == "CN":
        return "".join(c for c in chinese_uscc(rng, rng.choice(CN_CITIES)[3]) if c.isdigit())
    try:
        return eu_vat(rng, country)
    except KeyError:
        return _digits(rng, 10)


def _lang(partner: Partner) -> str:
    lang = getattr(partner, "_demo_lang", None) or ("ru" if partner.region in (Region.RUSSIA, Region.CIS) else "en")
    return lang if lang in ("ru", "zh") else ("zh" if partner.region == Region.CHINA else "en")


def _market(partner: Partner) -> str:
    if partner.region == Region.CHINA:
        return "cn"
    if partner.region == Region.EUROPE:
        return "eu"
    if partner.region == Region.CIS:
        return "cis"
    return "ru"


def _currency(rng, partner: Partner) -> str:
    if rng.random() < 0.06:
        return Currency.USD
    if partner.region == Region.CHINA:
        return Currency.CNY
    if partner.region == Region.EUROPE:
        return Currency.EUR
    if partner.country == "KZ":
        return Currency.KZT
    if partner.country == "BY":
        return Currency.BYN
    return Currency.RUB


def _seed_registrants(state: _State) -> None:
    """One cabinet log-in (partner admin) per active partner, from its executive contact, so
    registrations have a real registrant. Northwind and Baltic keep their published log-ins."""
    ctx = state.ctx
    existing = {u.email for u in User.objects.all().only("email")}
    for email, user in ctx.users.items():
        if user.partner_id:
            state.users.setdefault(user.partner_id, []).append(user)
            existing.add(email)
    new_users, contacts = [], []
    active = [p for p in ctx.partners if p.status == PartnerStatus.ACTIVE]
    for partner in active:
        if partner.pk in state.users:
            continue
        people = [c for c in ctx.contacts.get(partner.pk, []) if c.user_id is None and c.is_active and c.email]
        if not people:
            continue
        contact = people[0]
        email = contact.email.lower()
        if email in existing:
            continue
        existing.add(email)
        user = User(
            email=email,
            full_name=contact.full_name,
            role=Role.PARTNER_ADMIN,
            partner=partner,
            job_title=contact.job_title,
            phone=contact.phone,
            language="ru" if _lang(partner) == "ru" else "en",
            password=ctx.password_hash or "!",
            date_joined=partner.created_at + 20 * DAY,
            email_notifications=False,  # switched on when the seed ends, like everyone's
        )
        new_users.append(user)
        contacts.append((contact, user))
    User.objects.bulk_create(new_users, batch_size=BATCH)
    for contact, user in contacts:
        contact.user = user
        state.users.setdefault(user.partner_id, []).append(user)
    Contact.objects.bulk_update([c for c, _u in contacts], ["user"], batch_size=BATCH)
    state.new_user_ids = [u.pk for u in new_users]
    state.partners = [p for p in active if p.pk in state.users]
    ctx.count("partner log-ins for registrations", len(new_users))


# --- end customers ----------------------------------------------------------------------------


class _Names:
    def __init__(self, rng):
        self.rng = rng
        self.names: set[tuple[str, str]] = set()
        self.domains: set[str] = set()
        self.taxes: set[str] = set()
        self.norms: set[str] = set()  # one company per normalised name, whatever its legal form

    def weighted(self, options):
        return self.rng.choices([o for o, _w in options], weights=[w for _o, w in options])[0]

    def ru(self, country: str) -> tuple[str, str, str]:
        rng = self.rng
        if country == "KZ" and rng.random() < 0.7:
            (root, slug), (tail, tslug) = rng.choice(KZ_ROOTS), rng.choice(RU_TAILS)
            core = f"{root}{tail}" if " " not in root else f"{root} {tail.capitalize()}"
            return f"ТОО «{core}»", core, f"{slug}{tslug}.kz"
        if rng.random() < 0.55:
            (root, slug), (tail, tslug) = rng.choice(RU_ROOTS), rng.choice(RU_TAILS)
            core, dom = root + tail, slug + tslug
        else:
            (adj, aslug), (noun, nslug) = rng.choice(RU_ADJECTIVES), rng.choice(RU_NOUNS)
            core, dom = f"{adj} {noun}", f"{aslug}-{nslug}"
        form = self.weighted(RU_FORMS)
        if country == "BY":
            form = rng.choice(["ООО", "ОАО", "ЗАО", "ЧУП"])
        if country == "KZ":
            form = rng.choice(["ТОО", "АО"])
        tld = {"RU": "ru", "KZ": "kz", "BY": "by", "UZ": "uz", "AM": "am", "AZ": "az", "KG": "kg"}[country]
        return f"{form} «{core}»", core, f"{dom}.{tld}"

    def eu(self, country: str) -> tuple[str, str, str]:
        form, tld, firsts, nouns = EU_CUSTOMERS.get(country, EU_CUSTOMERS["GB"])
        first, noun = self.rng.choice(firsts), self.rng.choice(nouns)
        core = f"{first} {noun}"
        name = f"{form} {core}" if form in ("SIA", "UAB") else f"{core} {form}"
        slug = "".join(ch for ch in (first + noun).lower() if ch.isascii() and ch.isalnum())
        return name, core, f"{slug}.{tld}"

    def cn(self, city_row) -> tuple[str, str, str]:
        (brand, bslug), (biz, zslug) = self.rng.choice(CN_CUSTOMER_BRANDS), self.rng.choice(CN_CUSTOMER_BUSINESS)
        core = f"{city_row[4]}{brand}{biz}"
        city_slug = "".join(ch for ch in city_row[0].lower() if ch.isalpha())
        return f"{core}{self.weighted(CN_FORMS)}", core, f"{city_slug}-{bslug}-{zslug}.com.cn"

    def unique(self, make, country: str, tries: int = 40):
        for _attempt in range(tries):
            name, _core, domain = make()
            norm = customer_keys(name=name).name
            if (name, country) in self.names or norm in self.norms:
                continue
            # Companies whose obvious domain is taken pick another one.
            stem, _dot, tld = domain.partition(".")
            domain = next(
                (
                    d
                    for d in (domain, f"{stem}-group.{tld}", f"{stem}-{country.lower()}.{tld}")
                    if d not in self.domains
                ),
                "",
            )
            if not domain:
                continue
            tax = ""
            for _ in range(10):
                tax = customer_keys(tax_id=_tax_id(self.rng, country)).tax_id
                if tax not in self.taxes:
                    break
            self.names.add((name, country))
            self.norms.add(norm)
            self.domains.add(domain)
            self.taxes.add(tax)
            return name, domain, tax
        return None


MARKET_COUNTRIES = {
    "ru": ([("RU", 1)], 620),
    "cis": ([("KZ", 45), ("BY", 25), ("UZ", 15), ("AM", 5), ("AZ", 5), ("KG", 5)], 250),
    "eu": (
        [
            ("GB", 18),
            ("DE", 18),
            ("FR", 9),
            ("NL", 8),
            ("PL", 10),
            ("LV", 8),
            ("LT", 6),
            ("EE", 4),
            ("FI", 4),
            ("IT", 6),
            ("ES", 4),
            ("CZ", 3),
            ("AT", 2),
        ],
        350,
    ),
    "cn": ([("CN", 1)], 300),
}
CN_ENGLISH_CITY = {c[4]: c[0] for c in CN_CITIES}


def _seed_customers(state: _State) -> None:
    rng, now = state.rng, state.now
    names = _Names(rng)
    rows: list[tuple[str, EndCustomer]] = []
    cities = _cities(state)
    for market, (countries, count) in MARKET_COUNTRIES.items():
        for _ in range(count):
            country = names.weighted(countries)
            if market == "cn":
                city_row = rng.choice(CN_CITIES)
                made = names.unique(lambda c=city_row: names.cn(c), country)
                city = city_row[0]
            elif market == "eu":
                made = names.unique(lambda c=country: names.eu(c), country)
                city = rng.choice(cities.get(country) or ["—"])
            else:
                made = names.unique(lambda c=country: names.ru(c), country)
                city = rng.choice(cities.get(country) or ["Москва"])
            if made is None:
                continue
            name, domain, tax = made
            # A fifth of customers are registered without a website, a tenth without a tax id.
            website = f"https://www.{domain}" if rng.random() < 0.8 else ""
            if rng.random() < 0.1 and website:
                tax = ""
            keys = customer_keys(name=name, website=website, tax_id=tax)
            rows.append(
                (
                    market,
                    EndCustomer(
                        public_id=state.ctx.uuid(),
                        name=name,
                        normalized_name=keys.name,
                        website=website,
                        domain=keys.domain,
                        tax_id=keys.tax_id,
                        country=country,
                        city=city,
                        created_at=now - rng.randint(20, 420) * DAY,
                    ),
                )
            )
    made = EndCustomer.objects.bulk_create([c for _m, c in rows], batch_size=BATCH)
    for (market, _c), customer in zip(rows, made, strict=True):
        state.customers.setdefault(market, []).append(customer)
    state.ctx.count("end customers", len(made))
    _build_live_pool(state)


def _cities(state: _State) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for partner in state.ctx.partners:
        if partner.city:
            out.setdefault(partner.country, []).append(partner.city)
    return out


def _build_live_pool(state: _State) -> None:
    """Candidates for live registrations, shuffled; `_Live.customer` skips look-alikes."""
    from deals.normalize import normalize_name

    for market, customers in state.customers.items():
        pool = [c for c in customers if c.tax_id]
        state.rng.shuffle(pool)
        state.live_pool[market] = pool
    # Names a live customer must not resemble: partners (self-dealing) and direct accounts.
    state.taken_names = sorted(
        {n for p in state.ctx.partners for n in (normalize_name(p.name), normalize_name(p.legal_name)) if n}
        | {a.normalized_name for a in state.direct_accounts if a.normalized_name}
    )


# --- helpers for registrations ----------------------------------------------------------------


def _pick_products(state: _State, *, must_include: Product | None = None) -> list[Product]:
    rng = state.rng
    line = rng.choice(list(state.by_line))
    chosen = rng.sample(state.by_line[line], rng.randint(1, 3))
    if rng.random() < 0.2:
        other = rng.choice(list(state.by_line))
        chosen.append(rng.choice(state.by_line[other]))
    if must_include is not None:
        chosen.append(must_include)
    return sorted({p.pk: p for p in chosen}.values(), key=lambda p: p.pk)


def _value(state: _State, products: list[Product], currency: str) -> Decimal:
    rng = state.rng
    prices = {sku: price for _l, _c, items in CATALOGUE for _n, sku, price in items}
    base = sum(prices[p.sku] for p in products) * math.exp(rng.uniform(0.5, 4.2))
    amount = Decimal(str(base)) * Decimal(str(RATE[currency]))
    step = Decimal(1000) if amount > 100_000 else Decimal(100)
    return max(step, (amount / step).quantize(Decimal(1)) * step)


def _title(state: _State, partner: Partner) -> str:
    return state.rng.choice(TITLES[_lang(partner)]).format(n=state.rng.choice([150, 300, 500, 800, 1200, 2500]))


def _reviewer(state: _State, partner: Partner) -> User:
    return partner.owner if partner.owner_id else state.ctx.user("lead@demo.prm")


def _reason(state: _State, partner: Partner, texts: dict) -> str:
    return state.rng.choice(texts["ru" if _lang(partner) == "ru" else "en"])


def _weights(state: _State, partner: Partner) -> float:
    rank = partner.tier.rank if partner.tier_id and partner.tier else 0
    return 1 + rank * 1.5 + (0 if partner.is_dormant else 1)


# --- history: bulk --------------------------------------------------------------------------

HISTORY_MIX = [
    (DealStatus.WON, 460),
    (DealStatus.LOST, 380),
    (DealStatus.REJECTED, 270),
    (DealStatus.EXPIRED, 330),
    (DealStatus.DRAFT, 60),
]


def _seed_history(state: _State) -> None:
    rng = state.rng
    partners = state.partners
    weights = [_weights(state, p) for p in partners]
    deals: list[DealRegistration] = []
    links: list[tuple[DealRegistration, list[Product]]] = []
    for status, count in HISTORY_MIX:
        for _ in range(count):
            partner = rng.choices(partners, weights=weights)[0]
            pool = state.customers[_market(partner)]
            deal, products = _history_deal(state, partner, rng.choice(pool), status)
            if deal is not None:
                deals.append(deal)
                links.append((deal, products))
    # References in the order the registrations were created, per year.
    deals.sort(key=lambda d: d.created_at)
    numbers = dict(DealReferenceCounter.objects.values_list("year", "last_number"))
    for deal in deals:
        year = deal.created_at.year
        numbers[year] = numbers.get(year, 0) + 1
        deal.reference = f"DR-{year}-{numbers[year]:06d}"
    DealRegistration.objects.bulk_create(deals, batch_size=BATCH)
    DealProduct.objects.bulk_create(
        [DealProduct(registration=d, product=p) for d, products in links for p in products], batch_size=BATCH * 4
    )
    for year, last in numbers.items():
        DealReferenceCounter.objects.update_or_create(year=year, defaults={"last_number": last})
    state.ctx.count("registrations (history, bulk)", len(deals))


def _history_deal(state: _State, partner: Partner, customer: EndCustomer, status: str):
    rng, now = state.rng, state.now
    user = rng.choice(state.users[partner.pk])
    reviewer = _reviewer(state, partner)
    currency = _currency(rng, partner)
    products = _pick_products(state)
    days = partner.tier.protection_days if partner.tier_id and partner.tier else 90
    quiet = partner.is_dormant  # dormant partners have nothing in the last three months
    earliest = 100 if quiet else 1

    def at(moment: dt.datetime) -> dt.datetime:
        return state.ctx.at(moment.date()) if moment.date() < now.date() else moment

    deal = DealRegistration(
        public_id=state.ctx.uuid(),
        partner=partner,
        submitted_by=user,
        end_customer=customer,
        title=_title(state, partner),
        value=_value(state, products, currency),
        currency=currency,
        status=status,
    )
    stage = rng.choice(list(DealStage.values))
    if status == DealStatus.DRAFT:
        created = at(now - rng.randint(max(earliest, 30), 330) * DAY)
        deal.created_at = deal.status_changed_at = created
        deal.expected_close_date = (created + rng.randint(30, 150) * DAY).date()
        stage = DealStage.QUALIFICATION
    elif status == DealStatus.REJECTED:
        decided = at(now - rng.randint(max(earliest, 3), 360) * DAY)
        submitted = decided - rng.randint(4, 60) * HOUR
        deal.created_at = submitted - rng.randint(0, 48) * HOUR
        _submitted(deal, submitted)
        deal.decided_by, deal.decided_at, deal.status_changed_at = reviewer, decided, decided
        deal.decision_reason = _reason(state, partner, REJECT_REASONS)
        deal.expected_close_date = (submitted + rng.randint(30, 180) * DAY).date()
        stage = rng.choice([DealStage.QUALIFICATION, DealStage.DISCOVERY])
    elif status == DealStatus.EXPIRED:
        span = 365 - days
        if span < 2:
            return None, []
        approved = at(now - (days + rng.randint(max(earliest, 1), span)) * DAY)
        _approved(deal, approved, days, reviewer, rng)
        deal.expired_at = deal.status_changed_at = deal.protected_until
        deal.expected_close_date = (approved + rng.randint(20, days) * DAY).date()
    else:  # won / lost
        closed = at(now - rng.randint(max(earliest, 1), 330) * DAY)
        approved = closed - rng.randint(5, max(6, min(days - 2, 110))) * DAY
        _approved(deal, approved, days, reviewer, rng)
        deal.closed_at = deal.status_changed_at = closed
        if status == DealStatus.WON:
            stage = DealStage.COMMIT
            deal.final_amount = (deal.value * Decimal(str(rng.uniform(0.8, 1.05)))).quantize(Decimal("0.01"))
            deal.expected_close_date = closed.date()
        else:
            stage = rng.choice([DealStage.DISCOVERY, DealStage.PROPOSAL, DealStage.NEGOTIATION])
            deal.lost_reason = _reason(state, partner, LOST_REASONS)
            deal.expected_close_date = (closed + rng.randint(0, 60) * DAY).date()
    deal.stage, deal.probability = stage, STAGE_PROBABILITY[stage]
    return deal, products


def _submitted(deal: DealRegistration, submitted: dt.datetime) -> None:
    deal.submitted_at = deal.last_submitted_at = submitted
    deal.submission_count = 1
    deal.review_reminder_at = submitted + 36 * HOUR
    deal.review_due_at = submitted + 2 * DAY


def _approved(deal: DealRegistration, approved: dt.datetime, days: int, reviewer: User, rng) -> None:
    submitted = approved - rng.randint(3, 70) * HOUR
    deal.created_at = submitted - rng.randint(0, 72) * HOUR
    _submitted(deal, submitted)
    deal.decided_by, deal.decided_at, deal.approved_at = reviewer, approved, approved
    deal.protection_days = days
    deal.protected_until = approved + days * DAY if days else None


# --- live registrations: through the services -------------------------------------------------


class _Live:
    """Registrations made through the services at past moments."""

    def __init__(self, state: _State):
        self.state = state
        self.rng = state.rng
        self.now = state.now
        self.clock = state.clock
        self.threshold = name_similarity_threshold()

    def customer(self, partner: Partner) -> EndCustomer:
        """A customer no other live registration's customer resembles (pg_trgm similarity
        below the conflict threshold), so live registrations conflict only where the demo
        means them to. One small query per pick: similarity() against the names taken."""
        taken = self.state.taken_names
        while True:
            pool = self.state.live_pool[_market(partner)] or max(self.state.live_pool.values(), key=len)
            if not pool:
                return self.rng.choice(self.state.customers[_market(partner)])
            customer = pool.pop()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT COALESCE(MAX(similarity(%s, n)), 0) FROM unnest(%s::text[]) AS n",
                    [customer.normalized_name, taken],
                )
                if cursor.fetchone()[0] >= self.threshold:
                    continue
            taken.append(customer.normalized_name)
            return customer

    def user(self, partner: Partner) -> User:
        return self.rng.choice(self.state.users[partner.pk])

    def create(
        self,
        partner: Partner,
        when: dt.datetime,
        *,
        customer: EndCustomer | None = None,
        customer_input: dict | None = None,
        products: list[Product] | None = None,
        submit: bool = True,
        user: User | None = None,
        stage: str | None = None,
        close_in: int | None = None,
    ) -> DealRegistration:
        products = products if products is not None else _pick_products(self.state)
        currency = _currency(self.rng, partner)
        if customer is None and customer_input is None:
            customer = self.customer(partner)
        with self.clock.at(when) as moment:
            return services.deal_create(
                user=user or self.user(partner),
                partner=partner,
                end_customer=customer,
                customer=customer_input,
                products=products,
                value=_value(self.state, products, currency),
                currency=currency,
                expected_close_date=(moment + (close_in or self.rng.randint(30, 200)) * DAY).date(),
                stage=stage or self.rng.choice(list(DealStage.values)),
                title=_title(self.state, partner),
                submit=submit,
            )

    def approve(self, deal: DealRegistration, when: dt.datetime) -> DealRegistration | None:
        with self.clock.at(when):
            try:
                return services.deal_approve(user=_reviewer(self.state, deal.partner), deal=deal, note="")
            except StateError:
                return None  # an overlap nobody planned: it stays in the review queue

    def submitted_ago(self, hours: float) -> dt.datetime:
        return self.now - dt.timedelta(hours=hours)


def _seed_live(state: _State) -> None:
    live = _Live(state)
    rng, now = state.rng, state.now
    recent = [p for p in state.partners if not p.is_dormant]
    weights = [_weights(state, p) for p in recent]

    def partner() -> Partner:
        return rng.choices(recent, weights=weights)[0]

    northwind = state.ctx.partner(NORTHWIND)
    baltic = state.ctx.partner(BALTIC)
    _seed_northwind(state, live, northwind, baltic)

    # Drafts being prepared.
    for _ in range(60):
        live.create(partner(), now - rng.uniform(0.1, 40) * DAY, submit=False)

    # The review queue: most within the SLA, some due today, some overdue.
    due_today = _due_today_moments(now)
    for k in range(75):
        if k < 10 and due_today:
            when = due_today.pop(rng.randrange(len(due_today)))
        elif k < 24:
            when = now - rng.uniform(4, 12) * DAY
        else:
            when = now - rng.uniform(0.05, 1.6) * DAY
        live.create(partner(), when)

    # Returned for more information.
    for _ in range(22):
        when = now - rng.uniform(3, 30) * DAY
        deal = live.create(partner(), when)
        with live.clock.at(when + rng.uniform(3, 40) * HOUR):
            services.deal_return(
                user=_reviewer(state, deal.partner), deal=deal, reason=_reason(state, deal.partner, RETURN_REASONS)
            )

    # Rejected in the last weeks.
    for _ in range(15):
        when = now - rng.uniform(2, 60) * DAY
        deal = live.create(partner(), when)
        with live.clock.at(when + rng.uniform(2, 30) * HOUR):
            services.deal_reject(
                user=_reviewer(state, deal.partner), deal=deal, reason=_reason(state, deal.partner, REJECT_REASONS)
            )

    # Approved and protected; some ending within 14 days; extension requests.
    expiring: list[DealRegistration] = []
    for k in range(170):
        p = partner()
        days = p.tier.protection_days if p.tier_id and p.tier else 90
        if not days:
            continue
        left = rng.uniform(1, 13.5) if k < 24 else rng.uniform(15, days - 1)
        approved_at = now - (days - left) * DAY
        deal = live.create(p, approved_at - rng.uniform(3, 60) * HOUR, close_in=int(days - left) + rng.randint(5, 60))
        deal = live.approve(deal, approved_at)
        if deal is not None and k < 24:
            expiring.append(deal)
    _seed_extensions(state, live, expiring)

    # Recently closed through the services (the partner records the outcome).
    for k in range(40):
        p = partner()
        days = p.tier.protection_days if p.tier_id and p.tier else 90
        if not days:
            continue
        closed_at = now - rng.uniform(1, 50) * DAY
        approved_at = closed_at - rng.uniform(5, min(days - 5, 60)) * DAY
        deal = live.create(p, approved_at - rng.uniform(3, 48) * HOUR, stage=DealStage.NEGOTIATION)
        deal = live.approve(deal, approved_at)
        if deal is None:
            continue
        with live.clock.at(closed_at):
            if k % 3:
                services.deal_mark_won(
                    user=deal.submitted_by,
                    deal=deal,
                    final_amount=(deal.value * Decimal(str(rng.uniform(0.85, 1.0)))).quantize(Decimal("0.01")),
                )
            else:
                services.deal_mark_lost(
                    user=deal.submitted_by, deal=deal, reason=_reason(state, deal.partner, LOST_REASONS)
                )

    _seed_conflicts(state, live, recent, weights)
    _seed_flags(state, live, recent)


def _due_today_moments(now: dt.datetime) -> list[dt.datetime]:
    """Submission moments whose review falls due later today (none on a non-working day)."""
    zone = sla.business_zone()
    end_of_day = dt.datetime.combine(now.astimezone(zone).date() + DAY, dt.time(0), tzinfo=zone)
    out = []
    for step in range(2, 6 * 24 * 4):
        moment = now - step * dt.timedelta(minutes=15)
        _reminder, due = sla.review_deadlines(moment)
        if now < due < end_of_day:
            out.append(moment)
    return out


def _seed_extensions(state: _State, live: _Live, expiring: list[DealRegistration]) -> None:
    rng, now = state.rng, state.now
    for k, deal in enumerate(expiring):
        if k % 4 == 3:
            continue  # no request: the reminder is all they get
        left = deal.protected_until - now
        asked = now - min(left.total_seconds() / 86400 * 0.5, rng.uniform(0.2, 4)) * DAY
        if k < 8:
            asked = now - rng.uniform(0.1, 2) * DAY  # still pending
        with live.clock.at(asked):
            try:
                extension = services.deal_request_extension(
                    user=deal.submitted_by, deal=deal, reason=_reason(state, deal.partner, EXTENSION_REASONS)
                )
            except (StateError, ApplicationError):
                continue
        if k < 8:
            continue
        decided = min(now, asked + rng.uniform(2, 20) * HOUR)
        with live.clock.at(decided):
            if k % 5:
                services.deal_approve_extension(user=_reviewer(state, deal.partner), extension=extension)
            else:
                services.deal_reject_extension(
                    user=_reviewer(state, deal.partner),
                    extension=extension,
                    reason="The customer's timeline does not justify more time; register again if it moves.",
                )


def _conflict_input(state: _State, customer: EndCustomer, kind: str) -> dict:
    """How the second partner types the same company: by tax id, by website, or a look-alike
    name (legal form dropped or changed) without any key."""
    base = {"country": customer.country, "city": customer.city}
    if kind == "tax_id":
        return {**base, "name": customer.name, "tax_id": customer.tax_id}
    if kind == "domain" and customer.domain:
        # Same website, but the tax id of the customer's branch: a separate record that
        # matches on domain (and name), not on tax id.
        return {
            **base,
            "name": customer.name.split("«")[-1].rstrip("»"),
            "website": f"{customer.domain}/contacts",
            "tax_id": _tax_id(state.rng, customer.country),
        }
    core = customer.name.split("«")[-1].rstrip("»") if "«" in customer.name else customer.name
    swapped = {"RU": f"ООО «{core}»", "KZ": f"ТОО «{core}»", "BY": f"ООО «{core}»", "CN": f"{core}股份有限公司"}
    variants = [core, f'"{core}"', swapped.get(customer.country, core)]
    return {**base, "name": state.rng.choice(variants)}


def _seed_conflicts(state: _State, live: _Live, recent: list[Partner], weights: list[float]) -> None:
    """~15 open conflicts and ~10 resolved ones between pairs of partners of one market."""
    rng, now = state.rng, state.now
    by_market: dict[str, list[Partner]] = {}
    for p in recent:
        by_market.setdefault(_market(p), []).append(p)
    manager = state.ctx.user("manager@demo.prm")
    plans = []
    for k in range(25):
        market = rng.choice([m for m, ps in by_market.items() if len(ps) >= 2])
        candidates = by_market[market]
        if k % 4 == 0:
            # The manager's own queue gets some of them.
            mine = [p for p in recent if p.owner_id == manager.pk]
            market = _market(mine[0]) if mine else market
            candidates = [p for p in by_market[market] if p.owner_id == manager.pk] or by_market[market]
            if len(candidates) < 2:
                candidates = by_market[market]
        first, second = rng.sample(candidates, 2)
        plans.append((first, second, CONFLICT_KINDS[k % 3]))

    for k, (first, second, kind) in enumerate(plans):
        is_open = k < 15
        start = now - (rng.uniform(1, 9) if is_open else rng.uniform(15, 80)) * DAY
        customer = live.customer(first)
        shared = rng.choice(state.products)
        deal_a = live.create(first, start, customer=customer, products=_pick_products(state, must_include=shared))
        if rng.random() < 0.5:
            deal_a = live.approve(deal_a, start + rng.uniform(4, 30) * HOUR) or deal_a
        second_at = start + rng.uniform(1, 5 if is_open else 8) * DAY
        deal_b = live.create(
            second,
            min(second_at, now - HOUR),
            customer_input=_conflict_input(state, customer, kind),
            products=_pick_products(state, must_include=shared),
        )
        if is_open:
            continue
        conflict = Conflict.objects.filter(
            registration_low_id=min(deal_a.pk, deal_b.pk), registration_high_id=max(deal_a.pk, deal_b.pk)
        ).first()
        if conflict is None:
            continue
        decided = min(now - HOUR, second_at + rng.uniform(4, 60) * HOUR)
        reviewer = _reviewer(state, first)
        outcome_plan = ["award", "award", "award", "award", "award", "co_sell", "co_sell", "reject_both", "lapse"]
        outcome = outcome_plan[(k - 15) % len(outcome_plan)]
        with live.clock.at(decided):
            if outcome == "lapse":
                services.deal_reject(
                    user=_reviewer(state, second),
                    deal=deal_b,
                    reason=_reason(state, second, REJECT_REASONS),
                )
            else:
                services.conflict_resolve(
                    user=reviewer,
                    conflict=conflict,
                    outcome=outcome,
                    winner=deal_a if outcome == ConflictOutcome.AWARD else None,
                    reason={
                        "award": "First registration, submitted earlier and with a documented customer meeting.",
                        "co_sell": "Both partners are engaged with different departments; co-sell agreed with both.",
                        "reject_both": "Neither registration shows real engagement; the customer is a direct prospect.",
                    }[outcome],
                )
        # The surviving registrations get their review afterwards.
        for deal in (deal_a, deal_b):
            deal.refresh_from_db()
            if deal.status == DealStatus.SUBMITTED:
                live.approve(deal, min(now - HOUR, decided + rng.uniform(2, 30) * HOUR))


def _seed_northwind(state: _State, live: _Live, northwind: Partner, baltic: Partner) -> None:
    """The cabinet log-ins' partner: a spread of its own registrations, and one registration in
    conflict with Baltic Trade House (Baltic registered the customer first)."""
    rng, now = state.rng, state.now
    admin, rep = state.ctx.user("partner@demo.prm"), state.ctx.user("rep@demo.prm")
    baltic_user = state.ctx.user("partner2@demo.prm")
    days = northwind.tier.protection_days if northwind.tier else 90

    # The contested customer: an international logistics group both partners work with.
    shared = state.by_line["network-security"][0]
    with live.clock.at(now - 6 * DAY):
        contested, _ = services.end_customer_get_or_create(
            name="Nordic Freight Logistics Ltd",
            website="https://www.nordicfreight-logistics.eu",
            tax_id="GB 284 7716 53",
            country="GB",
            city="London",
        )
    first = live.create(
        baltic, now - 6 * DAY, customer=contested, products=[shared, state.by_line["cloud-backup"][0]], user=baltic_user
    )
    live.approve(first, now - 5 * DAY)
    live.create(
        northwind,
        now - 2 * DAY,
        customer_input={
            "name": "Nordic Freight Logistics",
            "website": "nordicfreight-logistics.eu",
            "country": "GB",
            "city": "London",
        },
        products=[shared],
        user=rep,
        stage=DealStage.DISCOVERY,
    )

    # Its own spread: drafts, review queue (one overdue, one due today), returned, approved
    # (one ending soon with a pending extension), rejected, won, lost.
    live.create(northwind, now - 3 * HOUR, submit=False, user=rep)
    live.create(northwind, now - 4 * DAY, submit=False, user=admin)
    live.create(northwind, now - 30 * HOUR, user=rep)
    live.create(northwind, now - 6 * DAY, user=admin)  # past its review SLA
    due_today = _due_today_moments(now)
    if due_today:
        live.create(northwind, due_today[0], user=rep)
    returned = live.create(northwind, now - 5 * DAY, user=rep)
    with live.clock.at(now - 4 * DAY):
        services.deal_return(user=_reviewer(state, northwind), deal=returned, reason=RETURN_REASONS["en"][1])
    rejected = live.create(northwind, now - 20 * DAY, user=admin)
    with live.clock.at(now - 19 * DAY):
        services.deal_reject(user=_reviewer(state, northwind), deal=rejected, reason=REJECT_REASONS["en"][0])
    approved_ago = [days - 9, days - 40, 25, 10]
    approved = []
    for ago in approved_ago:
        deal = live.create(northwind, now - (ago + 1) * DAY, user=rng.choice([admin, rep]), close_in=ago + 30)
        approved.append(live.approve(deal, now - ago * DAY))
    ending = approved[0]
    if ending is not None:
        with live.clock.at(now - 1 * DAY):
            services.deal_request_extension(user=admin, deal=ending, reason=EXTENSION_REASONS["en"][0])
    for k, (ago, won) in enumerate([(15, True), (40, True), (70, True), (30, False), (55, False)]):
        deal = live.create(northwind, now - (ago + 12) * DAY, user=rep if k % 2 else admin, close_in=ago)
        deal = live.approve(deal, now - (ago + 10) * DAY)
        if deal is None:
            continue
        with live.clock.at(now - ago * DAY):
            if won:
                services.deal_mark_won(user=admin, deal=deal, final_amount=deal.value)
            else:
                services.deal_mark_lost(user=admin, deal=deal, reason=LOST_REASONS["en"][k % 5])


def _seed_flags(state: _State, live: _Live, recent: list[Partner]) -> None:
    """Two registrations for the vendor's direct accounts and two partners registering their
    own company: staff see the flags (with evidence) in the review queue."""
    rng, now = state.rng, state.now
    for account in rng.sample([a for a in state.direct_accounts if a.country == "RU"], 2):
        partner = rng.choice([p for p in recent if _market(p) == "ru"])
        live.create(
            partner,
            now - rng.uniform(0.2, 1.2) * DAY,
            customer_input={"name": account.name, "tax_id": account.tax_id, "country": account.country},
        )
    for partner in rng.sample([p for p in recent if p.tax_id and p.name not in (NORTHWIND, BALTIC)], 2):
        live.create(
            partner,
            now - rng.uniform(0.2, 1.2) * DAY,
            customer_input={
                "name": partner.legal_name or partner.name,
                "tax_id": partner.tax_id,
                "website": partner.website_domain,
                "country": partner.country,
                "city": partner.city,
            },
        )
