"""Demo data for the partners app: tiers, staff and cabinet log-ins, ~200 partners in Russia,
the CIS, Europe and China with their people, agreements, a year of interactions and
key-account profiles.

Deterministic: everything random comes from the context's seeded generator, and every date is
relative to today, so a fresh database always looks "live". Rows are bulk-inserted (this is
fixture data, not a business flow), so it writes no audit rows; the services stay the only
path for real changes.

Later apps add their own sections: a seeder is a function `seed(ctx: DemoContext)` listed in
`partners.management.commands.seed_demo.SEEDERS`; it reads what earlier seeders left in the
context (users, partners, contacts …) and adds its own summary lines with `ctx.count()`.
"""

from __future__ import annotations

import datetime
import hashlib
import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from partners.models import (
    Agreement,
    AgreementStatus,
    Contact,
    ContactRole,
    Interaction,
    InteractionKind,
    Invitation,
    KeyAccountProfile,
    Partner,
    PartnerSize,
    PartnerStatus,
    PartnerType,
    Region,
    Tier,
)
from prm.models import Currency, Role, User

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 — published on purpose: these are demo log-ins
DEMO_MARKER_EMAIL = "admin@demo.prm"
DEMO_SEED = 2026
BATCH = 500
DAY = datetime.timedelta(days=1)


def demo_loaded() -> bool:
    return User.objects.filter(email=DEMO_MARKER_EMAIL).exists()


@dataclass
class DemoContext:
    """What the seeders share. Each seeder reads what earlier ones made and adds its own."""

    rng: random.Random
    today: datetime.date
    now: datetime.datetime
    users: dict[str, User] = field(default_factory=dict)  # by e-mail
    managers: list[User] = field(default_factory=list)  # channel managers (incl. manager@demo.prm)
    tiers: dict[str, Tier] = field(default_factory=dict)  # by code
    partners: list[Partner] = field(default_factory=list)
    contacts: dict[int, list[Contact]] = field(default_factory=dict)  # by partner id
    summary: dict[str, int] = field(default_factory=dict)
    password_hash: str = ""

    @classmethod
    def create(cls, seed: int = DEMO_SEED) -> DemoContext:
        now = timezone.now()
        return cls(rng=random.Random(seed), today=timezone.localdate(now), now=now)

    def user(self, email: str) -> User:
        return self.users[email]

    def partner(self, name: str) -> Partner:
        return next(p for p in self.partners if p.name == name)

    def count(self, label: str, n: int) -> None:
        self.summary[label] = self.summary.get(label, 0) + n

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def at(self, day: datetime.date, hour_from: int = 9, hour_to: int = 18) -> datetime.datetime:
        """A business-hours moment on `day` (UTC), never in the future."""
        moment = datetime.datetime.combine(
            day,
            datetime.time(self.rng.randint(hour_from, hour_to - 1), self.rng.choice((0, 10, 15, 20, 30, 40, 45, 50))),
            tzinfo=datetime.UTC,
        )
        return min(moment, self.now)


def seed_partners(rng: random.Random | None = None) -> DemoContext:
    """The partners section on its own (tests, shells): returns the filled context."""
    ctx = DemoContext.create()
    if rng is not None:
        ctx.rng = rng
    seed(ctx)
    return ctx


def seed(ctx: DemoContext) -> None:
    _seed_tiers(ctx)
    _seed_staff(ctx)
    _seed_partners(ctx)
    _seed_cabinet_users(ctx)
    _seed_contacts(ctx)
    _seed_agreements(ctx)
    _seed_interactions(ctx)
    _seed_key_accounts(ctx)
    _seed_invitations(ctx)


# --- Reference data ----------------------------------------------------------------------

TIERS = [
    # code, name, rank, min revenue (RUB, 12 months), certified people, won deals,
    # discount %, protection days, extensions, points multiplier, MDF, MDF share %, lead weight
    ("registered", "Registered", 0, 0, 0, 0, "0", 60, 1, "1.00", False, "0", 1),
    ("silver", "Silver", 1, 5_000_000, 1, 3, "10", 90, 1, "1.20", False, "0", 2),
    ("gold", "Gold", 2, 20_000_000, 3, 8, "15", 90, 1, "1.50", True, "3", 3),
    ("platinum", "Platinum", 3, 60_000_000, 5, 20, "20", 120, 2, "2.00", True, "5", 4),
]
TIER_DESCRIPTIONS = {
    "registered": "Entry level: signed partner agreement, access to the cabinet, content and deal registration.",
    "silver": "Trained partners with a first track record: 10 % discount and 90-day deal protection.",
    "gold": "Established partners: 15 % discount, MDF eligibility and priority lead routing.",
    "platinum": "Strategic partners: best discount, 120-day protection, two extensions, highest lead weight.",
}

# Cities: (name, latitude, longitude, phone area code or None, Russian INN region prefix or None)
RU_CITIES = [
    ("Москва", 55.7558, 37.6173, "495", "77", 26),
    ("Санкт-Петербург", 59.9343, 30.3351, "812", "78", 12),
    ("Новосибирск", 55.0084, 82.9357, "383", "54", 4),
    ("Екатеринбург", 56.8389, 60.6057, "343", "66", 5),
    ("Казань", 55.7961, 49.1064, "843", "16", 4),
    ("Нижний Новгород", 56.2965, 43.9361, "831", "52", 3),
    ("Челябинск", 55.1644, 61.4368, "351", "74", 2),
    ("Самара", 53.1959, 50.1002, "846", "63", 2),
    ("Ростов-на-Дону", 47.2357, 39.7015, "863", "61", 3),
    ("Уфа", 54.7388, 55.9721, "347", "02", 2),
    ("Красноярск", 56.0153, 92.8932, "391", "24", 2),
    ("Пермь", 58.0105, 56.2502, "342", "59", 2),
    ("Воронеж", 51.6720, 39.1843, "473", "36", 2),
    ("Краснодар", 45.0355, 38.9753, "861", "23", 3),
    ("Владивосток", 43.1155, 131.8855, "423", "25", 2),
    ("Калининград", 54.7104, 20.4522, "4012", "39", 1),
    ("Тюмень", 57.1530, 65.5343, "3452", "72", 1),
    ("Иркутск", 52.2870, 104.3050, "3952", "38", 1),
    ("Хабаровск", 48.4802, 135.0719, "4212", "27", 1),
]
# CIS: country → (calling code, legal forms, cities [(name, lat, lon)], count)
CIS = {
    "KZ": (
        "+7",
        ("ТОО",),
        [
            ("Алматы", 43.2389, 76.8897),
            ("Астана", 51.1694, 71.4491),
            ("Шымкент", 42.3417, 69.5901),
            ("Караганда", 49.8047, 73.1094),
        ],
        12,
    ),
    "BY": (
        "+375",
        ("ООО", "ОАО", "ЧУП"),
        [("Минск", 53.9006, 27.5590), ("Гомель", 52.4345, 30.9754), ("Брест", 52.0976, 23.7341)],
        9,
    ),
    "UZ": ("+998", ("ООО", "СП ООО"), [("Ташкент", 41.2995, 69.2401), ("Самарканд", 39.6270, 66.9750)], 6),
    "AM": ("+374", ("ООО",), [("Ереван", 40.1872, 44.5152)], 3),
    "AZ": ("+994", ("ООО",), [("Баку", 40.4093, 49.8671)], 3),
    "KG": ("+996", ("ОсОО",), [("Бишкек", 42.8746, 74.5698)], 2),
}
# Europe: country → (calling code, legal form, TLD, cities, local first words, local second words, count)
EUROPE = {
    "GB": (
        "+44",
        "Ltd",
        "co.uk",
        [
            ("London", 51.5074, -0.1278),
            ("Manchester", 53.4808, -2.2426),
            ("Edinburgh", 55.9533, -3.1883),
            ("Bristol", 51.4545, -2.5879),
        ],
        ["Thames", "Albion", "Pennine", "Highgate", "Kestrel"],
        ["Solutions", "Technology"],
        8,
    ),
    "DE": (
        "+49",
        "GmbH",
        "de",
        [
            ("Berlin", 52.5200, 13.4050),
            ("München", 48.1351, 11.5820),
            ("Hamburg", 53.5511, 9.9937),
            ("Frankfurt am Main", 50.1109, 8.6821),
        ],
        ["Rheinland", "Hanse", "Nordlicht", "Elbe", "Isar"],
        ["Systemhaus", "Datentechnik", "IT-Service"],
        8,
    ),
    "FR": (
        "+33",
        "SAS",
        "fr",
        [("Paris", 48.8566, 2.3522), ("Lyon", 45.7640, 4.8357), ("Toulouse", 43.6047, 1.4442)],
        ["Azur", "Horizon", "Lumière", "Rive Gauche"],
        ["Informatique", "Conseil"],
        4,
    ),
    "NL": (
        "+31",
        "B.V.",
        "nl",
        [("Amsterdam", 52.3676, 4.9041), ("Rotterdam", 51.9244, 4.4777), ("Eindhoven", 51.4416, 5.4697)],
        ["Delta", "Oranje", "Polder"],
        ["Networks", "ICT"],
        4,
    ),
    "PL": (
        "+48",
        "Sp. z o.o.",
        "pl",
        [("Warszawa", 52.2297, 21.0122), ("Kraków", 50.0647, 19.9450), ("Wrocław", 51.1079, 17.0385)],
        ["Wisła", "Mazowsze", "Polonia"],
        ["Systemy", "Technologie"],
        5,
    ),
    "LV": (
        "+371",
        "SIA",
        "lv",
        [("Riga", 56.9496, 24.1052), ("Daugavpils", 55.8747, 26.5362)],
        ["Daugava", "Amber", "Hansa"],
        ["Trade", "IT"],
        3,
    ),
    "LT": (
        "+370",
        "UAB",
        "lt",
        [("Vilnius", 54.6872, 25.2797), ("Kaunas", 54.8985, 23.9036)],
        ["Nemunas", "Gintaras"],
        ["Sprendimai", "IT"],
        3,
    ),
    "EE": (
        "+372",
        "OÜ",
        "ee",
        [("Tallinn", 59.4370, 24.7536), ("Tartu", 58.3780, 26.7290)],
        ["Toompea", "Nordic"],
        ["Digital", "Systems"],
        2,
    ),
    "FI": (
        "+358",
        "Oy",
        "fi",
        [("Helsinki", 60.1699, 24.9384), ("Tampere", 61.4978, 23.7610)],
        ["Polar", "Aurora"],
        ["Data", "Systems"],
        2,
    ),
    "IT": (
        "+39",
        "S.r.l.",
        "it",
        [("Milano", 45.4642, 9.1900), ("Roma", 41.9028, 12.4964), ("Torino", 45.0703, 7.6869)],
        ["Adriatica", "Dolomiti"],
        ["Informatica", "Sistemi"],
        3,
    ),
    "ES": (
        "+34",
        "S.L.",
        "es",
        [("Madrid", 40.4168, -3.7038), ("Barcelona", 41.3874, 2.1686), ("Valencia", 39.4699, -0.3763)],
        ["Ibérica", "Meridiano"],
        ["Sistemas", "Informática"],
        2,
    ),
    "CZ": (
        "+420",
        "s.r.o.",
        "cz",
        [("Praha", 50.0755, 14.4378), ("Brno", 49.1951, 16.6068)],
        ["Vltava", "Bohemia"],
        ["Systems", "IT"],
        2,
    ),
    "AT": (
        "+43",
        "GmbH",
        "at",
        [("Wien", 48.2082, 16.3738), ("Graz", 47.0707, 15.4395)],
        ["Donau", "Alpen"],
        ["Systemhaus", "IT-Service"],
        1,
    ),
}
EN_FIRST = [
    "Bluewater",
    "Silverline",
    "Brightpath",
    "Ironbridge",
    "Redstone",
    "Clearview",
    "Evergreen",
    "Meridian",
    "Summit",
    "Keystone",
    "Oakridge",
    "Harbor",
    "Pinnacle",
    "Crescent",
    "Lighthouse",
    "Atlas",
    "Vanguard",
    "Orbit",
    "Granite",
    "Northstar",
    "Westgate",
    "Bridgewater",
]
EN_SECOND = [
    "Systems",
    "Solutions",
    "Networks",
    "Technologies",
    "Consulting",
    "Digital",
    "Data",
    "Group",
    "Partners",
    "Integration",
    "Cloud",
    "IT",
]
# China: (city, latitude, longitude, USCC administrative-division code, Chinese city prefix, count, area code)
CN_CITIES = [
    ("Beijing", 39.9042, 116.4074, "110105", "北京", 7, "10"),
    ("Shanghai", 31.2304, 121.4737, "310115", "上海", 7, "21"),
    ("Shenzhen", 22.5431, 114.0579, "440300", "深圳", 7, "755"),
    ("Guangzhou", 23.1291, 113.2644, "440106", "广州", 4, "20"),
    ("Hangzhou", 30.2741, 120.1551, "330106", "杭州", 4, "571"),
    ("Chengdu", 30.5728, 104.0668, "510107", "成都", 3, "28"),
    ("Wuhan", 30.5928, 114.3055, "420111", "武汉", 2, "27"),
    ("Nanjing", 32.0603, 118.7969, "320102", "南京", 2, "25"),
    ("Xi'an", 34.3416, 108.9398, "610113", "西安", 1, "29"),
    ("Suzhou", 31.2989, 120.5853, "320505", "苏州", 1, "512"),
    ("Tianjin", 39.3434, 117.3616, "120116", "天津", 1, "22"),
    ("Chongqing", 29.4316, 106.9123, "500112", "重庆", 1, "23"),
]
CN_BRANDS = [
    ("华信", "huaxin"),
    ("云海", "yunhai"),
    ("天宇", "tianyu"),
    ("博远", "boyuan"),
    ("金桥", "jinqiao"),
    ("鼎盛", "dingsheng"),
    ("恒通", "hengtong"),
    ("联创", "lianchuang"),
    ("智达", "zhida"),
    ("星河", "xinghe"),
    ("瑞丰", "ruifeng"),
    ("新锐", "xinrui"),
    ("海纳", "haina"),
    ("凯越", "kaiyue"),
    ("明辉", "minghui"),
    ("远航", "yuanhang"),
    ("汇通", "huitong"),
    ("启明", "qiming"),
    ("千帆", "qianfan"),
    ("蓝海", "lanhai"),
    ("银河", "yinhe"),
    ("中软", "zhongruan"),
    ("东信", "dongxin"),
    ("华晨", "huachen"),
    ("正泰", "zhengtai"),
]
CN_BUSINESS = [
    ("科技", "tech"),
    ("信息技术", "it"),
    ("网络科技", "net"),
    ("软件", "soft"),
    ("数据科技", "data"),
    ("电子", "elec"),
    ("贸易", "trade"),
    ("系统集成", "si"),
    ("数码", "digital"),
]
CN_STREETS = ["科技园南路", "中关村大街", "张江路", "天府大道", "高新大道", "软件园路", "滨江大道", "人民路"]

RU_PREFIXES = [
    ("Техно", "tekhno"),
    ("Инфо", "info"),
    ("Сиб", "sib"),
    ("Урал", "ural"),
    ("Волга", "volga"),
    ("Балт", "balt"),
    ("Нева", "neva"),
    ("Альфа", "alfa"),
    ("Вектор", "vektor"),
    ("Прайм", "prime"),
    ("Мега", "mega"),
    ("Гранит", "granit"),
    ("Интер", "inter"),
    ("Кварц", "kvarts"),
    ("Ресурс", "resurs"),
    ("Сфера", "sfera"),
    ("Профи", "profi"),
    ("Дельта", "delta"),
    ("Спектр", "spektr"),
    ("Орион", "orion"),
]
RU_SUFFIXES = [
    ("Сервис", "service"),
    ("Софт", "soft"),
    ("Системс", "systems"),
    ("Интегра", "integra"),
    ("Трейд", "trade"),
    ("Комп", "comp"),
    ("Лаб", "lab"),
    ("Групп", "group"),
    ("Связь", "svyaz"),
    ("Снаб", "snab"),
    ("Проект", "proekt"),
    ("Консалт", "consult"),
    ("Телеком", "telecom"),
    ("Дата", "data"),
]
RU_POETIC = [
    ("Северный Ветер", "nordwind"),
    ("Белые Ночи", "belye-nochi"),
    ("Новые Технологии", "newtech"),
    ("Цифровой Мост", "digitalbridge"),
    ("Открытые Системы", "opensys"),
    ("Полярная Звезда", "polarstar"),
    ("Деловые Решения", "delovye-resheniya"),
    ("Третий Рим", "tretiy-rim"),
    ("Зелёный Свет", "greenlight"),
    ("Кедровый Край", "kedr"),
    ("Волжские Информационные Системы", "vis-volga"),
    ("Точка Роста", "tochka-rosta"),
]
CIS_PREFIXES = {
    "KZ": [
        ("Алатау", "alatau"),
        ("Кен Дала", "kendala"),
        ("Сарыарка", "saryarka"),
        ("Жетысу", "zhetysu"),
        ("Астана", "astana"),
        ("Каспий", "kaspiy"),
    ],
    "BY": [("Бел", "bel"), ("Минск", "minsk"), ("Неман", "neman"), ("Полесье", "polesie")],
    "UZ": [("Турон", "turon"), ("Навруз", "navruz"), ("Самарканд", "samarkand"), ("Узинфо", "uzinfo")],
    "AM": [("Арарат", "ararat"), ("Арагац", "aragats")],
    "AZ": [("Хазар", "khazar"), ("Абшерон", "absheron")],
    "KG": [("Ала-Тоо", "alatoo"), ("Иссык-Куль", "issykkul")],
}
CIS_TLD = {"KZ": "kz", "BY": "by", "UZ": "uz", "AM": "am", "AZ": "az", "KG": "kg"}
RU_STREETS = [
    "ул. Ленина",
    "ул. Советская",
    "пр-т Мира",
    "ул. Гагарина",
    "ул. Пушкина",
    "ул. Садовая",
    "ул. Профсоюзная",
    "Ленинградский пр-т",
    "ул. Строителей",
    "ул. Октябрьская",
]
EU_STREETS = {
    "GB": ["High Street", "Station Road", "King's Road", "Victoria Street"],
    "DE": ["Hauptstraße", "Bahnhofstraße", "Gartenstraße"],
    "AT": ["Mariahilfer Straße", "Hauptstraße"],
    "FR": ["rue de la République", "avenue Victor Hugo", "boulevard Voltaire"],
    "NL": ["Keizersgracht", "Stationsplein"],
    "PL": ["ul. Marszałkowska", "ul. Długa"],
    "LV": ["Brīvības iela", "Elizabetes iela"],
    "LT": ["Gedimino pr.", "Konstitucijos pr."],
    "EE": ["Narva mnt", "Pärnu mnt"],
    "FI": ["Mannerheimintie", "Hämeenkatu"],
    "IT": ["Via Roma", "Corso Italia"],
    "ES": ["Calle Mayor", "Gran Vía"],
    "CZ": ["Národní", "Vinohradská"],
}
INDUSTRIES = [
    "Retail",
    "Banking & finance",
    "Manufacturing",
    "Public sector",
    "Healthcare",
    "Telecom",
    "Energy",
    "Logistics",
    "Education",
    "Oil & gas",
    "Construction",
    "Agriculture",
    "Media",
    "Hospitality",
]

TYPE_WEIGHTS = {
    PartnerType.RESELLER: 30,
    PartnerType.SYSTEM_INTEGRATOR: 18,
    PartnerType.MSP: 12,
    PartnerType.REFERRAL: 10,
    PartnerType.AGENCY: 9,
    PartnerType.RETAILER: 8,
    PartnerType.DISTRIBUTOR: 8,
    PartnerType.SUPPLIER: 5,
}
STATUS_WEIGHTS = {
    PartnerStatus.ACTIVE: 62,
    PartnerStatus.PROSPECT: 8,
    PartnerStatus.APPLICANT: 7,
    PartnerStatus.ONBOARDING: 8,
    PartnerStatus.SUSPENDED: 7,
    PartnerStatus.TERMINATED: 8,
}
TIER_WEIGHTS = {"registered": 40, "silver": 30, "gold": 20, "platinum": 10}

DESCRIPTIONS = {
    "ru": {
        PartnerType.RESELLER: "Продаёт наши лицензии и оборудование среднему бизнесу в городе {city} и области.",
        PartnerType.DISTRIBUTOR: "Дистрибьютор: склад в городе {city}, сеть из {n} субдилеров, логистика по региону.",
        PartnerType.SYSTEM_INTEGRATOR: "Системный интегратор: проекты внедрения под ключ для заказчиков в отраслях «{industry}».",
        PartnerType.MSP: "Оказывает управляемые ИТ-услуги и поддержку {n} клиентам по подписке.",
        PartnerType.RETAILER: "Сеть из {n} розничных магазинов электроники.",
        PartnerType.REFERRAL: "Консультант, приводит клиентов по рекомендации за агентское вознаграждение.",
        PartnerType.SUPPLIER: "Поставщик комплектующих и сопутствующих услуг для наших проектов.",
        PartnerType.AGENCY: "Маркетинговое агентство: мероприятия, digital-кампании и лидогенерация для партнёров.",
    },
    "en": {
        PartnerType.RESELLER: "Resells our licences and hardware to mid-size companies in and around {city}.",
        PartnerType.DISTRIBUTOR: "Distributor with a warehouse in {city} and a network of {n} sub-dealers.",
        PartnerType.SYSTEM_INTEGRATOR: "System integrator delivering turnkey projects, strongest in {industry}.",
        PartnerType.MSP: "Managed service provider running IT operations for {n} subscription customers.",
        PartnerType.RETAILER: "Consumer electronics retailer with {n} stores.",
        PartnerType.REFERRAL: "Independent consultancy referring customers for a finder's fee.",
        PartnerType.SUPPLIER: "Supplies components and field services for our projects.",
        PartnerType.AGENCY: "Marketing agency running events, digital campaigns and lead generation for partners.",
    },
}
SERVICE_FORMAT = {
    "ru": {
        PartnerType.RESELLER: "Перепродажа лицензий, первая линия поддержки",
        PartnerType.DISTRIBUTOR: "Дистрибуция, складская логистика, работа с субдилерами",
        PartnerType.SYSTEM_INTEGRATOR: "Внедрение под ключ, вторая линия поддержки",
        PartnerType.MSP: "Управляемые услуги по подписке, SLA 24/7",
        PartnerType.RETAILER: "Розничная продажа коробочных версий",
        PartnerType.REFERRAL: "Агентская схема: рекомендация клиентов",
        PartnerType.SUPPLIER: "Поставка комплектующих",
        PartnerType.AGENCY: "Маркетинговые услуги по заявкам MDF",
    },
    "en": {
        PartnerType.RESELLER: "Licence resale, first-line support",
        PartnerType.DISTRIBUTOR: "Distribution, warehousing, sub-dealer management",
        PartnerType.SYSTEM_INTEGRATOR: "Turnkey implementation, second-line support",
        PartnerType.MSP: "Managed services by subscription, 24/7 SLA",
        PartnerType.RETAILER: "Retail sale of boxed products",
        PartnerType.REFERRAL: "Referral agreement: customer introductions",
        PartnerType.SUPPLIER: "Component supply",
        PartnerType.AGENCY: "Marketing services against MDF requests",
    },
}
TYPE_LABEL_RU = {
    PartnerType.RESELLER: "реселлер",
    PartnerType.DISTRIBUTOR: "дистрибьютор",
    PartnerType.SYSTEM_INTEGRATOR: "системный интегратор",
    PartnerType.MSP: "поставщик управляемых услуг",
    PartnerType.RETAILER: "розничная сеть",
    PartnerType.REFERRAL: "агент",
    PartnerType.SUPPLIER: "поставщик",
    PartnerType.AGENCY: "агентство",
}
AGREEMENT_TITLE = {
    "ru": "Партнёрское соглашение ({type})",
    "en": "Partner agreement ({type})",
}

# People.
RU_MALE = [
    "Александр",
    "Дмитрий",
    "Сергей",
    "Андрей",
    "Алексей",
    "Максим",
    "Иван",
    "Михаил",
    "Николай",
    "Павел",
    "Евгений",
    "Артём",
    "Владимир",
    "Олег",
    "Роман",
    "Константин",
    "Игорь",
    "Денис",
]
RU_FEMALE = [
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Анна",
    "Мария",
    "Ирина",
    "Светлана",
    "Екатерина",
    "Юлия",
    "Марина",
    "Ксения",
    "Дарья",
    "Алина",
    "Вероника",
]
RU_SURNAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Белов",
    "Тарасов",
    "Комаров",
    "Полянский",
    "Вишневский",
]
CIS_NAMES = {
    "KZ": (
        ["Нурлан", "Ерлан", "Айдар", "Асхат", "Данияр", "Бауыржан"],
        ["Айгерим", "Динара", "Гульнара", "Асель", "Жанар"],
        ["Жумабаев", "Касымов", "Нурланов", "Абдрахманов", "Сейткалиев", "Омаров"],
    ),
    "BY": (
        ["Андрей", "Сергей", "Вадим", "Павел"],
        ["Ольга", "Анастасия", "Алеся"],
        ["Ковалёв", "Новик", "Кравченко", "Лукашевич", "Мельник"],
    ),
    "UZ": (
        ["Бахтиёр", "Рустам", "Шерзод", "Тимур"],
        ["Дилноза", "Нигора", "Малика"],
        ["Рахимов", "Юсупов", "Каримов", "Алимов"],
    ),
    "AM": (["Армен", "Тигран", "Ашот"], ["Ани", "Нарине", "Лилит"], ["Саркисян", "Петросян", "Акопян", "Оганесян"]),
    "AZ": (["Эльчин", "Рашад", "Фарид"], ["Лейла", "Айгюн", "Севиндж"], ["Алиев", "Гасанов", "Мамедов", "Гусейнов"]),
    "KG": (["Азамат", "Бекзат", "Нурбек"], ["Айпери", "Жылдыз", "Бермет"], ["Асанов", "Токтогулов", "Иманалиев"]),
}
EU_NAMES = {
    "GB": (
        ["James", "Oliver", "Thomas", "Harry", "George", "William", "Daniel"],
        ["Emma", "Charlotte", "Sophie", "Olivia", "Amelia", "Grace", "Lucy"],
        ["Smith", "Clarke", "Hughes", "Walker", "Wright", "Turner", "Cooper", "Harris", "Mitchell", "Patel"],
    ),
    "DE": (
        ["Lukas", "Jonas", "Felix", "Maximilian", "Stefan", "Tobias", "Michael"],
        ["Anna", "Lena", "Laura", "Julia", "Katharina", "Sabine"],
        ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Wagner", "Koch", "Richter"],
    ),
    "FR": (
        ["Thomas", "Nicolas", "Julien", "Pierre", "Antoine", "Mathieu"],
        ["Camille", "Léa", "Chloé", "Manon", "Sophie", "Claire"],
        ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "Girard", "Roux"],
    ),
    "NL": (
        ["Daan", "Sem", "Bram", "Jeroen", "Pieter"],
        ["Emma", "Sanne", "Lotte", "Femke", "Anouk"],
        ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit"],
    ),
    "PL": (
        ["Piotr", "Krzysztof", "Tomasz", "Paweł", "Michał", "Marcin"],
        ["Anna", "Katarzyna", "Magdalena", "Agnieszka", "Joanna"],
        ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski"],
    ),
    "LV": (
        ["Jānis", "Andris", "Mārtiņš", "Edgars", "Raimonds"],
        ["Anna", "Ilze", "Līga", "Kristīne", "Inese"],
        ["Bērziņš", "Kalniņš", "Ozoliņš", "Liepiņš", "Krūmiņš"],
    ),
    "LT": (
        ["Tomas", "Mantas", "Lukas", "Darius", "Andrius"],
        ["Rūta", "Eglė", "Agnė", "Ieva"],
        ["Kazlauskas", "Jankauskas", "Petrauskas", "Stankevičius"],
    ),
    "EE": (
        ["Martin", "Rasmus", "Markus", "Andres"],
        ["Kadri", "Liis", "Triin", "Mari"],
        ["Tamm", "Saar", "Sepp", "Mägi", "Kask"],
    ),
    "FI": (
        ["Mikko", "Juha", "Antti", "Janne"],
        ["Anna", "Laura", "Johanna", "Satu"],
        ["Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Lehtonen"],
    ),
    "IT": (
        ["Marco", "Luca", "Alessandro", "Davide", "Matteo"],
        ["Giulia", "Francesca", "Chiara", "Sara"],
        ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo"],
    ),
    "ES": (
        ["Javier", "Carlos", "David", "Pablo", "Alejandro"],
        ["Lucía", "María", "Laura", "Elena"],
        ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez"],
    ),
    "CZ": (
        ["Jan", "Petr", "Tomáš", "Martin", "Jakub"],
        ["Jana", "Tereza", "Lucie", "Petra"],
        ["Novák", "Svoboda", "Novotný", "Dvořák", "Černý"],
    ),
    "AT": (
        ["Florian", "Lukas", "David", "Markus"],
        ["Julia", "Sarah", "Lisa", "Verena"],
        ["Gruber", "Huber", "Bauer", "Wagner", "Pichler"],
    ),
}
CN_SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("胡", "hu"),
    ("朱", "zhu"),
    ("高", "gao"),
    ("林", "lin"),
    ("何", "he"),
    ("郭", "guo"),
    ("马", "ma"),
    ("罗", "luo"),
]
CN_GIVEN = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("慧", "hui"),
    ("建国", "jianguo"),
    ("志强", "zhiqiang"),
    ("晓明", "xiaoming"),
    ("海燕", "haiyan"),
    ("婷", "ting"),
    ("宇航", "yuhang"),
    ("子涵", "zihan"),
]
JOB_TITLES = {
    "ru": {
        ContactRole.EXECUTIVE: ["Генеральный директор", "Исполнительный директор", "Учредитель"],
        ContactRole.SALES: [
            "Коммерческий директор",
            "Руководитель отдела продаж",
            "Менеджер по ключевым клиентам",
            "Менеджер по продажам",
        ],
        ContactRole.PRESALES: ["Технический директор", "Пресейл-инженер", "Ведущий системный инженер"],
        ContactRole.MARKETING: ["Директор по маркетингу", "Маркетолог"],
        ContactRole.FINANCE: ["Финансовый директор", "Главный бухгалтер"],
        ContactRole.SUPPORT: ["Руководитель службы поддержки", "Инженер техподдержки"],
    },
    "en": {
        ContactRole.EXECUTIVE: ["CEO", "Managing Director", "Founder"],
        ContactRole.SALES: ["Sales Director", "Head of Sales", "Key Account Manager", "Account Manager"],
        ContactRole.PRESALES: ["CTO", "Presales Engineer", "Solutions Architect"],
        ContactRole.MARKETING: ["Marketing Director", "Marketing Manager"],
        ContactRole.FINANCE: ["CFO", "Finance Manager"],
        ContactRole.SUPPORT: ["Head of Support", "Support Engineer"],
    },
    "zh": {
        ContactRole.EXECUTIVE: ["总经理", "董事长", "副总经理"],
        ContactRole.SALES: ["销售总监", "大客户经理", "销售经理"],
        ContactRole.PRESALES: ["技术总监", "售前工程师", "解决方案架构师"],
        ContactRole.MARKETING: ["市场总监", "市场经理"],
        ContactRole.FINANCE: ["财务总监", "财务经理"],
        ContactRole.SUPPORT: ["技术支持经理", "技术支持工程师"],
    },
}
CONTACT_ROLE_ORDER = [
    ContactRole.EXECUTIVE,
    ContactRole.SALES,
    ContactRole.PRESALES,
    ContactRole.SALES,
    ContactRole.MARKETING,
    ContactRole.FINANCE,
    ContactRole.SUPPORT,
]

# Interactions: kind → [(subject, body, next step)] per language.
INTERACTIONS = {
    "ru": {
        InteractionKind.CALL: [
            (
                "Звонок по воронке на квартал",
                "Прошлись по открытым сделкам, две сдвигаются на следующий месяц.",
                "Прислать обновлённый прогноз",
            ),
            (
                "Обсуждение условий спецпроекта",
                "Партнёр просит дополнительную скидку под тендер.",
                "Согласовать скидку с коммерческим директором",
            ),
            (
                "Звонок: вопросы по регистрации сделки",
                "Разобрали, как оформлять регистрацию с несколькими продуктами.",
                "",
            ),
            (
                "Созвон по продлению договора",
                "Партнёр готов продлевать, хочет пересмотреть сроки оплаты.",
                "Подготовить допсоглашение",
            ),
            (
                "Звонок: реактивация",
                "Давно не было активности; партнёр сменил руководителя продаж.",
                "Назначить встречу с новым руководителем продаж",
            ),
        ],
        InteractionKind.MEETING: [
            (
                "Квартальный бизнес-обзор (QBR)",
                "Итоги квартала, план на следующий, обсуждение маркетинговых активностей.",
                "Отправить протокол QBR",
            ),
            (
                "Встреча в офисе партнёра",
                "Познакомились с новой командой пресейла, обсудили совместные мероприятия.",
                "Выслать материалы для вебинара",
            ),
            (
                "Совместная встреча с заказчиком",
                "Презентация решения для крупного заказчика партнёра.",
                "Подготовить коммерческое предложение",
            ),
            (
                "Стратегическая сессия по плану продаж",
                "Согласовали целевой оборот и ключевых заказчиков на год.",
                "Зафиксировать план в системе",
            ),
        ],
        InteractionKind.EMAIL: [
            ("Письмо: новый прайс-лист", "Отправили прайс-лист и условия акции текущего квартала.", ""),
            (
                "Письмо: приглашение на обучение",
                "Пригласили инженеров партнёра на курс сертификации.",
                "Проверить регистрацию на курс",
            ),
            (
                "Письмо: запрос документов",
                "Запросили подписанные документы для онбординга.",
                "Получить скан подписанного соглашения",
            ),
            ("Письмо: итоги встречи", "Разослали договорённости по итогам встречи.", ""),
        ],
        InteractionKind.NOTE: [
            (
                "Заметка: смена контактного лица",
                "Коммерческий директор уходит, новый контакт — руководитель отдела продаж.",
                "",
            ),
            (
                "Заметка: конкурент активен в регионе",
                "Партнёру предлагают лучшие условия у конкурента.",
                "Обсудить удерживающие условия с руководителем",
            ),
            ("Заметка: склад", "По словам партнёра, на складе остаток на два месяца продаж.", ""),
        ],
        InteractionKind.TENDER: [
            (
                "Тендер: поддержка участия",
                "Партнёр участвует в тендере госзаказчика, нужна авторизация производителя.",
                "Выпустить письмо авторизации",
            ),
        ],
        InteractionKind.TRAINING: [
            (
                "Обучение: продуктовый тренинг",
                "Провели тренинг для отдела продаж партнёра, 8 участников.",
                "Выслать записи и тест",
            ),
        ],
    },
    "en": {
        InteractionKind.CALL: [
            ("Pipeline review call", "Went through open deals; two slip to next month.", "Send updated forecast"),
            (
                "Call about special pricing",
                "Partner asks for extra discount for a tender.",
                "Get discount approved by sales director",
            ),
            ("Call: deal registration questions", "Explained how to register a deal with several products.", ""),
            ("Renewal call", "Partner wants to renew and revisit payment terms.", "Draft contract amendment"),
            (
                "Reactivation call",
                "No activity for months; new head of sales at the partner.",
                "Book a meeting with the new head of sales",
            ),
        ],
        InteractionKind.MEETING: [
            (
                "Quarterly business review",
                "Quarter results, next-quarter plan, joint marketing ideas.",
                "Send QBR minutes",
            ),
            ("On-site visit", "Met the new presales team and discussed a joint event.", "Send webinar materials"),
            (
                "Joint customer meeting",
                "Solution presentation for one of the partner's largest customers.",
                "Prepare a commercial proposal",
            ),
            (
                "Annual planning session",
                "Agreed revenue target and key customers for the year.",
                "Record the plan in PRM",
            ),
        ],
        InteractionKind.EMAIL: [
            ("E-mail: new price list", "Sent the price list and this quarter's promotion terms.", ""),
            (
                "E-mail: training invitation",
                "Invited the partner's engineers to the certification course.",
                "Check course registrations",
            ),
            (
                "E-mail: onboarding documents",
                "Requested the signed onboarding documents.",
                "Collect the signed agreement",
            ),
            ("E-mail: meeting follow-up", "Circulated the agreed actions after the meeting.", ""),
        ],
        InteractionKind.NOTE: [
            ("Note: contact change", "Sales director leaving; new contact is the head of sales.", ""),
            (
                "Note: competitor active in the region",
                "A competitor is offering the partner better terms.",
                "Discuss retention terms with the lead",
            ),
            ("Note: stock levels", "Partner says it holds about two months of stock.", ""),
        ],
        InteractionKind.TENDER: [
            (
                "Tender support",
                "Partner is bidding in a public tender and needs a manufacturer authorisation.",
                "Issue the authorisation letter",
            ),
        ],
        InteractionKind.TRAINING: [
            (
                "Product training",
                "Ran a sales training for the partner's team, 8 attendees.",
                "Send recordings and the quiz",
            ),
        ],
    },
}
KIND_WEIGHTS = {
    InteractionKind.CALL: 34,
    InteractionKind.EMAIL: 28,
    InteractionKind.MEETING: 17,
    InteractionKind.NOTE: 12,
    InteractionKind.TRAINING: 5,
    InteractionKind.TENDER: 4,
}

STAFF = [
    # e-mail, name, role, job title
    ("admin@demo.prm", "Alexey Smirnov", Role.ADMINISTRATOR, "Channel operations administrator"),
    ("lead@demo.prm", "Dmitry Orlov", Role.CHANNEL_LEAD, "Head of channel sales"),
    ("manager@demo.prm", "Maria Sokolova", Role.CHANNEL_MANAGER, "Channel manager, Europe"),
    ("irina.kuznetsova@demo.prm", "Irina Kuznetsova", Role.CHANNEL_MANAGER, "Channel manager, Moscow"),
    ("pavel.belov@demo.prm", "Pavel Belov", Role.CHANNEL_MANAGER, "Channel manager, Russian regions"),
    ("sergey.volkov@demo.prm", "Sergey Volkov", Role.CHANNEL_MANAGER, "Channel manager, CIS"),
    ("li.wei@demo.prm", "Li Wei", Role.CHANNEL_MANAGER, "Channel manager, China"),
]
# The two partners the cabinet log-ins belong to, fixed so the demo is recognisable.
NORTHWIND = "Northwind Systems"
BALTIC = "Baltic Trade House"
CABINET_USERS = [
    # e-mail, name, role, partner, job title, contact role
    ("partner@demo.prm", "Emma Clarke", Role.PARTNER_ADMIN, NORTHWIND, "Head of Partnerships", ContactRole.EXECUTIVE),
    ("rep@demo.prm", "Oliver Bennett", Role.PARTNER_REP, NORTHWIND, "Account Manager", ContactRole.SALES),
    ("partner2@demo.prm", "Jānis Bērziņš", Role.PARTNER_ADMIN, BALTIC, "Managing Director", ContactRole.EXECUTIVE),
]


# --- Helpers ------------------------------------------------------------------------------

_CYR = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)


def ascii_slug(text: str) -> str:
    """'Jānis Bērziņš' → 'janis.berzins', 'Алексей' → 'aleksey' (for e-mail addresses)."""
    out = []
    for ch in text.lower():
        if ch in _CYR:
            out.append(_CYR[ch])
        elif ch == "ł":
            out.append("l")
        elif ch in " -":
            out.append(".")
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode())
    return ".".join(part for part in "".join(out).split(".") if part)


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def russian_inn(rng: random.Random, region: str) -> str:
    """A 10-digit legal-entity ИНН with a valid check digit."""
    body = region + _digits(rng, 9 - len(region))
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11 % 10
    return body + str(check)


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def chinese_uscc(rng: random.Random, division: str) -> str:
    """An 18-character unified social credit code (GB 32100-2015) with valid check characters."""
    body = "".join(str(rng.randint(0, 9)) for _ in range(8))
    org_check = 11 - sum(int(d) * w for d, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    org = body + {10: "X", 11: "0"}.get(org_check, str(org_check))
    code = "91" + division + org
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code, weights, strict=True))
    return code + _USCC_CHARS[(31 - total % 31) % 31]


def eu_vat(rng: random.Random, country: str) -> str:
    d = lambda n: _digits(rng, n)  # noqa: E731
    return {
        "GB": lambda: "GB" + d(9),
        "DE": lambda: "DE" + str(rng.randint(1, 3)) + d(8),
        "AT": lambda: "ATU" + d(8),
        "FR": lambda: "FR" + d(2) + str(rng.randint(3, 9)) + d(8),
        "NL": lambda: "NL" + d(9) + "B01",
        "PL": lambda: "PL" + str(rng.randint(1, 9)) + d(9),
        "LV": lambda: "LV4" + d(10),
        "LT": lambda: "LT" + d(7) + "1" + d(1),
        "EE": lambda: "EE10" + d(7),
        "FI": lambda: "FI" + d(8),
        "IT": lambda: "IT" + d(11),
        "ES": lambda: "ES" + rng.choice("ABG") + d(8),
        "CZ": lambda: "CZ" + str(rng.randint(2, 8)) + d(7),
    }[country]()


def cis_tax_id(rng: random.Random, country: str) -> str:
    return {
        "KZ": lambda: f"{rng.randint(0, 23):02d}{rng.randint(1, 12):02d}40" + _digits(rng, 6),  # БИН
        "BY": lambda: str(rng.randint(1, 7)) + _digits(rng, 8),  # УНП
        "UZ": lambda: str(rng.randint(2, 3)) + _digits(rng, 8),  # ИНН
        "AM": lambda: "0" + _digits(rng, 7),  # ՀՎՀՀ
        "AZ": lambda: "1" + _digits(rng, 8) + "1",  # VÖEN
        "KG": lambda: "0" + _digits(rng, 13),  # ИНН
    }[country]()


def feminine(surname: str, country: str) -> str:
    if country == "CZ":
        if surname.endswith("ý"):
            return surname[:-1] + "á"
        return (surname[:-1] if surname.endswith("a") else surname) + "ová"
    if country == "PL":
        return surname[:-1] + "a" if surname.endswith("ski") else surname
    if country == "LV":
        return surname[:-1] + "a" if surname[-1] in "šs" else surname
    if country == "LT":
        return surname[:-2] + "ienė" if surname.endswith(("as", "us")) else surname
    if country in ("RU", "KZ", "BY", "UZ", "AZ", "KG"):
        if surname.endswith("ий"):
            return surname[:-2] + "ая"
        if surname.endswith(("ов", "ев", "ёв", "ин")):
            return surname + "а"
    return surname


def person(rng: random.Random, country: str) -> tuple[str, str]:
    """(display name, e-mail local part) of a plausible person in `country`."""
    if country == "CN":
        (sur, sur_py), (given, given_py) = rng.choice(CN_SURNAMES), rng.choice(CN_GIVEN)
        return sur + given, f"{given_py}.{sur_py}" if rng.random() < 0.5 else f"{sur_py}{given_py}"
    if country in EU_NAMES:
        males, females, surnames = EU_NAMES[country]
    elif country in CIS and rng.random() < 0.6:
        males, females, surnames = CIS_NAMES[country]
    else:
        males, females, surnames = RU_MALE, RU_FEMALE, RU_SURNAMES
    female = rng.random() < 0.45
    first = rng.choice(females if female else males)
    last = rng.choice(surnames)
    if female:
        last = feminine(last, "RU" if surnames is RU_SURNAMES else country)
    style = rng.random()
    local = f"{ascii_slug(first)}.{ascii_slug(last)}" if style < 0.6 else f"{ascii_slug(first)[0]}.{ascii_slug(last)}"
    return f"{first} {last}", local.replace("..", ".")


def _phone(rng: random.Random, code: str, area: str | None = None) -> str:
    if code == "+7" and area:
        tail = _digits(rng, 10 - len(area))
        return f"+7 ({area}) {tail[:-4]}-{tail[-4:-2]}-{tail[-2:]}"
    if code == "+7":
        return f"+7 9{_digits(rng, 2)} {_digits(rng, 3)}-{_digits(rng, 2)}-{_digits(rng, 2)}"
    if code == "+86":
        return f"+86 1{rng.choice('3589')}{_digits(rng, 1)} {_digits(rng, 4)} {_digits(rng, 4)}"
    return f"{code} {_digits(rng, 3)} {_digits(rng, 3)} {_digits(rng, 3)}"


# --- Sections -----------------------------------------------------------------------------


def _seed_tiers(ctx: DemoContext) -> None:
    for code, name, rank, revenue, certified, won, disc, protection, ext, mult, mdf, share, weight in TIERS:
        tier = Tier.objects.filter(code=code).first() or Tier.objects.filter(rank=rank).first()
        if tier is None:
            tier = Tier.objects.create(
                code=code,
                name=name,
                rank=rank,
                description=TIER_DESCRIPTIONS[code],
                min_revenue=Decimal(revenue),
                min_certified_people=certified,
                min_won_deals=won,
                discount_pct=Decimal(disc),
                protection_days=protection,
                max_extensions=ext,
                points_multiplier=Decimal(mult),
                mdf_eligible=mdf,
                mdf_share_pct=Decimal(share),
                lead_weight=weight,
            )
            ctx.count("tiers", 1)
        ctx.tiers[code] = tier


def _seed_staff(ctx: DemoContext) -> None:
    lead = None
    for email, name, role, title in STAFF:
        user = User(
            email=email,
            full_name=name,
            role=role,
            job_title=title,
            phone=_phone(ctx.rng, "+7"),
            is_staff=role == Role.ADMINISTRATOR,
            is_superuser=role == Role.ADMINISTRATOR,
            reports_to=lead if role == Role.CHANNEL_MANAGER else None,
            date_joined=ctx.now - datetime.timedelta(days=ctx.rng.randint(400, 1500)),
        )
        _set_demo_password(ctx, user)
        user.save()
        ctx.users[email] = user
        if role == Role.CHANNEL_LEAD:
            lead = user
        if role == Role.CHANNEL_MANAGER:
            ctx.managers.append(user)
    ctx.count("staff users", len(STAFF))


def _set_demo_password(ctx: DemoContext, user: User) -> None:
    # Hashing is deliberately slow; every demo log-in shares one password, so hash it once.
    if not ctx.password_hash:
        user.set_password(DEMO_PASSWORD)
        ctx.password_hash = user.password
    else:
        user.password = ctx.password_hash


def _location_plan(ctx: DemoContext) -> list[dict]:
    """One dict per partner to create: region, country, city, coordinates, name parts."""
    rng = ctx.rng
    plan: list[dict] = []
    used_names: set[str] = set()

    def unique(name: str) -> bool:
        if name in used_names:
            return False
        used_names.add(name)
        return True

    # Russia.
    ru_slots = [c for c in RU_CITIES for _ in range(c[5])]
    poetic = list(RU_POETIC)
    rng.shuffle(poetic)
    for i, (city, lat, lon, area, inn_region, _n) in enumerate(ru_slots):
        while True:
            if i < len(poetic) and poetic[i][0] not in used_names:
                ru, slug = poetic[i]
            else:
                (p_ru, p_slug), (s_ru, s_slug) = rng.choice(RU_PREFIXES), rng.choice(RU_SUFFIXES)
                ru, slug = p_ru + s_ru, p_slug + s_slug
            if unique(ru):
                break
        form = rng.choices(["ООО", "АО", "ПАО"], weights=[75, 21, 4])[0]
        plan.append(
            {
                "region": Region.RUSSIA,
                "country": "RU",
                "city": city,
                "lat": lat,
                "lon": lon,
                "lang": "ru",
                "name": ru,
                "legal": f"{form} «{ru}»",
                "domain": f"{slug}.ru",
                "phone": _phone(rng, "+7", area),
                # ИНН: region code + tax office + serial + check digit.
                "tax_id": lambda a=inn_region: russian_inn(rng, a + f"{rng.randint(1, 40):02d}"),
                "address": f"{rng.choice(RU_STREETS)}, д. {rng.randint(1, 120)}, офис {rng.randint(1, 40) * 10 + rng.randint(1, 9)}",
                "calling": "+7",
            }
        )
    # CIS.
    for country, (calling, forms, cities, count) in CIS.items():
        for _ in range(count):
            while True:
                (p_ru, p_slug), (s_ru, s_slug) = rng.choice(CIS_PREFIXES[country]), rng.choice(RU_SUFFIXES)
                ru = f"{p_ru} {s_ru}" if " " in p_ru or "-" in p_ru else p_ru + s_ru
                if unique(ru):
                    break
            city, lat, lon = rng.choice(cities)
            plan.append(
                {
                    "region": Region.CIS,
                    "country": country,
                    "city": city,
                    "lat": lat,
                    "lon": lon,
                    "lang": "ru",
                    "name": ru,
                    "legal": f"{rng.choice(forms)} «{ru}»",
                    "domain": f"{p_slug}{s_slug}.{CIS_TLD[country]}",
                    "phone": _phone(rng, calling)
                    if calling != "+7"
                    else f"+7 7{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 4)}",
                    "tax_id": lambda c=country: cis_tax_id(rng, c),
                    "address": f"{rng.choice(RU_STREETS)}, {rng.randint(1, 90)}",
                    "calling": calling,
                }
            )
    # Europe: the two cabinet partners first, then the rest.
    plan.append(
        {
            "region": Region.EUROPE,
            "country": "GB",
            "city": "London",
            "lat": 51.5155,
            "lon": -0.0922,
            "lang": "en",
            "name": NORTHWIND,
            "legal": "Northwind Systems Ltd",
            "domain": "northwind-systems.co.uk",
            "phone": "+44 20 7946 0321",
            "tax_id": lambda: eu_vat(rng, "GB"),
            "address": "25 Old Broad Street, London EC2N 1HQ",
            "calling": "+44",
            "special": True,
        }
    )
    plan.append(
        {
            "region": Region.EUROPE,
            "country": "LV",
            "city": "Riga",
            "lat": 56.9496,
            "lon": 24.1052,
            "lang": "en",
            "name": BALTIC,
            "legal": "SIA Baltic Trade House",
            "domain": "baltictradehouse.lv",
            "phone": "+371 6700 1234",
            "tax_id": lambda: eu_vat(rng, "LV"),
            "address": "Brīvības iela 68, Rīga",
            "calling": "+371",
            "special": True,
        }
    )
    used_names.update({NORTHWIND, BALTIC})
    for country, (calling, form, tld, cities, local_first, local_second, count) in EUROPE.items():
        remaining = count - sum(1 for p in plan if p["country"] == country)
        for _ in range(remaining):
            while True:
                first = rng.choice(local_first + EN_FIRST)
                second = rng.choice(local_second + EN_SECOND)
                name = f"{first} {second}"
                if unique(name):
                    break
            city, lat, lon = rng.choice(cities)
            legal = f"{form} {name}" if form in ("SIA", "UAB") else f"{name} {form}"
            plan.append(
                {
                    "region": Region.EUROPE,
                    "country": country,
                    "city": city,
                    "lat": lat,
                    "lon": lon,
                    "lang": "en",
                    "name": name,
                    "legal": legal,
                    "domain": f"{ascii_slug(first).replace('.', '')}{ascii_slug(second).replace('.', '')}.{tld}",
                    "phone": _phone(rng, calling),
                    "tax_id": lambda c=country: eu_vat(rng, c),
                    "address": f"{rng.choice(EU_STREETS.get(country, ['Main Street']))} {rng.randint(1, 150)}",
                    "calling": calling,
                }
            )
    # China: make sure the two names from the brief appear.
    cn_slots = [c for c in CN_CITIES for _ in range(c[5])]
    forced = {"Shenzhen": [("华信", "huaxin", "科技", "tech")], "Beijing": [("云海", "yunhai", "信息技术", "it")]}
    for city, lat, lon, division, prefix, _n, area in cn_slots:
        while True:
            if forced.get(city):
                brand, brand_py, business, business_en = forced[city].pop()
            else:
                (brand, brand_py), (business, business_en) = rng.choice(CN_BRANDS), rng.choice(CN_BUSINESS)
            display = brand + business
            if unique(display):
                break
        suffix = "股份有限公司" if rng.random() < 0.15 else "有限公司"
        plan.append(
            {
                "region": Region.CHINA,
                "country": "CN",
                "city": city,
                "lat": lat,
                "lon": lon,
                "lang": "zh",
                "name": display,
                "legal": f"{prefix}{brand}{business}{suffix}",
                "domain": f"{brand_py}{business_en}.{rng.choice(['com.cn', 'cn', 'com'])}",
                "phone": f"+86 {area} {_digits(rng, 4)} {_digits(rng, 4)}",
                "tax_id": lambda d=division: chinese_uscc(rng, d),
                "address": f"{prefix}市{rng.choice(CN_STREETS)}{rng.randint(1, 300)}号",
                "calling": "+86",
            }
        )
    return plan


def _seed_partners(ctx: DemoContext) -> None:
    rng, today = ctx.rng, ctx.today
    plan = _location_plan(ctx)
    # Every partner type appears: the first eight ordinary partners take one each.
    types = list(PartnerType.values)
    manager = ctx.user("manager@demo.prm")
    lead = ctx.user("lead@demo.prm")
    by_name = {u.email: u for u in ctx.managers}
    owners_by_region = {
        Region.EUROPE: [manager],
        Region.CIS: [by_name["sergey.volkov@demo.prm"]],
        Region.CHINA: [by_name["li.wei@demo.prm"]],
    }
    moscow_managers = [by_name["irina.kuznetsova@demo.prm"], manager]
    regional_managers = [by_name["pavel.belov@demo.prm"], by_name["pavel.belov@demo.prm"], manager]
    used_tax: set[tuple[str, str]] = set()
    partners: list[Partner] = []
    for spec in plan:
        special = spec.get("special", False)
        if special:
            partner_type = PartnerType.SYSTEM_INTEGRATOR if spec["name"] == NORTHWIND else PartnerType.DISTRIBUTOR
            status = PartnerStatus.ACTIVE
        else:
            partner_type = types.pop(rng.randrange(len(types))) if types else _weighted(rng, TYPE_WEIGHTS)
            status = _weighted(rng, STATUS_WEIGHTS)
        # Owner: by region; Russia split between Moscow and the regions; some prospects unassigned.
        if special:
            owner = manager
        elif status == PartnerStatus.PROSPECT and rng.random() < 0.4:
            owner = None
        elif spec["region"] == Region.RUSSIA:
            owner = rng.choice(moscow_managers if spec["city"] in ("Москва", "Санкт-Петербург") else regional_managers)
        else:
            owner = rng.choice(owners_by_region[spec["region"]])
        if owner is not None and not special and rng.random() < 0.04:
            owner = lead  # the lead keeps a few accounts personally
        # Tier.
        tier, tier_since = None, None
        age_days = {
            PartnerStatus.PROSPECT: rng.randint(3, 90),
            PartnerStatus.APPLICANT: rng.randint(5, 60),
            PartnerStatus.ONBOARDING: rng.randint(20, 150),
        }.get(status, rng.randint(200, 1600))
        created = ctx.now - datetime.timedelta(days=age_days, hours=rng.randint(0, 23))
        if special:
            tier = ctx.tiers["gold" if spec["name"] == NORTHWIND else "silver"]
        elif status in (PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED):
            weights = dict(TIER_WEIGHTS)
            if partner_type == PartnerType.DISTRIBUTOR:
                weights.update(registered=5, gold=35, platinum=25)
            if partner_type == PartnerType.REFERRAL:
                weights.update(gold=5, platinum=0)
            tier = ctx.tiers[_weighted(rng, weights)]
        elif status == PartnerStatus.ONBOARDING:
            tier = ctx.tiers["registered"]
        if tier is not None:
            tier_since = today - datetime.timedelta(days=rng.randint(10, max(11, age_days - 5)))
        # Activity: dormant partners went quiet more than 90 days ago.
        dormant = False
        if status == PartnerStatus.ACTIVE and not special:
            dormant = rng.random() < 0.24
        if special:
            last_days = rng.randint(0, 3)
        elif dormant:
            last_days = rng.randint(95, 360)
        elif status == PartnerStatus.ACTIVE:
            last_days = int(rng.triangular(0, 75, 5))
        elif status == PartnerStatus.SUSPENDED:
            last_days = rng.randint(40, 240)
        elif status == PartnerStatus.TERMINATED:
            last_days = rng.randint(120, 365)
        else:
            last_days = rng.randint(0, min(age_days, 30))
        last_days = min(last_days, age_days)
        status_changed = created + datetime.timedelta(days=rng.randint(0, max(0, age_days - last_days)))
        if status in (PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED):
            status_changed = ctx.now - datetime.timedelta(days=rng.randint(5, max(6, min(last_days, 200))))
        verified = status == PartnerStatus.ACTIVE and (special or (tier.rank >= 1 and rng.random() < 0.65))
        tax_id = ""
        if status != PartnerStatus.PROSPECT or rng.random() < 0.5:
            for _attempt in range(20):
                tax_id = spec["tax_id"]()
                if (spec["country"], tax_id) not in used_tax:
                    used_tax.add((spec["country"], tax_id))
                    break
        industries = rng.sample(INDUSTRIES, rng.randint(1, 3))
        lang = "ru" if spec["lang"] == "ru" else "en"
        description = DESCRIPTIONS[lang][partner_type].format(
            city=spec["city"], n=rng.randint(5, 60), industry=", ".join(industries).lower()
        )
        size = rng.choices(
            list(PartnerSize.values),
            weights=[10, 35, 32, 16, 7] if partner_type != PartnerType.DISTRIBUTOR else [0, 5, 30, 40, 25],
        )[0]
        jitter = lambda: Decimal(str(round(rng.uniform(-0.04, 0.04), 6)))  # noqa: E731 — offices spread over a city
        partners.append(
            Partner(
                public_id=ctx.uuid(),
                name=spec["name"],
                legal_name=spec["legal"],
                partner_type=partner_type,
                status=status,
                status_changed_at=status_changed,
                country=spec["country"],
                region=spec["region"],
                city=spec["city"],
                address=spec["address"],
                latitude=Decimal(str(spec["lat"])) + (jitter() if not special else 0),
                longitude=Decimal(str(spec["lon"])) + (jitter() if not special else 0),
                website_domain=spec["domain"],
                email=f"{rng.choice(['info', 'sales', 'office', 'partners'])}@{spec['domain']}",
                phone=spec["phone"],
                tax_id=tax_id,
                size=size,
                industries=industries,
                description=description,
                verified=verified,
                verified_at=(created + datetime.timedelta(days=rng.randint(30, max(31, age_days - 10))))
                if verified
                else None,
                owner=owner,
                tier=tier,
                tier_since=tier_since,
                is_dormant=dormant,
                last_activity_at=ctx.now - datetime.timedelta(days=last_days, hours=rng.randint(0, 8)),
                created_at=created,
            )
        )
        partners[-1]._demo_lang = spec["lang"]  # used by the later sections only
        partners[-1]._demo_calling = spec["calling"]
    # bulk_create fills in the primary keys of these very objects (Postgres RETURNING).
    created_partners = Partner.objects.bulk_create(partners, batch_size=BATCH)
    ctx.partners = created_partners
    # Referral: a few partners were brought in by active ones (referral commission later).
    active = [p for p in created_partners if p.status == PartnerStatus.ACTIVE]
    recruited = []
    for partner in rng.sample(created_partners, 16):
        recruiter = rng.choice(active)
        if recruiter.pk != partner.pk and recruiter.created_at < partner.created_at:
            partner.recruited_by = recruiter
            recruited.append(partner)
    Partner.objects.bulk_update(recruited, ["recruited_by"], batch_size=BATCH)
    ctx.count("partners", len(created_partners))


def _seed_cabinet_users(ctx: DemoContext) -> None:
    for email, name, role, partner_name, title, _contact_role in CABINET_USERS:
        partner = ctx.partner(partner_name)
        user = User(
            email=email,
            full_name=name,
            role=role,
            partner=partner,
            job_title=title,
            phone=_phone(ctx.rng, partner._demo_calling),
            date_joined=ctx.now - datetime.timedelta(days=ctx.rng.randint(60, 400)),
            last_login=ctx.now - datetime.timedelta(days=ctx.rng.randint(0, 6)),
        )
        _set_demo_password(ctx, user)
        user.save()
        ctx.users[email] = user
    ctx.count("partner (cabinet) users", len(CABINET_USERS))


def _seed_contacts(ctx: DemoContext) -> None:
    rng, today = ctx.rng, ctx.today
    contacts: list[Contact] = []
    cabinet = {}
    for email, name, _role, partner_name, title, contact_role in CABINET_USERS:
        cabinet.setdefault(partner_name, []).append((email, name, title, contact_role))
    for partner in ctx.partners:
        lang = partner._demo_lang
        titles = JOB_TITLES[lang if lang in JOB_TITLES else "en"]
        if partner.status in (PartnerStatus.PROSPECT, PartnerStatus.APPLICANT):
            n = rng.randint(1, 2)
        else:
            n = rng.randint(2, 4) + (partner.tier.rank if partner.tier else 0)
        emails: set[str] = set()
        domain = partner.website_domain
        for email, name, title, contact_role in cabinet.get(partner.name, []):
            contacts.append(
                Contact(
                    public_id=ctx.uuid(),
                    partner=partner,
                    full_name=name,
                    job_title=title,
                    role=contact_role,
                    email=email,
                    phone=ctx.users[email].phone,
                    is_decision_maker=contact_role == ContactRole.EXECUTIVE,
                    birthday=datetime.date(rng.randint(1975, 1995), rng.randint(1, 12), rng.randint(1, 28)),
                    user=ctx.users[email],
                    created_at=partner.created_at,
                )
            )
        for k in range(n):
            role = CONTACT_ROLE_ORDER[k % len(CONTACT_ROLE_ORDER)]
            name, local = person(rng, partner.country)
            email = f"{local}@{domain}"
            if email in emails:
                email = f"{local}{rng.randint(2, 99)}@{domain}"
            emails.add(email)
            title = rng.choice(titles[role])
            birthday = None
            if rng.random() < 0.8:
                birthday = datetime.date(today.year - rng.randint(26, 62), rng.randint(1, 12), rng.randint(1, 28))
            contacts.append(
                Contact(
                    public_id=ctx.uuid(),
                    partner=partner,
                    full_name=name,
                    job_title=title,
                    role=role,
                    email=email,
                    phone=_phone(rng, partner._demo_calling),
                    is_decision_maker=role == ContactRole.EXECUTIVE
                    or (role == ContactRole.SALES and k == 1 and rng.random() < 0.5),
                    birthday=birthday,
                    is_active=rng.random() > 0.06,
                    created_at=partner.created_at + datetime.timedelta(days=rng.randint(0, 60)),
                )
            )
    # Birthday reminders have something to show this week.
    with_birthday = [c for c in contacts if c.birthday and c.user_id is None]
    for offset, contact in enumerate(rng.sample(with_birthday, 8)):
        day = today + datetime.timedelta(days=offset % 7)
        contact.birthday = datetime.date(contact.birthday.year, day.month, min(day.day, 28))
    made = Contact.objects.bulk_create(contacts, batch_size=BATCH)
    for contact in made:
        ctx.contacts.setdefault(contact.partner_id, []).append(contact)
    ctx.count("contacts", len(made))


def _seed_agreements(ctx: DemoContext) -> None:
    rng, today = ctx.rng, ctx.today
    agreements: list[Agreement] = []
    seq = 0
    renewal_candidates: list[Agreement] = []
    for partner in ctx.partners:
        if partner.status in (PartnerStatus.PROSPECT, PartnerStatus.APPLICANT):
            continue
        lang = "ru" if partner._demo_lang == "ru" else "en"
        contacts = ctx.contacts.get(partner.pk, [])
        responsible = next((c for c in contacts if c.role == ContactRole.EXECUTIVE), contacts[0] if contacts else None)
        tier_discount = partner.tier.discount_pct if partner.tier else Decimal("0")
        referral = partner.partner_type == PartnerType.REFERRAL

        def make(
            status,
            starts,
            ends,
            signed,
            renew,
            _partner=partner,
            _lang=lang,
            _responsible=responsible,
            _referral=referral,
            _discount=tier_discount,
        ):
            nonlocal seq
            seq += 1
            return Agreement(
                public_id=ctx.uuid(),
                partner=_partner,
                number=f"PA-{starts.year}-{seq:04d}",
                title=AGREEMENT_TITLE[_lang].format(
                    type=TYPE_LABEL_RU[_partner.partner_type] if _lang == "ru" else _partner.get_partner_type_display()
                ),
                status=status,
                commission_pct=Decimal(rng.choice(["5", "7.5", "10", "12", "15"]))
                if _referral
                else Decimal(rng.choice(["0", "2", "3", "5"])),
                discount_pct=Decimal("0") if _referral else _discount,
                payment_terms_days=rng.choice([14, 30, 30, 45, 60, 90]),
                service_format=SERVICE_FORMAT[_lang][_partner.partner_type],
                response_time_hours=rng.choice([4, 8, 24, 48]),
                vendor_responsible=_partner.owner,
                partner_responsible=_responsible,
                starts_on=starts,
                ends_on=ends,
                auto_renew=renew,
                signed_on=signed,
                created_at=datetime.datetime.combine(signed or starts, datetime.time(10), tzinfo=datetime.UTC),
            )

        joined = partner.created_at.date()
        if partner.status == PartnerStatus.ONBOARDING:
            starts = today + datetime.timedelta(days=rng.randint(-10, 20))
            signed = (starts - datetime.timedelta(days=3)) if rng.random() < 0.4 else None
            agreements.append(
                make(
                    AgreementStatus.ACTIVE if signed else AgreementStatus.DRAFT,
                    starts,
                    starts + datetime.timedelta(days=365),
                    signed,
                    False,
                )
            )
            continue
        # The current agreement runs in yearly terms from its start until after today.
        starts = max(
            joined + datetime.timedelta(days=rng.randint(5, 40)), today - datetime.timedelta(days=rng.randint(30, 700))
        )
        years = rng.choice([1, 1, 2, 3])
        ends = starts + datetime.timedelta(days=365 * years)
        while ends <= today:
            ends += datetime.timedelta(days=365)
        signed = starts - datetime.timedelta(days=rng.randint(1, 20))
        status = {
            PartnerStatus.TERMINATED: AgreementStatus.TERMINATED,
        }.get(partner.status, AgreementStatus.ACTIVE)
        current = make(status, starts, ends, signed, rng.random() < 0.4)
        agreements.append(current)
        if status == AgreementStatus.ACTIVE:
            renewal_candidates.append(current)
        # Older partners have the agreement that came before it.
        prev_start = starts - datetime.timedelta(days=365 * rng.choice([1, 2]))
        if prev_start > joined:
            agreements.append(
                make(
                    AgreementStatus.EXPIRED,
                    prev_start,
                    starts - DAY,
                    prev_start - datetime.timedelta(days=rng.randint(1, 15)),
                    False,
                )
            )
    # Renewal reminders: a dozen and a half active agreements end within the next 30 days.
    for agreement in rng.sample(renewal_candidates, min(16, len(renewal_candidates))):
        agreement.ends_on = max(agreement.starts_on, today + datetime.timedelta(days=rng.randint(2, 30)))
    Agreement.objects.bulk_create(agreements, batch_size=BATCH)
    ctx.count("agreements", len(agreements))


def _seed_interactions(ctx: DemoContext) -> None:
    rng, today, now = ctx.rng, ctx.today, ctx.now
    lead = ctx.user("lead@demo.prm")
    year_ago = today - datetime.timedelta(days=365)
    rows: list[Interaction] = []
    for partner in ctx.partners:
        lang = "ru" if partner._demo_lang == "ru" else "en"
        rank = partner.tier.rank if partner.tier else 0
        if partner.status == PartnerStatus.ACTIVE and not partner.is_dormant:
            n = rng.randint(4, 9) + rank * rng.randint(3, 6)
        elif partner.status == PartnerStatus.ACTIVE:
            n = rng.randint(2, 6)
        elif partner.status in (PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED):
            n = rng.randint(2, 7)
        elif partner.status == PartnerStatus.ONBOARDING:
            n = rng.randint(4, 8)
        else:
            n = rng.randint(1, 3)
        last = partner.last_activity_at.date()
        first = max(year_ago, partner.created_at.date())
        if first > last:
            first = last
        contacts = ctx.contacts.get(partner.pk, [])
        author = partner.owner or lead
        days = sorted(first + datetime.timedelta(days=rng.randint(0, (last - first).days)) for _ in range(n - 1))
        days.append(last)  # the latest touch is what last_activity_at shows
        for k, day in enumerate(days):
            kind = _weighted(rng, KIND_WEIGHTS)
            if partner.status in (PartnerStatus.PROSPECT, PartnerStatus.APPLICANT) and kind in (
                InteractionKind.TENDER,
                InteractionKind.TRAINING,
            ):
                kind = InteractionKind.CALL
            subject, body, step = rng.choice(INTERACTIONS[lang][kind])
            occurred = partner.last_activity_at if k == len(days) - 1 else ctx.at(day)
            due = done = None
            if step and rng.random() < 0.75:
                due = occurred.date() + datetime.timedelta(days=rng.randint(2, 21))
                if due < today - datetime.timedelta(days=2) and rng.random() < 0.93:
                    done = min(now, ctx.at(due - datetime.timedelta(days=rng.randint(0, 2))))
            else:
                step = ""
            rows.append(
                Interaction(
                    public_id=ctx.uuid(),
                    partner=partner,
                    author=lead if rng.random() < 0.07 else author,
                    contact=rng.choice(contacts) if contacts and kind != InteractionKind.NOTE else None,
                    kind=kind,
                    occurred_at=occurred,
                    subject=subject,
                    body=body,
                    next_step=step,
                    next_step_due=due,
                    next_step_done_at=done,
                    created_at=occurred,
                )
            )
    # Every manager's "next steps" list has work: a few due this week, a couple overdue.
    by_author: dict[int, list[Interaction]] = {}
    for row in rows:
        if row.author_id and row.partner.status == PartnerStatus.ACTIVE:
            by_author.setdefault(row.author_id, []).append(row)
    for author_rows in by_author.values():
        recent = [r for r in author_rows if (today - r.occurred_at.date()).days <= 10]
        older = [r for r in author_rows if 20 <= (today - r.occurred_at.date()).days <= 60]
        for row in rng.sample(recent, min(4, len(recent))):
            row.next_step = row.next_step or (
                "Follow up on the proposal" if row.subject[0].isascii() else "Уточнить статус предложения"
            )
            row.next_step_due = today + datetime.timedelta(days=rng.randint(0, 6))
            row.next_step_done_at = None
        for row in rng.sample(older, min(3, len(older))):
            row.next_step = row.next_step or (
                "Send the signed amendment" if row.subject[0].isascii() else "Отправить подписанное допсоглашение"
            )
            row.next_step_due = today - datetime.timedelta(days=rng.randint(3, 15))
            row.next_step_done_at = None
    Interaction.objects.bulk_create(rows, batch_size=BATCH)
    ctx.count("interactions", len(rows))


KAM_TEXT = {
    "structure": [
        "Head office in {city}; branches in {branches}. Subsidiary service company for field engineering.",
        "Holding with three legal entities: sales, services and a training centre. Offices in {branches}.",
    ],
    "related": [
        "Works with two of our competitors' products as well; main counterparty is the regional distributor. "
        "Competes with {competitor} in public tenders.",
        "Also an authorised partner of {competitor}. Key counterparties: two federal retail chains and a telecom operator.",
    ],
    "history": [
        "{y1}: won the regional bank tender (price and our references). {y2}: lost a manufacturing deal to "
        "{competitor} on delivery time. Framework agreement renewed on better terms.",
        "{y1}: joint pilot with a state customer, converted into a three-year contract. {y2}: lost a renewal on "
        "price after a competitor's dumping; won it back the next year.",
    ],
}
COMPETITORS = ["Contoso", "Fabrikam", "Tailspin", "Litware", "Adventure Works"]
KAM_CURRENCY = {
    Region.RUSSIA: Currency.RUB,
    Region.CIS: Currency.KZT,
    Region.EUROPE: Currency.EUR,
    Region.CHINA: Currency.CNY,
}
KAM_SCALE = {Currency.RUB: 1_000_000, Currency.KZT: 5_000_000, Currency.EUR: 10_000, Currency.CNY: 100_000}


def _seed_key_accounts(ctx: DemoContext) -> None:
    rng, today = ctx.rng, ctx.today
    northwind = ctx.partner(NORTHWIND)
    candidates = [
        p
        for p in ctx.partners
        if p.status == PartnerStatus.ACTIVE
        and p.tier
        and p.tier.rank >= 2
        and not p.is_dormant
        and p.pk != northwind.pk
    ]
    chosen = [northwind, *rng.sample(candidates, min(9, len(candidates)))]
    profiles = []
    for partner in chosen:
        partner.is_key_account = True
        contacts = ctx.contacts.get(partner.pk, [])
        sponsor = next((c for c in contacts if c.is_decision_maker), contacts[0] if contacts else None)
        others = [c for c in ctx.partners if c.region == partner.region and c.pk != partner.pk]
        branches = ", ".join(sorted({o.city for o in rng.sample(others, min(3, len(others)))}))
        competitor = rng.choice(COMPETITORS)
        currency = KAM_CURRENCY.get(partner.region, Currency.EUR)
        if partner.country != "KZ" and partner.region == Region.CIS:
            currency = Currency.RUB
        scale = KAM_SCALE[currency]
        one = Decimal(rng.randint(20, 120) * scale)
        owner = partner.owner or ctx.user("lead@demo.prm")
        profiles.append(
            KeyAccountProfile(
                partner=partner,
                general_info=f"{partner.legal_name}: {partner.description}",
                structure=rng.choice(KAM_TEXT["structure"]).format(
                    city=partner.city, branches=branches or partner.city
                ),
                related_organisations=rng.choice(KAM_TEXT["related"]).format(competitor=competitor),
                history=rng.choice(KAM_TEXT["history"]).format(
                    y1=today.year - 2, y2=today.year - 1, competitor=competitor
                ),
                our_team=f"{owner.full_name} (account owner), Dmitry Orlov (executive sponsor), presales: solution architect team",
                their_team=", ".join(f"{c.full_name} ({c.job_title})" for c in contacts[:4]),
                senior_sponsor=f"{sponsor.full_name}, {sponsor.job_title}" if sponsor else "",
                currency=currency,
                opportunity_1y=one,
                opportunity_3y=one * Decimal(rng.choice(["2.6", "2.8", "3.2"])),
                opportunity_5y=one * Decimal(rng.choice(["4.5", "5.0", "5.8"])),
                created_at=ctx.now - datetime.timedelta(days=rng.randint(30, 400)),
            )
        )
    KeyAccountProfile.objects.bulk_create(profiles, batch_size=BATCH)
    Partner.objects.bulk_update(chosen, ["is_key_account"], batch_size=BATCH)
    ctx.count("key-account profiles", len(profiles))


def _seed_invitations(ctx: DemoContext) -> None:
    """Northwind's admin brought in the rep by invitation, and has one invitation still open."""
    rng, now = ctx.rng, ctx.now
    northwind = ctx.partner(NORTHWIND)
    admin = ctx.user("partner@demo.prm")
    rep = ctx.user("rep@demo.prm")

    def token_hash() -> str:
        return hashlib.sha256(rng.randbytes(32)).hexdigest()

    accepted_on = rep.date_joined
    Invitation.objects.bulk_create(
        [
            Invitation(
                public_id=ctx.uuid(),
                partner=northwind,
                email=rep.email,
                full_name=rep.full_name,
                role=Role.PARTNER_REP,
                invited_by=admin,
                token_hash=token_hash(),
                expires_at=accepted_on + datetime.timedelta(hours=20),
                accepted_at=accepted_on,
                accepted_user=rep,
                created_at=accepted_on - datetime.timedelta(hours=4),
            ),
            Invitation(
                public_id=ctx.uuid(),
                partner=northwind,
                email="sophie.hughes@northwind-systems.co.uk",
                full_name="Sophie Hughes",
                role=Role.PARTNER_REP,
                invited_by=admin,
                token_hash=token_hash(),
                expires_at=now + datetime.timedelta(hours=18),
                created_at=now - datetime.timedelta(hours=6),
            ),
        ]
    )
    ctx.count("invitations", 2)
