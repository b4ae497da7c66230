"""One conversation per role, each on top of the ticket service.

``MinhuService`` (handlers/service.py) receives and stores every message, takes the
conversation lock and hands the message to the conversation of whoever sent it:

- ``resident``: the dialogue policy (handlers/dialogue) and the actions it asks for;
- ``worker``: grid workers' commands on their tasks (接单, 进展, 办结, 转派, 移交, 合并 …);
- ``department``: a department's contact answering tickets handed to them.

``context`` holds what they share: the cached building registry and a task's one-line summary.
"""
