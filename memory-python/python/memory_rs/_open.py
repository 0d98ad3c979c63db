"""How both clients read their configuration into the engine's arguments."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

Urls = str | Sequence[str]
"""A backend URL, or a list of them of which the first reachable is used."""


def open_args(
    config: Mapping[str, Any] | str | os.PathLike[str] | None,
    overrides: Mapping[str, Urls | None],
) -> tuple[str | None, str | None, str | None]:
    """The native ``open``'s (config JSON, path, overrides JSON).

    A mapping is the whole configuration, as the TOML file's tables would be
    (``{"store": "sqlite://./memory.db", "engine": {"default_k": 5}}``); the
    environment is not read. A path names a TOML file, read as ``memory
    --config`` reads it, environment applied. ``None`` reads
    ``MEMORY_CONFIG``, else ``./memory.toml``, else the defaults, then the
    environment. URLs given as keywords win over all of these.
    """
    given = {k: (v if isinstance(v, str) else list(v)) for k, v in overrides.items() if v is not None}
    extra = json.dumps(given) if given else None
    if config is None:
        return None, None, extra
    if isinstance(config, Mapping):
        return json.dumps(config), None, extra
    return None, os.fspath(config), extra
