"""Intents and examples: JSON API (``/api/v1/admin/intents``, ``/api/v1/admin/nlu/...``) and
the console pages (``/admin/intents``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from bot.admin.errors import BadInput
from bot.admin.intents import desk, last_evaluation
from bot.admin.routes_registry import LimitedBody, read_limited
from bot.admin.web import ApiUser, Dep, FormUser, PageUser, build_model, client_ip, redirect, render
from handlers.training_data import (
    TABLE_LABELS,
    ExampleIn,
    ExamplesIn,
    FlowInfo,
    IntentIn,
    IntentPatch,
    TableIn,
)

router = APIRouter()


class AddOut(BaseModel):
    added: int
    skipped: list[str]
    warnings: list[str]


def _flow_json(flow: FlowInfo) -> dict[str, Any]:
    data = asdict(flow)
    data["questions"] = [
        {"slot": slot, "question": question, "required": required}
        for slot, question, required in flow.questions
    ]
    return data


# --- JSON API ----------------------------------------------------------------------------------


@router.get("/api/v1/admin/intents", tags=["nlu"])
async def api_intents(c: Dep, p: ApiUser) -> dict[str, Any]:
    """Intents with example counts, last-evaluation F1, their dialogue flow and warnings."""
    rows, overall = await desk(c).list_intents(p)
    return {
        "intents": [
            {
                "name": r.name,
                "description": r.description,
                "examples": r.examples,
                "f1": r.f1,
                "flow": _flow_json(r.flow),
                "warnings": r.warnings,
            }
            for r in rows
        ],
        "warnings": overall,
    }


@router.post("/api/v1/admin/intents", status_code=201, tags=["nlu"])
async def api_create_intent(request: Request, c: Dep, p: ApiUser, body: IntentIn) -> dict[str, Any]:
    """Create an intent (snake_case name). Without a flow it is filed as 其他问题."""
    await desk(c).create_intent(p, body, ip=client_ip(request))
    return {"name": body.name}


@router.get("/api/v1/admin/intents/{name:path}", tags=["nlu"])
async def api_intent(c: Dep, p: ApiUser, name: str) -> dict[str, Any]:
    """An intent's examples (text, Rasa markup, entities), flow and questions."""
    detail = await desk(c).intent_detail(p, name)
    detail["flow"] = _flow_json(detail["flow"])
    return detail


@router.patch("/api/v1/admin/intents/{name:path}", tags=["nlu"])
async def api_update_intent(
    request: Request, c: Dep, p: ApiUser, name: str, body: IntentPatch
) -> dict[str, Any]:
    """Rename (intents without a flow only) or describe an intent."""
    return {"name": await desk(c).update_intent(p, name, body, ip=client_ip(request))}


@router.delete("/api/v1/admin/intents/{name:path}", status_code=204, tags=["nlu"])
async def api_delete_intent(request: Request, c: Dep, p: ApiUser, name: str) -> Response:
    """Delete an intent without a flow, with its examples."""
    await desk(c).delete_intent(p, name, ip=client_ip(request))
    return Response(status_code=204)


@router.post("/api/v1/admin/intents/{name:path}/examples", response_model=AddOut, tags=["nlu"])
async def api_add_examples(
    request: Request, c: Dep, p: ApiUser, name: str, body: ExamplesIn
) -> AddOut:
    """Add examples; entities in Rasa markup (``[3幢](building)``). Examples already under
    the intent are skipped; ones also under another intent come back as warnings."""
    result = await desk(c).add_examples(p, name, body.examples, ip=client_ip(request))
    return AddOut(added=len(result.added), skipped=result.skipped, warnings=result.warnings)


@router.put("/api/v1/admin/examples/{example_id}", tags=["nlu"])
async def api_update_example(
    request: Request, c: Dep, p: ApiUser, example_id: int, body: ExampleIn
) -> dict[str, Any]:
    """Edit an example's text and entities (markup), or move it to another intent."""
    warnings = await desk(c).update_example(p, example_id, body, ip=client_ip(request))
    return {"warnings": warnings}


@router.delete("/api/v1/admin/examples/{example_id}", status_code=204, tags=["nlu"])
async def api_delete_example(request: Request, c: Dep, p: ApiUser, example_id: int) -> Response:
    await desk(c).delete_example(p, example_id, ip=client_ip(request))
    return Response(status_code=204)


@router.get("/api/v1/admin/nlu/tables", tags=["nlu"])
async def api_tables(c: Dep, p: ApiUser) -> dict[str, Any]:
    """Synonyms (canonical value → variants), lookup tables and regexes."""
    return await desk(c).tables(p)


@router.put("/api/v1/admin/nlu/tables/{kind}/{name}", status_code=204, tags=["nlu"])
async def api_save_table(
    request: Request, c: Dep, p: ApiUser, kind: str, name: str, body: TableIn
) -> Response:
    """Create or replace a ``synonym``, ``lookup`` or ``regex`` (patterns are checked)."""
    await desk(c).save_table(p, kind, name, body.items, ip=client_ip(request))
    return Response(status_code=204)


@router.delete("/api/v1/admin/nlu/tables/{kind}/{name}", status_code=204, tags=["nlu"])
async def api_delete_table(request: Request, c: Dep, p: ApiUser, kind: str, name: str) -> Response:
    await desk(c).delete_table(p, kind, name, ip=client_ip(request))
    return Response(status_code=204)


@router.get("/api/v1/admin/nlu/export.yml", tags=["nlu"], response_class=Response)
async def api_export(c: Dep, p: ApiUser) -> Response:
    """All training data as Rasa 3 NLU YAML."""
    return _yaml(await desk(c).export_yaml(p))


@router.post("/api/v1/admin/nlu/import", tags=["nlu"])
async def api_import(
    _: LimitedBody,
    request: Request,
    c: Dep,
    p: ApiUser,
    file: Annotated[UploadFile, File(description="Rasa NLU YAML")],
    mode: Annotated[str, Form(pattern="^(merge|replace)$")] = "merge",
) -> dict[str, Any]:
    """Import Rasa NLU YAML (admins): ``merge`` adds to the data, ``replace`` swaps it all.
    Nothing is written when the file has an error."""
    text = await _text(c, file)
    return await desk(c).import_yaml(p, text, replace=mode == "replace", ip=client_ip(request))


async def _text(c: Any, file: UploadFile) -> str:
    data = await read_limited(c, file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput("YAML 文件需为 UTF-8 编码") from e


def _yaml(text: str) -> Response:
    return Response(
        content=text.encode("utf-8"),
        media_type="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="nlu.yml"'},
    )


# --- console ----------------------------------------------------------------------------------


@router.get("/admin/intents", include_in_schema=False)
async def intents_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    rows, overall = await desk(c).list_intents(p)
    _, f1_set = await last_evaluation(c)
    return render(request, "intents.html", p, intents=rows, overall=overall, f1_set=f1_set)


@router.post("/admin/intents", include_in_schema=False)
async def intents_create(
    request: Request,
    c: Dep,
    p: FormUser,
    name: Annotated[str, Form(max_length=60)],
    description: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    body = build_model(IntentIn, name=name.strip(), description=description)
    await desk(c).create_intent(p, body, ip=client_ip(request))
    return redirect(f"/admin/intents/{body.name}", f"已创建意图 {body.name}，请添加例句")


@router.get("/admin/intents/tables", include_in_schema=False)
async def tables_page(request: Request, c: Dep, p: PageUser) -> HTMLResponse:
    return render(
        request,
        "nlu_tables.html",
        p,
        tables=await desk(c).tables(p),
        labels=TABLE_LABELS,
    )


@router.post("/admin/intents/tables", include_in_schema=False)
async def tables_save(
    request: Request,
    c: Dep,
    p: FormUser,
    kind: Annotated[str, Form(max_length=10)],
    name: Annotated[str, Form(max_length=100)],
    items: Annotated[str, Form(max_length=200_000)] = "",
    op: Annotated[str, Form(max_length=10)] = "save",
) -> Response:
    if op == "delete":
        await desk(c).delete_table(p, kind, name, ip=client_ip(request))
        return redirect("/admin/intents/tables", f"已删除 {name}")
    await desk(c).save_table(p, kind, name, items.splitlines(), ip=client_ip(request))
    return redirect("/admin/intents/tables", f"已保存 {name}")


@router.get("/admin/intents/export.yml", include_in_schema=False)
async def export_page(c: Dep, p: PageUser) -> Response:
    return _yaml(await desk(c).export_yaml(p))


@router.post("/admin/intents/import", include_in_schema=False)
async def import_page(
    _: LimitedBody,
    request: Request,
    c: Dep,
    p: FormUser,
    file: Annotated[UploadFile, File()],
    mode: Annotated[str, Form(max_length=10)] = "merge",
) -> Response:
    text = await _text(c, file)
    result = await desk(c).import_yaml(p, text, replace=mode == "replace", ip=client_ip(request))
    message = f"导入完成：新意图 {result['intents']} 个，新例句 {result['examples']} 条"
    if result["notes"]:
        message += "。注意：" + "；".join(note.split(" / ")[0] for note in result["notes"])
    return redirect("/admin/intents", message)


@router.get("/admin/intents/{name:path}", include_in_schema=False)
async def intent_page(request: Request, c: Dep, p: PageUser, name: str) -> HTMLResponse:
    detail = await desk(c).intent_detail(p, name)
    rows, _ = await desk(c).list_intents(p)
    _, f1_set = await last_evaluation(c)
    return render(request, "intent.html", p, i=detail, names=[r.name for r in rows], f1_set=f1_set)


@router.post("/admin/intents/{name:path}/examples", include_in_schema=False)
async def examples_add(
    request: Request,
    c: Dep,
    p: FormUser,
    name: str,
    examples: Annotated[str, Form(max_length=200_000)],
) -> Response:
    result = await desk(c).add_examples(p, name, examples.splitlines(), ip=client_ip(request))
    message = f"已添加 {len(result.added)} 条例句"
    if result.skipped:
        message += f"，{len(result.skipped)} 条已存在未重复添加"
    if result.warnings:
        message += "。注意：" + "；".join(result.warnings[:5])
    return redirect(f"/admin/intents/{name}", message)


@router.post("/admin/intents/{name:path}/settings", include_in_schema=False)
async def intent_settings(
    request: Request,
    c: Dep,
    p: FormUser,
    name: str,
    new_name: Annotated[str, Form(max_length=60)] = "",
    description: Annotated[str, Form(max_length=200)] = "",
    op: Annotated[str, Form(max_length=10)] = "save",
) -> Response:
    if op == "delete":
        removed = await desk(c).delete_intent(p, name, ip=client_ip(request))
        return redirect("/admin/intents", f"已删除意图 {name}（{removed} 条例句）")
    body = build_model(IntentPatch, name=new_name.strip() or None, description=description)
    saved = await desk(c).update_intent(p, name, body, ip=client_ip(request))
    return redirect(f"/admin/intents/{saved}", "已保存")


@router.post("/admin/examples/{example_id}", include_in_schema=False)
async def example_edit(
    request: Request,
    c: Dep,
    p: FormUser,
    example_id: int,
    intent: Annotated[str, Form(max_length=60)],
    markup: Annotated[str, Form(max_length=1000)] = "",
    move_to: Annotated[str, Form(max_length=60)] = "",
    op: Annotated[str, Form(max_length=10)] = "save",
) -> Response:
    back = f"/admin/intents/{intent}"
    if op == "delete":
        await desk(c).delete_example(p, example_id, ip=client_ip(request))
        return redirect(back, "已删除例句")
    body = build_model(ExampleIn, markup=markup, intent=move_to or None)
    warnings = await desk(c).update_example(p, example_id, body, ip=client_ip(request))
    message = "已保存例句" + ("。注意：" + "；".join(warnings) if warnings else "")
    return redirect(back, message)
