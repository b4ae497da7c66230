"""Minhu chat front door: the shell (FastAPI app, channels, CLI)."""
