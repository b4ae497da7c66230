"""WeChat official-account support shared by the channel, its notifier and ``minhu wechat``.

wechatpy does the platform's crypto, signatures, message parsing and reply XML. Its HTTP
client is synchronous and keeps its own access token, so the HTTP API is called here with
httpx instead (see ``api.py``): no thread per call, explicit timeouts, and one token shared by
every process through the session store.
"""
