"""The synthetic demo network: realistic data with planted truth that tests recover.

Everything is drawn from one ``numpy.random.Generator`` seeded once, in a fixed order, so a
seed means one data set. The planted truth (``DemoNetwork.truth``):

- ``driver_weights``: NPS is generated as ``intercept + sum(weight * rating) + noise``,
  rounded and clipped to 0-10, from the observed 1-10 driver ratings.
- ``dealer_weak_driver``: dealers whose rating on one driver is pulled down by
  ``weak_drop_latent / weight`` points (capped), so each costs about the same NPS.
- ``response_cause``: the root cause behind every comment given with a score below 9.
- ``golden_star_response_ids``: promoter comments that praise named staff or the dealer.
- ``repeat_repair_ro_ids``: repair orders that reopen the same VIN with the same fault within
  the window after the previous order closed; ``repeat_repair_pairs`` names both orders.
- ``careless_mechanics``, ``slow_sla_dealers``: who the planted repeats and breaches favour.
- ``red_flags_without_case``, ``misrouted_case_ids``: process failures the SLA review finds.
- ``action_effects``: improvement actions (``actions``) -> the change each made to its target
  at its dealer in the months after it closed: a driver's mean rating (up), or a root cause's
  share among the dealer's answers (down: a working action on a cause removes a share of its
  complaints); 0 for the do-nothing and the never-done ones. ``action_kinds`` says which is
  which (works / no_effect / not_done).
- ``return_rate_by_category``: the probability that a service customer's car comes back for a
  scheduled visit within 12 months, by the NPS category of the answer (``repair_orders``).
- ``funnel_rates``: each survey channel's reach and answer rates (``contacts``).
- ``case_root_cause``: the true cause of each case whose ``root_cause`` the team recorded
  (``team_label_share`` of the cases with a comment); ``mislabelled_case_ids``: the
  ``team_label_noise`` of them recorded as another cause.
- ``monthly_shocks`` and ``sustained_shifts`` (only when params switch them on; the demo
  does not): dealers' month-to-month shocks of their latent ratings and shifts that start
  in a known month and stay, with the NPS change each shift made (:func:`make_network`);
  ``cause_growth`` likewise, the causes planted to grow from a month on. What each cause costs
  in NPS points each month is :func:`planted_cause_costs` (from the planted chances, given
  the month's answers) or :func:`expected_cause_costs` on a large sample (in the population).
- ``campaigns`` and ``dip_actions`` (only when params switch them on): network-wide actions
  that leave no dealer to compare with, and actions opened in the month after a planted dip
  of their driver; their effects are in ``action_effects`` (:func:`make_network`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import load_params
from analysis.table_specs import TABLES

__all__ = [
    "ACTION_TEXT",
    "CAUSES",
    "CAUSE_ACTION_TEXT",
    "COMPLAINT_CATEGORIES",
    "COMPLAINT_TAILS_EN",
    "COMPLAINT_TAILS_RU",
    "DEALER_BRANDS",
    "DemoNetwork",
    "FAULTS",
    "INCIDENT_CHANNELS",
    "INCIDENT_TEXT",
    "INITIALS",
    "LONG_REPAIR_OPENERS_EN",
    "LONG_REPAIR_OPENERS_RU",
    "LONG_SERVICE_REASONS",
    "LOOP_STREAM",
    "PRAISE_GOLDEN_EN",
    "PRAISE_GOLDEN_RU",
    "PRAISE_PLAIN_EN",
    "PRAISE_PLAIN_RU",
    "REASON_TEXT",
    "RESOLUTIONS",
    "ResponseStream",
    "SHIFT_STREAM",
    "STAFF_NAMES",
    "STAFF_NAMES_EN",
    "STREAM_BLOCK_ROWS",
    "STREAM_COMMENT_POOL",
    "STREAM_TABLES",
    "SURNAMES",
    "StreamBlock",
    "StreamWritten",
    "VIN_ALPHABET",
    "cause_chances",
    "demo_comments",
    "expected_cause_costs",
    "make_network",
    "planted_cause_costs",
    "score_categories",
    "stream_responses",
    "write_responses_partitioned",
]

# --- text material ---------------------------------------------------------------------------
# "{a|b}" picks one alternative. Each cause has Russian and English phrasings. The six causes
# behind "the repair took too long" share an optional opener, as real comments do.
LONG_REPAIR_OPENERS_RU = ["ремонт занял слишком много времени", "очень долгий ремонт",
                          "долго делали машину", "ремонт затянулся"]
LONG_REPAIR_OPENERS_EN = ["the repair took too long", "repair took ages", "slow repair"]

CAUSES: dict[str, dict] = {
    "parts_logistics": {
        "driver": "repair_quality", "long_repair": True, "severity": 1.0,
        "ru": ["{ждали|ожидали} запчасти {три недели|месяц|две недели} со склада импортера",
               "{запчасти|детали} везли из {Москвы|центрального склада} {месяц|три недели}",
               "нужной детали не было на складе, {заказ|поставка} шла {долго|почти месяц}",
               "{долго|очень долго} ждали поставку запчастей"],
        "en": ["waited {three weeks|a month} for parts from the importer warehouse",
               "parts delivery from the central warehouse took {weeks|a month}"],
    },
    "parts_order_failure": {
        "driver": "repair_quality", "long_repair": True, "severity": 0.8,
        "ru": ["сбой {в системе|в программе} заказа запчастей, {заказ|запчасть} потерял{ся|и}",
               "{заказ|заявка} на {деталь|запчасть} {потерялась|не ушла} из-за {сбоя|ошибки} системы",
               "{система|программа} заказа {зависла|не работала}, {деталь|запчасти} заказали "
               "{повторно|заново}"],
        "en": ["the parts ordering system {failed|crashed} and my order was lost",
               "a system error in parts ordering, they had to order {again|twice}"],
    },
    "wrong_time_estimate": {
        "driver": "staff", "long_repair": True, "severity": 0.7,
        "ru": ["обещали {за два часа|за час|к обеду}, а {делали весь день|отдали вечером}",
               "{неправильно|неверно} {рассчитали|оценили} время ремонта",
               "сказали {один день|день}, а ремонт занял {три дня|неделю}",
               "срок ремонта {назвали|обозначили} {неправильно|неверно}, {ждал|прождал} "
               "{намного|гораздо} дольше"],
        "en": ["promised {two hours|one hour}, it took the whole day",
               "the repair time was {estimated wrong|badly estimated}"],
    },
    "no_call_when_ready": {
        "driver": "staff", "long_repair": True, "severity": 0.9,
        "ru": ["машина была готова, {но|а} никто не {позвонил|перезвонил}",
               "не {сообщили|позвонили} что {автомобиль|машина} готов{|а}",
               "сам звонил {узнать|уточнить} готова ли машина, {мне|никто} не "
               "{перезвонили|сообщил}",
               "{автомобиль|машина} {стоял|стояла} готов{|ая} два дня, {а|но} {меня|нас} не "
               "{известили|предупредили}"],
        "en": ["nobody called me when the car was ready",
               "the car was ready {for two days|days ago} but no one {told|called} me"],
    },
    "poor_diagnostics": {
        "driver": "repair_quality", "long_repair": True, "severity": 1.1,
        "ru": ["{долго|неделю} не могли найти причину {неисправности|поломки}",
               "диагностика {ничего не показала|не нашла причину}, {ездил|приезжал} "
               "{три|несколько} раз{|а}",
               "{неправильно|неверно} {определили|продиагностировали} неисправность",
               "диагност{ы|} {не смогли|не сумели} найти {причину|проблему}"],
        "en": ["they could not find the cause of the fault for {a week|days}",
               "poor diagnostics, {wrong fault found|they diagnosed the wrong thing}"],
    },
    "wanted_faster": {
        "driver": None, "long_repair": True, "severity": 0.3,
        "ru": ["хотелось бы {быстрее|побыстрее}", "{долговато|долго}, {можно|хотелось бы} "
               "{быстрее|побыстрее}", "{в целом|всё} нормально, но {хотелось бы|можно} "
               "{быстрее|побыстрее}"],
        "en": ["{ok|fine}, but could be faster", "would like it {faster|quicker}"],
    },
    "booking": {
        "driver": "booking", "long_repair": False, "severity": 0.6,
        "ru": ["{невозможно|не могу|не получилось} дозвониться {чтобы записаться|для записи}",
               "запись на {сервис|ТО} только через {две недели|месяц}",
               "онлайн{ |-}запись не работает", "{долго|очень долго} {ждал|ждала} записи на "
               "{сервис|ТО}", "записали не на то время, {пришлось|приехал и} ждать"],
        "en": ["could not get through to book a service",
               "the {online booking|booking} {does not work|is broken}",
               "the first free {slot|booking} was {two weeks|a month} away"],
    },
    "staff_attitude": {
        "driver": "staff", "long_repair": False, "severity": 1.2,
        "ru": ["мастер{-| }приемщик {хамил|грубил|нагрубил}", "{грубый|хамоватый} менеджер",
               "отношение персонала {безразличное|наплевательское|ужасное}",
               "{сотрудник|менеджер} {разговаривал|общался} {грубо|свысока|неуважительно}"],
        "en": ["the service advisor was {rude|impolite}", "{rude|unfriendly} staff",
               "the manager treated me {badly|with disrespect}"],
    },
    "price": {
        "driver": None, "long_repair": False, "severity": 0.5,
        "ru": ["{дорого|очень дорого|цены кусаются}", "цены на {ТО|обслуживание} {завышены|"
               "слишком высокие}", "навязали {лишние|ненужные} работы", "{стоимость|цена} "
               "ремонта {выше|больше} чем {обещали|говорили}"],
        "en": ["{too expensive|overpriced}", "the price was higher than {quoted|promised}",
               "they sold me unnecessary work"],
    },
    "repair_quality": {
        "driver": "repair_quality", "long_repair": False, "severity": 1.3,
        "ru": ["после ремонта {проблема|неисправность} {вернулась|осталась}",
               "{плохо|некачественно} отремонтировали, {пришлось|снова пришлось} вернуться",
               "{приезжал|приезжаю} {несколько|уже третий} раз с {одной и той же|этой же} "
               "{проблемой|неисправностью}", "{некачественный|плохой} ремонт, {снова|опять} "
               "{стучит|течет|не работает}"],
        "en": ["{poor quality repair|bad repair}, the problem came back",
               "came {back several times|three times} with the same fault"],
    },
    "cleanliness": {
        "driver": "atmosphere", "long_repair": False, "severity": 0.4,
        "ru": ["{грязный|испачканный} салон после {ремонта|сервиса}",
               "в зоне ожидания {грязно|не убрано}", "машину {вернули|отдали} {грязной|"
               "немытой}", "{в туалете|в клиентской зоне} {грязно|не убрано}"],
        "en": ["the car came back dirty", "the waiting area was dirty"],
    },
}
COMPLAINT_TAILS_RU = ["", "", "", ".", "!", ", {очень|крайне} {недоволен|разочарован}",
                      ", {больше не приеду|поеду к другому дилеру}", ". Разберитесь пожалуйста"]
COMPLAINT_TAILS_EN = ["", "", ".", "!", ", very disappointed", ". Please sort it out"]

PRAISE_GOLDEN_RU = ["{огромное|большое} спасибо мастеру {name}, всё {сделал|сделали} {быстро|"
                    "отлично}", "{менеджер|мастер-приемщик} {name} {молодец|профессионал}, "
                    "{рекомендую|всем советую}", "{лучший|отличный} дилер в городе, {спасибо|"
                    "благодарю} {name}", "благодарю {name} за {внимательное отношение|помощь}"]
PRAISE_GOLDEN_EN = ["many thanks to {name}, {great|excellent} job",
                    "{name} was {very helpful|a true professional}, best dealer in town"]
PRAISE_PLAIN_RU = ["всё {хорошо|отлично|нормально}", "{спасибо|благодарю}", "{всё понравилось|"
                   "доволен}", "{быстро|вовремя} и {качественно|аккуратно}"]
PRAISE_PLAIN_EN = ["all good", "{fine|ok}, thanks", "quick and {good|fine}"]
STAFF_NAMES = ["Алексею", "Сергею", "Ивану", "Дмитрию", "Андрею", "Ольге", "Марине", "Павлу",
               "Елене", "Николаю"]
STAFF_NAMES_EN = ["Alexey", "Sergey", "Ivan", "Dmitry", "Andrey", "Olga", "Marina", "Pavel"]

SURNAMES = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Соколов", "Попов", "Лебедев", "Козлов",
            "Новиков", "Морозов", "Волков", "Алексеев", "Федоров", "Николаев", "Орлов", "Андреев",
            "Макаров", "Захаров", "Зайцев", "Павлов", "Семенов", "Голубев", "Виноградов",
            "Богданов"]
INITIALS = "АБВГДЕИКЛМНОПРСТ"
DEALER_BRANDS = ["Автоцентр", "АвтоМир", "Авто-Премиум", "Моторс", "Автолюкс", "Drive",
                 "Major", "Рольф", "Авилон", "Автодом", "Атлант-М", "Сигма"]

FAULTS = [("ENG-01", "Пропуски зажигания"), ("ENG-02", "Течь масла из двигателя"),
          ("SUS-01", "Стук в передней подвеске"), ("SUS-02", "Скрип задних амортизаторов"),
          ("BRK-01", "Скрип тормозных колодок"), ("BRK-02", "Вибрация при торможении"),
          ("ELC-01", "Не работает кондиционер"), ("ELC-02", "Ошибка датчика ABS"),
          ("ELC-03", "Разряжается аккумулятор"), ("TRN-01", "Рывки при переключении передач"),
          ("TRN-02", "Шум в коробке передач"), ("BOD-01", "Сверчок в панели приборов"),
          ("MNT-01", "Плановое ТО"), ("MNT-02", "Замена шин")]

INCIDENT_CHANNELS = {"phone": 0.35, "email": 0.15, "web_form": 0.2, "messenger": 0.12,
                     "in_store": 0.1, "social_media": 0.08}
COMPLAINT_CATEGORIES = {"long_service": 0.35, "poor_consultation": 0.2, "promotion_terms": 0.12,
                        "product_quality": 0.18, "rude_staff": 0.1, "other": 0.05}
LONG_SERVICE_REASONS = {"few_staff": 0.3, "waiting_for_parts": 0.25, "system_failure": 0.15,
                        "document_processing": 0.2, "queue_at_cashier": 0.1}
INCIDENT_TEXT = {
    "long_service": "Долгое обслуживание: {reason}",
    "poor_consultation": "{Менеджер|Консультант} не смог ответить на вопросы",
    "promotion_terms": "{Не применили скидку|Отказали в скидке} по акции",
    "product_quality": "{Дефект|Неисправность} {автомобиля|лакокрасочного покрытия}",
    "rude_staff": "Грубое обращение {сотрудника|персонала}",
    "other": "{Прочее|Другое} обращение",
    "thanks": "{Спасибо|Благодарность} {сотрудникам|мастеру|менеджеру}",
}
REASON_TEXT = {"few_staff": "мало сотрудников", "waiting_for_parts": "ожидание запчастей",
               "system_failure": "сбой системы", "document_processing": "долгое оформление "
               "документов", "queue_at_cashier": "очередь в кассу"}
RESOLUTIONS = ["Извинились, предложили скидку на следующее ТО", "Провели повторную диагностику",
               "Объяснили причины, клиент удовлетворен", "Компенсировали стоимость работ",
               "Клиент не вышел на связь", "Устранили неисправность повторно"]

_ALT = re.compile(r"\{([^{}]*)\}")
#: The spawn key of the random stream that the closing-the-loop tables (actions, returns,
#: contacts) draw from; months of the streaming writer use keys 0, 1, ...
LOOP_STREAM = 0x100F
#: The spawn key of the stream that draws dealers' monthly shocks and the dealers of planted
#: sustained shifts: switching them on leaves every other draw as it was.
SHIFT_STREAM = 0x5F1F
ACTION_TEXT = {
    "product_quality": ["Разбор претензий по качеству автомобиля с импортером",
                        "Предпродажная подготовка: чек-лист"],
    "repair_quality": ["Контроль качества ремонта мастером перед выдачей",
                       "Обучение механиков диагностике", "Повторная проверка после ремонта"],
    "booking": ["Второй оператор на запись в часы пик", "Онлайн-запись на сайте",
                "Напоминание о записи за день по SMS"],
    "staff": ["Тренинг по работе с клиентами для мастеров-приемщиков",
              "Звонок клиенту при готовности автомобиля", "Стандарт общения с клиентом"],
    "atmosphere": ["Уборка клиентской зоны каждые два часа", "Обновление зоны ожидания"],
}
CAUSE_ACTION_TEXT = {
    "parts_logistics": "Страховой запас ходовых запчастей на складе дилера",
    "parts_order_failure": "Проверка отправки заказов запчастей в конце дня",
    "wrong_time_estimate": "Нормы времени на типовые работы для мастеров-приемщиков",
    "no_call_when_ready": "Звонок клиенту при готовности автомобиля",
    "poor_diagnostics": "Обучение диагностов, второй диагност на сложные случаи",
    "wanted_faster": "Экспресс-сервис для ТО",
    "staff_attitude": "Стандарт общения с клиентом, разбор жалоб с персоналом",
    "price": "Согласование стоимости работ с клиентом до начала ремонта",
    "cleanliness": "Чехлы и мойка автомобиля после ремонта, уборка клиентской зоны",
}
VIN_ALPHABET = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))


def _expand(template: str, rng: np.random.Generator, **names: str) -> str:
    """Fill ``{a|b|c}`` alternatives at random and ``{name}`` placeholders from ``names``."""

    def pick(match: re.Match) -> str:
        body = match.group(1)
        if body in names:
            return names[body]
        options = body.split("|")
        return options[rng.integers(len(options))]

    return _ALT.sub(pick, template)


def _typo(text: str, rng: np.random.Generator) -> str:
    """One realistic typo: swap, drop or double a letter inside a word of 4+ letters."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = candidates[rng.integers(len(candidates))]
    w = words[i]
    j = int(rng.integers(1, len(w) - 1))
    op = rng.integers(3)
    if op == 0:
        w = w[: j - 1] + w[j] + w[j - 1] + w[j + 1:]
    elif op == 1:
        w = w[:j] + w[j + 1:]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _phone(rng: np.random.Generator) -> str:
    d = rng.integers(0, 10, size=10)
    fmt = rng.integers(3)
    s = "".join(map(str, d[3:]))
    if fmt == 0:
        return f"+7 9{d[0]}{d[1]} {s[:3]}-{s[3:5]}-{s[5:]}"
    if fmt == 1:
        return f"89{d[0]}{d[1]}{s}"
    return f"8 (9{d[0]}{d[1]}) {s[:3]} {s[3:5]} {s[5:]}"


_TRANSLIT = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh",
                           "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n",
                           "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
                           "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ы": "y",
                           "э": "e", "ю": "yu", "я": "ya", "ь": "", "ъ": ""})


def _email(rng: np.random.Generator) -> str:
    name = SURNAMES[rng.integers(len(SURNAMES))].lower().translate(_TRANSLIT)
    domain = ["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "list.ru"][rng.integers(5)]
    return f"{name}{rng.integers(1, 999)}@{domain}"


@dataclass
class DemoNetwork:
    """The demo network's tables and planted truth (see the module docstring)."""

    dealers: pd.DataFrame
    invitations: pd.DataFrame
    responses: pd.DataFrame
    cases: pd.DataFrame
    repair_orders: pd.DataFrame
    incidents: pd.DataFrame
    actions: pd.DataFrame
    contacts: pd.DataFrame
    truth: dict = field(default_factory=dict)

    def write(self, directory: str | Path) -> Path:
        """Save every table as ``<directory>/<table>.parquet`` and ``truth.json``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            getattr(self, name).to_parquet(out / f"{name}.parquet", index=False)
        (out / "truth.json").write_text(
            json.dumps(self.truth, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        return out

    @classmethod
    def read(cls, directory: str | Path) -> DemoNetwork:
        """Load a network written by :meth:`write`."""
        src = Path(directory)
        tables = {name: pd.read_parquet(src / f"{name}.parquet") for name in TABLES}
        truth = json.loads((src / "truth.json").read_text(encoding="utf-8"))
        return cls(**tables, truth=truth)


def make_network(
    *,
    n_dealers: int = 60,
    n_regions: int = 6,
    months: int = 12,
    responses_per_month: int = 5000,
    seed: int = 0,
    params: dict | None = None,
) -> DemoNetwork:
    """Generate the demo network.

    Parameters
    ----------
    n_dealers, n_regions, months, responses_per_month
        Size of the network; ``responses_per_month`` is the expected count over the network.
    seed
        The one source of randomness: the same seed gives the same tables and truth.
    params
        The ``demo`` section of params/network.yaml (loaded when omitted).

    Notes
    -----
    Two settings of ``params`` plant month-to-month change (both off in the demo, and then
    nothing is drawn for them: the tables are those of a network without them):

    ``monthly_shock_sd`` / ``monthly_shock_common_sd``
        Each dealer-month moves its answers' latent ratings by a shock of its own: drawn
        per driver with the first SD, plus one draw shared by the drivers with the second
        (rating points). At 0.2 per driver a dealer's monthly NPS moves by about 3 points
        (SD) beyond its sampling noise; shared by the drivers, about 6.5.
        ``truth["monthly_shocks"]``: the settings and each dealer's shock of the score by
        month (``sum(weight * shock)``, score points).
    ``sustained_shifts``
        A list of ``{dealers, shift, start, touchpoint}``: ``dealers`` a number (drawn among
        the larger half of the network) or a list of dealer ids, ``shift`` latent rating
        points added to every driver from ``start`` (``YYYY-MM``, or a month's position in
        the series, negative from the end) on, at one ``touchpoint`` or (None) at all.
        ``truth["sustained_shifts"]``: one record per dealer with its ``start_month`` and
        ``nps_change``, the mean change the shift made to the NPS of its answers (the same
        answers drawn without it).

    A third plants change in the root causes (off in the demo, and then nothing changes):

    ``cause_growth``
        A list of ``{cause, factor, start}``: from ``start`` (``YYYY-MM``, or a position,
        negative from the end) on, a commented answer below 9 names ``cause`` ``factor`` times
        as often before the causes' chances are renormalised (:func:`cause_chances`), so the
        cause costs more and the others less. Who answers, their scores and ratings and who
        comments are drawn as without it; the texts (and what is drawn after them: contacts,
        cases) are another draw. ``truth["cause_growth"]`` records each with its
        ``start_month``; :func:`planted_cause_costs` gives every cause's expected cost by month.

    Two more plant improvement actions that a difference in differences cannot or can hardly
    measure (issue 25; both off in the demo, and then nothing is drawn for them). Their
    actions are in ``actions``, their planted effects in ``truth["action_effects"]`` and their
    kinds in ``truth["action_kinds"]``, as the other actions' are:

    ``campaigns``
        A list of ``{target, start}``: a network-wide campaign on a driver, opened the same
        day (the first of ``start``, ``YYYY-MM`` or a month's position, negative from the end)
        at every dealer, so no dealer is left to compare with; it takes the place of the
        dealers' own actions on that driver (they are not drawn into the table). Each
        dealer's action works, does nothing or is never done as the other actions
        (``action_kinds``, ``action_effect``). ``truth["campaigns"]``: one
        record per campaign with its ``target``, ``start_month`` and ``action_ids``.
    ``dip_actions`` / ``dip_depth``
        This many dealers (drawn among the larger half of the network) act on a driver they
        have no other action on in the month after its dip: their latent rating of it is
        ``dip_depth`` points lower for one month (the dip) and back the next. Each action
        works, does nothing or is never done as the others. ``truth["dip_actions"]``: each
        action's ``dealer_id``, ``target``, ``dip_month`` and ``dip``.
    """
    p, drivers, rng, periods, dealers, dealer_state = _setup(
        n_dealers, n_regions, months, seed, params)
    end = periods[-1]
    as_of = (end + 1).to_timestamp()
    # the closing-the-loop tables draw from a stream of their own: who answers when is the
    # same with or without actions; the actions move ratings and scores, and through the
    # scores the red-flag cases and what is drawn after them
    loop_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(LOOP_STREAM,)))
    actions, drawn = _actions(loop_rng, dealers, dealer_state, periods, p, drivers, as_of)
    # campaigns and dip-triggered actions (opt-in) draw from a stream of their own as well; a
    # campaign takes the place of the dealers' own actions on its driver
    own = ~drawn["target"].isin([c["target"] for c in p.get("campaigns") or []])
    actions, plan = actions.loc[own], drawn.loc[own]
    extra, dips = _campaigns_and_dips(np.random.default_rng(np.random.SeedSequence(
        seed, spawn_key=(LOOP_STREAM, 2))), dealers, dealer_state, periods, p, drivers, plan,
        as_of)
    moves = _planted_moves(np.random.default_rng(np.random.SeedSequence(
        seed, spawn_key=(SHIFT_STREAM,))), dealers, dealer_state, periods, p, drivers,
        dips=dips)
    invitations, responses, truth_resp = _responses(rng, dealers, dealer_state, periods,
                                                    responses_per_month, p, drivers,
                                                    pd.concat([plan, extra], ignore_index=True)
                                                    if len(extra) else plan, moves=moves)
    # actions on root causes draw from a stream of their own too, and change only comments:
    # every other table (and every draw of the other streams) stays as it was
    cause_rng = np.random.default_rng(np.random.SeedSequence(seed,
                                                             spawn_key=(LOOP_STREAM, 1)))
    cause_plan = _cause_actions(cause_rng, drawn, responses, truth_resp, periods, p, as_of,
                                drivers)
    actions = _with_actions(_with_actions(actions, cause_plan), extra)
    cases, slow, truth_cases = _cases(rng, responses, dealers, p, as_of)
    returns = _returns(loop_rng, responses, p, as_of)
    # a child stream, so that the labels leave every other table as it was
    cases, truth_labels = _team_labels(rng.spawn(1)[0], cases, truth_resp["response_cause"], p)
    repair_orders, truth_ro = _repair_orders(rng, responses, dealers, p, periods,
                                             returns=returns, loop_rng=loop_rng)
    incidents = _incidents(rng, dealers, periods, p, as_of)
    contacts = _contacts(loop_rng, dealers, dealer_state, periods, p)
    truth_loop = {
        "action_effects": {**_planted_effects(plan, responses, truth_resp),
                           **dict(zip(cause_plan["action_id"], cause_plan["effect"])),
                           **_planted_effects(extra, responses, truth_resp)},
        "action_kinds": {**dict(zip(plan["action_id"], plan["kind"])),
                         **dict(zip(cause_plan["action_id"], cause_plan["kind"])),
                         **dict(zip(extra["action_id"], extra["kind"]))},
        **_campaign_and_dip_truth(extra, periods),
        "return_rate_by_category": {k: float(v)
                                    for k, v in p["return_rate_by_category"].items()},
        "funnel_rates": {c: {k: float(v) for k, v in r.items()}
                         for c, r in p["funnel_rates"].items()},
    }
    truth_resp.pop("_lift", None)
    truth_moves = truth_resp.pop("_moves", {})
    if p.get("cause_growth"):  # only when planted: the demo's truth stays as it was
        truth_moves["cause_growth"] = [
            {"cause": g["cause"], "factor": float(g["factor"]),
             "start_month": str(_growth_start(g.get("start", -1), periods))}
            for g in p["cause_growth"]]

    truth = {
        "seed": seed,
        "as_of": as_of.isoformat(),
        "driver_weights": {d: float(p["driver_weights"][d]) for d in drivers},
        "intercept": float(p["intercept"]),
        "dealer_weak_driver": dealer_state["weak"],
        "weak_drop": dealer_state["weak_drop"],
        "slow_sla_dealers": slow,
        **truth_resp,
        **truth_cases,
        **truth_labels,
        **truth_ro,
        **truth_loop,
        **truth_moves,
    }
    return DemoNetwork(dealers, invitations, responses, cases, repair_orders, incidents,
                       actions, contacts, truth)


def _setup(n_dealers, n_regions, months, seed, params):
    """What every generator starts from: params, the seeded stream, the months, the dealers
    (drawn first, so that one seed gives the same dealers and weak drivers everywhere)."""
    p = params if params is not None else load_params("network")["demo"]
    drivers = list(load_params("drivers")["drivers"])
    regions_all = p["regions"]
    if not 1 <= n_regions <= len(regions_all):
        raise ValueError(f"n_regions must be between 1 and {len(regions_all)}, got {n_regions}")
    if n_dealers < n_regions:
        raise ValueError(f"n_dealers ({n_dealers}) must be at least n_regions ({n_regions})")
    rng = np.random.default_rng(seed)
    periods = pd.period_range(end=pd.Period(p["end_month"], freq="M"), periods=months, freq="M")
    dealers, state = _dealers(rng, n_dealers, dict(list(regions_all.items())[:n_regions]), p,
                              drivers)
    return p, drivers, rng, periods, dealers, state


def _dealers(rng, n_dealers, regions, p, drivers):
    region_names = list(regions)
    # every region gets at least one dealer; the rest spread unevenly, as real networks are
    region = np.concatenate([np.arange(len(region_names)),
                             rng.choice(len(region_names), n_dealers - len(region_names),
                                        p=_norm(np.linspace(1.6, 0.6, len(region_names))))])
    region = np.sort(region)
    cities, names = [], []
    for r in region:
        city_list = regions[region_names[r]]
        city = city_list[rng.integers(len(city_list))]
        cities.append(city)
        names.append(f"{DEALER_BRANDS[rng.integers(len(DEALER_BRANDS))]} {city}")
    ids = [f"D{i + 1:03d}" for i in range(n_dealers)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # two dealers of one brand in one city get a number
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} {seen[n]}"
    dealers = pd.DataFrame({"dealer_id": ids, "dealer_name": names,
                            "region": [region_names[r] for r in region], "city": cities})

    size = rng.lognormal(0.0, 0.6, n_dealers)
    rate = rng.uniform(p["response_rate"]["min"], p["response_rate"]["max"], n_dealers)
    offsets = rng.normal(0.0, p["dealer_offset_sd"], (n_dealers, len(drivers)))
    # 0 plants none (a network with only its natural spread); any other share at least one
    n_weak = max(1, round(p["weak_dealer_share"] * n_dealers)) if p["weak_dealer_share"] else 0
    # weak dealers are drawn among the larger half so that their weakness is measurable
    big = np.argsort(-size)[: max(n_weak, n_dealers // 2)]
    weak_idx = np.sort(rng.choice(big, n_weak, replace=False))
    candidates = p["weak_driver_candidates"]
    weak, weak_drop = {}, {}
    for k, i in enumerate(weak_idx):
        drv = candidates[(k + rng.integers(len(candidates))) % len(candidates)]
        drop = min(p["weak_drop_max"], p["weak_drop_latent"] / p["driver_weights"][drv])
        offsets[i, drivers.index(drv)] -= drop
        # the weakness is the dealer's one clear gap: its other drivers are not below par
        others = [j for j, d in enumerate(drivers) if d != drv]
        offsets[i, others] = np.abs(offsets[i, others])
        weak[ids[i]] = drv
        weak_drop[ids[i]] = round(float(drop), 4)
    state = {"size": size, "rate": rate, "offsets": offsets, "weak": weak,
             "weak_drop": weak_drop}
    return dealers, state


def _norm(x):
    x = np.asarray(x, dtype=float)
    return x / x.sum()


def _month_position(periods: pd.PeriodIndex, start) -> int:
    """The position in ``periods`` of a month given as ``YYYY-MM`` or as a position
    (negative from the end)."""
    if isinstance(start, int | np.integer):
        return int(start) % len(periods)
    return int(periods.get_loc(pd.Period(str(start), freq="M")))


def _planted_moves(rng, dealers, st, periods, p, drivers, *, dips=()) -> dict | None:
    """Dealers' monthly shocks, the planted sustained shifts (make_network's Notes) and the
    one-month ``dips`` (``(dealer, month, driver, depth)`` positions and latent points) before
    dip-triggered actions, or None when none is on (then nothing is drawn)."""
    sd = float(p.get("monthly_shock_sd", 0.0))
    common_sd = float(p.get("monthly_shock_common_sd", 0.0))
    specs = p.get("sustained_shifts") or []
    if sd <= 0 and common_sd <= 0 and not specs and not dips:
        return None
    n_d, n_m, n_k = len(dealers), len(periods), len(drivers)
    shocks = (rng.normal(0.0, sd, (n_d, n_m, n_k)) if sd > 0 else np.zeros((n_d, n_m, n_k)))
    if common_sd > 0:
        shocks = shocks + rng.normal(0.0, common_sd, (n_d, n_m, 1))
    for dealer, month, driver, depth in dips:
        shocks[dealer, month, driver] += depth
    ids = dealers["dealer_id"].tolist()
    big = np.sort(np.argsort(-st["size"])[: max(1, n_d // 2)])
    shifts = []
    for spec in specs:
        who = spec.get("dealers", 1)
        if isinstance(who, int | np.integer):
            chosen = np.sort(rng.choice(big, min(int(who), len(big)), replace=False))
        else:
            unknown = sorted(set(who) - set(ids))
            if unknown:
                raise ValueError(f"sustained_shifts names dealers the network lacks: {unknown}")
            chosen = np.array([ids.index(d) for d in who])
        first = _month_position(periods, spec.get("start", -3))
        for d in chosen:
            shifts.append({"dealer": int(d), "dealer_id": ids[d],
                           "touchpoint": spec.get("touchpoint"), "month": first,
                           "start_month": str(periods[first]), "shift": float(spec["shift"])})
    weights = np.array([p["driver_weights"][d] for d in drivers])
    truth = {"monthly_shocks": {
        "sd": sd, "common_sd": common_sd,
        "score": {ids[d]: [round(float(v), 4) for v in shocks[d] @ weights] for d in range(n_d)},
    }} if sd > 0 or common_sd > 0 else {}
    return {"shocks": shocks, "shifts": shifts, "truth": truth}


def _moved_answers(rng, p, st, drivers, di, mi, touchpoint, month_no, drift, shift, moves):
    """:func:`_answers` with the planted moves: the monthly shocks and sustained shifts
    added to every driver's latent rating. The same answers are drawn once more without the
    sustained shifts (from a copy of the generator, so the draws are the same) to record
    what each shift changed."""
    import copy

    shocks = moves["shocks"][di, mi]
    planted = np.zeros(len(di))
    hits = []
    for s in moves["shifts"]:
        hit = (di == s["dealer"]) & (mi >= s["month"])
        if s["touchpoint"] is not None:
            hit &= touchpoint == s["touchpoint"]
        planted[hit] += s["shift"]
        hits.append(hit)
    without = None
    if hits:
        _, without, _, _ = _answers(copy.deepcopy(rng), p, st["offsets"][di] + shocks, drivers,
                                    touchpoint, month_no, drift, shift=shift)
    ratings, score, css, lift = _answers(rng, p, st["offsets"][di] + shocks + planted[:, None],
                                         drivers, touchpoint, month_no, drift, shift=shift)
    records = []
    for s, hit in zip(moves["shifts"], hits, strict=True):
        value = np.select([score >= 9, score <= 6], [100.0, -100.0], 0.0)
        before = np.select([without >= 9, without <= 6], [100.0, -100.0], 0.0)
        change = float((value[hit] - before[hit]).mean()) if hit.any() else 0.0
        records.append({k: s[k] for k in ("dealer_id", "touchpoint", "start_month", "shift")}
                       | {"nps_change": round(change, 4), "answers": int(hit.sum())})
    truth = dict(moves["truth"])
    if moves["shifts"]:
        truth["sustained_shifts"] = records
    return ratings, score, css, lift, truth


def _responses(rng, dealers, st, periods, per_month, p, drivers, plan=None, *, moves=None):
    tps = list(p["touchpoint_shares"])
    tp_share = _norm([p["touchpoint_shares"][t] for t in tps])
    n_m = len(periods)
    dealer_share = _norm(st["size"])
    expected = per_month * dealer_share[:, None, None] * tp_share[None, :, None] * np.ones(n_m)
    invited = rng.poisson(expected / st["rate"][:, None, None])
    counts = rng.binomial(invited, st["rate"][:, None, None])
    d_idx, t_idx, m_idx = np.indices(counts.shape)
    invitations = pd.DataFrame({
        "dealer_id": dealers["dealer_id"].to_numpy()[d_idx.ravel()],
        "touchpoint": np.array(tps)[t_idx.ravel()],
        "month": periods.strftime("%Y-%m")[m_idx.ravel()],
        "invited": invited.ravel().astype("int64"),
    })

    rep = counts.ravel()
    di, ti, mi = (np.repeat(a.ravel(), rep) for a in (d_idx, t_idx, m_idx))
    n = len(di)
    start = periods.to_timestamp().to_numpy()[mi]
    days = periods.days_in_month.to_numpy()[mi]
    seconds = (rng.random(n) * days).astype(int) * 86400 + rng.integers(9 * 3600, 21 * 3600, n)
    responded_at = pd.to_datetime(start) + pd.to_timedelta(seconds, unit="s")

    # latent customer mood: seasonal dip in winter plus a slow regional drift
    month_no = pd.DatetimeIndex(responded_at).month.to_numpy()
    region_code = pd.factorize(dealers["region"])[0][di]
    drift = (rng.normal(0, p["regional_drift_sd"], region_code.max() + 1)[region_code]
             * (mi - n_m / 2))
    shift = None if plan is None else _action_shift(plan, dealers, di, responded_at, drivers)
    truth_moves = {}
    if moves is None:
        ratings, nps, css, lift = _answers(rng, p, st["offsets"][di], drivers,
                                           np.array(tps)[ti], month_no, drift, shift=shift)
    else:
        ratings, nps, css, lift, truth_moves = _moved_answers(
            rng, p, st, drivers, di, mi, np.array(tps)[ti], month_no, drift, shift, moves)

    order = np.argsort(responded_at.to_numpy(), kind="stable")
    ids = np.array([f"R{i + 1:07d}" for i in range(n)])
    vins = _vins(rng, n)
    frame = pd.DataFrame({
        "dealer_id": dealers["dealer_id"].to_numpy()[di],
        "touchpoint": np.array(tps)[ti],
        "responded_at": responded_at,
        "vin": vins,
        "nps": nps,
        **{d: ratings[:, j] for j, d in enumerate(drivers)},
        **css,
    }).iloc[order].reset_index(drop=True)
    frame.insert(0, "response_id", ids)
    comments, causes, golden = _comments(rng, frame, st["weak"], p, periods)
    frame["comment"] = comments
    n = len(frame)
    frame["open_to_dealer"] = rng.random(n) < p["open_to_dealer_share"]
    frame["phone"] = [_phone(rng) for _ in range(n)]
    has_email = rng.random(n) < 0.6
    frame["email"] = [_email(rng) if e else None for e in has_email]
    truth = {"response_cause": causes, "golden_star_response_ids": golden}
    if lift is not None:  # what the actions changed, per answer (in the frame's order)
        truth["_lift"] = lift[order]
    if truth_moves:
        truth["_moves"] = truth_moves
    return invitations, frame, truth


def _answers(rng, p, offsets, drivers, touchpoint, month_no, drift, *, shift=None):
    """The answer model shared by make_network and the streaming writer: ratings (with
    missing ones), the 0-10 score and the CSS attributes, drawn in one fixed order.

    ``shift`` (answers x drivers, latent rating points) is what improvement actions add; the
    fourth value returned is then the change of each rounded rating it made (the draws are
    the same either way), else None.

    A latent customer mood (a winter dip, a slow regional drift and an unhappy minority that
    makes the long left tail of real NPS) moves every rating; the score is the planted linear
    model of the rounded ratings plus noise.
    """
    n = len(touchpoint)
    unhappy = rng.random(n) < p["unhappy_share"]
    mood = (np.where(unhappy, rng.normal(p["unhappy_mood"], 1.0, n), rng.normal(0, 1, n))
            - p["seasonal_amplitude"] * np.cos((month_no - 1) / 12 * 2 * np.pi) + 0.1 * drift)
    means = np.array([p["rating_mean"][d] for d in drivers])
    raw = (means[None, :] + offsets + p["rating_common_sd"] * mood[:, None]
           + p["rating_own_sd"] * rng.normal(0, 1, (n, len(drivers))))
    lift = None
    if shift is not None:
        lift = np.clip(np.round(raw + shift), 1, 10) - np.clip(np.round(raw), 1, 10)
        raw = raw + shift
    ratings = np.clip(np.round(raw), 1, 10)
    weights = np.array([p["driver_weights"][d] for d in drivers])
    tp_effect = pd.Series(touchpoint).map(p["touchpoint_effect"]).to_numpy(dtype=float)
    latent = p["intercept"] + ratings @ weights + tp_effect + rng.normal(0, p["noise_sd"], n)
    score = np.clip(np.round(latent), 0, 10).astype("int64")
    css = _css_ratings(rng, raw, drivers, touchpoint, p)
    missing = rng.random((n, len(drivers))) < p["missing_rating_share"]
    if lift is not None:
        lift = np.where(missing, np.nan, lift)
    return np.where(missing, np.nan, ratings), score, css, lift


def _css_ratings(rng, raw, drivers, touchpoint, p):
    """CSS attribute ratings for the surveyed touchpoints: each echoes one driver's latent
    rating plus its own noise, so the CSS index tracks the drivers as it does in real data."""
    spec = load_params("css")
    source = p["css_source_driver"]
    asked = np.isin(touchpoint, spec["touchpoints"])
    out = {}
    for attr in spec["attributes"]:
        base = raw[:, drivers.index(source[attr])]
        value = np.clip(np.round(base + rng.normal(0, p["css_noise_sd"], len(base))), 1, 10)
        skipped = rng.random(len(base)) < p["missing_rating_share"]
        out[attr] = np.where(asked & ~skipped, value, np.nan)
    return out


def _vins(rng, n):
    body = rng.choice(VIN_ALPHABET, size=(n, 8))
    serial = rng.permutation(10**6)[:n] if n <= 10**6 else rng.integers(0, 10**6, n)
    return np.array([f"XW8{''.join(b[:5])}{''.join(b[5:])}{s:06d}" for b, s in zip(body, serial)])


def cause_chances(frame: pd.DataFrame, weak: dict, p: dict,
                  periods: pd.PeriodIndex | None = None) -> np.ndarray:
    """An array (answers x causes) of the planted chance of each cause (columns in the order of :data:`CAUSES`) behind a
    commented answer below 9 of ``frame`` (rows; promoters get a row too, never used): by the
    answer's category (detractors lean to severe causes, passives to mild ones), its dealer's
    weak driver (x3 on that driver's causes), a sales contact (x0.1 on repair causes) and the
    planted ``cause_growth`` of its month (``periods``: the network's months). Rows sum to 1.
    """
    names = list(CAUSES)
    severity = np.array([CAUSES[c]["severity"] for c in names])
    detractor = (frame["nps"].to_numpy() <= 6)[:, None]
    weights = np.where(detractor, _norm(severity**1.5)[None, :], _norm(1.0 / severity)[None, :])
    drivers = np.array([CAUSES[c]["driver"] for c in names], dtype=object)
    weak_of = frame["dealer_id"].map(weak).to_numpy(dtype=object)
    leans = (weak_of[:, None] == drivers[None, :]) & pd.notna(drivers)[None, :]
    weights = weights * np.where(leans, 3.0, 1.0)
    repair = np.array([CAUSES[c]["long_repair"] or c == "repair_quality" for c in names])
    sales = frame["touchpoint"].isin(["sales_new", "sales_used"]).to_numpy()[:, None]
    weights = weights * np.where(sales & repair[None, :], 0.1, 1.0)
    for spec in p.get("cause_growth") or []:
        if spec["cause"] not in CAUSES:
            raise ValueError(f"cause_growth names an unknown cause {spec['cause']!r}; "
                             f"known: {names}")
        month = pd.PeriodIndex(frame["responded_at"].dt.to_period("M"))
        grown = np.asarray(month >= _growth_start(spec.get("start", -1), periods))
        weights[grown, names.index(spec["cause"])] *= float(spec["factor"])
    return weights / weights.sum(axis=1, keepdims=True)


def planted_cause_costs(net: DemoNetwork, *, params: dict | None = None) -> pd.DataFrame:
    """The NPS points each planted cause costs the network in each month: the expected
    contribution (:func:`analysis.rootcause.cause_impact`) over the draw of causes, given the
    month's answers and which of them commented (:func:`expected_cause_costs`).

    ``params`` are those the network was made with (the demo's when omitted). Returns a tidy
    frame ``month, cause, contribution`` (negative: points lost), the costliest first.
    """
    commented = net.responses["response_id"].isin(set(net.truth["response_cause"])).to_numpy()
    return expected_cause_costs(net.responses, net.truth["dealer_weak_driver"], params=params,
                                commented=commented)


def expected_cause_costs(responses: pd.DataFrame, weak: dict, *, params: dict | None = None,
                         commented: np.ndarray | None = None) -> pd.DataFrame:
    """Each planted cause's expected contribution by month, from the planted chances.

    With ``s`` an answer's NPS value (+1, 0, -1) and ``ref`` the NPS of the month's answers
    without a cause, a cause's contribution is ``100 / n * sum(s - ref)`` over its answers;
    its expectation sums ``w * chance * (s - ref)`` over the answers below 9, ``w`` whether
    the answer commented (``commented``) or, without it, the chance that it does
    (``comment_share_below_9``): on a large sample of answers of a network with the same seed
    (:func:`stream_responses` with ``comments="none"`` draws one fast) that is the cause's
    cost in the population, free of the month's sampling noise.

    Parameters
    ----------
    responses
        Answers with ``dealer_id``, ``touchpoint``, ``responded_at`` and ``nps``.
    weak
        Each weak dealer's weak driver (``truth["dealer_weak_driver"]``).
    params
        The params the network was made with (the demo's when omitted).
    commented
        One flag per answer: it commented below 9 (the network's ``truth["response_cause"]``).

    Returns
    -------
    DataFrame
        ``month, cause, contribution`` (negative: points lost), the costliest of each month
        first.
    """
    p = params if params is not None else load_params("network")["demo"]
    month = responses["responded_at"].dt.to_period("M")
    periods = pd.period_range(month.min(), month.max(), freq="M")
    score = responses["nps"].to_numpy()
    value = np.select([score >= 9, score <= 6], [1.0, -1.0], 0.0)
    weight = (np.asarray(commented, dtype=float) if commented is not None
              else np.where(score <= 8, float(p["comment_share_below_9"]), 0.0))
    key = month.astype(str).to_numpy()
    # the answers without a cause: every promoter, and each answer below 9 as far as it did
    # not comment
    ref = (pd.Series((1 - weight) * value).groupby(key).sum()
           / pd.Series(1 - weight).groupby(key).sum())
    n = pd.Series(key).value_counts()
    chance = cause_chances(responses, weak, p, periods)
    lost = chance * (weight * (value - pd.Series(key).map(ref).to_numpy()))[:, None]
    by_month = pd.DataFrame(lost, columns=list(CAUSES)).groupby(key).sum()
    out = (100.0 * by_month.div(n, axis=0)).rename_axis("month").reset_index().melt(
        id_vars="month", var_name="cause", value_name="contribution")
    return out.sort_values(["month", "contribution"]).reset_index(drop=True)


def _growth_start(start, periods) -> pd.Period:
    """The first month of a planted cause growth: ``YYYY-MM``, or a position in ``periods``
    (negative from the end)."""
    if isinstance(start, int | np.integer):
        return periods[int(start) % len(periods)]
    return pd.Period(str(start), freq="M")


def _comments(rng, frame, weak, p, periods=None):
    cause_names = list(CAUSES)
    chance = cause_chances(frame, weak, p, periods)
    comments: list[str | None] = [None] * len(frame)
    causes: dict[str, str] = {}
    golden: list[str] = []
    nps = frame["nps"].to_numpy()
    rid = frame["response_id"].to_numpy()
    u = rng.random(len(frame))
    for i in range(len(frame)):
        english = rng.random() < p["english_share"]
        if nps[i] <= 8:
            if u[i] >= p["comment_share_below_9"]:
                continue
            cause = cause_names[rng.choice(len(cause_names), p=chance[i])]
            text = _complaint(rng, cause, english, p)
            causes[str(rid[i])] = cause
        else:
            if u[i] >= p["comment_share_promoters"]:
                continue
            if rng.random() < p["golden_star_share"]:
                pool, names = ((PRAISE_GOLDEN_EN, STAFF_NAMES_EN) if english
                               else (PRAISE_GOLDEN_RU, STAFF_NAMES))
                text = _expand(pool[rng.integers(len(pool))], rng,
                               name=names[rng.integers(len(names))])
                golden.append(str(rid[i]))
            else:
                pool = PRAISE_PLAIN_EN if english else PRAISE_PLAIN_RU
                text = _expand(pool[rng.integers(len(pool))], rng)
            text = text[0].upper() + text[1:]
        comments[i] = text
    return comments, causes, golden


def _complaint(rng, cause, english, p):
    spec = CAUSES[cause]
    pool = spec["en" if english else "ru"]
    core = _expand(pool[rng.integers(len(pool))], rng)
    if spec["long_repair"] and rng.random() < 0.5:
        openers = LONG_REPAIR_OPENERS_EN if english else LONG_REPAIR_OPENERS_RU
        core = f"{openers[rng.integers(len(openers))]}, {core}"
    tails = COMPLAINT_TAILS_EN if english else COMPLAINT_TAILS_RU
    text = core + _expand(tails[rng.integers(len(tails))], rng)
    if rng.random() < p["typo_share"]:
        text = _typo(text, rng)
    if rng.random() < p["contact_in_comment_share"]:
        if rng.random() < 0.5:
            contact = _phone(rng)
            text += f". {'Call me' if english else 'Перезвоните мне'} {contact}"
        else:
            text += f". {'Write to' if english else 'Пишите на'} {_email(rng)}"
    if rng.random() < 0.6:
        text = text[0].upper() + text[1:]
    return text


def demo_comments(n: int, *, random_state: int | None = None,
                  params: dict | None = None) -> pd.DataFrame:
    """``n`` complaint comments drawn from the demo network's cause templates, with their cause.

    The causes are equally likely; language, typos and contacts follow the ``demo`` section of
    params/network.yaml, exactly as :func:`make_network` writes them: the texts the tests and
    benchmarks of :mod:`analysis.rootcause` cluster.
    """
    p = params if params is not None else load_params("network")["demo"]
    rng = np.random.default_rng(random_state)
    names = list(CAUSES)
    cause = np.array(names, dtype=object)[rng.integers(len(names), size=n)]
    english = rng.random(n) < p["english_share"]
    # the templates are expanded one by one: there is no vectorised generator
    text = [_complaint(rng, c, bool(e), p) for c, e in zip(cause, english)]
    return pd.DataFrame({"text": text, "cause": cause})


def score_categories(shifts, *, n_answers: int = 100_000, random_state: int = 0,
                     params: dict | None = None) -> pd.DataFrame:
    """Shares of promoters, passives and detractors of the demo's answer model when every
    driver's latent rating moves by each of ``shifts`` (rating points).

    The answers are those :func:`make_network` draws for an average dealer (the touchpoint
    mix of params/network.yaml, a month without seasonal dip), the same draws for every shift
    (common random numbers), so the shares change smoothly with the shift: what simulations
    that draw monthly counts directly (``benchmarks/bench_alarms.py``) use to turn rating
    points into NPS points. About 31 NPS points per rating point near the demo's level.
    """
    p = params if params is not None else load_params("network")["demo"]
    drivers = list(load_params("drivers")["drivers"])
    tps = list(p["touchpoint_shares"])
    rng = np.random.default_rng(random_state)
    touchpoint = np.array(tps)[rng.choice(len(tps), n_answers,
                                          p=_norm([p["touchpoint_shares"][t] for t in tps]))]
    month_no = np.full(n_answers, 4)  # cos((4 - 1) / 12 * 2 pi) = 0: no seasonal dip
    rows = []
    for shift in np.atleast_1d(np.asarray(shifts, dtype=float)):
        draws = np.random.default_rng(np.random.SeedSequence(random_state, spawn_key=(1,)))
        offsets = np.full((n_answers, len(drivers)), shift)
        _, score, _, _ = _answers(draws, p, offsets, drivers, touchpoint, month_no,
                                  np.zeros(n_answers))
        pro, det = float(np.mean(score >= 9)), float(np.mean(score <= 6))
        rows.append({"shift": float(shift), "promoters": pro, "passives": 1 - pro - det,
                     "detractors": det, "nps": 100 * (pro - det)})
    return pd.DataFrame(rows)
def _team_labels(rng, cases, response_cause, p):
    """The team's root cause on a share of the cases with a comment, some of them wrong."""
    true = cases["response_id"].map(response_cause)
    labelled = true.notna().to_numpy() & (rng.random(len(cases)) < p["team_label_share"])
    noisy = labelled & (rng.random(len(cases)) < p["team_label_noise"])
    names = np.array(list(CAUSES), dtype=object)
    # a wrong label is another cause, drawn uniformly
    shift = rng.integers(1, len(names), size=len(cases))
    position = true.map({c: i for i, c in enumerate(names)}).fillna(0).astype(int).to_numpy()
    label = np.where(noisy, names[(position + shift) % len(names)], true.to_numpy())
    cases = cases.assign(root_cause=np.where(labelled, label, None))
    truth = {"case_root_cause": dict(zip(cases.loc[labelled, "case_id"], true[labelled])),
             "mislabelled_case_ids": sorted(cases.loc[noisy, "case_id"])}
    return cases, truth


def _cases(rng, responses, dealers, p, as_of):
    red = responses.loc[responses["nps"] <= 6, ["response_id", "dealer_id", "responded_at",
                                                 "open_to_dealer"]]
    ids = dealers["dealer_id"].to_numpy()
    n_slow = max(1, round(p["slow_dealer_share"] * len(ids)))
    slow = sorted(rng.choice(ids, n_slow, replace=False).tolist())
    n = len(red)
    median = np.where(red["dealer_id"].isin(slow), 3.5, 1.0) * p["contact_delay_median_hours"]
    # the importer's team handles closed cases centrally and a little more slowly
    median = median * np.where(red["open_to_dealer"], 1.0, 1.3)
    delay_h = rng.lognormal(np.log(median), p["contact_delay_sigma"])
    first = red["responded_at"] + pd.to_timedelta(np.round(delay_h * 60), unit="min")
    close_h = delay_h + rng.lognormal(np.log(72), 0.8, n)
    closed = red["responded_at"] + pd.to_timedelta(np.round(close_h * 60), unit="min")
    first = first.where(first < as_of)
    closed = closed.where(closed < as_of)
    resolution = np.array(RESOLUTIONS)[rng.integers(len(RESOLUTIONS), size=n)]
    cases = pd.DataFrame({
        "case_id": [f"C{i + 1:06d}" for i in range(n)],
        "response_id": red["response_id"].to_numpy(),
        "dealer_id": red["dealer_id"].to_numpy(),
        "owner": np.where(red["open_to_dealer"], "dealer", "importer"),
        "opened_at": red["responded_at"].to_numpy(),
        "first_contact_at": first.to_numpy(),
        "closed_at": closed.to_numpy(),
        "resolution": np.where(closed.notna(), resolution, None),
    })
    # process failures the SLA review must catch: red flags nobody opened a case for, and
    # cases routed to the wrong owner
    lost = rng.random(n) < p["lost_case_share"]
    misrouted = ~lost & (rng.random(n) < p["misrouted_case_share"])
    flip = {"dealer": "importer", "importer": "dealer"}
    cases.loc[misrouted, "owner"] = cases.loc[misrouted, "owner"].map(flip)
    truth = {"red_flags_without_case": sorted(cases.loc[lost, "response_id"]),
             "misrouted_case_ids": sorted(cases.loc[misrouted, "case_id"])}
    return cases.loc[~lost].reset_index(drop=True), slow, truth


def _repair_orders(rng, responses, dealers, p, periods, *, returns=None, loop_rng=None):
    service = responses.loc[responses["touchpoint"] == "service",
                            ["dealer_id", "vin", "responded_at"]]
    # staff: 4-8 mechanics and 1-3 foremen per dealer, each mechanic reporting to one foreman
    mechanics, foreman_of = {}, {}
    for d in dealers["dealer_id"]:
        n_f = int(rng.integers(1, 4))
        foremen = [_person(rng) for _ in range(n_f)]
        mech = [_person(rng) for _ in range(int(rng.integers(4, 9)))]
        mechanics[d] = mech
        for k, m in enumerate(mech):
            foreman_of[(d, m)] = foremen[k % n_f]
    all_mech = [(d, m) for d, ms in mechanics.items() for m in ms]
    n_careless = max(1, round(p["careless_mechanic_share"] * len(all_mech)))
    careless = {all_mech[i] for i in rng.choice(len(all_mech), n_careless, replace=False)}

    # base orders: one behind each service response (closed 0-3 days before the survey) and
    # more without a survey; every base order is a distinct car
    n_extra = int(round((p["repair_orders_per_service_response"] - 1) * len(service)))
    period_start = periods[0].to_timestamp()
    span = ((periods[-1] + 1).to_timestamp() - period_start).total_seconds()
    extra_dealer = rng.choice(service["dealer_id"].to_numpy(), n_extra) if n_extra else []
    extra_closed = period_start + pd.to_timedelta(rng.random(n_extra) * span * 0.97, unit="s")
    closed = pd.concat([
        pd.Series(service["responded_at"].to_numpy()) - pd.to_timedelta(
            rng.integers(0, 4, len(service)) * 86400 + rng.integers(3600, 8 * 3600,
                                                                    len(service)), unit="s"),
        pd.Series(extra_closed)], ignore_index=True)
    base = pd.DataFrame({
        "dealer_id": np.concatenate([service["dealer_id"].to_numpy(), extra_dealer]),
        "vin": np.concatenate([service["vin"].to_numpy(), _vins(rng, n_extra)]),
        "closed_at": closed,
    })
    n_base = len(base)
    fault_idx = rng.integers(len(FAULTS), size=n_base)
    base["fault_code"] = [FAULTS[k][0] for k in fault_idx]
    base["fault"] = [FAULTS[k][1] for k in fault_idx]
    base["opened_at"] = base["closed_at"] - pd.to_timedelta(
        rng.integers(1, 30, n_base) * 3600 * rng.choice([1, 1, 1, 4], n_base), unit="s")
    base["mechanic"] = [mechanics[d][rng.integers(len(mechanics[d]))] for d in base["dealer_id"]]
    base["foreman"] = [foreman_of[(d, m)] for d, m in zip(base["dealer_id"], base["mechanic"])]

    # planted repeats: same VIN and fault reopened 0..window days (calendar) after closing,
    # three times as likely after a careless mechanic
    window = int(load_params("operations")["repeat_repair"]["window_days"])
    is_careless = np.array([(d, m) in careless for d, m in zip(base["dealer_id"],
                                                               base["mechanic"])])
    prob = p["repeat_repair_share"] * np.where(is_careless, 3.0, 0.8)
    last_ok = (periods[-1] + 1).to_timestamp() - pd.Timedelta(days=window + 1)
    repeat_src = np.flatnonzero((rng.random(n_base) < prob)
                                & (base["closed_at"] < last_ok).to_numpy()
                                & (base["fault_code"] != "MNT-01").to_numpy())
    # decoys that a careless rule would flag: same fault later than the window, or another
    # fault inside it
    free = np.setdiff1d(np.arange(n_base), repeat_src)
    decoy_src = rng.choice(free, min(len(free), max(1, len(repeat_src) // 2)), replace=False)
    follow = []
    for k, i in enumerate(np.concatenate([repeat_src, decoy_src])):
        src = base.iloc[i]
        planted = k < len(repeat_src)
        same_fault = planted or rng.random() < 0.5
        if planted:
            days = int(rng.integers(0, window + 1))
        elif same_fault:
            days = int(rng.integers(window + 2, 45))
        else:
            days = int(rng.integers(0, window + 1))
        day0 = src["closed_at"].normalize() + pd.Timedelta(days=days)
        opened = max(day0 + pd.Timedelta(hours=int(rng.integers(8, 19))),
                     src["closed_at"] + pd.Timedelta(minutes=30))
        if same_fault:
            code, text = src["fault_code"], _fault_variant(src["fault"], rng)
        else:
            other = [f for f in FAULTS if f[0] != src["fault_code"]]
            code, text = other[rng.integers(len(other))]
        mech = mechanics[src["dealer_id"]][rng.integers(len(mechanics[src["dealer_id"]]))]
        follow.append({"dealer_id": src["dealer_id"], "vin": src["vin"], "opened_at": opened,
                       "closed_at": opened + pd.Timedelta(hours=int(rng.integers(2, 30))),
                       "fault_code": code, "fault": text, "mechanic": mech,
                       "foreman": foreman_of[(src["dealer_id"], mech)],
                       "_src": i, "_planted": planted})
    # the data ends at the snapshot: a follow-up that would open later is not in it yet
    extra = pd.DataFrame(follow).loc[lambda d: d["opened_at"] < (periods[-1] + 1).to_timestamp()]
    base["_src"], base["_planted"] = -1, False
    parts = [base, extra]
    if returns is not None and len(returns):  # customers coming back (loop stream's draws)
        mech = [mechanics[d][loop_rng.integers(len(mechanics[d]))] for d in returns["dealer_id"]]
        parts.append(returns.assign(mechanic=mech, foreman=[
            foreman_of[(d, m)] for d, m in zip(returns["dealer_id"], mech)],
            _src=-1, _planted=False))
    ros = pd.concat(parts, ignore_index=True)
    ros["_row"] = np.arange(len(ros))
    ros = ros.sort_values(["opened_at", "_row"], kind="stable").reset_index(drop=True)
    ros["ro_id"] = [f"RO{i + 1:07d}" for i in range(len(ros))]
    id_of_row = dict(zip(ros["_row"], ros["ro_id"]))
    planted = ros.loc[ros["_planted"]]
    pairs = [{"first_ro_id": id_of_row[s], "repeat_ro_id": r} for s, r in
             zip(planted["_src"], planted["ro_id"])]
    careless_list = sorted(f"{d}|{m}" for d, m in careless)
    ros = ros[["ro_id", "vin", "dealer_id", "opened_at", "closed_at", "fault_code", "fault",
               "mechanic", "foreman"]]
    truth = {"repeat_repair_ro_ids": sorted(planted["ro_id"].tolist()),
             "repeat_repair_pairs": sorted(pairs, key=lambda x: x["repeat_ro_id"]),
             "careless_mechanics": careless_list, "repeat_window_days": window}
    return ros, truth


def _actions(rng, dealers, st, periods, p, drivers, as_of):
    """Improvement actions: some work (their driver's latent rating rises by a planted amount
    from the day they close), some do nothing, some are never done. A weak dealer acts on its
    weak driver first (its growth zone); each dealer acts on a driver at most once."""
    ids = dealers["dealer_id"].to_numpy()
    n_act = int(round(p["action_dealer_share"] * len(ids)))
    acting = np.sort(rng.choice(len(ids), n_act, replace=False)) if n_act else np.array([], int)
    kinds, kind_p = list(p["action_kinds"]), _norm(list(p["action_kinds"].values()))
    lo_n, hi_n = p["actions_per_dealer"]
    end = as_of
    first, span = _action_span(periods, p, as_of)
    rows = []
    for i in acting:
        weak = st["weak"].get(ids[i])
        others = [d for d in drivers if d != weak]
        n = int(rng.integers(lo_n, hi_n + 1))
        targets = ([weak] if weak else []) + list(rng.permutation(others))
        for target in targets[:n]:
            kind = kinds[rng.choice(len(kinds), p=kind_p)]
            opened, due, closed = _action_dates(rng, first, span, p)
            effect = float(rng.uniform(*p["action_effect"])) if kind == "works" else 0.0
            text = ACTION_TEXT[target][rng.integers(len(ACTION_TEXT[target]))]
            rows.append({"dealer": int(i), "dealer_id": ids[i], "target": target,
                         "description": text, "owner": _person(rng), "opened_at": opened,
                         "due_at": due, "closed_at": closed if kind != "not_done" else pd.NaT,
                         "status": "open" if kind == "not_done" else "done", "kind": kind,
                         "effect": effect})
        if rng.random() < 0.5:  # a fresh action, opened in the last month and not yet due
            target = targets[min(n, len(targets) - 1)]
            opened = end - pd.Timedelta(days=int(rng.integers(2, 25)))
            rows.append({"dealer": int(i), "dealer_id": ids[i], "target": target,
                         "description": ACTION_TEXT[target][0], "owner": _person(rng),
                         "opened_at": opened, "due_at": opened + pd.Timedelta(days=45),
                         "closed_at": pd.NaT, "status": "open", "kind": "not_done",
                         "effect": 0.0})
    cols = ["dealer", "dealer_id", "target", "description", "owner", "opened_at", "due_at",
            "closed_at", "status", "kind", "effect"]
    plan = pd.DataFrame(rows, columns=cols)
    plan = plan.sort_values(["opened_at", "dealer_id"], kind="stable").reset_index(drop=True)
    for c in ("opened_at", "due_at", "closed_at"):
        plan[c] = pd.to_datetime(plan[c]).astype("datetime64[ns]").dt.floor("s")
    plan.insert(0, "action_id", [f"A{i + 1:05d}" for i in range(len(plan))])
    actions = plan[["action_id", "dealer_id", "target", "description", "owner", "opened_at",
                    "due_at", "closed_at", "status"]].astype({"owner": "str"})
    return actions, plan


def _action_span(periods, p, as_of) -> tuple[pd.Timestamp, int]:
    """The first day an action may open and the span of days it may open in: room for a
    window before the action and after it, where the network is long enough."""
    start = periods[0].to_timestamp()
    window = int(load_params("loop")["actions"]["window_months"])
    first = start + pd.DateOffset(months=window)
    last = as_of - pd.DateOffset(months=window) - pd.Timedelta(days=p["action_duration_days"][1])
    if last <= first:
        first, last = start, as_of - pd.Timedelta(days=p["action_duration_days"][1])
    return first, max((last - first).days, 1)


def _action_dates(rng, first: pd.Timestamp, span: int, p
                  ) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """When an action opens (within ``span`` days of ``first``, in working hours), is due and
    closes (late for ``action_late_share`` of actions, else by its due date)."""
    opened = first + pd.Timedelta(days=int(rng.integers(0, span)),
                                  hours=int(rng.integers(9, 18)))
    due = opened + pd.Timedelta(days=int(rng.integers(p["action_due_days"][0],
                                                      p["action_due_days"][1] + 1)))
    closed = opened + pd.Timedelta(days=int(rng.integers(p["action_duration_days"][0],
                                                         p["action_duration_days"][1] + 1)))
    if rng.random() >= p["action_late_share"]:
        closed = min(closed, due)
    return opened, due, closed


def _cause_actions(rng, plan, responses, truth_resp, periods, p, as_of, drivers
                   ) -> pd.DataFrame:
    """Improvement actions on root causes: each dealer that acts (on drivers) also acts on
    ``cause_actions_per_dealer`` of its most frequent root causes. A working one removes a
    planted share (``cause_action_effect``) of its cause's complaints from the day it closes:
    those customers no longer name it (their comment is left out; their score stays, so no
    other table changes). Some do nothing, some are never done, as for drivers.

    Causes named like a driver (``booking``, ``repair_quality``) are not targets: an action's
    target names a driver first. ``responses`` and ``truth_resp`` are changed in place; the
    plan's ``effect`` is the planted change of the cause's share among the dealer's answers in
    the ``window_months`` after the action closed (0 for the do-nothing and never-done ones).
    """
    cols = ["action_id", "dealer_id", "target", "description", "owner", "opened_at", "due_at",
            "closed_at", "status", "kind", "effect"]
    lo_n, hi_n = p.get("cause_actions_per_dealer", (0, 0))
    acting = sorted(plan["dealer_id"].unique())
    if not acting or hi_n <= 0:
        return pd.DataFrame(columns=cols)
    kinds, kind_p = list(p["action_kinds"]), _norm(list(p["action_kinds"].values()))
    window = int(load_params("loop")["actions"]["window_months"])
    first, span = _action_span(periods, p, as_of)
    cause = responses["response_id"].map(truth_resp["response_cause"])
    eligible = cause.notna() & ~cause.isin(drivers)
    top = (pd.DataFrame({"dealer_id": responses["dealer_id"], "cause": cause})
           .loc[eligible].value_counts().reset_index())
    times = responses["responded_at"]
    rows, dropped = [], np.zeros(len(responses), dtype=bool)
    for dealer in acting:
        candidates = top.loc[top["dealer_id"] == dealer, "cause"].head(3).tolist()
        n = min(int(rng.integers(lo_n, hi_n + 1)), len(candidates))
        for target in [candidates[k] for k in rng.permutation(len(candidates))[:n]]:
            kind = kinds[rng.choice(len(kinds), p=kind_p)]
            opened, due, closed = _action_dates(rng, first, span, p)
            closed = closed.floor("s")
            removal = float(rng.uniform(*p["cause_action_effect"])) if kind == "works" else 0.0
            mine = (responses["dealer_id"] == dealer).to_numpy()
            hit = mine & (cause == target).to_numpy() & (times >= closed).to_numpy()
            removed = hit & (rng.random(len(responses)) < removal)
            dropped |= removed
            after = mine & ((times >= closed)
                            & (times < closed + pd.DateOffset(months=window))).to_numpy()
            effect = -float(removed[after].sum() / after.sum()) if removed[after].any() else 0.0
            rows.append({"dealer_id": dealer, "target": target,
                         "description": CAUSE_ACTION_TEXT.get(target, target),
                         "owner": _person(rng), "opened_at": opened, "due_at": due,
                         "closed_at": closed if kind != "not_done" else pd.NaT,
                         "status": "open" if kind == "not_done" else "done", "kind": kind,
                         "effect": round(effect, 6)})
    gone = responses["response_id"].to_numpy()[dropped]
    responses.loc[dropped, "comment"] = None
    for rid in gone:
        truth_resp["response_cause"].pop(str(rid), None)
    out = pd.DataFrame(rows, columns=cols[1:])
    for c in ("opened_at", "due_at", "closed_at"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]").dt.floor("s")
    out.insert(0, "action_id", [f"A{len(plan) + i + 1:05d}" for i in range(len(out))])
    return out


def _with_actions(actions: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """The actions table with more planned actions (on root causes, campaigns, after dips),
    in the order they were opened."""
    if more.empty:
        return actions
    extra = more[actions.columns].astype({"owner": "str"})
    return (pd.concat([actions, extra], ignore_index=True)
            .sort_values(["opened_at", "dealer_id"], kind="stable").reset_index(drop=True))


def _campaigns_and_dips(rng, dealers, st, periods, p, drivers, plan, as_of
                        ) -> tuple[pd.DataFrame, list[tuple[int, int, int, float]]]:
    """The planned actions of the network-wide ``campaigns`` and the ``dip_actions``
    (make_network's Notes), with the plan's columns plus ``campaign`` (its position in
    ``campaigns``, -1 for a dip action), ``dip_month`` (the position of the dip, -1 for a
    campaign's action) and ``dip`` (its depth), numbered ``AC0001``... and ``AD0001``...;
    and the dips, as :func:`_planted_moves` takes them. ``plan`` is the dealers' own actions
    (a dip action's driver is not one of them). Nothing is drawn when neither is asked for."""
    cols = ["action_id", "dealer", "dealer_id", "target", "description", "owner", "opened_at",
            "due_at", "closed_at", "status", "kind", "effect", "campaign", "dip_month", "dip"]
    campaigns = p.get("campaigns") or []
    n_dips = int(p.get("dip_actions", 0))
    if not campaigns and n_dips <= 0:
        return pd.DataFrame(columns=cols), []
    ids = dealers["dealer_id"].to_numpy()
    kinds, kind_p = list(p["action_kinds"]), _norm(list(p["action_kinds"].values()))
    own = plan.groupby("dealer")["target"].agg(set).to_dict()

    def planned(dealer, target, opened, due, closed, **extra):
        kind = kinds[rng.choice(len(kinds), p=kind_p)]
        effect = float(rng.uniform(*p["action_effect"])) if kind == "works" else 0.0
        return {"dealer": int(dealer), "dealer_id": ids[dealer], "target": target,
                "description": ACTION_TEXT[target][rng.integers(len(ACTION_TEXT[target]))],
                "owner": _person(rng), "opened_at": opened, "due_at": due,
                "closed_at": closed if kind != "not_done" else pd.NaT,
                "status": "open" if kind == "not_done" else "done", "kind": kind,
                "effect": effect, **extra}

    rows = []
    for c, spec in enumerate(campaigns):
        launch = periods[_month_position(periods, spec["start"])].start_time
        for dealer in range(len(ids)):
            rows.append(planned(dealer, spec["target"], *_action_dates(rng, launch, 1, p),
                                campaign=c, dip_month=-1, dip=0.0))
    loop = load_params("loop")["actions"]
    # the dip's month leaves room for the baseline before it and the window after the action
    before = int(loop["window_months"]) + int(loop["baseline_gap_months"]) - 1
    after = pd.DateOffset(months=int(loop["window_months"]) + 2,
                          days=int(p["action_duration_days"][1]))
    months = [m for m in range(before, len(periods) - 1)
              if periods[m].start_time + after <= as_of]
    if n_dips > 0 and not months:
        raise ValueError(f"dip_actions need a network of at least {before + 4} months with "
                         "room for the months before the dip and after the action")
    taken = {spec["target"] for spec in campaigns}
    big = np.sort(np.argsort(-st["size"])[: max(1, len(ids) // 2)])
    dips = []
    for dealer in np.sort(rng.choice(big, min(n_dips, len(big)), replace=False)):
        free = [d for d in drivers if d not in taken | own.get(dealer, set())]
        if not free:
            continue
        target = free[rng.integers(len(free))]
        month = months[rng.integers(len(months))]
        start = periods[month + 1]
        rows.append(planned(dealer, target, *_action_dates(rng, start.start_time,
                                                           start.days_in_month, p),
                            campaign=-1, dip_month=month, dip=float(p["dip_depth"])))
        dips.append((int(dealer), month, drivers.index(target), float(p["dip_depth"])))
    out = pd.DataFrame(rows, columns=cols[1:])
    for c in ("opened_at", "due_at", "closed_at"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]").dt.floor("s")
    prefix = np.where(out["campaign"] >= 0, "AC", "AD")
    number = out.groupby(prefix).cumcount() + 1
    out.insert(0, "action_id", [f"{a}{n:04d}" for a, n in zip(prefix, number, strict=True)])
    return out, dips


def _campaign_and_dip_truth(extra: pd.DataFrame, periods: pd.PeriodIndex) -> dict:
    """``truth["campaigns"]`` and ``truth["dip_actions"]`` (make_network's Notes), each only
    when there is one."""
    truth = {}
    campaigns = extra.loc[extra["campaign"] >= 0]
    if len(campaigns):
        truth["campaigns"] = [
            {"target": part["target"].iloc[0],
             "start_month": str(part["opened_at"].min().to_period("M")),
             "action_ids": sorted(part["action_id"])}
            for _, part in campaigns.groupby("campaign")]
    dips = extra.loc[extra["dip_month"] >= 0]
    if len(dips):
        truth["dip_actions"] = {
            row.action_id: {"dealer_id": row.dealer_id, "target": row.target,
                            "dip_month": str(periods[row.dip_month]), "dip": row.dip}
            for row in dips.itertuples()}
    return truth


def _action_shift(plan, dealers, di, responded_at, drivers) -> np.ndarray:
    """Latent rating points the working actions add to each answer (answers x drivers)."""
    shift = np.zeros((len(di), len(drivers)))
    times = pd.DatetimeIndex(responded_at).to_numpy()
    for row in plan.loc[plan["effect"] > 0].itertuples():
        hit = (di == row.dealer) & (times >= row.closed_at.to_datetime64())
        shift[hit, drivers.index(row.target)] += row.effect
    return shift


def _planted_effects(plan, responses, truth_resp) -> dict[str, float]:
    """action_id -> the planted effect on its target: the mean change the action made to the
    rated answers of its dealer in the window after it closed (what a difference in
    differences estimates), 0 for actions that do nothing or were never done."""
    window = int(load_params("loop")["actions"]["window_months"])
    lift = truth_resp.get("_lift")
    drivers = list(load_params("drivers")["drivers"])
    out = {}
    for row in plan.itertuples():
        if row.effect <= 0 or lift is None:
            out[row.action_id] = 0.0
            continue
        t = responses["responded_at"]
        sel = ((responses["dealer_id"] == row.dealer_id) & (t >= row.closed_at)
               & (t < row.closed_at + pd.DateOffset(months=window))).to_numpy()
        values = lift[sel, drivers.index(row.target)]
        values = values[~np.isnan(values)]
        out[row.action_id] = round(float(values.mean()), 6) if len(values) else 0.0
    return out


def _returns(rng, responses, p, as_of) -> pd.DataFrame:
    """Service customers coming back: after an answer, the car returns for a scheduled visit
    within 12 months with the planted probability of the answer's NPS category, at a time
    drawn evenly between the comeback horizon and 12 months (only visits before the data's
    end are in the data)."""
    loop = load_params("loop")["retention"]
    service = responses.loc[responses["touchpoint"] == loop["touchpoint"],
                            ["dealer_id", "vin", "responded_at", "nps"]]
    rates = p["return_rate_by_category"]
    category = np.select([service["nps"] >= 9, service["nps"] >= 7],
                         ["promoter", "passive"], "detractor")
    comes = rng.random(len(service)) < pd.Series(category).map(rates).to_numpy()
    horizon = int(loop["months"]) * 365.25 / 12
    days = rng.uniform(loop["comeback_days"], horizon, len(service))
    opened = (service["responded_at"].to_numpy()
              + pd.to_timedelta(np.round(days * 86400), unit="s").to_numpy())
    hours = rng.integers(1, 6, len(service))
    keep = comes & (opened < as_of.to_datetime64())
    code, text = "MNT-01", dict(FAULTS)["MNT-01"]  # scheduled maintenance: never a repeat
    opened = pd.to_datetime(opened[keep]).floor("s")
    return pd.DataFrame({
        "dealer_id": service["dealer_id"].to_numpy()[keep], "vin": service["vin"].to_numpy()[keep],
        "opened_at": opened, "closed_at": opened + pd.to_timedelta(hours[keep], unit="h"),
        "fault_code": code, "fault": text,
    })


def _contacts(rng, dealers, st, periods, p) -> pd.DataFrame:
    """The call centre's survey funnel per dealer, channel and month: attempts in proportion
    to the dealer's size, reached and answered with the planted rates of each channel."""
    channels = list(p["funnel_rates"])
    size = st["size"] / st["size"].mean()
    d, c, m = np.indices((len(dealers), len(channels), len(periods)))
    attempted = rng.poisson(p["funnel_attempts_per_dealer_month"] * size[d])
    reach = np.array([p["funnel_rates"][k]["reach"] for k in channels])[c]
    answer = np.array([p["funnel_rates"][k]["answer"] for k in channels])[c]
    reached = rng.binomial(attempted, reach)
    answered = rng.binomial(reached, answer)
    return pd.DataFrame({
        "dealer_id": dealers["dealer_id"].to_numpy()[d.ravel()],
        "channel": np.array(channels)[c.ravel()],
        "month": periods.strftime("%Y-%m")[m.ravel()],
        "attempted": attempted.ravel().astype("int64"),
        "reached": reached.ravel().astype("int64"),
        "answered": answered.ravel().astype("int64"),
    })


def _fault_variant(text: str, rng) -> str:
    """The same fault written differently by another service advisor."""
    k = rng.integers(4)
    if k == 0:
        return text
    if k == 1:
        return text.lower()
    if k == 2:
        return f" {text.upper()} "
    return text.replace(" ", "  ") + "."


def _person(rng) -> str:
    return (f"{SURNAMES[rng.integers(len(SURNAMES))]} {INITIALS[rng.integers(len(INITIALS))]}."
            f"{INITIALS[rng.integers(len(INITIALS))]}.")


def _incidents(rng, dealers, periods, p, as_of):
    n = rng.poisson(p["incidents_per_dealer_month"] * len(dealers) * len(periods))
    start = periods[0].to_timestamp()
    span_days = ((periods[-1] + 1).to_timestamp() - start).days
    day = rng.integers(0, span_days, n)
    # most contacts come in working hours, some in the evening and at weekends
    hour = np.where(rng.random(n) < 0.85, rng.integers(9, 18, n), rng.integers(18, 23, n))
    created = start + pd.to_timedelta(day * 86400 + hour * 3600 + rng.integers(0, 3600, n),
                                      unit="s")
    kind = np.where(rng.random(n) < 0.8, "complaint", "thanks")
    channels = list(INCIDENT_CHANNELS)
    channel = np.array(channels)[rng.choice(len(channels), n,
                                            p=_norm(list(INCIDENT_CHANNELS.values())))]
    cats = list(COMPLAINT_CATEGORIES)
    category = np.where(kind == "complaint",
                        np.array(cats)[rng.choice(len(cats), n,
                                                  p=_norm(list(COMPLAINT_CATEGORIES.values())))],
                        "thanks")
    reasons = list(LONG_SERVICE_REASONS)
    reason = np.where(category == "long_service",
                      np.array(reasons)[rng.choice(len(reasons), n,
                                                   p=_norm(list(LONG_SERVICE_REASONS.values())))],
                      None)
    close_h = rng.lognormal(np.log(2.0), 0.9, n)
    closed = pd.Series(created) + pd.to_timedelta(np.round(close_h * 60), unit="min")
    closed = closed.where(closed < as_of)
    texts = [_expand(INCIDENT_TEXT[c], rng, reason=REASON_TEXT.get(r, "")) for c, r in
             zip(category, reason)]
    frame = pd.DataFrame({
        "created_at": created, "closed_at": closed.to_numpy(), "channel": channel,
        "category": category, "reason": reason, "kind": kind,
        "dealer_id": dealers["dealer_id"].to_numpy()[rng.integers(len(dealers), size=n)],
        "text": texts,
    }).sort_values("created_at", kind="stable").reset_index(drop=True)
    frame.insert(0, "incident_id", [f"I{i + 1:06d}" for i in range(n)])
    return frame


# --- streaming: networks too large for memory, month by month --------------------------------
# `python -m analysis demo-data --format parquet` writes hundreds of millions of answers into
# the store's layout without holding them: one month's keys and one block's columns at a time.

#: Answers drawn from one random stream. Part of what a seed means (another value gives
#: another data set), so a constant rather than a setting; it also bounds the memory.
STREAM_BLOCK_ROWS = 1_000_000
#: Comment texts drawn per cause (and per kind of praise) into the pool that streamed
#: comments are picked from; a row loop per comment would cost hours at 100 M answers.
STREAM_COMMENT_POOL = 64
STREAM_TABLES = ("dealers", "invitations", "responses")
_VIN_BYTES = np.frombuffer("".join(VIN_ALPHABET).encode("ascii"), dtype=np.uint8)


@dataclass(frozen=True)
class StreamBlock:
    """A block of one month's answers; a month's first block also carries its invitations."""

    month: str
    block: int
    responses: pd.DataFrame
    invitations: pd.DataFrame | None = None


@dataclass(frozen=True)
class ResponseStream:
    """A network generated month by month: its dealers and truth now, its answers when
    iterated (:class:`StreamBlock` after block, each from a random stream of its own)."""

    dealers: pd.DataFrame
    truth: dict
    periods: pd.PeriodIndex
    seed: int
    responses_per_month: int
    comments: str
    params: dict = field(repr=False)
    state: dict = field(repr=False)

    def __iter__(self) -> Iterator[StreamBlock]:
        first_id = 1
        for m in range(len(self.periods)):
            for block in _stream_month(self, m, first_id):
                first_id += len(block.responses)
                yield block


def stream_responses(
    *,
    n_dealers: int = 60,
    n_regions: int = 6,
    months: int = 12,
    responses_per_month: int = 5000,
    seed: int = 0,
    comments: str = "pool",
    params: dict | None = None,
) -> ResponseStream:
    """The demo network's dealers, invitations and answers, generated month by month.

    The dealers (and their planted weak drivers) are those of :func:`make_network` with the
    same seed and sizes; the answers follow the same model (driver weights, mood, touchpoint
    effects, missing ratings, CSS attributes) but are drawn vectorised, each month and each
    block of :data:`STREAM_BLOCK_ROWS` answers from its own stream derived from the seed
    (``SeedSequence(seed, spawn_key=(month, block))``), so a seed still means one data set
    and memory stays at one month's keys plus one block. What differs from make_network:

    - comments (``comments="pool"``) are picked from a pool of :data:`STREAM_COMMENT_POOL`
      texts per cause drawn once, with the same choice of cause (score, the dealer's weak
      driver, touchpoint); ``comments="none"`` leaves them empty. No per-answer cause truth.
    - phone and e-mail are empty; response ids are ``R`` and ten digits.
    - no cases, repair orders or incidents (their generators loop over rows).
    """
    if comments not in ("pool", "none"):
        raise ValueError(f"comments must be 'pool' or 'none', got {comments!r}")
    p, drivers, rng, periods, dealers, st = _setup(n_dealers, n_regions, months, seed, params)
    region_code = pd.factorize(dealers["region"])[0]
    state = {
        "drivers": drivers,
        "touchpoints": list(p["touchpoint_shares"]),
        "region_code": region_code,
        "drift": rng.normal(0, p["regional_drift_sd"], region_code.max() + 1),
        "dealer_state": st,
        "dealer_ids": dealers["dealer_id"].to_numpy(),
        "touchpoint_names": list(p["touchpoint_shares"]),
        "pool": _comment_pool(rng, p) if comments == "pool" else None,
    }
    if state["pool"] is not None:
        kinds = state["pool"]["weak_kinds"]
        state["pool"]["weak_of_dealer"] = np.array(
            [kinds.index(st["weak"].get(d)) for d in dealers["dealer_id"]])
    truth = {
        "seed": seed,
        "streamed": {"block_rows": STREAM_BLOCK_ROWS, "comments": comments,
                     "comment_pool": STREAM_COMMENT_POOL if comments == "pool" else 0},
        "driver_weights": {d: float(p["driver_weights"][d]) for d in drivers},
        "intercept": float(p["intercept"]),
        "dealer_weak_driver": st["weak"],
        "weak_drop": st["weak_drop"],
    }
    return ResponseStream(dealers, truth, periods, seed, responses_per_month, comments, p,
                          state)


def _comment_pool(rng, p) -> dict:
    """Texts per cause and for praise, with their offsets in one flat array."""
    texts: list[str] = []
    offsets = {}
    for cause in CAUSES:
        offsets[cause] = len(texts)
        texts += [_complaint(rng, cause, rng.random() < p["english_share"], p)
                  for _ in range(STREAM_COMMENT_POOL)]
    for kind in ("golden", "plain"):
        offsets[kind] = len(texts)
        for _ in range(STREAM_COMMENT_POOL):
            english = rng.random() < p["english_share"]
            if kind == "golden":
                pool, names = ((PRAISE_GOLDEN_EN, STAFF_NAMES_EN) if english
                               else (PRAISE_GOLDEN_RU, STAFF_NAMES))
                text = _expand(pool[rng.integers(len(pool))], rng,
                               name=names[rng.integers(len(names))])
            else:
                pool = PRAISE_PLAIN_EN if english else PRAISE_PLAIN_RU
                text = _expand(pool[rng.integers(len(pool))], rng)
            texts.append(text[0].upper() + text[1:])
    # cumulative cause probabilities per (detractor?, dealer's weak driver, sales contact?),
    # the same adjustments _comments applies answer by answer
    names = list(CAUSES)
    severity = np.array([CAUSES[c]["severity"] for c in names])
    weak_kinds = [None, *p["weak_driver_candidates"]]
    table = np.empty((2, len(weak_kinds), 2, len(names)))
    for d, base in enumerate((_norm(1.0 / severity), _norm(severity**1.5))):
        for w, drv in enumerate(weak_kinds):
            for s in (0, 1):
                probs = base.copy()
                if drv is not None:
                    probs *= np.array([3.0 if CAUSES[c]["driver"] == drv else 1.0
                                       for c in names])
                if s:
                    probs *= np.array([0.1 if CAUSES[c]["long_repair"] or c == "repair_quality"
                                       else 1.0 for c in names])
                table[d, w, s] = np.cumsum(_norm(probs))
    return {"texts": texts, "offsets": offsets, "cause_cdf": table, "weak_kinds": weak_kinds}


def _stream_month(stream: ResponseStream, m: int, first_id: int) -> Iterator[StreamBlock]:
    p, st, state = stream.params, stream.state["dealer_state"], stream.state
    dealers = stream.dealers
    tps = state["touchpoints"]
    period = stream.periods[m]
    rng = np.random.default_rng(np.random.SeedSequence(stream.seed, spawn_key=(m,)))
    tp_share = _norm([p["touchpoint_shares"][t] for t in tps])
    expected = stream.responses_per_month * _norm(st["size"])[:, None] * tp_share[None, :]
    invited = rng.poisson(expected / st["rate"][:, None])
    counts = rng.binomial(invited, st["rate"][:, None])
    d_idx, t_idx = np.indices(counts.shape)
    month = str(period)
    invitations = pd.DataFrame({
        "dealer_id": dealers["dealer_id"].to_numpy()[d_idx.ravel()],
        "touchpoint": np.array(tps)[t_idx.ravel()],
        "month": month,
        "invited": invited.ravel().astype("int64"),
    })
    n = int(counts.sum())
    di = np.repeat(d_idx.ravel().astype(np.int32), counts.ravel())
    ti = np.repeat(t_idx.ravel().astype(np.int8), counts.ravel())
    seconds = ((rng.random(n) * period.days_in_month).astype(np.int64) * 86400
               + rng.integers(9 * 3600, 21 * 3600, n))
    order = np.argsort(seconds, kind="stable")  # the month's answers in time order
    di, ti, seconds = di[order], ti[order], seconds[order]
    start = period.start_time.to_datetime64().astype("datetime64[ns]")
    for b, lo in enumerate(range(0, max(n, 1), STREAM_BLOCK_ROWS)):
        hi = min(lo + STREAM_BLOCK_ROWS, n)
        block_rng = np.random.default_rng(np.random.SeedSequence(stream.seed,
                                                                  spawn_key=(m, b)))
        frame = _stream_block(block_rng, stream, m, di[lo:hi], ti[lo:hi],
                              start + seconds[lo:hi].astype("timedelta64[s]"), first_id + lo)
        yield StreamBlock(month, b, frame, invitations if b == 0 else None)


def _stream_block(rng, stream: ResponseStream, m: int, di, ti, responded_at, first_id: int
                  ) -> pd.DataFrame:
    """One block of answers, drawn as _responses draws them but without row loops."""
    p, state = stream.params, stream.state
    st, drivers, tps = state["dealer_state"], state["drivers"], state["touchpoints"]
    n, n_m = len(di), len(stream.periods)
    month_no = stream.periods[m].month
    drift = state["drift"][state["region_code"][di]] * (m - n_m / 2)
    touchpoint = np.array(tps)[ti]
    ratings, score, css, _ = _answers(rng, p, st["offsets"][di], drivers, touchpoint,
                                      month_no, drift)
    vin = np.empty((n, 17), dtype=np.uint8)
    vin[:, :3] = np.frombuffer(b"XW8", dtype=np.uint8)
    vin[:, 3:11] = _VIN_BYTES[rng.integers(0, len(_VIN_BYTES), (n, 8))]
    vin[:, 11:] = rng.integers(ord("0"), ord("9") + 1, (n, 6), dtype=np.uint8)
    frame = pd.DataFrame({
        "response_id": _response_ids(first_id, n),
        "dealer_id": _take(state["dealer_ids"], di),
        "touchpoint": _take(state["touchpoint_names"], ti),
        "responded_at": responded_at,
        "vin": _ascii_strings(vin),
        "nps": score,
        **{d: ratings[:, j] for j, d in enumerate(drivers)},
        **css,
    })
    frame["comment"] = _pooled_comments(rng, state["pool"], score, di, touchpoint, p)
    frame["open_to_dealer"] = rng.random(n) < p["open_to_dealer_share"]
    frame["phone"] = pd.Series(None, index=frame.index, dtype="str")
    frame["email"] = pd.Series(None, index=frame.index, dtype="str")
    return frame


# strings of a block are built as Arrow arrays (what pandas' "str" dtype holds): a Python
# string per answer would cost more than drawing the answer
def _ascii_strings(rows: np.ndarray) -> pd.Series:
    """Rows of ASCII codes (n x width, uint8) as strings."""
    import pyarrow as pa

    n, width = rows.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets),
                                       pa.py_buffer(np.ascontiguousarray(rows))).to_pandas()


def _response_ids(first: int, n: int) -> pd.Series:
    """``R`` and ten digits, numbered from ``first``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = pc.cast(pa.array(np.arange(first, first + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise("R", pc.utf8_lpad(numbers, 10, "0"), "").to_pandas()


def _take(values, codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """``values[codes]`` as strings (None where ``missing``)."""
    import pyarrow as pa

    return pa.array(values, type=pa.string()).take(pa.array(codes, mask=missing)).to_pandas()


def _pooled_comments(rng, pool, score, di, touchpoint, p):
    """Comments picked from the pool: who comments and on which cause as in _comments."""
    n = len(score)
    if pool is None:
        return pd.Series(None, index=range(n), dtype="str")
    low = score <= 8
    u = rng.random(n)
    said = np.where(low, u < p["comment_share_below_9"], u < p["comment_share_promoters"])
    sales = np.isin(touchpoint, ["sales_new", "sales_used"]).astype(int)
    cdf = pool["cause_cdf"][(score <= 6).astype(int), pool["weak_of_dealer"][di], sales]
    cause = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), cdf.shape[1] - 1)
    cause_start = np.array([pool["offsets"][c] for c in CAUSES])[cause]
    praise = np.where(rng.random(n) < p["golden_star_share"], pool["offsets"]["golden"],
                      pool["offsets"]["plain"])
    pick = np.where(low, cause_start, praise) + rng.integers(0, STREAM_COMMENT_POOL, n)
    return _take(pool["texts"], pick, missing=~said)


@dataclass(frozen=True)
class StreamWritten:
    """What :func:`write_responses_partitioned` wrote."""

    directory: Path
    months: tuple[str, ...]
    dealers: int
    invitations: int
    responses: int


def write_responses_partitioned(
    out: str | Path,
    *,
    n_dealers: int = 60,
    n_regions: int = 6,
    months: int = 12,
    responses_per_month: int = 5000,
    seed: int = 0,
    comments: str = "pool",
    overwrite: bool = False,
    progress=None,
    delta: bool = True,
) -> StreamWritten:
    """Write a streamed network (:func:`stream_responses`) as a month-partitioned store.

    The tables are written month by month as Parquet files (``dealers/part-0.parquet``,
    ``invitations/month=YYYY-MM/part-0.parquet``, ``responses/month=YYYY-MM/part-0.parquet``,
    one row group per block: the layout before Delta Lake), then converted into the store's
    Delta tables by :func:`analysis.store.migrate` (unless ``delta`` is false), so
    ``store.load(data_dir=out)``, the reports and ``dask.dataframe.read_parquet`` read them.
    Until the last month is written each table directory holds a marker
    (:data:`analysis.store.WRITING`): a killed run leaves no table that migrate accepts.
    ``truth.json`` is written beside them. ``progress`` is called with each month written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analysis import schemas

    root = Path(out)
    existing = [t for t in STREAM_TABLES if (root / t).exists() or (root / f"{t}.parquet").exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{root} already holds {existing}: choose an empty directory or "
                              "pass overwrite=True (--overwrite) to replace them")
    if overwrite:
        import shutil

        for t in existing:
            shutil.rmtree(root / t, ignore_errors=True)
    from analysis import store

    for t in STREAM_TABLES:
        (root / t).mkdir(parents=True, exist_ok=True)
        (root / t / store.WRITING).touch()
    stream = stream_responses(n_dealers=n_dealers, n_regions=n_regions, months=months,
                              responses_per_month=responses_per_month, seed=seed,
                              comments=comments)

    def write(table: pa.Table, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)

    def arrow(frame: pd.DataFrame, name: str) -> pa.Table:
        return pa.Table.from_pandas(frame, schema=schemas.arrow_schema(name, frame.columns),
                                    preserve_index=False)

    write(arrow(stream.dealers, "dealers"), root / "dealers" / "part-0.parquet")
    schema = schemas.arrow_schema("responses")
    writer = path = tmp = None
    written_months: list[str] = []
    n_inv = n_resp = 0
    for block in stream:
        if block.block == 0:
            if writer is not None:
                writer.close()
                tmp.replace(path)
                if progress:
                    progress(written_months[-1])
            write(arrow(block.invitations, "invitations"),
                  root / "invitations" / f"month={block.month}" / "part-0.parquet")
            n_inv += len(block.invitations)
            path = root / "responses" / f"month={block.month}" / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            writer = pq.ParquetWriter(tmp, schema)
            written_months.append(block.month)
        writer.write_table(pa.Table.from_pandas(block.responses, schema=schema,
                                                preserve_index=False))
        n_resp += len(block.responses)
    if writer is not None:
        writer.close()
        tmp.replace(path)
        if progress:
            progress(written_months[-1])
    (root / "truth.json").write_text(json.dumps(stream.truth, ensure_ascii=False, indent=1),
                                     encoding="utf-8")
    for t in STREAM_TABLES:
        (root / t / store.WRITING).unlink()
    if delta:
        store.migrate(root, tables=STREAM_TABLES)
    return StreamWritten(root, tuple(written_months), len(stream.dealers), n_inv, n_resp)
