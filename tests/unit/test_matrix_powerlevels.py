"""Power levels, room version 12 creators included."""

from __future__ import annotations

import math

from bots.matrix.powerlevels import creators, user_power

CREATOR = "@creator:city.example.jp"
CO_CREATOR = "@co:city.example.jp"
ALICE = "@alice:city.example.jp"
BOB = "@bob:city.example.jp"


def test_v12_creators_include_additional_creators() -> None:
    found = creators(CREATOR, {"room_version": "12", "additional_creators": [CO_CREATOR]})
    assert found == frozenset({CREATOR, CO_CREATOR})


def test_v12_creators_have_infinite_power_whatever_power_levels_say() -> None:
    room_creators = creators(CREATOR, {"room_version": "12", "additional_creators": [CO_CREATOR]})
    power_levels = {"users": {CREATOR: 0, CO_CREATOR: 10, ALICE: 100}, "users_default": 0}
    assert user_power(CREATOR, power_levels, room_creators) == math.inf
    assert user_power(CO_CREATOR, power_levels, room_creators) == math.inf
    assert user_power(ALICE, power_levels, room_creators) == 100
    assert user_power(BOB, power_levels, room_creators) == 0
    # and without a power levels event
    assert user_power(CREATOR, None, room_creators) == math.inf


def test_v12_creator_outranks_any_finite_level() -> None:
    room_creators = creators(CREATOR, {"room_version": "12"})
    assert user_power(CREATOR, {"users": {ALICE: 2**53}}, room_creators) > 2**53


def test_v11_creator_has_no_special_power_with_power_levels() -> None:
    room_creators = creators(CREATOR, {"room_version": "11", "additional_creators": [CO_CREATOR]})
    assert room_creators == frozenset()
    power_levels = {"users": {ALICE: 100}, "users_default": 0}
    assert user_power(CREATOR, power_levels, room_creators, legacy_creator=CREATOR) == 0
    assert user_power(CO_CREATOR, power_levels, room_creators, legacy_creator=CREATOR) == 0
    assert user_power(ALICE, power_levels, room_creators, legacy_creator=CREATOR) == 100


def test_room_without_version_is_v1() -> None:
    assert creators(CREATOR, {}) == frozenset()


def test_without_power_levels_the_legacy_creator_has_100() -> None:
    assert user_power(CREATOR, None, frozenset(), legacy_creator=CREATOR) == 100
    assert user_power(ALICE, None, frozenset(), legacy_creator=CREATOR) == 0


def test_users_default_applies_to_unlisted_users() -> None:
    power_levels = {"users": {ALICE: 50}, "users_default": 10}
    assert user_power(ALICE, power_levels, frozenset()) == 50
    assert user_power(BOB, power_levels, frozenset()) == 10
    assert user_power(BOB, {"users": {ALICE: 50}}, frozenset()) == 0


def test_listed_level_below_users_default_wins() -> None:
    power_levels = {"users": {ALICE: 0}, "users_default": 10}
    assert user_power(ALICE, power_levels, frozenset()) == 0
