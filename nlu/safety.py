"""Danger first: hazards a message reports as happening now, each with what to do at once.

A pure rule layer, run on every parse (``Parse.hazards``). A *cue* ("被困", "冒火花", "拿着刀",
"煤气味") fires a hazard unless

* a negation governs it ("没有人被困", "不是煤气味", "并未起火", "防止漏电", "闻不到煤气味");
* it is hypothetical, past or a precaution ("万一着火", "容易摔倒受伤", "上次着火的事",
  "去年发生过火灾", "火灾隐患", "触电的风险", "消防演练");
* it is habitual where that means "not now" ("天天冒烟", "经常有人打架"; never for gas or
  live electricity, which are dangerous however long they have lasted);
* it is told as a story: a date earlier in its sentence ("2018年5月3日 …打架"), or it stands
  beyond the first 120 characters of a long letter without a present marker ("现在", "刚才",
  "快来") in its sentence;
* it is figurative or about something else ("令人窒息", "头都要炸了", "救命钱", "打架的视频");
* it needs a context that is missing: "里面有人" / "出不来" only near a lift or a room, "漏气"
  only near gas words, "起不来" only after a fall, "要掉下来" only for an object, a child or an
  elderly person for "锁在车里" / "走丢了" / "站在栏杆上".

The context also chooses the advice: a person trapped in a lift gets 96333, elsewhere 119; sparks
at an electrical box get 119 and "power". Advice codes: ``96333`` (lift rescue), ``119`` (fire
and rescue), ``110`` (police), ``120`` (ambulance), ``gas`` (the gas company's emergency line),
``power`` (stay away and cut the power; the power company's repair line 95598).

Works on normalised text (simplified characters, half-width; see :func:`nlu.text.normalize`) and
keeps spans in the original text; voice-style text without punctuation is read clause by clause
through a short window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nlu.text import normalize
from nlu.types import ADVICE_ORDER, Hazard

KINDS = (
    "trapped",
    "electric_shock",
    "fire",
    "gas",
    "violence",
    "injury",
    "flood_electric",
    "falling_object",
    "vulnerable_person",
    "call_for_help",
)
"""Hazard kinds, in the order they are reported."""

# --- contexts (searched in the cue's sentence, a few characters either side) ---------------
_LIFT = r"电梯|轿厢|直梯|货梯|客梯|梯井"
_ROOM = (
    r"阳台|屋里|屋内|房间|房里|家里|家中|在家|卫生间|厕所|浴室|洗手间|室内|楼顶|天台|井里|井下|"
    r"地下室|储藏室|杂物间|仓库|柜子|门打不开|门锁|锁死|反锁|锁上|下水道|洞|坑|管道|缝|井"
)
_ELECTRIC = (
    r"配电|电箱|电表|电线|电缆|插座|插线板|排插|开关|电闸|变压器|充电桩|电井|电梯井|接线盒|线盒|"
    r"电路|线路|灯座|电器|路灯|灯杆"
)
_GAS = r"煤气|燃气|天然气|液化气|气罐|燃气管|气表|燃气表|灶|阀门|煤汽|媒气|然气"
_OBJECT = (
    r"瓷砖|砖|玻璃|窗|花盆|空调|外机|广告牌|招牌|树|枝|铁皮|彩钢|墙皮|墙面|外墙|保温层|石|瓶|"
    r"雨棚|雨篷|板|吊顶|天花|灯|东西|物|晾衣|防盗网|防盗窗|护栏|栏杆|管|构件|塔吊|吊车|围挡|"
    r"脚手架|杆"
)
_CHILD = r"孩|儿童|婴儿|宝宝|小朋友|女儿|儿子|娃|幼儿|学生|孙子|孙女|外孙|小姑娘"
_ELDER = (
    r"老人|老太|老大爷|大爷|老爷爷|老奶奶|奶奶|爷爷|外婆|外公|姥姥|姥爷|老伯|阿婆|老头|独居|"
    r"老年人|我爸|我妈|父亲|母亲|公公|婆婆|老爷子|老太太|老伴"
)
_PERSON = (
    r"人|工人|师傅|小伙|阿姨|大爷|大妈|男的|女的|小哥|保安|保洁|老公|老婆|" + _CHILD + "|" + _ELDER
)
_FALL = r"摔|倒|跌|滑|掉"
_ANIMAL = r"狗|猫|宠物|鸟|鸡|鸭|鹅|兔|鹦鹉|仓鼠|松鼠|蛇"

# --- what cancels a cue -------------------------------------------------------------------
_NEGATION = re.compile(
    r"(?:没有|没|无|未|并未|并非|不是|不会|不用|(?<![受忍少免])不|别|防止|预防|以免|避免|谨防|"
    r"以防|杜绝|严禁|禁止|免得|防)"
    r"(?:有人|人员|人|有|发现|闻到|看到|看见|听到|出现|发生|造成|引起|被|再|任何|什么|的|了|在|"
    r"里面|里|一点|是|过|到|再次|一个|用|要|会){0,4}$"
)
_HYPOTHETICAL = re.compile(
    r"万一|一旦|如果|要是|假如|假设|若是|倘若|容易|极易|易造成|易引发|可能会|可能造成|可能导致|"
    r"会造成|会导致|会引发|会引起|会不会|怕|担心|害怕|生怕|以防|演练|演习|培训|模拟|防范|差点|"
    r"差一点|险些|预防|宣传|知识|如何|提醒|注意|等到|直到|难道|哪天|迟早|早晚|冒着|将来|否则|"
    r"不然|令人|让人|使人|叫人|慢性|(?<!好)像|如同|仿佛|犹如|深感|期间|一到|每到|每逢|明天|后天|压得|憋得|熏得"
)
_PAST = re.compile(
    r"上次|上回|以前|之前|去年|前年|前几年|几年前|多年前|曾经|那次|上个月|上月|上周|上星期|历史|"
    r"当年|那年|早年|发生过|出现过|有过|闹过|过去|曾经|还曾|也曾|曾出现|曾发生|曾有"
)
_HABITUAL = re.compile(
    r"经常|总是|老是|天天|每天|时常|常常|多次|屡次|三番五次|动不动|每次|长期|常年|频繁|屡屡|时有|"
    r"常有|几次|多起|共计|累计|整天"
)
# A date or a past time earlier in the cue's sentence: a story, not an emergency (unless a
# present marker stands between them: "去年修过的电梯现在又困人了").
_DATED = re.compile(
    r"\d{2,4}年|\d{1,2}月\d{0,2}|\d{1,2}时许|[昨前]天|昨[晚日]|前晚|那天|当天|当时|当晚|事发|有一次|有次"
)
_PRESENT = re.compile(
    r"现在|正在|此刻|刚才|刚刚|今天|今晚|马上|赶紧|赶快|请立即|请立刻|快来|救命|请速|快点|快派"
)
_AFTER = re.compile(
    r"人?(?:的|了|等)?(?:隐患|风险|危险|可能|报警|自动|演练|演习|逃生|知识|防范|保险|的话|的事|保护|"
    r"预警|应急|预案|疏散|器材|设施|系统|事故|事件|情况|现象|问题|案件|(?:发生)?时|的时候|无效|无门|"
    r"的?视频|的?照片|的?新闻|的?报道)"
)
_CLAUSE_BREAK = re.compile(r"[,，。.!！?？;；:：\s]")
_SENTENCE_BREAK = re.compile(r"[。.!！?？;；\n]")
_BEFORE = 12  # characters before a cue read for negation, hypotheticals and the past
_CONTEXT = 16  # characters either side of a cue searched for its context
_STORY = 30  # characters before a cue, within its sentence, searched for a date
_MAX_CUE = 24  # no cue pattern matches more characters than this
OPENING = 120
"""Beyond the first characters of a long message (a letter) a cue needs a present marker in its
sentence ("现在", "正在", "刚才" ...): letters tell stories of past dangers."""


@dataclass(frozen=True, slots=True)
class _Cue:
    """One cue pattern: its hazard kind and advice, chosen by the first context present."""

    kind: str
    options: tuple[tuple[re.Pattern[str] | None, tuple[str, ...]], ...]
    unless: re.Pattern[str] | None = None  # skip when this is in the cue's sentence window
    habitual_cancels: bool = True


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_LIFT_C, _ROOM_C, _ELECTRIC_C, _GAS_C = _c(_LIFT), _c(_ROOM), _c(_ELECTRIC), _c(_GAS)
_OBJECT_C, _FALL_C = _c(_OBJECT), _c(_FALL)
_VULNERABLE_C, _PERSON_C = _c(_CHILD + "|" + _ELDER), _c(_PERSON)
_ELDER_C = _c(_ELDER)
_ANIMAL_C = _c(_ANIMAL)


def _any(*alternatives: str) -> str:
    return "|".join(alternatives)


_GAS_WORD = r"煤气|燃气|天然气|液化气|煤汽|媒气"
_NOT_BREAK = r"[^,，。.!！?？;；\s]"  # one character inside the same clause
_WHO = _any(_CHILD, _ELDER)
_TRAPPED_WHERE = ((_LIFT_C, ("96333",)), (_ROOM_C, ("119",)))
_STUCK = "卡|停|困|关着|出不|打不开|开不了|不动|故障|救|冲顶|蹲底|下坠|下滑|哭|喊|叫|出事|坏了|拍门"
_LIFT_STUCK_C = re.compile(rf"^(?=.*(?:{_LIFT}))(?=.*(?:{_STUCK}))", re.S)
_VICTIM = (
    r"人(?!家)|我(?!电话|手机|的电话)|他(?!电话|手机)|她(?!电话|手机)|保安|物业|邻居|业主|司机|老人|"
    r"孩子|小孩|学生|女的|男的|老婆|老公|妻子|女人|老师|医生|保洁"
)
_FIRE_ADVICE = (
    (_GAS_C, ("119", "gas")),
    (_ELECTRIC_C, ("119", "power")),
    (None, ("119",)),
)
_WHO_FELL = (  # a person (not "有人把垃圾") lying or fallen somewhere
    rf"(?:{_PERSON})(?:(?![把将])[^,，。.!！?？;；]){{0,8}}(?:倒|躺)在{_NOT_BREAK}{{0,5}}"
    r"(?:地|路|楼梯|门口|口|边|上|里)"
)
_NOT_PEOPLE = _c("钥匙|手机|东西|包裹|快递柜|快递盒|快递件|广告|电动车|自行车|车子")

_CUES: tuple[tuple[str, _Cue], ...] = (
    # --- people trapped: in a lift -> 96333, anywhere else -> 119
    (
        _any(
            r"被困(?![扰难惑])",
            r"困住(?!了?[我你他她]的)",
            r"(?<!贫)困人(?!口)|困在|被关在|被锁在|关住了|困电梯|困梯",
            r"(?:卡在|关在|困在|锁在)电梯(?:里|内|中|间)",
        ),
        _Cue(
            "trapped",
            ((_LIFT_C, ("96333",)), (None, ("119",))),
            unless=_c("钥匙|无法出行|出行难|下不了楼|上下楼难|广告"),
        ),
    ),
    (
        _any(
            r"困了(?=[一两几个人老小孩])|困着|关着(?:一个|两个|几个)?人",
            r"(?:关|困|卡|锁|夹)(?:了|住|着|到|伤)?(?:一个|两个|几个|个)?人(?!家|员|们)",
            r"(?:锁|关|困|卡|堵)在了?里[面边头]|关在电梯|在里[面边头](?!的)|卡在半空",
            r"里[面边头](?:还|都)?有(?:[一两三几]?个)?" + _NOT_BREAK + "{0,4}"
            r"(?:人|孩|娃|宝宝|哥|姐|妈|爸|老|孕妇|师傅|阿姨|大爷|奶奶|爷爷|叔|的(?!东西))",
            r"有人在里面|人还在里面|人在里面|出不来|出不去|下不来",
        ),
        _Cue("trapped", _TRAPPED_WHERE, unless=_NOT_PEOPLE),
    ),
    (  # a person locked in a room from inside or out ("孩子反锁在屋里"), not a key or a phone
        r"反锁在|(?:关|锁)在了?(?:屋|房间|房里|家|卫生间|厕所|浴室|洗手间|阳台|储藏室|地下室)",
        _Cue("trapped", ((_PERSON_C, ("119",)),), unless=_NOT_PEOPLE),
    ),
    (  # someone inside a lift that is stuck
        _any(
            r"在电梯(?:里|内|中|间)|里[面边头]的(?:人|孩子|小孩|老人)",
            r"(?:电梯|轿厢)里[面边头]?(?:还|都)?有(?:[一两三几]?个)?" + _NOT_BREAK + "{0,3}"
            r"(?:人|孩|娃|宝宝|哥|姐|妈|爸|老|孕妇|师傅|阿姨|大爷|奶奶|爷爷|叔)",
        ),
        _Cue("trapped", ((_LIFT_STUCK_C, ("96333",)),)),
    ),
    # --- electricity: a person shocked -> 120; live parts or leakage -> power
    (
        _any(
            r"触电|被电[到了倒伤击死晕打]|电击|被电一下|遭电击|电打了",
            r"电到(?:我|人|他|她|孩子|小孩|了)|电了我|把人电",
        ),
        _Cue("electric_shock", ((None, ("120",)),), unless=_c("保护器|保护开关|防触电")),
    ),
    (
        _any(
            r"漏电(?!保护|开关|断路)|带电|带着电|麻手|一摸就麻|碰一下就麻|电麻了",
            r"(?:电线|电缆|高压线|电线杆)被?[刮吹砸压扯拉烧]?(?:断|掉|落|倒)(?:了|在|下来|下|地)",
            r"(?:砸|(?<!高)压|搭|挂|倒)[在到断]?了?(?:电线|高压线|电缆)",
        ),
        _Cue("electric_shock", ((None, ("power",)),), habitual_cancels=False),
    ),
    # --- fire, smoke, sparks, explosions -> 119 (+ power at electrical equipment)
    (
        _any(
            r"[着著]火|起火|失火|火灾|火警|烧起来|烧了起来|烧着了|燃起来|自燃|火苗(?![很太]?小)|火光|火星|冒火",
            r"火花|(?<!燃)烧焦|焦糊味|爆炸|爆燃|燃爆|闪爆|还在烧(?![煤饭菜水香纸柴炭])|火着了|明火|大火|火势|火很大|火好大",
            r"[好很超老]大的火|冒出?"
            + _NOT_BREAK
            + r"{0,4}(?<![锅])火(?!锅|车|腿|龙|柴|气|候|灾|山|箭)|着伙",
            r"有火(?!锅|车|腿|龙|柴|气|爆|候|灾)|着起来|着了火|(?:车|房子|屋|棚|草|树|衣服)着了",
        ),
        _Cue("fire", _FIRE_ADVICE),
    ),
    (  # something burnt or blew up: a vehicle, a battery, a room
        _any(
            r"(?<![发退高低])烧(?:了|掉了|毁了|光了|没了)(?![水饭菜香纸开烤])",
            r"炸了|爆了|炸开了|爆开了|炸裂",
        ),
        _Cue(
            "fire",
            (
                (_ELECTRIC_C, ("119", "power")),
                (
                    _c("车|房|屋|楼|厨房|电瓶|电池|锅炉|罐|垃圾|草|树|仓库|店|热水器|高压锅"),
                    ("119",),
                ),
            ),
            unless=_c("轮胎|车胎|水管|气球|爆米花|爆料|头|脑袋|肺|气炸|心态"),
        ),
    ),
    (  # smoke, unless it is a chimney's, a cook's or a smoker's
        _any(
            r"冒烟|浓烟|黑烟|烟雾|烟冒出来|冒出(?:黑|白|浓)?烟",
            r"(?:有|全是|好多|很多|满是|一屋子|一楼道|都是|一股|大股)(?:黑|白|浓)?烟(?![囱味头花酒民台草盒管道机])",
            r"烟(?:好|很|太|特别|越来越)大|烟雾弥漫",
            r"烟" + _NOT_BREAK + r"{0,5}冒(?:上来|出来|进来)",
        ),
        _Cue(
            "fire",
            ((_ELECTRIC_C, ("119", "power")), (None, ("119",))),
            unless=_c("烟囱|排放|锅炉|污染|焚烧|炼油|排出|烤|炒|煮|做饭|烧饭|油烟|抽烟|吸烟"),
        ),
    ),
    (r"放火|纵火", _Cue("fire", ((None, ("119", "110")),))),
    # --- gas -> the gas company (a smell that lasts is still a leak: never habitual)
    (
        _any(
            r"(?:煤气|燃气|天然气|液化气|煤汽|媒气|然气|沼气)的?(?:味|气味)",
            r"(?:煤气|燃气|天然气|液化气)(?:泄漏|泄露|漏气|外泄|跑气|漏了)",
            r"(?:煤气|燃气|天然气|液化气)(?:管子?|管道|罐|表|阀门?)" + _NOT_BREAK + r"{0,4}"
            r"(?:断了|破了|爆了|裂了|漏了|挖断|挖破|弄破|撞断|撞破|破裂|裂开|爆裂|断裂|损坏)",
            r"漏了?(?:煤气|燃气|天然气|液化气)",
        ),
        _Cue("gas", ((None, ("gas",)),), habitual_cancels=False),
    ),
    (
        r"漏气|臭鸡蛋[味气]|冒气|嘶嘶|嗤嗤|[一还]?(?:直|在)漏|漏个不停|关不[掉上紧住了]",
        _Cue("gas", ((_GAS_C, ("gas",)),), habitual_cancels=False),
    ),
    (
        _any(
            r"(?:闻到|好重的?|很重的?|很浓的?|好浓的?|一股)"
            + _NOT_BREAK
            + r"{0,3}(?:"
            + _GAS_WORD
            + ")",
            r"(?:" + _GAS_WORD + r")(?:管子?|管道|罐|表|阀门?|灶)?" + _NOT_BREAK + r"{0,3}[漏泄]",
        ),
        _Cue("gas", ((None, ("gas",)),), habitual_cancels=False),
    ),
    # --- violence and weapons -> 110 (+ 120 when someone is stabbed or cut)
    (
        _any(
            r"打架|斗殴|殴打|打人|打起来|打群架|动手了|动起手|家暴|家庭暴力|抢劫|持刀|见人就打|乱打",
            r"追着打|打了起来|打成一团|扭打|互殴|群殴|(?<![雨风])打得|打伤|打死|打残",
            r"拿[着了]?(?:一把|把|一根|根)?(?:[菜砍水果尖]?刀|棍|棒|斧|铁棍|钢管|砖头|酒瓶|枪|刀子)",
            r"动刀子|动了刀|行凶|持械|抢(?:包|劫|东西|手机|项链)",
            r"打(?:一个|个|一群|几个)(?:人|学生|小孩|孩子|老人|女的|男的)",
            r"杀人|要杀|杀了我|砸人|闹事|打(?:老婆|老公|妻子|孩子|小孩|老人|女人)",
            r"被"
            + _NOT_BREAK
            + r"{0,5}打(?:了|伤|得)|威胁要|劫持|入室|撬"
            + _NOT_BREAK
            + r"{0,4}[门锁窗]|抢(?:孩子|小孩)|拐(?:卖|走)|抱走|打了[一]?顿|揍|推倒",
            r"打(?:我|他|她)(?!电话|手机|家)|打了我|弄死|整死|掐(?:人|住|我|她|他)|踢(?:人|我|她|他)",
            r"要(?:你|他|她|我)的?命|扇耳光|打耳光|围殴|追打|打砸|打成一片",
            r"打(?:了|伤了?|死了?)?(?:一个|个|一群|几个)?(?:" + _VICTIM + ")",
        ),
        _Cue("violence", ((None, ("110",)),)),
    ),
    (
        r"捅人|捅伤|砍人|砍伤|刺伤|用刀|被刀|刀伤|捅了|打晕|打昏|打倒|推下(?:楼|去|来)|推倒|(?<!工)伤人(?!员)",
        _Cue("violence", ((None, ("110", "120")),)),
    ),
    # --- injury, blood, unconscious, sudden illness -> 120; jumping -> 110 + 120
    (
        _any(
            r"(?<!很)受伤(?!害|的)|摔伤|砸伤|烫伤|烧伤|咬伤|撞伤|割伤|磕伤|磕破|摔破|[头脸]破了",
            r"流血|出血|(?<!脑)血流|流了?[很好]?多血|[浑满全一][身脸头地]是血|一[身脸]血|头破血流",
            r"划伤|划破|受了伤|伤得很重|伤得不轻|(?<!严)重伤(?!害)|伤势|噎住|卡住喉咙|呛住了",
            r"抽风(?!机)|羊癫疯|羊角风|误吃|误服|误食|吃错药|昏昏沉沉|神志不清|意识不清|没有意识|没反应了",
            r"全是血(?!汗)|都是血(?!汗)|好多血|很多血|一地血|血止不住",
            r"昏迷|晕倒|昏倒|晕过去|昏过去|晕到|昏到|不省人事|叫不醒|没有?呼吸|没气了|抽搐|口吐白沫",
            r"喘不[上过]来?气|呼吸不[上过了]来?|上不来气|透不过气|呼吸困难|脸色发紫",
            r"倒地|倒在地上|倒在路边|骨折|被车撞(?!坏|断|歪|烂)|撞倒了?人|中毒|窒息|溺水|休克|心梗",
            r"心肌梗|中风|羊水破|要生了|大出血",
            r"心脏病(?:犯|发作)|病发作|脑梗(?:了|发作)|犯病了|病犯了|发病了|癫痫",
            r"突发(?:疾病|心脏|脑|急病|病)|说不出话|半边身子|嘴歪|口齿不清",
            r"吐血|咳血|烫得|伤得|心脏不舒服|胸口疼得|胸痛",
            r"摔倒了|摔了一跤|摔了个跟头|跌倒了|摔得|跌得",
        ),
        _Cue("injury", ((None, ("120",)),)),
    ),
    (
        _any(
            r"一动不动|起不来|爬不起来|动不了",
            _WHO_FELL,
        ),
        _Cue(
            "injury",
            ((_c(_any(_FALL, "身子|身体|腿|脚|老伴")), ("120",)), (_PERSON_C, ("120",))),
            unless=_c("电梯|车"),
        ),
    ),
    (
        r"被" + _NOT_BREAK + r"{0,5}(?:咬|撞|轧|碾)(?:了|倒|伤|飞)",
        _Cue("injury", ((_PERSON_C, ("120",)),)),
    ),
    (
        r"(?:人|工人|师傅|小孩|孩子|老人|小伙|阿姨|大爷|男的|女的|老公|老婆)"
        + _NOT_BREAK
        + r"{0,8}(?:摔|掉|跌|坠|滚)下(?:来|去|楼)了?",
        _Cue("injury", ((None, ("120",)),)),
    ),
    (
        r"压住了?人|压在下面|压到人|砸到人|砸中|砸伤了?人",
        _Cue("injury", ((None, ("120", "119")),)),
    ),
    (
        _any(
            r"坠楼|跳楼|跳下去|跳下来|往下跳|要跳|想跳|跳河|跳湖|轻生|自杀|割腕|寻死|不想活",
            r"喝(?:了)?农药|吞药|服毒|喝药|(?:吃|喝|吞)了?"
            + _NOT_BREAK
            + r"{0,3}(?:安眠药|农药|老鼠药)",
        ),
        _Cue("injury", ((None, ("110", "120")),)),
    ),
    # --- water near electricity -> power
    (
        _any(
            r"进水|积水|被水淹|淹了|淹到|水淹|泡在水里|泡水|泡了|漏水|渗水|漫到|漫进|流进|流到|灌进",
            r"全是水|浸泡|浸水|滴水|在水里|冒水|渗进|进了水",
        ),
        _Cue("flood_electric", ((_ELECTRIC_C, ("power",)),), habitual_cancels=False),
    ),
    # --- falling objects: thrown -> 110, about to fall -> 119
    (
        _any(
            r"高空抛物|往(?:楼下|窗外|下面|外面|下)(?:扔|丢|抛|砸|泼)|(?:扔|丢|抛)"
            + _NOT_BREAK
            + "{0,6}下来",
            r"从" + _NOT_BREAK + r"{0,6}(?:扔|丢|抛|泼)",
        ),
        _Cue("falling_object", ((_c("楼|窗|阳台|上面|高处|顶|往下|下来"), ("110",)),)),
    ),
    (
        r"摇摇欲坠|倒塌|坍塌|塌下来|垮塌|要塌|快塌|塌方|(?:房|楼|墙|屋顶|顶棚|棚)子?塌了",
        _Cue("falling_object", ((None, ("119",)),), habitual_cancels=False),
    ),
    (
        _any(
            r"(?:要|快|马上|随时)[会要可能就]{0,2}(?:掉|飞|砸|倒)(?!电|线|价|色|漆|光|钱|队)"
            r"(?:下来|下去|了)?",
            r"掉下来了|掉下来(?=[一好几]|个)|砸下来|飞下来|坠落|往下掉(?=" + _NOT_BREAK + r"{0,2}"
            r"(?:玻璃|砖|石|瓦|水泥|钢|铁|招牌|广告牌|空调|花盆))|挂在半空|悬在半空|吊在半空",
            r"(?:瓷砖|玻璃|砖|石|瓦|招牌|广告牌|空调|花盆)" + _NOT_BREAK + r"{0,6}往下掉",
            r"砸(?:在|到)(?:人行道|地上|路上|车上|人)",
            r"(?:墙|树|房|棚|架|杆|牌|屋顶)" + _NOT_BREAK + r"{0,3}倒了",
        ),
        _Cue(
            "falling_object",
            (
                (
                    _c(_any(_OBJECT, "楼|顶|墙|阳台|上面|高处|水箱|太阳能|热水器|架|棚|檐|瓦|梁")),
                    ("119",),
                ),
            ),
            habitual_cancels=False,
        ),
    ),
    # --- a child or an elderly person at risk
    (
        r"被?(?:锁|关|困)在车[里内上]|锁车里|关车里",
        _Cue("vulnerable_person", ((_VULNERABLE_C, ("110", "119")),)),
    ),
    (
        _any(
            r"(?:爬|站|坐|挂|趴|吊|蹲)[到在上]?" + _NOT_BREAK + r"{0,4}"
            r"(?:窗台|窗外|窗户外|阳台外|栏杆|护栏|围栏|窗沿|楼顶边|屋顶|空调架|雨棚)",
            r"在"
            + _NOT_BREAK
            + r"{0,4}(?:窗外|窗户外[面边]?|阳台外|栏杆外|护栏外|楼顶边|天台边|屋顶|空调架|"
            r"雨棚)",
        ),
        _Cue("vulnerable_person", ((_VULNERABLE_C, ("119", "110")),)),
    ),
    (
        r"(?:掉|落|摔|跌)[到进入]"
        + _NOT_BREAK
        + r"{0,3}(?:井|水|河|湖|池|塘|坑|沟|化粪池)|落水|掉水里",
        _Cue("vulnerable_person", ((_PERSON_C, ("119", "120")),)),
    ),
    (
        r"卡在"
        + _NOT_BREAK
        + r"{0,8}(?:护栏|栏杆|窗|缝|门)|头被卡|被?夹(?:在|住)"
        + _NOT_BREAK
        + r"{0,6}(?:门|窗|缝|电梯|护栏|栏杆)",
        _Cue("vulnerable_person", ((_PERSON_C, ("119",)),)),
    ),
    (
        _any(
            r"走丢|走失|跑丢|走散|失联|迷路|失踪|还没回家|没回家|联系不上|找不[到着]家|回不了家",
            r"(?:还|都|一直)没(?:有)?回(?:来|家)|没回来|不知去向|下落不明",
            r"找不[到着](?:妈妈|爸爸|家长|家人|大人|爷爷|奶奶)|大人不在|家长不在|没有?大人",
            r"找不[到着]" + _NOT_BREAK + r"{0,2}(?:" + _WHO + ")",
            r"(?:" + _WHO + r")" + _NOT_BREAK + r"{0,3}(?:丢了|不见了|找不到了?|找不着)",
        ),
        _Cue("vulnerable_person", ((_VULNERABLE_C, ("110",)),)),
    ),
    (
        r"(?:好几天|几天|两天|三天|多天|一天一夜)了?"
        + _NOT_BREAK
        + r"{0,3}(?:没|没有|不见)(?:出门|见人|见到人|见着|见|动静|"
        r"开门|露面)|敲门[也都]?没人应|没人应门|一直没开门|敲[门]?[也都]?(?:不应|没人开|没反应)",
        _Cue("vulnerable_person", ((_ELDER_C, ("110", "120")),)),
    ),
    # --- explicit calls for help
    (r"(?<![钱着])救命(?![钱粮药稻恩])|呼救", _Cue("call_for_help", ((None, ("110",)),))),
    (r"快?(?:打|叫|拨)119", _Cue("fire", ((None, ("119",)),))),
    (r"叫救护车|喊救护车|(?:打|叫|拨)120", _Cue("injury", ((None, ("120",)),))),
    (r"快报警|报警啊|打110|拨110", _Cue("call_for_help", ((None, ("110",)),))),
)

# Each cue is searched on its own (overlapping cues all count). One alternation of them all
# would be twice as slow: separate patterns keep the regex engine's literal-prefix scans.
_COMPILED = tuple((re.compile(pattern), cue) for pattern, cue in _CUES)


def _clause_before(text: str, start: int) -> str:
    before = text[max(0, start - _BEFORE) : start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    return before[breaks[-1].end() :] if breaks else before


def _window(text: str, start: int, end: int) -> str:
    left = text[max(0, start - _CONTEXT) : start]
    right = text[end : end + _CONTEXT]
    if breaks := list(_SENTENCE_BREAK.finditer(left)):
        left = left[breaks[-1].end() :]
    if (n := _SENTENCE_BREAK.search(right)) is not None:
        right = right[: n.start()]
    return left + text[start:end] + right


def _sentence_before(text: str, start: int) -> str:
    before = text[max(0, start - _STORY) : start]
    breaks = list(_SENTENCE_BREAK.finditer(before))
    return before[breaks[-1].end() :] if breaks else before


def _cancelled(text: str, start: int, end: int, cue: _Cue, window: str) -> bool:
    before = _clause_before(text, start)
    if _NEGATION.search(before) or _HYPOTHETICAL.search(before) or _PAST.search(before):
        return True
    if before.endswith(("会", "会被", "可能", "如", "似")):  # "会划伤小孩", "灰尘如浓烟"
        return True
    if _AFTER.match(text, end):
        return True
    if cue.habitual_cancels and _HABITUAL.search(before) is not None:
        return True
    story = _sentence_before(text, start)
    if (dated := list(_DATED.finditer(story))) and not _PRESENT.search(story, dated[-1].end()):
        return True
    return start >= OPENING and not _PRESENT.search(window)


def _animal_only(text: str, start: int, window: str) -> bool:
    """The one shut in is an animal and no person is named near it ("孩子和狗被关在屋里" and
    "家里没人，狗关在阳台" both stay urgent: a person word anywhere in the window keeps it)."""
    return bool(_ANIMAL_C.search(_clause_before(text, start))) and not _PERSON_C.search(window)


def detect_hazards(text: str) -> tuple[Hazard, ...]:
    """Hazards a message reports as happening now (what ``Parse.hazards`` holds).

    Args:
        text: the message as sent (any string; traditional characters, full-width, no
            punctuation are all fine).

    Returns:
        One :class:`Hazard` per kind and advice found (the first cue that raised it), in text
        order, spans in ``text``. Empty when nothing is dangerous now.
    """
    return hazards_in(normalize(text), text)


@lru_cache(maxsize=64)
def hazards_in(text: str, original: str) -> tuple[Hazard, ...]:
    """:func:`detect_hazards` on an already normalised text (``original``: the same length)."""
    found: dict[tuple[str, tuple[str, ...]], Hazard] = {}
    for first, last in _regions(text):
        for pattern, cue in _COMPILED:
            for match in pattern.finditer(text, first, last):
                _consider(text, original, match.start(), match.end(), cue, found)
    return tuple(sorted(found.values(), key=lambda h: (h.start, KINDS.index(h.kind))))


def _regions(text: str) -> list[tuple[int, int]]:
    """Where a cue can count: the opening, and near present markers further on (parse time)."""
    n = len(text)
    spans = [(0, min(n, OPENING + _MAX_CUE))]
    if n > OPENING:
        reach = _CONTEXT + _MAX_CUE
        for m in _PRESENT.finditer(text, max(0, OPENING - _CONTEXT)):
            spans.append((max(0, m.start() - reach), min(n, m.end() + reach)))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _consider(
    text: str,
    original: str,
    start: int,
    end: int,
    cue: _Cue,
    found: dict[tuple[str, tuple[str, ...]], Hazard],
) -> None:
    """Add the hazard a cue raises at text[start:end], unless its context says otherwise."""
    window = _window(text, start, end)
    if cue.unless is not None and cue.unless.search(window):
        return
    if cue.kind == "trapped" and _animal_only(text, start, window):
        return  # "狗被关在阳台上": an animal shut in, nobody with it (an ordinary report)
    advice = next((codes for ctx, codes in cue.options if ctx is None or ctx.search(window)), None)
    if advice is None or _cancelled(text, start, end, cue, window):
        return
    key = (cue.kind, advice)
    if key not in found or start < found[key].start:
        found[key] = Hazard(cue.kind, advice, original[start:end], start, end)


def advice_for(hazards: tuple[Hazard, ...]) -> tuple[str, ...]:
    """Every advice code the hazards call for, once each, the most life-saving first."""
    codes = {code for hazard in hazards for code in hazard.advice}
    return tuple(code for code in ADVICE_ORDER if code in codes)
