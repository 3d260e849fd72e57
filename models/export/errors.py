"""One exception for the export tools, shaped like the runtime's GateError."""
from __future__ import annotations


class ExportError(Exception):
    """`code` comes from the runtime's catalogue (src/plugin/core/errors.ts), so a user who sees
    it in either language searches for the same thing; `details` carries machine-readable lists."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"
