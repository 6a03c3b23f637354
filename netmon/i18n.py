"""Vietnamese and English for what users read: CLI verdicts, alert summaries, planners' reports.

Each module keeps its own catalog next to the code that uses it, as ``{key: (english, vietnamese)}``,
and calls `text`. The language comes from ``--lang`` or ``NETMON_LANG`` (``vi`` or ``en``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from probes.wording import Lang, Wording, say

LANGS: tuple[Lang, ...] = ("en", "vi")


def lang(explicit: str | None = None) -> Lang:
    """The language to speak: ``explicit`` if given, else ``NETMON_LANG``, else English."""
    value = (explicit or os.environ.get("NETMON_LANG") or "en").lower()[:2]
    return "vi" if value == "vi" else "en"


def text(catalog: Mapping[str, Wording], key: str, language: Lang, **values: object) -> str:
    """``catalog[key]`` in ``language``, formatted with ``values``."""
    return say(catalog[key], language, **values)
