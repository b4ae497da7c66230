"""One PII detector: what it finds, what it covers, and the ordinary words it leaves alone."""

from __future__ import annotations

import pytest

from nlu.pii import find_pii, mask, phone_digits


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # phones: the head and the last four digits stay
        ("电话13912345678", "电话139****5678"),
        ("电话139 1234 5678", "电话139 **** 5678"),
        ("139-1234-5678", "139-****-5678"),
        ("1391 234 5678", "1391 *** 5678"),
        ("+86 139 1234 5678", "+86 139 **** 5678"),
        ("0086 13912345678", "0086 139****5678"),
        ("8613912345678", "86139****5678"),
        ("座机0571-88881234", "座机0571-****1234"),
        ("(0571)8888 1234", "(0571)**** 1234"),
        ("+86 571 8888 1234", "+86 571 **** 1234"),
        ("打88881234找我", "打****1234找我"),
        # ID numbers, e-mails, plates, chat accounts
        ("身份证33010219900101123X", "身份证******************"),
        ("身份证330102199001011234", "身份证******************"),
        ("邮箱 li@example.com", "邮箱 **@*******.***"),
        ("浙A12345堵门", "浙A****5堵门"),
        ("新能源浙AD12345", "新能源浙A*****5"),
        ("微信号 zhang_san88", "微信号 *****_*****"),
        # rooms: the building stays, unit and room go
        ("住3-2-501", "住3-*-***"),
        ("2单元501漏水", "*单元***漏水"),
        ("7栋三单元五零一", "7栋*单元***"),
        ("住501室", "住***室"),
        # names
        ("我叫张建国", "我叫***"),
        ("已联系住户王建国，明天上门", "已联系住户***，明天上门"),
        ("王先生说楼上漏水", "*先生说楼上漏水"),
        ("张阿姨家门口堆了东西", "*阿姨家门口堆了东西"),
        ("楼上的李大爷天天弹琴", "楼上的*大爷天天弹琴"),
        ("联系人：刘洋", "联系人：**"),
        ("业主欧阳娜娜反映噪音", "业主****反映噪音"),
        ("邻居孙丽丽天天吵", "邻居***天天吵"),
        ("我姓王", "我姓*"),
    ],
)
def test_mask_covers_personal_data_when_written_in_common_forms(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "3幢电梯坏了，有人被困在里面",
        "阳光花园3幢门口",
        "顾客很多，高峰期停车难",
        "叶子掉了一地",
        "许可证办了吗",
        "黎明时分很吵",
        "保安大叔很负责",
        "我和阿姨说了",
        "向物业反映过",
        "黄金周人多",
        "MH-20261122-0001 已办结",
        "客服400-123-4567",
        "订单号12345678901234",
        "2026-12-07 09:40:11,123 INFO minhu.app: ready",
        "明天下午三点来修",
    ],
)
def test_mask_leaves_text_alone_when_it_holds_no_personal_data(text: str) -> None:
    assert mask(text) == text


def test_spans_point_into_the_text_as_written() -> None:
    text = "王女士，电话１３８１２３４５６７８，住３－２－５０１"
    spans = find_pii(text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("name", "王"),
        ("phone", "１３８１２３４５６７８"),
        ("address", "２"),
        ("address", "５０１"),
    ]
    assert mask(text) == "*女士，电话１３８****５６７８，住３－*－***"


def test_kinds_limit_what_is_found() -> None:
    text = "我叫张建国，电话13912345678"
    assert [s.kind for s in find_pii(text, kinds={"phone"})] == ["phone"]
    assert mask(text, kinds={"name"}) == "我叫***，电话13912345678"


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+86 139-1234-5678", "13912345678"),
        ("8613912345678", "13912345678"),
        ("0086 139 1234 5678", "13912345678"),
        ("+86 571 8888 8888", "057188888888"),
        ("0571-88888888", "057188888888"),
        ("+44 7911 123456", "447911123456"),
    ],
)
def test_phone_digits_drop_separators_and_the_country_code(raw: str, digits: str) -> None:
    assert phone_digits(raw) == digits
