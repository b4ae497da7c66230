from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, PHOTO, ReportFlow

FLOW = ReportFlow(
    intent="report_illegal_construction",
    category="illegal_construction",
    label={"zh": "违章搭建", "en": "Illegal construction"},
    priority="normal",
    slots=(DESCRIPTION, BUILDING, PHOTO, PHONE),
    departments=("城管",),
)
