from handlers.flows.base import DESCRIPTION, PHONE, PHOTO, ReportFlow, Slot

FLOW = ReportFlow(
    intent="report_parking",
    category="parking",
    label={"zh": "违规停车", "en": "Parking"},
    priority="normal",
    slots=(
        DESCRIPTION,
        Slot("building", required=True, prompt="ask.building.parking"),
        Slot("plate"),
        PHOTO,
        PHONE,
    ),
    urgent_advice={
        "zh": "如车辆堵住消防通道且有火情，请立即拨打119。",
        "en": "If a fire lane is blocked during a fire, call 119 now.",
    },
    departments=("交管", "物业"),
)
