import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.privacy import (
    EMAIL_MASK,
    PHONE_MASK,
    VIN_MASK,
    contains_pii,
    mask_pii,
    mask_pii_series,
)

PHONES = [
    "+7 916 123-45-67",
    "+7 (916) 123-45-67",
    "+7(916)1234567",
    "+79161234567",
    "+7-916-123-45-67",
    "+7 916 123 45 67",
    "89161234567",
    "79161234567",
    "8 (916) 123 45 67",
    "8 916 123-45-67",
    "8-916-123-45-67",
    "8.916.123.45.67",
    "8(916)123-45-67",
    "8 (4852) 12-34-56",     # a city code of four digits
    "8 800 555-35-35",       # toll free
    "916 123-45-67",         # a mobile without the trunk
    "9161234567",
    "(916) 123-45-67",
    "123-45-67",             # a city number
    "+44 20 7946 0958",
    "+1 (555) 123-4567",
    "+49 30 1234567",
    "+375 29 123-45-67",
    "0044 20 7946 0958",
]


@pytest.mark.parametrize("phone", PHONES)
def test_every_phone_format_is_masked_inside_a_sentence(phone):
    text = f"Перезвоните мне {phone}, пожалуйста"
    assert mask_pii(text) == f"Перезвоните мне {PHONE_MASK}, пожалуйста"


@pytest.mark.parametrize("phone", PHONES)
def test_phone_alone_and_at_the_edges(phone):
    assert mask_pii(phone) == PHONE_MASK
    assert mask_pii(f"тел.{phone}") == f"тел.{PHONE_MASK}"
    assert mask_pii(f"{phone}!") == f"{PHONE_MASK}!"


@pytest.mark.parametrize("email", [
    "ivanov@mail.ru", "ivan.petrov+cars@gmail.com", "sokolov334@yandex.ru",
    "a_b-c@sub.domain.co.uk", "IVAN@MAIL.RU", "иван@почта.рф", "ivan(at)mail.ru",
    "ivan [at] mail.ru",
])
def test_emails_are_masked(email):
    assert mask_pii(f"Пишите на {email}.") == f"Пишите на {EMAIL_MASK}."


@pytest.mark.parametrize("vin", ["XW8ZZZ61ZKG012345", "WVWZZZ1JZXW000001", "xw84wvvmskz047832",
                                 "Z94CB41AAGR323020"])
def test_vins_are_masked(vin):
    assert mask_pii(f"VIN {vin} в ремонте") == f"VIN {VIN_MASK} в ремонте"


@pytest.mark.parametrize("text", [
    "Ремонт 12.03.2025 в 10:30",
    "приехал 2025-03-12 10:30:00, уехал вечером",
    "стоимость 15 000 руб",
    "заплатил 1 500 000 рублей",
    "пробег 120000 км",
    "ТО-2, 45 000 км, 8 часов",
    "в 2025 году 3 раза",
    "заказ №123456",
    "ждали 14 дней, с 8 до 18",
    "Всё отлично, спасибо Алексею!",
    "ABCDEFGHJKLMNPRST",             # 17 letters but no digit: not a VIN
    "12345678901234567",             # 17 digits but no letter: not a VIN
    "XW8ZZZ61ZKG0123456",            # 18 characters: not a VIN
    "user at home dot com",
])
def test_dates_amounts_and_ordinary_text_are_left_alone(text):
    assert mask_pii(text) == text


def test_several_items_in_one_text_and_email_digits_are_not_a_phone():
    text = ("Звоните +7 916 123-45-67 или 8(495)765-43-21, пишите petrov89161234567@mail.ru, "
            "машина XW8ZZZ61ZKG012345")
    out = mask_pii(text)
    assert out == (f"Звоните {PHONE_MASK} или {PHONE_MASK}, пишите {EMAIL_MASK}, "
                   f"машина {VIN_MASK}")


def test_custom_placeholders_and_missing_values():
    assert mask_pii("89161234567", phone="***") == "***"
    assert mask_pii(None) is None
    assert np.isnan(mask_pii(float("nan")))


def test_series_version_matches_the_scalar_one_and_keeps_index_and_missing():
    s = pd.Series(["call 89161234567", None, "mail a@b.ru", np.nan, "ok"], index=list("abcde"),
                  name="comment")
    out = mask_pii_series(s)
    assert out.index.tolist() == list("abcde")
    assert out.name == "comment"
    assert out["a"] == f"call {PHONE_MASK}"
    assert out["c"] == f"mail {EMAIL_MASK}"
    assert pd.isna(out["b"]) and pd.isna(out["d"])
    assert out["e"] == "ok"
    assert [mask_pii(v) for v in s.dropna()] == out.dropna().tolist()
    assert contains_pii(s).tolist() == [True, False, True, False, False]
    assert not contains_pii(out).any()


def test_demo_comments_with_contacts_are_clean_after_masking(small_net):
    comments = small_net.responses["comment"].dropna()
    raw_hits = contains_pii(comments)
    assert raw_hits.sum() > 20  # the demo plants contacts in about 6 % of complaints
    masked = mask_pii_series(comments)
    assert not contains_pii(masked).any()
    # every demo phone and e-mail column value is recognised as personal data on its own
    assert contains_pii(small_net.responses["phone"]).all()
    assert contains_pii(small_net.responses["email"].dropna()).all()
    assert contains_pii(small_net.responses["vin"]).all()
    # masking touches only texts that hold personal data
    untouched = comments[~raw_hits]
    assert masked[~raw_hits].equals(untouched.astype(object))


_SEPARATORS = st.sampled_from(["", " ", "-", ".", "  "])


@st.composite
def russian_phones(draw):
    digits = draw(st.lists(st.integers(0, 9), min_size=10, max_size=10))
    digits[0] = draw(st.integers(3, 9))  # area codes start with 3-9
    trunk = draw(st.sampled_from(["+7", "8", "7", "+7 ", "8 "]))
    groups = [digits[:3], digits[3:6], digits[6:8], digits[8:]]
    text = "".join(map(str, groups[0]))
    if draw(st.booleans()):
        text = f"({text})"
    for g in groups[1:]:
        text += draw(_SEPARATORS) + "".join(map(str, g))
    return trunk + draw(st.sampled_from(["", " ", "-"])) + text


@settings(max_examples=200, deadline=None)
@given(russian_phones(), st.sampled_from(["Звоните ", "tel: ", "", "номер "]),
       st.sampled_from(["", ".", " после 18:00", ", спасибо"]))
def test_any_grouping_of_a_russian_number_is_masked(phone, before, after):
    out = mask_pii(before + phone + after)
    assert out == before + PHONE_MASK + after
    assert not re.search(r"\d{3}", out.replace("18:00", ""))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(categories=("L", "Zs", "P")), max_size=60))
def test_text_without_digits_or_at_signs_is_unchanged(text):
    if "@" in text or re.search(r"[\(\[]\s*(at|собака)\s*[\)\]]", text, flags=re.I):
        return
    assert mask_pii(text) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_masking_is_idempotent(text):
    once = mask_pii(text)
    assert mask_pii(once) == once
