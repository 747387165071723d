"""Times, states, event names and input values as the builders show them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blocks.format import (
    FUTURE_SKEW,
    STATUS_ORDER,
    absolute_time,
    format_input_value,
    humanise_event,
    humanise_key,
    input_icon,
    plural,
    relative_time,
    slack_time,
    status_label,
    time_until,
    when,
)
from bot.domain import CardInput, CardStatus, InputKind, InputOption
from tests.blocks.factories import NOW


@pytest.mark.parametrize(("delta", "expected"), [
    (timedelta(seconds=0), "just now"),
    (timedelta(seconds=59), "just now"),
    (timedelta(seconds=60), "1 minute ago"),
    (timedelta(minutes=59, seconds=59), "59 minutes ago"),
    (timedelta(hours=1), "1 hour ago"),
    (timedelta(hours=23), "23 hours ago"),
    (timedelta(days=1), "1 day ago"),
    (timedelta(days=3, hours=5), "3 days ago"),
    (timedelta(days=29), "29 days ago"),
    (timedelta(days=30), "1 month ago"),
    (timedelta(days=200), "6 months ago"),
    (timedelta(days=365), "1 year ago"),
    (timedelta(days=800), "2 years ago"),
    (-timedelta(hours=2), "just now"),  # never a time in the future (README, Customer view)
    (-timedelta(seconds=10), "just now"),
    (-timedelta(days=365 * 5952), "just now"),
])
def test_relative_time(delta: timedelta, expected: str) -> None:
    assert relative_time(NOW - delta, NOW) == expected


def test_absolute_time_is_utc_and_naive_means_utc() -> None:
    auckland = timezone(timedelta(hours=13))
    assert absolute_time(datetime(2026, 11, 26, 3, 2, tzinfo=auckland)) == "2026-11-25 14:02 UTC"
    assert absolute_time(datetime(2026, 11, 25, 14, 2)) == "2026-11-25 14:02 UTC"
    assert relative_time(datetime(2026, 11, 28, 13, 2), NOW) == "1 hour ago"


def test_when_combines_relative_and_absolute() -> None:
    then = datetime(2026, 11, 25, 14, 2, tzinfo=UTC)
    assert when(then, NOW) == ("3 days ago (<!date^1795615320^{date_short_pretty} {time}"
                               "|2026-11-25 14:02 UTC>)")
    assert when(None, NOW) == "never"
    assert when(None, NOW, never="—") == "—"


instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=13))]))
PAST = re.compile(r"just now|1 (year|month|day|hour|minute) ago"
                  r"|\d+ (years|months|days|hours|minutes) ago")


@given(then=instants, now=instants)
def test_relative_time_is_never_in_the_future(then: datetime, now: datetime) -> None:
    text = relative_time(then, now)
    assert PAST.fullmatch(text), text
    if then.replace(tzinfo=then.tzinfo or UTC) > now.replace(tzinfo=now.tzinfo or UTC):
        assert text == "just now"


@given(then=instants, now=instants)
def test_when_shows_a_far_future_time_as_its_date_only(then: datetime, now: datetime) -> None:
    text = when(then, now)
    assert not text.startswith("in "), text
    ahead = then.replace(tzinfo=then.tzinfo or UTC) - now.replace(tzinfo=now.tzinfo or UTC)
    if ahead > FUTURE_SKEW:
        assert text == slack_time(then) and absolute_time(then) in text
    else:
        assert PAST.fullmatch(text.split(" (")[0]), text


def test_last_seen_in_year_7978_is_not_in_7978_years() -> None:
    assert when(datetime(9999, 1, 1, tzinfo=UTC), NOW) == (
        "<!date^253370764800^{date_short_pretty} {time}|9999-01-01 00:00 UTC>")
    assert when(NOW + timedelta(minutes=2), NOW).startswith("just now (<!date^")


def test_slack_time_is_the_date_token_with_a_utc_fallback() -> None:
    then = datetime(2026, 11, 25, 14, 2, tzinfo=UTC)
    assert slack_time(then) == ("<!date^1795615320^{date_short_pretty} {time}"
                                "|2026-11-25 14:02 UTC>")
    # naive times are UTC; other zones are converted, so the fallback always names UTC
    assert slack_time(then.replace(tzinfo=None)) == slack_time(then)
    auckland = then.astimezone(timezone(timedelta(hours=13)))
    assert slack_time(auckland) == slack_time(then)


@given(instants)
def test_slack_time_always_names_utc_in_its_fallback(then: datetime) -> None:
    token = slack_time(then)
    utc = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    if then.replace(tzinfo=then.tzinfo or UTC).timestamp() < 0:  # a token needs a Unix time > 0
        assert re.fullmatch(utc, token), token
    else:
        assert re.fullmatch(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|" + utc + ">",
                            token), token


@pytest.mark.parametrize(("key", "label"), [
    ("signup_date", "Signup date"), ("userType", "User type"), ("plan", "Plan"),
    ("crm-ID", "Crm ID"), ("  ", "  "), ("a.b_c", "A b c")])
def test_humanise_key(key: str, label: str) -> None:
    assert humanise_key(key) == label


@pytest.mark.parametrize(("count", "text"), [(0, "0 cards"), (1, "1 card"), (2, "2 cards"),
                                             (1_204, "1,204 cards")])
def test_plural(count: int, text: str) -> None:
    assert plural(count, "card") == text
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == \
        "3 entries"


@pytest.mark.parametrize(("delta", "expected"), [
    (timedelta(hours=2), "in 2 hours"), (timedelta(days=3), "in 3 days"),
    (timedelta(seconds=30), "in a moment"), (-timedelta(days=2), "2 days ago")])
def test_time_until_is_for_expiry_only(delta: timedelta, expected: str) -> None:
    assert time_until(NOW + delta, NOW) == expected


def test_every_state_has_an_emoji_label_in_order() -> None:
    assert [s.value for s in STATUS_ORDER] == ["active", "snoozed", "embargoed", "completed",
                                               "dismissed", "expired", "cancelled"]
    labels = [status_label(s) for s in STATUS_ORDER]
    assert labels[0] == ":large_green_circle: Active"
    assert status_label(CardStatus.COMPLETED) == ":white_check_mark: Completed"
    assert len({label.split()[0] for label in labels}) == 7  # one distinct emoji each


@pytest.mark.parametrize(("name", "expected"), [
    ("card-completed", "Completed"),
    ("card-subview-displayed", "Opened a subview"),
    ("user-redirected", "Followed a link"),
    ("CARD-DISMISSED", "Dismissed"),
    ("card-something-new", "Something new"),
    ("custom_event", "Custom event"),
    ("", "Interaction"),
])
def test_humanise_event(name: str, expected: str) -> None:
    assert humanise_event(name) == expected


def test_icons_per_kind() -> None:
    assert input_icon(InputKind.TEXT) == ":pencil2:"
    assert input_icon(InputKind.FILE) == ":paperclip:"
    assert len({input_icon(kind) for kind in InputKind}) == len(InputKind)


def value(kind: InputKind, raw: object, options: list[InputOption] | None = None) -> str:
    return format_input_value(CardInput(name="n", kind=kind, value=raw, options=options or []))


OPTIONS = [InputOption(key="email", label="Email"), InputOption(key="sms", label="SMS"),
           InputOption(key="post", label="Post")]


@pytest.mark.parametrize(("kind", "raw", "expected"), [
    (InputKind.TEXT, None, "not submitted"),
    (InputKind.CHECKBOX_GROUP, None, "not submitted"),
    (InputKind.TEXT, "Call me", "Call me"),
    (InputKind.TEXT, "", "(empty)"),
    (InputKind.NUMBER, 42, "42"),
    (InputKind.NUMBER, 1234567, "1,234,567"),
    (InputKind.NUMBER, 1234.5, "1,234.5"),
    (InputKind.NUMBER, 3.0, "3"),
    (InputKind.NUMBER, "0012.50", "12.5"),
    (InputKind.NUMBER, "twelve", "twelve"),
    (InputKind.NUMBER, float("nan"), "nan"),
    (InputKind.STEPPER, 4, "4"),
    (InputKind.DATE, "2026-12-03", "2026-12-03"),
    (InputKind.DATE, "2026-12-03T09:30:00Z", "2026-12-03 09:30 UTC"),
    (InputKind.DATE, "next tuesday", "next tuesday"),
    (InputKind.SWITCH, True, "Yes"),
    (InputKind.SWITCH, False, "No"),
    (InputKind.SWITCH, "true", "Yes"),
    (InputKind.FILE, {"filename": "receipt.pdf", "bucketId": "b"}, "receipt.pdf"),
    (InputKind.FILE, {"bucketId": "b"}, "file uploaded"),
    (InputKind.FILE, "scan.png", "scan.png"),
    (InputKind.TEXT, {"nested": [1, 2]}, '{"nested": [1, 2]}'),
])
def test_format_input_value(kind: InputKind, raw: object, expected: str) -> None:
    assert value(kind, raw) == expected


def test_choice_inputs_show_the_option_label() -> None:
    assert value(InputKind.DROPDOWN, "sms", OPTIONS) == "SMS"
    assert value(InputKind.RADIO, "post", OPTIONS) == "Post"
    assert value(InputKind.DROPDOWN, "unknown", OPTIONS) == "unknown"  # the raw value, not lost
    assert value(InputKind.DROPDOWN, ["email", "sms"], OPTIONS) == "Email, SMS"


def test_checkbox_group_lists_every_option() -> None:
    assert value(InputKind.CHECKBOX_GROUP, {"email": True, "sms": False}, OPTIONS) == \
        "Email selected; SMS, Post not"
    # keys the definition does not know are still shown; lists mean "these are checked"
    assert value(InputKind.CHECKBOX_GROUP, {"fax": True}, OPTIONS) == \
        "fax selected; Email, SMS, Post not"
    assert value(InputKind.CHECKBOX_GROUP, ["post"], OPTIONS) == "Post selected; Email, SMS not"
    assert value(InputKind.CHECKBOX_GROUP, ["post", "email", "sms"], OPTIONS) == \
        "Email, SMS, Post selected"
    assert value(InputKind.CHECKBOX_GROUP, {"email": False}, OPTIONS) == \
        "nothing selected (of Email, SMS, Post)"
    assert value(InputKind.CHECKBOX_GROUP, {}, []) == "nothing selected"
