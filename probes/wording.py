"""What a person reads about a probe's result, in Vietnamese and English.

Each probe declares its own words (failure reasons, its one-line summary) beside its code; this module
holds only what they share: the language type, the ``(english, vietnamese)`` pair and the way figures
are written (`ms` for round trips, `duration` for how long something has run: one home for each).
`netmon.i18n` picks the language and speaks for the application's own texts.
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


#: A span of time's units, largest first: (seconds in one, english, vietnamese).
_UNITS = ((86400, "d", "ngày"), (3600, "h", "giờ"), (60, "min", "phút"), (1, "s", "giây"))


def duration(seconds: float, lang: Lang = "en") -> str:
    """How long something has run, as a person reads it: its two largest units, whole, the smaller one
    even when 0 (``12 min 5 s`` / ``12 phút 5 giây``, ``1 d 0 h`` / ``1 ngày 0 giờ``, ``42 s`` /
    ``42 giây``): the CLI's uptimes (`netmon snmp`, `netmon lab status`) read alike."""
    rest = max(0, int(seconds))
    parts: list[str] = []
    for size, english, vietnamese in _UNITS:
        if parts or rest >= size or size == 1:
            count, rest = divmod(rest, size)
            parts.append(f"{count} {vietnamese if lang == 'vi' else english}")
            if len(parts) == 2:
                break
    return " ".join(parts)
