from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, UNIT, ReportFlow

FLOW = ReportFlow(
    intent="report_elevator",
    category="elevator",
    label={"zh": "电梯故障", "en": "Elevator"},
    priority="high",
    slots=(DESCRIPTION, BUILDING, UNIT, PHONE),
    urgent_advice={
        "zh": "如有人被困，请让被困人员保持冷静、不要扒门，并按轿厢内警铃；"
        "也可拨打电梯应急救援电话96333。",
        "en": "If someone is trapped, tell them to stay calm, not to force the doors and to "
        "press the alarm button; the elevator rescue line is 96333.",
    },
    departments=("物业", "电梯维保单位"),
)
