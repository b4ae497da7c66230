"""Chinese numerals and the building / unit / room forms: one reading everywhere."""

from __future__ import annotations

import pytest

from nlu.numbers import Address, building_key, parse_address, room_number, to_chinese, to_int


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("12", 12),
        ("１２", 12),
        ("十", 10),
        ("十二", 12),
        ("二十三", 23),
        ("一百零五", 105),
        ("三百三", 330),
        ("一千零一", 1001),
        ("两千零二十六", 2026),
        ("两", 2),
        ("幺", 1),
        ("五零一", 501),
        ("〇", 0),
        ("○", 0),
        ("百", None),
        ("1千1", None),
        ("三x", None),
        ("abc", None),
        ("", None),
    ],
)
def test_to_int_reads_numerals_when_written_in_chinese_digits_or_full_width(
    token: str, value: int | None
) -> None:
    assert to_int(token) == value


@pytest.mark.parametrize(("number", "chinese"), [(3, "三"), (12, "十二"), (1001, "一千零一")])
def test_to_chinese_writes_what_to_int_reads(number: int, chinese: str) -> None:
    assert to_chinese(number) == chinese
    assert to_int(chinese) == number


@pytest.mark.parametrize(
    ("token", "room"),
    [("501", "501"), ("五零一", "501"), ("五百零一", "501"), ("零一零一", "0101"), ("五o一", None)],
)
def test_room_numbers_keep_their_digits_when_read_aloud(token: str, room: str | None) -> None:
    assert room_number(token) == room


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("3号楼", Address("3幢")),
        ("三幢", Address("3幢")),
        ("3栋", Address("3幢")),
        ("十二栋", Address("12幢")),
        ("一千零一号楼", Address("1001幢")),
        ("３号楼", Address("3幢")),
        ("B区5号楼", Address("B区5幢")),
        ("b区5栋", Address("B区5幢")),
        ("二期三幢", Address("2期3幢")),
        ("东区3栋", Address("东区3幢")),
        ("3-2-501", Address("3幢", "2", "501")),
        ("３－２－５０１", Address("3幢", "2", "501")),
        ("3幢2单元501", Address("3幢", "2", "501")),
        ("7栋三单元五零一", Address("7幢", "3", "501")),
        ("2单元501", Address("", "2", "501")),
        ("综合楼", None),
        ("3楼", None),
        ("0-1-501", None),
    ],
)
def test_parse_address_reads_every_form_when_it_is_the_whole_text(
    text: str, address: Address | None
) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("3号楼", "3幢"),
        ("三号楼", "3幢"),
        ("3栋", "3幢"),
        ("十二幢", "12幢"),
        ("二十一号楼", "21幢"),
        ("一千零一号楼", "1001幢"),
        ("b区5号楼", "B区5幢"),
        ("二期三幢", "2期3幢"),
        ("３幢", "3幢"),
        (" 3 号楼 ", "3幢"),
        ("3-2-501", "3幢"),
        ("阳光花园三幢", "阳光花园3幢"),
        ("翠苑一区", "翠苑1区"),
        ("综合楼", "综合楼"),
    ],
)
def test_building_key_agrees_for_every_way_of_writing_a_building(text: str, key: str) -> None:
    assert building_key(text) == key
