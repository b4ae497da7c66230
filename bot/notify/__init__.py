"""Notification transports: one module per target, each a handlers.ports.Notifier."""
