"""Problem or chat? Out-of-scope is only for what is not a request at all.

A classifier trained on chit-chat learns its own idea of "out of scope", and a real complaint in
words it has not seen (a district, a factory, an office) can land there, or on a greeting, a
thank-you or an address. This detector looks for the language of a problem someone should solve:
asking for action ("请…处理", "能不能", "什么时候"), complaint and grievance words ("投诉",
"扰民", "不作为", "拖欠"), damage and nuisance ("坏了", "漏", "臭", "吵"), the parties involved
("物业", "开发商", "政府", "小区"). When the top intent is one of ``overrides`` and the message
carries enough of it, the parse is turned into the best-ranked report intent (its own confidence,
so an unsure one is still asked back with the candidates as buttons).

A message needs ``min_score`` distinct cues, or one cue and ``min_chars`` characters (letters
are problems far more often than chat). Commands (status, cancel, a human agent), help and
ratings are never overridden: they contain the same words ("我上周反映的垃圾问题办好了没有").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ACTION = re.compile(
    r"投诉|举报|反映|反应一下|请求|恳请|要求|希望|建议|申请|求助|帮忙|帮帮|麻烦|"
    r"请[^，。！？,.!?]{0,8}(?:处理|解决|管|查|整治|协调|督促|落实|关注|回复|核实|取缔|拆除|关停|帮)|"
    r"能不能|能否|可不可以|何时|什么时候|啥时候|多久才|为什么|为何|凭什么|怎么办|谁来管|谁管|谁负责|"
    r"有没有人管|没人管|讨说法|给个说法|维权|整治|取缔|查处|彻查|严惩|问责|打击|监管|"
    r"没人(?:弄|处理|修|清|理|来|问)|不管|不作为|不处理|推诿|拖延|敷衍|踢皮球|无人问津|石沉大海|多次|迟迟|至今|一直没|还没有?"
)
_HARM = re.compile(
    r"问题|隐患|故障|损坏|坏了|破损|漏水|渗水|堵塞|堵了|脏|乱|臭|异味|吵|扰民|噪音|噪声|污染|"
    r"违规|违法|违章|违建|乱收费|收费|拖欠|克扣|欠薪|欺诈|诈骗|骗|霸占|侵占|侵害|权益|纠纷|"
    r"矛盾|困难|危险|安全|严重|影响|受不了|苦不堪言|不合理|不公|不透明|不达标|不合格|质量|"
    r"停水|停电|没水|没电|不通|[太很好真]?(?:难|贵|差|慢)(?![道过受看听得])|太少|缺少|短缺|不到位|"
    r"不了了之|损失|补偿|赔偿|暗箱|垄断|倒卖|欺骗|坑人|腐败|贪污|受贿|滥用|徇私|强制|强迫|威胁|"
    r"恐吓|刁难|欠款|违反|侵犯|歧视|冤|弊端|漏洞|混乱|效率低|太低|太高|何在"
)
_PARTY = re.compile(
    r"物业|开发商|业主|居民|住户|村民|群众|百姓|老百姓|政府|部门|局|街道|社区|村委|城管|"
    r"单位|公司|学校|医院|小区|工地|工厂|企业|商户|商家|店|楼盘|项目|领导|书记|市长|县长|区长"
)
_GROUPS = (_ACTION, _HARM, _PARTY)  # the order problem_score relies on


def problem_score(text: str) -> int:
    """How much problem language (asking, harm, parties; at most two cues of each) the text
    shows: 0 for chat, 2 or more for a complaint. Parties alone ("我是某某小区的业主") are an
    introduction, not a problem: without an asking or a harm cue the score is 0."""
    counts = [min(len({m.group() for m in group.finditer(text)}), 2) for group in _GROUPS]
    return sum(counts) if counts[0] or counts[1] else 0


class ProblemDetector:
    """Decides whether a parse's non-report top intent should give way to a report intent.

    Args:
        prefix: what report intents' names start with.
        overrides: the top intents that may give way (chat, greetings, bare answers).
        min_score: cues needed whatever the length.
        min_chars: with a single cue, the length from which a message counts as a problem.
    """

    def __init__(
        self,
        *,
        prefix: str = "report_",
        overrides: Sequence[str] = ("out_of_scope", "greet", "thanks", "affirm", "deny", "inform"),
        min_score: int = 2,
        min_chars: int = 12,
    ) -> None:
        self.prefix = prefix
        self.overrides = frozenset(overrides)
        self.min_score = min_score
        self.min_chars = min_chars

    @property
    def params(self) -> dict[str, object]:
        """The constructor's arguments (saved with the model)."""
        return {
            "prefix": self.prefix,
            "overrides": sorted(self.overrides),
            "min_score": self.min_score,
            "min_chars": self.min_chars,
        }

    def is_problem(self, text: str) -> bool:
        """The (classifier's view of the) message describes a problem someone should solve."""
        score = problem_score(text)
        return score >= self.min_score or (score >= 1 and len(text) >= self.min_chars)

    def applies(self, top: str) -> bool:
        """The top intent may give way to a report intent."""
        return top in self.overrides
