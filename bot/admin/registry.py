"""The registry in the console: the running service's registry desk and CSV imports
(``handlers.registry_service``, ``handlers.registry_csv``). A change drops the service's
cached building list so routing sees it at once (other processes refresh within seconds)."""

from __future__ import annotations

from bot.container import Container
from handlers.registry_csv import RegistryImports
from handlers.registry_service import RegistryDesk


def desk(c: Container) -> RegistryDesk:
    return RegistryDesk(c.store, c.clock, on_change=c.service.invalidate_registry)


def imports(c: Container) -> RegistryImports:
    return RegistryImports(c.store, c.clock, desk(c))
