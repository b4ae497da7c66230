"""What every `minhu` sub-command shares: settings read once with a plain error, and exits.

The sub-command modules (``bot/cli_*.py``) import this, never ``bot.cli``, which imports them.
"""

from __future__ import annotations

import typer

from bot.config import Settings


def load_settings() -> Settings:
    """The settings from the environment; a configuration error exits 2 with a plain message."""
    try:
        return Settings()
    except Exception as e:  # pydantic ValidationError: say it plainly, no traceback
        typer.echo(f"配置错误 / configuration error: {e}", err=True)
        raise typer.Exit(2) from e


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(code)
