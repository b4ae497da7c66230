from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, ROOM, UNIT, ReportFlow

FLOW = ReportFlow(
    intent="report_utilities",
    category="utilities",
    label={"zh": "水电气", "en": "Water, power, gas"},
    priority="normal",
    slots=(DESCRIPTION, BUILDING, UNIT, ROOM, PHONE),
    urgent_advice={
        "zh": "如闻到燃气味，请不要开关电器、不要动明火，打开门窗后到室外拨打燃气抢修电话。",
        "en": "If you smell gas, don't touch switches or flames; open the windows, go outside "
        "and call the gas emergency line.",
    },
    departments=("物业", "水务", "供电", "燃气"),
)
