"""What a person reads about a probe's result, in Vietnamese and English.

Each probe declares its own words (failure reasons, its one-line summary) beside its code; this module
holds only what they share: the language type, the ``(english, vietnamese)`` pair and the way figures
are written. `netmon.i18n` picks the language and speaks for the application's own texts.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "vi"]
#: One text in both languages: ``(english, vietnamese)``, each a `str.format` template.
Wording = tuple[str, str]


def say(wording: Wording, lang: Lang, **values: object) -> str:
    """``wording`` in ``lang``, formatted with ``values``."""
    english, vietnamese = wording
    return (vietnamese if lang == "vi" else english).format(**values)


def ms(seconds: float) -> str:
    """A duration as a technician reads it: milliseconds, two significant digits at most below 10."""
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 1 else f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
