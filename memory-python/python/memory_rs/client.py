"""The blocking client."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import _calls
from ._calls import Call
from ._native import Engine
from ._open import Urls, open_args

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def method(build: Callable[Concatenate[str, P], Call[T]]) -> Callable[Concatenate[Memory, P], T]:
    """A blocking method running the operation ``build`` describes, in the
    client's tenant, with the GIL released while the engine works."""

    def run(self: Memory, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = build(self.tenant, *args, **kwargs)
        return call.answer(self._engine.call(call.op, call.payload()))

    return described(run, build)


def described(run: F, build: Callable[..., Any]) -> F:
    """``run`` with ``build``'s name, docstring and signature (minus the
    tenant), so ``help()`` and editors show the operation's own."""
    run.__name__ = build.__name__
    run.__qualname__ = build.__qualname__
    run.__doc__ = build.__doc__
    params = list(inspect.signature(build).parameters.values())[1:]
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    run.__signature__ = inspect.signature(build).replace(parameters=[self_param, *params])  # type: ignore[attr-defined]
    return run


class Memory:
    """The engine in this process: long-term memories with hybrid search,
    conversations and their short-term window, on the embedded default
    (SQLite and the local model) or any configured backend.

    Use as a context manager, or call :meth:`close`, to stop the background
    worker cleanly.
    """

    def __init__(
        self,
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
    ) -> None:
        """Opens every backend.

        ``config`` is a configuration mapping (the TOML file's tables, read as
        given), a TOML file's path, or ``None`` for ``MEMORY_CONFIG``, else
        ``./memory.toml``, else the defaults (environment applied to files
        and defaults, as the ``memory`` CLI does). ``store``, ``vectors``,
        ``short_term``, ``embedder``, ``language_model`` and ``reranker``
        override it. Every call acts in ``tenant``. ``worker`` runs the
        background worker (vector sync, extraction, decay) in this process;
        by default as ``[worker] enabled`` says (on).
        """
        overrides = {
            "store": store,
            "vectors": vectors,
            "short_term": short_term,
            "embedder": embedder,
            "language_model": language_model,
            "reranker": reranker,
        }
        cfg, path, extra = open_args(config, overrides)
        self.tenant = tenant
        """The tenant every call acts in."""
        self._engine = Engine.open(cfg, path, extra, worker)

    @classmethod
    def _from_engine(cls, engine: Engine, tenant: str) -> Memory:
        self = cls.__new__(cls)
        self.tenant = tenant
        self._engine = engine
        return self

    def with_tenant(self, tenant: str) -> Memory:
        """The same engine acting in another tenant."""
        return Memory._from_engine(self._engine, tenant)

    @property
    def worker_running(self) -> bool:
        """Whether this client runs the background worker."""
        return self._engine.worker_running

    def close(self) -> None:
        """Stops the background worker after the jobs in hand (at most ten
        seconds). The client stays usable."""
        self._engine.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
