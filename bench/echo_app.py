"""The physical limit of the web path: a bare FastAPI app answering a fixed WeChat XML reply."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

REPLY = (
    "<xml><ToUserName><![CDATA[o]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName>"
    "<CreateTime>0</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[收到]]></Content></xml>"
)

app = FastAPI()


@app.post("/webhooks/wechat")
async def echo(request: Request) -> Response:
    await request.body()
    return Response(content=REPLY, media_type="application/xml")
