"""Presence: who is here per community; check-in is idempotent, a member can move, members expire after the ttl."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.presence import CheckIn, Member, Presence, check_in, check_out, expire, next_expiry

T0 = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)
TTL = timedelta(hours=6)


def crowd(*entries: tuple[str, str, datetime]) -> Presence:
    """Members (member_id, community_id, checked in at) checked in one after the other."""
    presence = Presence()
    for member_id, community_id, at in entries:
        presence, _, _ = check_in(presence, member_id, community_id, at)
    return presence


# ---- check-in ---------------------------------------------------------------------------------------------


def test_first_checkin_adds_the_member() -> None:
    presence, outcome, previous = check_in(Presence(), "ann", "book-club", T0)
    assert outcome is CheckIn.NEW
    assert previous is None
    assert presence.members == {"ann": Member("ann", "book-club", T0)}
    assert presence.headcount() == {"book-club": 1}
    assert presence.total == 1


def test_second_checkin_changes_nothing_not_even_the_time() -> None:
    before = crowd(("ann", "book-club", T0), ("bob", "book-club", T0 + timedelta(minutes=1)))
    after, outcome, previous = check_in(before, "ann", "book-club", T0 + timedelta(hours=2))
    assert outcome is CheckIn.ALREADY_PRESENT
    assert previous == Member("ann", "book-club", T0)
    assert after == before
    assert after.members["ann"].checked_in_at == T0
    assert next_expiry(after, TTL) == T0 + TTL


def test_checkin_for_another_community_moves_the_member() -> None:
    before = crowd(("ann", "book-club", T0), ("bob", "book-club", T0))
    later = T0 + timedelta(minutes=30)
    after, outcome, previous = check_in(before, "ann", "chess", later)
    assert outcome is CheckIn.MOVED
    assert previous == Member("ann", "book-club", T0)
    assert after.headcount() == {"book-club": 1, "chess": 1}
    assert after.total == 2
    # the move is a new check-in there: its expiry starts again
    assert after.members["ann"] == Member("ann", "chess", later)


def test_checkin_leaves_the_previous_presence_as_it_was() -> None:
    before = crowd(("ann", "book-club", T0))
    check_in(before, "bob", "book-club", T0)
    check_in(before, "ann", "chess", T0)
    assert before.members == {"ann": Member("ann", "book-club", T0)}


# ---- check-out --------------------------------------------------------------------------------------------


def test_checkout_removes_the_member() -> None:
    before = crowd(("ann", "book-club", T0), ("bob", "chess", T0))
    after, member = check_out(before, "ann")
    assert member == Member("ann", "book-club", T0)
    assert after.headcount() == {"chess": 1}
    assert "ann" not in after.members


def test_checkout_of_an_absent_member_changes_nothing() -> None:
    before = crowd(("ann", "book-club", T0))
    after, member = check_out(before, "zoe")
    assert member is None
    assert after == before
    assert after.headcount() == {"book-club": 1}


def test_checked_out_member_can_check_in_again_as_new() -> None:
    presence, _ = check_out(crowd(("ann", "book-club", T0)), "ann")
    later = T0 + timedelta(hours=1)
    presence, outcome, _ = check_in(presence, "ann", "book-club", later)
    assert outcome is CheckIn.NEW
    assert presence.members["ann"].checked_in_at == later


# ---- expiry -----------------------------------------------------------------------------------------------


def test_member_stays_until_just_before_the_ttl() -> None:
    before = crowd(("ann", "book-club", T0))
    after, gone = expire(before, T0 + TTL - timedelta(microseconds=1), TTL)
    assert gone == []
    assert after == before


def test_member_expires_exactly_at_the_ttl() -> None:
    before = crowd(("ann", "book-club", T0), ("bob", "book-club", T0 + timedelta(minutes=5)))
    after, gone = expire(before, T0 + TTL, TTL)
    assert gone == [Member("ann", "book-club", T0)]
    assert after.headcount() == {"book-club": 1}
    assert "bob" in after.members


def test_expired_members_are_returned_oldest_first() -> None:
    before = crowd(
        ("cat", "chess", T0 + timedelta(minutes=2)),
        ("ann", "book-club", T0),
        ("bob", "book-club", T0 + timedelta(minutes=1)),
        ("dan", "chess", T0 + timedelta(hours=3)),
    )
    after, gone = expire(before, T0 + TTL + timedelta(minutes=10), TTL)
    assert [m.member_id for m in gone] == ["ann", "bob", "cat"]
    assert list(after.members) == ["dan"]


def test_idempotent_checkin_does_not_extend_the_expiry() -> None:
    presence = crowd(("ann", "book-club", T0))
    presence, _, _ = check_in(presence, "ann", "book-club", T0 + timedelta(hours=5))
    after, gone = expire(presence, T0 + TTL, TTL)
    assert [m.member_id for m in gone] == ["ann"]
    assert after.total == 0


def test_next_expiry_is_the_oldest_checkin_plus_the_ttl() -> None:
    assert next_expiry(Presence(), TTL) is None
    presence = crowd(("bob", "chess", T0 + timedelta(minutes=7)), ("ann", "book-club", T0 + timedelta(minutes=3)))
    assert next_expiry(presence, TTL) == T0 + timedelta(minutes=3) + TTL
    presence, _ = check_out(presence, "ann")
    assert next_expiry(presence, TTL) == T0 + timedelta(minutes=7) + TTL


def test_next_expiry_follows_a_moved_member() -> None:
    presence = crowd(("ann", "book-club", T0), ("bob", "chess", T0 + timedelta(minutes=10)))
    presence, _, _ = check_in(presence, "ann", "chess", T0 + timedelta(minutes=20))
    assert next_expiry(presence, TTL) == T0 + timedelta(minutes=10) + TTL


# ---- headcount --------------------------------------------------------------------------------------------


def test_headcount_counts_members_per_community() -> None:
    presence = crowd(
        ("ann", "book-club", T0),
        ("bob", "book-club", T0),
        ("cat", "chess", T0),
        ("dan", "book-club", T0),
    )
    assert presence.headcount() == {"book-club": 3, "chess": 1}
    assert presence.total == 4
    assert Presence().headcount() == {}
    assert Presence().total == 0


def test_checkin_times_are_per_community_and_sorted() -> None:
    presence = crowd(
        ("ann", "book-club", T0 + timedelta(minutes=9)),
        ("bob", "chess", T0),
        ("cat", "book-club", T0 + timedelta(minutes=1)),
    )
    assert presence.checkin_times("book-club") == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=9)]
    assert presence.checkin_times("nobody") == []


def test_presence_of_members_equals_the_same_checkins() -> None:
    members = [Member("ann", "book-club", T0), Member("bob", "chess", T0 + timedelta(minutes=1))]
    assert Presence.of(members) == crowd(*((m.member_id, m.community_id, m.checked_in_at) for m in members))


# ---- the persistent value agrees with the plain definition, whatever happened --------------------------------

_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["in", "in", "in", "out", "expire"]),
        st.integers(0, 40),  # member
        st.sampled_from(["a", "b", "c"]),  # community
        st.integers(0, 600),  # minutes after T0 (not in order: clocks and restarts are not tidy)
    ),
    max_size=120,
)


@given(_ACTIONS)
@settings(max_examples=300, deadline=None)
def test_presence_agrees_with_a_plain_dict_of_members(actions: list[tuple[str, int, str, int]]) -> None:
    presence = Presence()
    plain: dict[str, Member] = {}
    ttl = timedelta(minutes=120)
    for action, number, community, minutes in actions:
        member_id, at = f"m{number}", T0 + timedelta(minutes=minutes)
        if action == "in":
            kept = presence
            presence, _, _ = check_in(presence, member_id, community, at)
            if member_id not in plain or plain[member_id].community_id != community:
                plain[member_id] = Member(member_id, community, at)
            assert kept is presence or kept.members != presence.members  # the old value is still what it was
        elif action == "out":
            presence, _ = check_out(presence, member_id)
            plain.pop(member_id, None)
        else:
            presence, gone = expire(presence, at, ttl)
            expected = sorted(
                (m for m in plain.values() if at - m.checked_in_at >= ttl), key=lambda m: (m.checked_in_at, m.member_id)
            )
            assert gone == expected
            for member in gone:
                del plain[member.member_id]
        assert presence.members == plain
        assert presence.headcount() == dict(Counter(m.community_id for m in plain.values()))
        for c in ("a", "b", "c"):
            times = sorted(m.checked_in_at for m in plain.values() if m.community_id == c)
            assert presence.checkin_times(c) == times
            for n in (1, 2, 3, 17, 20):
                assert presence.nth_checkin(c, n) == (times[n - 1] if len(times) >= n else None)
        earliest = min((m.checked_in_at for m in plain.values()), default=None)
        assert next_expiry(presence, ttl) == (None if earliest is None else earliest + ttl)
    rebuilt = Presence.of(plain.values())
    assert rebuilt.members == presence.members
    assert rebuilt.headcount() == presence.headcount()
