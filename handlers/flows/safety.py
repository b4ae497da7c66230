from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, PHOTO, ReportFlow

FLOW = ReportFlow(
    intent="report_safety",
    category="safety",
    label={"zh": "安全隐患", "en": "Safety hazard"},
    priority="high",
    slots=(DESCRIPTION, BUILDING, PHOTO, PHONE),
    urgent_advice={
        "zh": "如已着火或冒烟，请立即拨打119并撤离到安全地带。",
        "en": "If there is fire or smoke, call 119 and get to a safe place now.",
    },
    departments=("消防", "物业", "城管"),
)
