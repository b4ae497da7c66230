"""Personal data in free text: one detector for the logs, Open311, the console and the NLU.

:func:`find_pii` returns spans, :func:`mask` covers them with ``*``. What counts:

* ``phone``: mobiles in any grouping (``13912345678``, ``139 1234 5678``, ``139-1234-5678``,
  ``+86 139…``, ``0086…``), landlines with an area code (``0571-88888888``, ``(0571)8888 8888``,
  extensions) and bare 7–8 digit local numbers; the head and the last four digits stay
  (``139****5678``). Service numbers (400/800) are a company's, not a person's: the NLU
  extracts them with :data:`SERVICE_NUMBER`, masking leaves them;
* ``id``: ID-card numbers (18 digits, the last may be X; the old 15-digit ones);
* ``email``; ``plate`` (``浙A12345`` → ``浙A****5``); ``account`` (a WeChat / QQ id after its
  cue word);
* ``address``: unit and room (``3-2-501`` → ``3-*-***``, ``2单元501`` → ``*单元***``); the
  building stays, it is what Open311 publishes anyway;
* ``name``: personal names. jieba's part-of-speech model (its HMM finds names that are in no
  dictionary) tags candidates; a candidate counts when it starts with a common surname and is
  not an ordinary word jieba's dictionary happens to tag as a name (阳光, 顾客, 许可证 are), or
  when the words around it say it is a name: a surname before 先生 / 阿姨 / 师傅 …
  (``王先生`` → ``*先生``), a name after 我叫 / 住户 / 业主 / 联系人 … (``住户王建国``).

Matching runs on ``nlu.text.normalize``'d text (same length), so full-width digits, traditional
characters and upper-case letters are found too and spans are those of the text as written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jieba
import jieba.posseg

from nlu.components.address import extract_address
from nlu.numbers import CN_NUMERAL
from nlu.text import normalize

KINDS = frozenset({"phone", "id", "email", "plate", "account", "address", "name"})

# --- patterns (over normalised text: half-width, lower-case ASCII) ---------------------------

_SEP = r"(?: ?[-.] ?| {1,2})?"  # between digit groups: one dash or dot, or a space or two
# +86, 0086, (+86), or a bare 86 before a separator or straight before a whole mobile number
_COUNTRY = rf"(?:(?:\+|00) ?86|\(\+?86\)|86(?= |-|1[3-9]\d{{9}}(?!\d))){_SEP}"
MOBILE = re.compile(
    rf"(?<![\d+])(?P<cc>{_COUNTRY})?"
    rf"(?:(?P<head>1[3-9]\d){_SEP}(?P<mid>\d{{4}}){_SEP}(?P<tail>\d{{4}})"
    rf"|(?P<head4>1[3-9]\d\d){_SEP}(?P<mid3>\d{{3}}){_SEP}(?P<tail4>\d{{4}}))(?!\d)"
)
"""A mainland mobile number, grouped 3-4-4 or 4-3-4 or not at all, with or without +86."""
LANDLINE = re.compile(
    rf"(?<![\d+\-])(?:{_COUNTRY}\(?0?(?P<ccarea>[1-9]\d{{1,2}})\)?|\(?(?P<area>0\d{{2,3}})\)?)"
    rf"{_SEP}(?P<local>\d{{3,4}}{_SEP}(?P<last>\d{{4}}))"
    r"(?:(?:转|-|ext\.?)(?P<ext>\d{1,5}))?(?!\d)"
)
"""A landline with its area code (010-, 0571-, (0571), +86 571), extension optional."""
SERVICE_NUMBER = re.compile(r"(?<!\d)(?P<head>[48]00)[- ]?(\d{3})[- ]?(\d{4})(?!\d)")
"""A company's 400 / 800 service number."""
_LOCAL = re.compile(r"(?<![\da-z.+\-/:_])(?P<local>\d{3,4} ?(?P<last>\d{4}))(?![\da-z.\-/:_])")
_ID = re.compile(r"(?<![\da-z])(?:\d{6}(?P<s> ?)\d{8}(?P=s)\d{3}[\dx]|\d{15})(?![\da-z])")
_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+")
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE = re.compile(
    rf"(?P<province>[{_PROVINCES}])(?P<letter>[a-z])[\s·.\-]?"
    r"(?P<tail>[a-z0-9]{5,6}|[a-z0-9]{4}[挂学警])(?![a-z0-9])"
)
"""A Chinese car plate: 浙A12345, 浙A·12345, new-energy 浙AD12345 / 浙A12345D, 粤B1234学."""
_ACCOUNT = re.compile(
    r"(?<![a-z])(?:微信号?|v信|vx|wechat|qq号?)\s?(?:号码|账号|id)?\s?[:：]?\s?(?P<id>[a-z0-9_\-]{5,30})"
)
_NUMBER_PART = re.compile(rf"[\d{CN_NUMERAL}]+")


def valid_plate_tail(tail: str) -> bool:
    """Whether the five or six characters after a plate's province and letter can be a plate."""
    if len(tail) == 6:
        # New-energy plates: small cars D/F (newer series A-K) + one more + 4 digits; large
        # cars 5 digits + D/F.
        small = tail[0] in "abcdefghjk" and tail[2:].isdigit()
        large = tail[:5].isdigit() and tail[5] in "df"
        return small or large
    # Ordinary plates carry at most two letters in the last five characters.
    return sum(ch.isdigit() for ch in tail) >= 3


def phone_digits(raw: str) -> str:
    """A phone number as Minhu stores it: digits only, without the +86 / 0086 country code
    (``+86 139-1234-5678`` → ``13912345678``, ``+86 571 8888 8888`` → ``057188888888``)."""
    digits = re.sub(r"\D", "", raw)
    for code in ("0086", "86"):
        rest = digits[len(code) :]
        if digits.startswith(code) and len(rest) in (10, 11) and rest[0] in "123456789":
            return rest if rest[0] == "1" and len(rest) == 11 else "0" + rest
    return digits


# --- names -----------------------------------------------------------------------------------

# The common surnames (about 90 % of people). Characters that are far more often a word of
# their own (和, 时, 全, 成, 路, 常 …) are left out: they would turn sentences into names.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔向汤温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关"
    "兰焦俞左柳甘祝宁尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳柴蒙鲍华喻祁蒲房滕"
    "屈饶牟艾尤穆农卓古吉缪简项芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞"
    "姬仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝"
)
COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "慕容", "司徒", "令狐", "皇甫", "尉迟", "公孙", "夏侯"}
    | {"长孙", "宇文", "端木", "独孤", "轩辕", "呼延", "百里", "东郭", "澹台", "钟离"}
)
HONORIFICS = frozenset(
    {"先生", "女士", "小姐", "太太", "夫人", "阿姨", "大爷", "大妈", "大娘", "大叔", "叔叔"}
    | {"大伯", "伯伯", "大姐", "大哥", "阿婆", "婆婆", "奶奶", "爷爷", "老师", "师傅", "医生"}
    | {"经理", "主任", "书记", "老板", "同学", "阿公", "老太", "老伯", "姐", "哥", "叔", "姨"}
    | {"伯", "总", "工", "某"}
)
# Words after which the next one is a person's name.
_NAME_CUES = frozenset(
    {"我叫", "叫", "名叫", "姓名", "名字", "联系人", "住户", "业主", "租户", "租客", "房东"}
    | {"户主", "邻居", "居民", "家属", "报事人", "举报人", "投诉人", "当事人", "网格员"}
)
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt"})
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class _Token:
    word: str
    tag: str
    start: int
    known: bool  # in jieba's dictionary (its name tag then says little)

    @property
    def end(self) -> int:
        return self.start + len(self.word)


@lru_cache(maxsize=1)
def _tagger() -> tuple[jieba.Tokenizer, Any]:
    # A private jieba instance: the NLU's user words never change how names are found.
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer, jieba.posseg.POSTokenizer(tokenizer)


def warm_up() -> None:
    """Load jieba's dictionary now (about a second) rather than on the first masked text."""
    _tagger()


def _tokens(text: str) -> list[_Token]:
    tokenizer, tagger = _tagger()
    tokens: list[_Token] = []
    offset = 0
    for pair in tagger.cut(text, HMM=True):
        word, tag = pair.word, pair.flag
        tokens.append(_Token(word, tag, offset, tokenizer.FREQ.get(word, 0) > 0))
        offset += len(word)
    return tokens


def _is_cjk(word: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in word)


def _surname_length(word: str) -> int:
    if word[:2] in COMPOUND_SURNAMES:
        return 2
    return 1 if word[:1] in SURNAMES else 0


def _looks_like_name(token: _Token, word_known: Callable[[str], bool]) -> bool:
    """A name-tagged word that starts with a surname and is not an ordinary word."""
    word = token.word
    surname = _surname_length(word)
    if token.tag not in _NAME_TAGS or not surname or not 2 <= len(word) <= 4:
        return False
    if not _is_cjk(word) or word[surname:] in HONORIFICS:
        return False
    if not token.known:
        return True  # found by the HMM: not a dictionary word, so a name
    # The dictionary tags many ordinary words as names (阳光, 顾客, 许可证). A real three-
    # character name does not begin with a two-character word (张建国 vs 许可证).
    return len(word) == 3 and not word_known(word[:2])


def _name_spans(text: str) -> Iterator[tuple[int, int]]:
    tokenizer, _ = _tagger()

    def known(word: str) -> bool:
        return bool(tokenizer.FREQ.get(word, 0) > 0)

    tokens = _tokens(text)
    for i, token in enumerate(tokens):
        word = token.word
        before = tokens[i - 1].word if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        surname = _surname_length(word)
        if surname and word[surname:] in HONORIFICS and len(word) > surname:
            yield token.start, token.start + surname  # 王先生, 张阿姨, 王师傅 as one word
        elif surname == len(word) and after is not None and after.word in HONORIFICS:
            yield token.start, token.end  # 张 + 阿姨
        elif surname == len(word) and before == "姓":
            yield token.start, token.end  # 我姓王
        elif (
            word[:1] in "老小"
            and len(word) == 2
            and word[1] in SURNAMES
            and token.tag in _NAME_TAGS
        ):
            yield token.start + 1, token.end  # 老王, 小王
        elif word in COMPOUND_SURNAMES and after is not None and _is_cjk(after.word):
            if len(after.word) <= 2 and (after.tag in _NAME_TAGS or not after.known):
                yield token.start, after.end  # 欧阳 + 娜娜
        elif _looks_like_name(token, known):
            yield token.start, token.end
        elif (
            before in _NAME_CUES
            and surname
            and 2 <= len(word) <= 3
            and _is_cjk(word)
            and (token.tag in _NAME_TAGS or not token.known)
        ):
            yield token.start, token.end  # 住户李娜: a dictionary name after a cue


# --- spans -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """Personal data at ``text[start:end]``; :func:`mask` covers ``text[hide_start:hide_end]``.

    Attributes:
        kind: one of :data:`KINDS`.
        start: where the item begins in the text as given.
        end: where it ends (exclusive).
        hide_start: where the part to cover begins (the rest, such as a phone's head and last
            four digits or the 单元 of a unit, stays readable).
        hide_end: where the part to cover ends.
    """

    kind: str
    start: int
    end: int
    hide_start: int
    hide_end: int


def _group_span(match: re.Match[str], *names: str) -> tuple[int, int]:
    for name in names:
        if match.group(name) is not None:
            return match.span(name)
    return match.span()


def _candidates(norm: str) -> Iterator[PiiSpan]:
    for m in _ID.finditer(norm):
        yield PiiSpan("id", *m.span(), *m.span())
    for m in _EMAIL.finditer(norm):
        yield PiiSpan("email", *m.span(), *m.span())
    for m in MOBILE.finditer(norm):
        yield PiiSpan("phone", *m.span(), *_group_span(m, "mid", "mid3"))
    for m in LANDLINE.finditer(norm):
        yield PiiSpan("phone", *m.span(), m.start("local"), m.start("last"))
    for m in _LOCAL.finditer(norm):
        yield PiiSpan("phone", *m.span(), m.start("local"), m.start("last"))
    for m in PLATE.finditer(norm):
        if valid_plate_tail(m.group("tail")):
            yield PiiSpan("plate", *m.span(), m.start("tail"), m.end() - 1)
    for m in _ACCOUNT.finditer(norm):
        yield PiiSpan("account", *m.span(), *m.span("id"))
    for entity in extract_address(norm, norm):
        if entity.type in ("unit", "room"):
            number = _NUMBER_PART.match(norm, entity.start, entity.end)
            if number:
                yield PiiSpan("address", entity.start, entity.end, *number.span())
    if _CJK.search(norm):
        for start, end in _name_spans(norm):
            yield PiiSpan("name", start, end, start, end)


def find_pii(text: str, kinds: Iterable[str] = KINDS) -> list[PiiSpan]:
    """Personal data in ``text``, in text order and without overlaps (the earlier kind in the
    order id, email, phone, plate, account, address, name wins an overlap).

    Args:
        text: any text as written (a message, a note, a log line).
        kinds: the kinds to look for; all of :data:`KINDS` by default.

    Returns:
        The spans, with offsets into ``text``.
    """
    wanted = frozenset(kinds)
    found: list[PiiSpan] = []
    for span in _candidates(normalize(text)):
        if span.kind in wanted and all(span.end <= f.start or span.start >= f.end for f in found):
            found.append(span)
    return sorted(found, key=lambda s: s.start)


def mask(text: str, kinds: Iterable[str] = KINDS) -> str:
    """``text`` with its personal data covered by ``*`` (separators and context words stay):
    ``我叫张建国，电话139 1234 5678，住3-2-501`` → ``我叫***，电话139 **** 5678，住3-*-***``."""
    spans = find_pii(text, kinds)
    if not spans:
        return text
    chars = list(text)
    for span in spans:
        for i in range(span.hide_start, span.hide_end):
            if chars[i].isalnum():
                chars[i] = "*"
    return "".join(chars)
