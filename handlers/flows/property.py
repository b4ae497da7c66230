from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, PHOTO, ReportFlow

FLOW = ReportFlow(
    intent="report_property",
    category="property",
    label={"zh": "物业服务", "en": "Property management"},
    priority="normal",
    slots=(DESCRIPTION, BUILDING, PHOTO, PHONE),
    departments=("物业", "业委会"),
)
