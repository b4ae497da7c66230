from handlers.flows.base import BUILDING, DESCRIPTION, PHONE, ReportFlow

FLOW = ReportFlow(
    intent="report_dispute",
    category="dispute",
    label={"zh": "邻里纠纷", "en": "Dispute"},
    priority="normal",
    slots=(DESCRIPTION, BUILDING, PHONE),
    urgent_advice={
        "zh": "如有人受伤或正在发生冲突，请立即拨打110。",
        "en": "If someone is hurt or a fight is going on, call 110 now.",
    },
    departments=("人民调解委员会",),
)
