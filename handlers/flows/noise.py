from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, ROOM, ReportFlow

FLOW = ReportFlow(
    intent="report_noise",
    category="noise",
    label={"zh": "噪音扰民", "en": "Noise"},
    priority="normal",
    slots=(DESCRIPTION, BUILDING, ROOM, PHONE),
    departments=("物业", "城管"),
)
