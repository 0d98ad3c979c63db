"""The asyncio client."""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import _calls
from ._calls import Call
from ._native import Engine
from ._open import Urls, open_args
from .client import described

P = ParamSpec("P")
T = TypeVar("T")


def method(
    build: Callable[Concatenate[str, P], Call[T]],
) -> Callable[Concatenate[AsyncMemory, P], Coroutine[Any, Any, T]]:
    """An awaitable method running the operation ``build`` describes, in the
    client's tenant, on the engine's own threads (the event loop never
    blocks)."""

    async def run(self: AsyncMemory, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = build(self.tenant, *args, **kwargs)
        return call.answer(await self._engine.call_async(call.op, call.payload()))

    return described(run, build)


class AsyncMemory:
    """The engine in this process, awaitable on asyncio: the same operations
    as :class:`memory_rs.Memory`. Open it with ``await AsyncMemory.open(...)``
    and close it with ``await m.aclose()`` or ``async with``."""

    def __init__(self, engine: Engine, tenant: str = "default") -> None:
        """Wraps an engine opened by :meth:`open`."""
        self.tenant = tenant
        """The tenant every call acts in."""
        self._engine = engine

    @classmethod
    async def open(
        cls,
        config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        store: Urls | None = None,
        vectors: Urls | None = None,
        short_term: str | None = None,
        embedder: str | None = None,
        language_model: str | None = None,
        reranker: str | None = None,
        tenant: str = "default",
        worker: bool | None = None,
    ) -> AsyncMemory:
        """Opens every backend; the arguments are :class:`memory_rs.Memory`'s."""
        overrides = {
            "store": store,
            "vectors": vectors,
            "short_term": short_term,
            "embedder": embedder,
            "language_model": language_model,
            "reranker": reranker,
        }
        cfg, path, extra = open_args(config, overrides)
        return cls(await Engine.open_async(cfg, path, extra, worker), tenant)

    def with_tenant(self, tenant: str) -> AsyncMemory:
        """The same engine acting in another tenant."""
        return AsyncMemory(self._engine, tenant)

    @property
    def worker_running(self) -> bool:
        """Whether this client runs the background worker."""
        return self._engine.worker_running

    async def aclose(self) -> None:
        """Stops the background worker after the jobs in hand (at most ten
        seconds). The client stays usable."""
        await self._engine.close_async()

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # The same table as Memory's: written out, not generated, so that type
    # checkers and editors see every method with its signature.
    add = method(_calls.add)
    add_batch = method(_calls.add_batch)
    search = method(_calls.search)
    get = method(_calls.get)
    update = method(_calls.update)
    delete = method(_calls.delete)
    history = method(_calls.history)
    list = method(_calls.list_memories)
    record_message = method(_calls.record_message)
    recent = method(_calls.recent)
    context = method(_calls.context)
    forget = method(_calls.forget)
    stats = method(_calls.stats)
    check = method(_calls.check)
    sync = method(_calls.sync)
    extract = method(_calls.extract)
    end_session = method(_calls.end_session)
    run_jobs = method(_calls.run_jobs)
    status = method(_calls.status)
