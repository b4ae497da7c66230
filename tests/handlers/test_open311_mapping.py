"""Open311 GeoReport v2 mapping: the spec's field names, query rules, and no personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.open311 import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    PUBLIC_STATUS,
    REQUEST_FIELDS,
    REQUEST_REQUIRED,
    SERVICE_FIELDS,
    SERVICE_REQUIRED,
    Open311Error,
    Open311Policy,
    PublicTicket,
    parse_query,
    request_record,
    service_codes,
    service_list,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
POLICY = Open311Policy()
CODES = service_codes()


def ticket(**overrides: object) -> PublicTicket:
    values: dict[str, object] = {
        "number": "MH-20261122-0001",
        "status": "in_progress",
        "category": "parking",
        "description": "6幢门口浙A12345堵了消防通道，我是王先生，电话13812345678，住3-2-501",
        "created_at": NOW,
        "updated_at": NOW + timedelta(hours=1),
        "community": "阳光花园社区",
        "street": "西溪街道",
        "building": "6幢",
        "building_lat": 30.2747,
        "building_lon": 120.1559,
        "ticket_lat": 30.27471234,
        "ticket_lon": 120.15591234,
        "grid": "第二网格",
        "last_note": "已电话联系车主13900001111",
        "expected_at": NOW + timedelta(days=3),
        "accept_target": "2小时",
        "resolve_target": "3天",
        "labels": {"parking": "违规停车"},
    }
    values.update(overrides)
    return PublicTicket(**values)  # type: ignore[arg-type]


def test_services_use_exactly_the_specs_fields() -> None:
    services = service_list()
    assert {s["service_code"] for s in services} == CODES
    for service in services:
        assert set(service) <= set(SERVICE_FIELDS)
        assert set(SERVICE_REQUIRED) <= set(service)
        assert service["type"] in ("realtime", "batch", "blackbox")
        assert service["metadata"] is False


def test_a_request_uses_only_the_specs_fields_and_w3c_times() -> None:
    record = request_record(ticket(), POLICY)
    assert set(record) <= set(REQUEST_FIELDS)
    assert set(REQUEST_REQUIRED) <= set(record)
    assert record["status"] == "open"
    assert record["requested_datetime"] == "2026-11-22T17:00:00+08:00"
    assert datetime.fromisoformat(record["updated_datetime"]) == NOW + timedelta(hours=1)
    assert datetime.fromisoformat(record["expected_datetime"]) == NOW + timedelta(days=3)
    assert record["service_name"] == "违规停车"
    assert record["agency_responsible"] == "阳光花园社区第二网格"
    assert "2小时" in record["service_notice"]


def test_nothing_personal_is_published() -> None:
    record = request_record(ticket(), POLICY)
    text = str(record)
    for secret in ("13812345678", "13900001111", "浙A12345", "3-2-501", "王先生"):
        assert secret not in text
    assert "堵了消防通道" in record["description"]  # the problem itself stays readable
    assert record["address"] == "6幢，阳光花园社区，西溪街道"  # building level only
    assert (record["lat"], record["long"]) == (30.2747, 120.1559)  # the building, not the person
    assert "media_url" not in record


def test_a_residents_name_and_spaced_phone_and_a_workers_note_never_leak() -> None:
    record = request_record(
        ticket(
            description="我叫张建国，电话139 1234 5678，6幢门口的车堵了消防通道",
            last_note="已联系住户王建国，明天上门处理，电话13900001111",
        ),
        POLICY,
    )
    text = str(record)
    for secret in ("张建国", "139 1234 5678", "13912345678", "王建国", "13900001111", "已联系"):
        assert secret not in text
    assert record["description"] == "我叫***，电话139 **** 5678，6幢门口的车堵了消防通道"
    assert record["status_notes"] == PUBLIC_STATUS["in_progress"]


def test_status_notes_are_the_status_in_words_never_a_workers_note() -> None:
    for status, words in PUBLIC_STATUS.items():
        record = request_record(ticket(status=status, last_note="已劝停，住户李娜"), POLICY)
        assert record["status_notes"] == words


def test_without_a_building_the_shared_location_is_rounded() -> None:
    record = request_record(ticket(building="", building_lat=None, building_lon=None), POLICY)
    assert (record["lat"], record["long"]) == (30.275, 120.156)


def test_disputes_publish_no_description() -> None:
    record = request_record(ticket(category="dispute", description="和501的张某吵架"), POLICY)
    assert record["description"] == ""


@pytest.mark.parametrize(
    ("status", "expected"),
    [(s, "open") for s in OPEN_STATUSES] + [(s, "closed") for s in CLOSED_STATUSES],
)
def test_statuses_map_to_open_or_closed(status: str, expected: str) -> None:
    record = request_record(ticket(status=status), POLICY)
    assert record["status"] == expected
    assert ("expected_datetime" in record) is (expected == "open")


def test_a_merged_ticket_says_where_it_went() -> None:
    record = request_record(ticket(status="merged", merged_into="MH-20261122-0009"), POLICY)
    assert "MH-20261122-0009" in record["status_notes"]


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("电话 0571-88881234", "88881234"),
        ("身份证330102199001011234", "330102199001011234"),
        ("2单元501漏水", "501"),
        ("邮箱 li@example.com", "li@example.com"),
        ("微信号 zhang_san88", "zhang_san88"),
        ("电话 139-1234-5678", "1234"),
        ("+86 139 1234 5678", "1234"),
        ("业主欧阳娜娜反映", "欧阳娜娜"),
    ],
)
def test_the_description_masks_identifiers(text: str, hidden: str) -> None:
    assert hidden not in request_record(ticket(description=text), POLICY)["description"]


def test_default_query_is_the_last_90_days_and_1000_requests() -> None:
    query = parse_query({}, now=NOW, policy=POLICY, codes=CODES)
    assert (query.start, query.end, query.limit) == (NOW - timedelta(days=90), NOW, 1000)
    assert query.numbers is None and query.statuses is None


def test_service_request_id_overrides_every_other_filter() -> None:
    query = parse_query(
        {"service_request_id": "mh-20261122-0001, MH-20261122-0002", "status": "bogus"},
        now=NOW,
        policy=POLICY,
        codes=CODES,
    )
    assert query.numbers == ("MH-20261122-0001", "MH-20261122-0002")


def test_filters_are_parsed() -> None:
    query = parse_query(
        {
            "service_code": "parking,elevator",
            "start_date": "2026-11-01T00:00:00Z",
            "end_date": "2026-11-20T00:00:00+08:00",
            "status": "closed",
        },
        now=NOW,
        policy=POLICY,
        codes=CODES,
    )
    assert query.categories == ("parking", "elevator")
    assert query.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert query.statuses == CLOSED_STATUSES


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, 400),
        ({"start_date": "yesterday"}, 400),
        ({"end_date": "2026-01-01T00:00:00Z", "start_date": "2026-02-01T00:00:00Z"}, 400),
        ({"status": "pending"}, 400),
        ({"service_code": "pothole"}, 400),
        ({"service_request_id": "1; DROP TABLE ticket"}, 400),
    ],
)
def test_bad_queries_get_a_clear_400(params: dict[str, str], code: int) -> None:
    with pytest.raises(Open311Error) as raised:
        parse_query(params, now=NOW, policy=POLICY, codes=CODES)
    assert raised.value.code == code and raised.value.description


def test_another_jurisdiction_is_not_found() -> None:
    policy = Open311Policy(jurisdiction_id="xixi.hangzhou.gov.cn")
    with pytest.raises(Open311Error) as raised:
        parse_query({"jurisdiction_id": "nyc.gov"}, now=NOW, policy=policy, codes=CODES)
    assert raised.value.code == 404
    parse_query({"jurisdiction_id": "xixi.hangzhou.gov.cn"}, now=NOW, policy=policy, codes=CODES)
