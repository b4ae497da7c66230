from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, ReportFlow

FLOW = ReportFlow(
    intent="report_other",
    category="other",
    label={"zh": "其他问题", "en": "Other"},
    priority="normal",
    slots=(DESCRIPTION, BUILDING, PHONE),
)
