"""Find the place a technician names on the phone: slug, Vietnamese name with or without diacritics,
admin code or hub id — and when nothing matches, suggest the closest names instead of a bare "unknown".

Matching folds case and diacritics (``Chiềng Mung`` == ``chieng mung`` == ``chieng-mung``), because
people type on phones and terminals without Vietnamese input methods.
"""

from __future__ import annotations

import difflib
import ipaddress
import unicodedata
from dataclasses import dataclass

from netmon import i18n
from netmon.inventory.model import Hub, InventoryFile, Site
from probes.errors import NetmonError

#: Exit code for usage and configuration errors, shared by every diagnose command.
USAGE_EXIT = 3


def fold(text: str) -> str:
    """Lower-case ASCII form of ``text``: diacritics dropped, đ→d, separators collapsed to one space."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(bare.replace("-", " ").replace("_", " ").split())


class UnknownPlace(NetmonError):
    """No site or hub matches; the message lists the closest names so the user can retry."""

    exit_code = USAGE_EXIT

    def __init__(self, query: str, suggestions: list[str]):
        self.query = query
        self.suggestions = suggestions
        lang = i18n.lang()
        hint = i18n.text(_TEXT, "did_you_mean", lang, names=", ".join(suggestions)) if suggestions else ""
        super().__init__(i18n.text(_TEXT, "unknown", lang, query=query, hint=hint))


class AmbiguousPlace(NetmonError):
    """Several sites or hubs match once diacritics are folded; the message lists them all."""

    exit_code = USAGE_EXIT

    def __init__(self, query: str, choices: list[str]):
        self.query = query
        self.choices = choices
        super().__init__(i18n.text(_TEXT, "ambiguous", i18n.lang(), query=query, choices="; ".join(choices)))


_TEXT = {
    "unknown": ("no site or hub called {query!r}{hint}", "không có điểm hay trạm nào tên {query!r}{hint}"),
    "did_you_mean": ("; did you mean: {names}?", "; có phải: {names}?"),
    "not_a_host": ("{unknown}\nTARGET is an address, a host name with its domain, or a site or hub of the "
                   "inventory; `netmon probe SITE` runs every check of a site",
                   "{unknown}\nTARGET là địa chỉ IP, tên máy có tên miền, hoặc một điểm hay trạm trong danh "
                   "mục; `netmon probe SITE` chạy mọi kiểm tra của một điểm"),
    "ambiguous": ("{query!r} matches several places: {choices}. Type the name with its diacritics, "
                  "or the slug",
                  "{query!r} khớp với nhiều nơi: {choices}. Gõ tên có đủ dấu, hoặc mã (slug)"),
}


class NotAHost(NetmonError):
    """A `netmon ping`/`trace` TARGET that is neither an address or a host name nor a place of the
    inventory; the message has `UnknownPlace`'s suggestions."""

    exit_code = USAGE_EXIT


@dataclass(frozen=True, slots=True)
class Place:
    """What was found: a commune/ward center (``site``) or a VNPT hub (``hub``), never both."""

    site: Site | None = None
    hub: Hub | None = None

    @property
    def slug(self) -> str:
        return self.site.slug if self.site else self.hub.id if self.hub else ""

    @property
    def name(self) -> str:
        return self.site.name if self.site else self.hub.name if self.hub else ""


def find(spec: InventoryFile, query: str, limit: int = 3) -> Place:
    """The site or hub ``query`` names; raises `UnknownPlace` with up to ``limit`` suggestions.

    Folding makes "Mường Bu" and "Mường Bú" the same key: a query written exactly as one name (with its
    diacritics) picks that one; any other query matching several is `AmbiguousPlace`, never a guess.
    """
    typed = unicodedata.normalize("NFC", query.strip())
    wanted = fold(query)
    matches = [Place(site=s) for s in spec.sites if wanted in (fold(s.slug), fold(s.name), s.admin_code)]
    matches += [Place(hub=h) for h in spec.hubs if wanted in (fold(h.id), fold(h.name))]
    if len(matches) > 1:
        exact = [p for p in matches if typed in (p.slug, unicodedata.normalize("NFC", p.name))
                 or (p.site is not None and typed == p.site.admin_code)]
        if len(exact) == 1:
            return exact[0]
        raise AmbiguousPlace(query, [f"{p.name} ({p.slug})" for p in matches])
    if matches:
        return matches[0]
    raise UnknownPlace(query, suggest(spec, wanted, limit))


def suggest(spec: InventoryFile, folded: str, limit: int = 3) -> list[str]:
    """Display names closest to ``folded`` (already folded), best first, as "Name (slug)"."""
    keys: dict[str, str] = {}
    for site in spec.sites:
        label = f"{site.name} ({site.slug})"
        keys.setdefault(fold(site.name), label)
        keys.setdefault(fold(site.slug), label)
    for hub in spec.hubs:
        keys.setdefault(fold(hub.id), f"{hub.name} ({hub.id})")
    # A bare name typed without the "xa"/"phuong" prefix still scores well against the name itself.
    close = difflib.get_close_matches(folded, list(keys), n=limit * 2, cutoff=0.6)
    labels: list[str] = []
    for key in close:
        if keys[key] not in labels:
            labels.append(keys[key])
    return labels[:limit]


def address(spec: InventoryFile | None, target: str) -> str:
    """Where `netmon ping`/`trace` send for ``target``: an address as is; a site, found as `netmon probe`
    finds it (`find`), by its primary link's CPE; a hub by its address; any other name with a dot (or
    ``localhost``) as a host name to resolve.

    A technician types the site's slug: a bare word that names no place is `NotAHost`, suggesting the
    closest places, never a DNS query for a name that cannot be a host of ours."""
    try:
        return str(ipaddress.ip_address(target))
    except ValueError:
        pass
    if spec is None:
        return target
    try:
        place = find(spec, target)
    except UnknownPlace as exc:
        if "." in target or target == "localhost":
            return target
        raise NotAHost(i18n.text(_TEXT, "not_a_host", i18n.lang(), unknown=exc)) from None
    if place.hub is not None:
        return place.hub.address
    assert place.site is not None
    return place.site.primary.cpe
