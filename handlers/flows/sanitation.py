from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, PHOTO, ReportFlow

FLOW = ReportFlow(
    intent="report_sanitation",
    category="sanitation",
    label={"zh": "环境卫生", "en": "Sanitation"},
    priority="normal",
    slots=(DESCRIPTION, BUILDING, PHOTO, PHONE),
    departments=("物业", "环卫"),
)
