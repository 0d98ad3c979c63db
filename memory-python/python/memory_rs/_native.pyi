"""The compiled engine. Use :class:`memory_rs.Memory` or
:class:`memory_rs.AsyncMemory` instead of this module."""

from collections.abc import Awaitable
from os import PathLike

__version__: str

class Engine:
    """An open engine whose operations take and answer JSON text."""

    @staticmethod
    def open(
        config: str | None = None,
        path: str | PathLike[str] | None = None,
        overrides: str | None = None,
        worker: bool | None = None,
    ) -> Engine:
        """Opens every backend of the configuration (blocking)."""

    @staticmethod
    def open_async(
        config: str | None = None,
        path: str | PathLike[str] | None = None,
        overrides: str | None = None,
        worker: bool | None = None,
    ) -> Awaitable[Engine]:
        """Opens every backend of the configuration (awaitable)."""

    def call(self, op: str, args: str) -> str:
        """Runs one operation, blocking, with the GIL released."""

    def call_async(self, op: str, args: str) -> Awaitable[str]:
        """Runs one operation on the engine's runtime (awaitable)."""

    def close(self) -> None:
        """Stops the background worker, if one runs (blocking)."""

    def close_async(self) -> Awaitable[None]:
        """Stops the background worker, if one runs (awaitable)."""

    @property
    def worker_running(self) -> bool:
        """Whether a background worker runs."""
