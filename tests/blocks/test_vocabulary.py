"""The one status language (docs/style.md, "One status language")."""

from blocks.vocabulary import SEND_STATUS, all_terms, card_moment, card_state
from bot.domain import CardStatus, SendStatus


def test_a_word_has_one_emoji_and_an_emoji_one_word() -> None:
    by_word: dict[str, set[str]] = {}
    by_emoji: dict[str, set[str]] = {}
    for term in all_terms():
        by_word.setdefault(term.word, set()).add(term.emoji)
        by_emoji.setdefault(term.emoji, set()).add(term.word)
    assert {w: e for w, e in by_word.items() if len(e) > 1} == {}
    assert {e: w for e, w in by_emoji.items() if len(w) > 1} == {}


def test_every_state_and_send_status_is_named() -> None:
    assert all(card_state(status).word for status in CardStatus)
    assert set(SEND_STATUS) == set(SendStatus)


def test_one_verb_for_the_moment_a_card_reaches_the_customer() -> None:
    assert card_moment("published") == card_moment("created") == card_moment("sent")
    assert card_moment("Published") is not None
    assert card_moment("teleported") is None
    assert card_state(CardStatus.COMPLETED).label == ":white_check_mark: Completed"
