"""What every `minhu` sub-command shares: settings read once with a plain error, and exits.

The sub-command modules (``bot/cli_*.py``) import this, never ``bot.cli``, which imports them.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError

from bot.config import Settings

PREFIX = "MINHU_"


def env_name(loc: tuple[int | str, ...]) -> str:
    """A settings field's environment variable: ("telegram", "token") → MINHU_TELEGRAM__TOKEN."""
    return PREFIX + "__".join(str(part).upper() for part in loc)


def explain(error: ValidationError) -> str:
    """One plain line per bad setting, named by the environment variable that sets it."""
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        name = env_name(loc)
        if item["type"] == "missing" and len(loc) > 1:
            # a section is on as soon as one of its variables is set: the rest are required
            section = env_name(loc[:-1]) + "__*"
            lines.append(
                f"{name} 未设置：设置了 {section} 中的其他变量时必须同时设置它"
                f" / {name} is not set: it is required once other {section} variables are set"
            )
        elif item["type"] == "missing":
            lines.append(f"{name} 未设置 / {name} is not set")
        else:
            lines.append(f"{name}: {item['msg']}")
    return "\n".join(lines)


def load_settings() -> Settings:
    """The settings from the environment; a configuration error exits 2 with a plain message."""
    try:
        return Settings()
    except ValidationError as e:  # say it plainly, by variable, no traceback
        typer.echo(f"配置错误 / configuration error:\n{explain(e)}", err=True)
        raise typer.Exit(2) from e
    except Exception as e:  # e.g. an environment value that is not valid JSON
        typer.echo(f"配置错误 / configuration error: {e}", err=True)
        raise typer.Exit(2) from e


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(code)
