"""Robust to how people really write: letters, place codes, address first, voice, typos."""

from __future__ import annotations

import pytest

import nlu
from nlu.components.masking import SpanMasker
from nlu.components.problem import ProblemDetector, problem_score

REPORTS = "report_"


@pytest.mark.parametrize(
    ("text", "view"),
    [
        ("尊敬的领导：您好！小区晚上老是停水，好几个月了。谢谢！", "小区晚上老是停水,好几个月了"),
        ("张书记，您好！楼下烧烤店的油烟太大了。此致敬礼", "楼下烧烤店的油烟太大了"),
        ("领导您好，打扰了，我们小区门口的路灯坏了一个月了", "我们小区门口的路灯坏了一个月了"),
        ("a3区某某家园小区停电了", "某家园小区停电了"),
        ("k8县2019年修的路又坏了", "0年修的路又坏了"),
    ],
)
def test_the_classifier_reads_the_problem_without_salutations_codes_and_numbers(
    text: str, view: str
) -> None:
    assert SpanMasker()(nlu.normalize(text)) == view


@pytest.mark.parametrize("text", ["您好", "领导好", "谢谢", "你好，有人吗", "谢谢你们，辛苦了"])
def test_a_bare_greeting_or_thank_you_is_left_as_it_is(text: str) -> None:
    norm = nlu.normalize(text)
    assert SpanMasker(places=False, digits=False)(norm) == norm


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("今天天气怎么样", False),
        ("推荐一个靠谱的装修公司", False),
        ("我是幸福小区5幢的住户", False),
        ("社区热线是多少", False),
        ("化工厂半夜偷排废气，环保局不作为", True),
        ("小区停车太难了", True),
        ("请有关部门尽快处理一下", True),
    ],
)
def test_the_problem_detector_tells_a_problem_from_chat(text: str, problem: bool) -> None:
    assert ProblemDetector().is_problem(text) is problem
    assert (problem_score(text) > 0) is problem


def test_commands_help_and_ratings_never_give_way_to_a_report() -> None:
    detector = ProblemDetector()
    assert not any(detector.applies(i) for i in ("query_status", "cancel", "human_agent", "help"))
    assert detector.applies("out_of_scope") and detector.applies("inform")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # letters with salutations, district codes and sign-offs
        ("尊敬的领导：您好！B5区某某家园小区晚上老是停水，好几个月了，谢谢！", "report_utilities"),
        ("C2区旁边工地通宵施工，我们小区居民没法休息", "report_noise"),
        ("请求解决D3区某某小区居民喝水难的问题", "report_utilities"),
        (
            "尊敬的张书记：您好！我们是A3区某某花园的业主，小区一楼的住户私自把公共绿地圈起来盖了"
            "房子，请城管部门依法拆除。此致敬礼！",
            "report_illegal_construction",
        ),
        ("K2区某某路的烧烤店油烟太大了，熏得我们家不敢开窗", "report_sanitation"),
        # the address first
        ("3号楼2单元501门口有辆车堵住了消防通道，车牌浙A12345", "report_parking"),
        ("2号楼3单元 家里停水一整天了", "report_utilities"),
        # voice-style without punctuation, traditional characters, mixed numerals
        ("那个三号楼的电梯又坏了我妈上不去楼你们快点派人来修一下", "report_elevator"),
        ("樓上裝修噪音太大了每天早上七點就開始", "report_noise"),
        ("三幢楼下有辆车挡住了消防通道", "report_parking"),
        # a question for a government office is a request, not chat
        ("新生儿上户口要带什么证件", "report_other"),
    ],
)
def test_real_style_reports_come_out_as_their_report_intent(
    own_model: nlu.NLUModel, text: str, intent: str
) -> None:
    parse = own_model.parse(text)
    assert parse.intent.name == intent, [(r.name, r.confidence) for r in parse.ranking[:4]]


@pytest.mark.parametrize(
    "text",
    [
        "楼道灯坏了好几天，另外楼下垃圾桶也满了没人清",  # two problems in one message
        "家里有点问题",  # vague: a report, asked back with the likely categories
        "小区后面那家厂子一到晚上就有怪味道，环保局管不管",
    ],
)
def test_a_problem_is_never_refused(own_model: nlu.NLUModel, text: str) -> None:
    assert own_model.parse(text).intent.name.startswith(REPORTS)


@pytest.mark.parametrize("text", ["今天天气怎么样", "讲个笑话", "asdfgh", "高价回收二手手机"])
def test_chit_chat_spam_and_gibberish_stay_out_of_scope(own_model: nlu.NLUModel, text: str) -> None:
    assert own_model.parse(text).intent.name == "out_of_scope"


@pytest.mark.parametrize(("text", "intent"), [("您好", "greet"), ("谢谢", "thanks")])
def test_greetings_and_thanks_keep_their_intent(
    own_model: nlu.NLUModel, text: str, intent: str
) -> None:
    assert own_model.parse(text).intent.name == intent
