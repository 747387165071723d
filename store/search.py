"""Search-term normalisation and the terms a customer is found by (customer_search)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import NamedTuple, TypeVar

import phonenumbers

from bot.domain import Customer

T = TypeVar("T")

TERM_MAX = 200  # customer_search.term is String(200)
FIELD_MAX = 100  # customer_search.field is String(100)

EXACT_FIELDS = ("id", "email", "phone", "external_id")
NAME_FIELD = "name"
BUILTIN_FIELDS = frozenset({*EXACT_FIELDS, NAME_FIELD})

_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Apostrophes and hyphens as people type them, folded to ASCII (docs/design.md#customer-search)
_PUNCTUATION = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u02b9": "'",
                              "\u00b4": "'", "\u2032": "'", "\u2010": "-",
                              "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
                              "\u2212": "-", "\ufe63": "-", "\uff0d": "-"})
_WORD_SPLIT = re.compile(r"[\W_]+")
_NON_DIGIT = re.compile(r"\D+")
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]{3,40}")  # what may be a phone number, typed any way
DEFAULT_PHONE_REGION = "NZ"  # Settings.search_phone_region's default (docs/operations.md)


def normalise(text: str) -> str:
    """NFKD, combining marks stripped, casefolded, controls dropped, whitespace collapsed."""
    if text.isascii() and text.isprintable():  # the common case, same answer, ~20x faster
        return " ".join(text.lower().split())
    return _normalise_unicode(text)


def _normalise_unicode(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    decomposed = decomposed.translate(_PUNCTUATION)
    kept: list[str] = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) not in _DROP_CATEGORIES:
            kept.append(char)
    return " ".join("".join(kept).split())


def digits(text: str) -> str:
    """Only the digits of a phone number (`+64 21-555` -> `6421555`)."""
    return _NON_DIGIT.sub("", text)


def phone_keys(text: str, region: str = DEFAULT_PHONE_REGION) -> list[str]:
    """The digit strings a phone number is found by: its E.164 digits and its national number,
    read with `phonenumbers` (a local format with a trunk prefix, "021 555 0101", is read in
    `region`); nothing when the text is not a possible phone number.
    """
    if not _PHONE_LIKE.fullmatch(text.strip()):
        return []
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException:
        return []
    if not phonenumbers.is_possible_number(number):
        return []
    national = str(number.national_number)
    e164 = f"{number.country_code}{national}"
    return list(dict.fromkeys([e164, national]))


def tokens(normalised: str) -> list[str]:
    """Words of a normalised text, plus their alphanumeric parts (`o'brien` -> `obrien`)."""
    words: list[str] = []
    for word in normalised.split(" "):
        if not word:
            continue
        words.append(word)
        parts = [p for p in _WORD_SPLIT.split(word) if p]
        if len(parts) > 1 or (parts and parts[0] != word):
            words.extend(parts)
            words.append("".join(parts))
    return words


def next_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no bound)."""
    trimmed = prefix.rstrip(chr(0x10FFFF))
    if not trimmed:
        return None
    last = ord(trimmed[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # skip the surrogate block: not valid in UTF-8
        last = 0xE000
    return trimmed[:-1] + chr(last)


class Term(NamedTuple):
    """One (field, term) a customer is found by (a tuple: millions are made when loading)."""

    field: str
    term: str
    exact: bool = False


def _clip(term: str) -> str:
    return term[:TERM_MAX].rstrip()


def customer_terms(customer: Customer, *, region: str = DEFAULT_PHONE_REGION,
                   phones: bool = True) -> list[Term]:
    """Every (field, term) row a customer is found by; one row per (field, term), exact wins.
    `phones=False` leaves the phone's terms out (all exact: no document word is made of them)."""
    found: dict[tuple[str, str], bool] = {}

    def add(field: str, term: str, exact: bool = False) -> None:
        term = _clip(term)
        if not term:
            return
        key = (field[:FIELD_MAX], term)
        found[key] = found.get(key, False) or exact

    def add_words(field: str, value: str) -> None:
        text = normalise(value)
        add(field, text)
        for word in tokens(text):
            add(field, word)

    add("id", normalise(customer.id), exact=True)
    if customer.email:
        email = normalise(customer.email)
        add("email", email, exact=True)
        local = email.split("@", 1)[0]
        add("email", local)
        for word in tokens(local):
            add("email", word)
    if customer.phone and phones:
        add("phone", normalise(customer.phone), exact=True)
        add("phone", digits(customer.phone), exact=True)
        for key in phone_keys(customer.phone, region):
            add("phone", key, exact=True)
    if customer.external_id:
        add("external_id", normalise(customer.external_id), exact=True)
    if customer.name:
        add_words(NAME_FIELD, customer.name)
    for key, value in customer.profile.items():
        if not isinstance(value, str) or not value.strip():
            continue
        field = key if key not in BUILTIN_FIELDS else f"profile:{key}"
        add_words(field, value)
    return [Term(f, t, e) for (f, t), e in found.items()]


VOCABULARY_FIELDS = (NAME_FIELD, "email")  # the fields a misspelt word is matched in
WORD_MIN, WORD_MAX = 2, 40  # the vocabulary's word lengths


def is_vocabulary_word(term: str) -> bool:
    """Whether a term enters the vocabulary (search_words): one word of letters only."""
    return WORD_MIN <= len(term) <= WORD_MAX and term.isalpha()


def vocabulary(terms: Sequence[Term]) -> set[str]:
    """The words of these terms a misspelling is matched against (name and email words)."""
    return {t.term for t in terms
            if not t.exact and t.field in VOCABULARY_FIELDS and is_vocabulary_word(t.term)}


DOC_WORD_MIN = 3  # query words this long drive the document index; shorter ones filter its hits


def doc_words(terms: Sequence[Term]) -> tuple[list[str], list[str]]:
    """(the name's words, every word) of a customer's terms, for customer_docs: the one-word,
    not-exact terms made of letters and digits only (`o'brien` gives `o`, `brien`, `obrien`),
    so no query syntax of either engine can be in them."""
    name: dict[str, None] = {}
    every: dict[str, None] = {}
    for t in terms:
        if t.exact or not t.term.isalnum() or len(t.term) > WORD_MAX:
            continue
        every.setdefault(t.term, None)
        if t.field == NAME_FIELD:
            name.setdefault(t.term, None)
    return list(name), list(every)


def query_doc_words(query: str) -> list[str]:
    """The query's words as the document holds them: each word's letters and digits joined
    (`o'brien` -> `obrien`, `sofia.parker` -> `sofiaparker`); distinct, in order."""
    found: dict[str, None] = {}
    for word in normalise(query).split(" "):
        joined = "".join(p for p in _WORD_SPLIT.split(word) if p)[:WORD_MAX]
        if joined and joined.isalnum():
            found.setdefault(joined, None)
    return list(found)


def query_tokens(query: str) -> list[str]:
    """The distinct normalised words of a query, in order, clipped to a term's length."""
    seen: dict[str, None] = {}
    for word in normalise(query).split(" "):
        if word:
            seen.setdefault(_clip(word), None)
    return list(seen)


def exact_candidates(query: str, *, region: str = DEFAULT_PHONE_REGION) -> list[str]:
    """Whole-value terms a query may equal exactly: the text and, for a phone number, its digits,
    E.164 digits and national number (read in `region`)."""
    text = _clip(normalise(query))
    if not text:
        return []
    values = [text]
    only_digits = digits(text)
    if only_digits and only_digits != text and len(only_digits) >= 3:
        values.append(only_digits)
    if len(only_digits) >= 3:
        values.extend(phone_keys(text, region))
    return list(dict.fromkeys(values))


def iter_chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
