"""What the classifier reads: the message without the parts that say nothing about the problem.

Real residents' messages come wrapped in salutations and sign-offs ("尊敬的领导：您好！",
"谢谢！此致敬礼"), name places with district codes and masked names ("A3区", "K8县", "某某家园")
and carry dates and numbers. None of that says which kind of problem it is, but the n-grams it
brings pull the classifier towards whichever intent happened to be written that way in the
training data ("您好" towards ``greet``, "领导" towards ``report_other``). The span masker
removes or folds these spans for the classifier only; entity extraction still reads the text as
written. A message that is nothing but a greeting or a thank-you is left as it is.
"""

from __future__ import annotations

import re

_OFFICIAL = (
    r"领导|书记|市长|县长|区长|镇长|乡长|局长|厅长|处长|科长|主任|部长|同志|干部|公仆|父母官|"
    r"工作人员|网格员|社区|街道|政府|管家|客服"
)
_BREAK = r"[：:，,！!。.、\s~～]*"
_OPENING = re.compile(
    rf"^(?:"
    rf"(?:尊敬|敬爱|亲爱)的[^：:，,！!。？?\s]{{0,16}}?(?:{_OFFICIAL}|您|你|们){_BREAK}"
    rf"|(?:各位|诸位)?[^：:，,！!。？?\s]{{0,8}}?(?:{_OFFICIAL})(?:们)?{_BREAK}(?:您|你)(?:们)?好{_BREAK}"
    rf"|(?:各位|诸位)?[^：:，,！!。？?\s]{{0,8}}?(?:{_OFFICIAL})(?:们)?(?:好|您好|你好){_BREAK}"
    rf"|(?:您|你)(?:们)?好(?:呀|啊)?{_BREAK}|(?:hi|hello|哈喽|嗨){_BREAK}"
    rf"|(?:冒昧|请恕|抱歉)?打扰(?:一下|了|您了|您)?{_BREAK}"
    rf"|(?:首先)?(?:非常)?感谢(?:您|你)(?:们)?在?百忙之中[^，,。！!]{{0,20}}{_BREAK}"
    rf"|(?:知道)?(?:您|你)(?:们)?(?:工作)?(?:很|非常)?(?:繁忙|忙){_BREAK}"
    rf")+"
)
_CLOSING = re.compile(
    rf"(?:{_BREAK}(?:"
    r"谢谢|感谢|多谢|麻烦了|拜托了|辛苦了|此致|敬礼|望回复|盼回复|期待回复|请回复|万分感谢|"
    r"不胜感激|感激不尽|望采纳|望批准|恳请批准|望领导重视|(?:谢谢|感谢)(?:您|你|领导|政府)(?:们)?|"
    r"(?:谢谢|感谢)(?:您|你)(?:们)?的(?:关注|帮助|支持|回复|耐心)|急急急|在线等"
    rf"){_BREAK})+$"
)
# District and place codes as residents and the publishers of open letters write them
# ("A3区", "K8县", "B市"), and masked names ("某某小区").
_PLACE_CODE = re.compile(r"(?<![a-z0-9])[a-z]\d{0,2}[省市区县镇乡村]")
_SOMEBODY = re.compile(r"某{2,}")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_SPACES = re.compile(r"\s{2,}")
_MIN_LEFT = 10  # characters that must remain for a salutation or sign-off to be dropped


class SpanMasker:
    """Removes salutations and sign-offs, folds place codes, masked names and numbers.

    Args:
        salutations: drop a letter's opening ("尊敬的领导：您好！") and sign-off ("谢谢！").
        places: fold district codes ("A3区" -> "某区") and masked names ("某某" -> "某").
        digits: fold every number to "0" (dates, house numbers, amounts).
    """

    def __init__(self, *, salutations: bool = True, places: bool = True, digits: bool = True):
        self.salutations = salutations
        self.places = places
        self.digits = digits

    @property
    def params(self) -> dict[str, bool]:
        """The constructor's arguments (saved with the model)."""
        return {"salutations": self.salutations, "places": self.places, "digits": self.digits}

    def __call__(self, text: str) -> str:
        """The classifier's view of a normalised message."""
        out = text.strip()
        if self.salutations:
            body = _OPENING.sub("", out, count=1)
            body = _CLOSING.sub("", body, count=1)
            if len(body.strip()) >= _MIN_LEFT:
                out = body.strip()
        if self.places:
            out = _PLACE_CODE.sub("", out)
            out = _SOMEBODY.sub("某", out)
        if self.digits:
            out = _DIGITS.sub("0", out)
        return _SPACES.sub(" ", out)
