"""Scenario files: how every simulated link and service behaves, validated like the inventory.

A scenario names things, never addresses: link types, sites, ``site/link``, hubs and services of the
inventory it runs against. Targets:

- ``SITE`` — the site's primary link; ``SITE/LINK`` — one named link of the site;
- ``HUB`` — the hub's uplink to the data center (everything behind it shares its fate);
- ``SERVICE`` (an inventory service id) or ``dns`` — a server in the data center;
- ``SITE/DEVICE`` (in ``devices``) — an inventory device's SNMP agent: a UPS on battery, reboots.

An interface going down is a link going down: the site's interface named after the link loses its
carrier, which the site's agents report as ifOperStatus down.

A link's behaviour is layered: the scenario's ``link_types`` default for its type, then the entry for
the link itself, then runtime overrides from `netmon lab set`; each layer only changes the fields it
sets. Times in schedules count from the moment the lab came up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError

from netmon.inventory import ConfigError, ConfigIssue, Inventory
from netmon.inventory.loader import PYDANTIC_MESSAGES
from netmon.inventory.model import LinkType
from netmon.inventory.source import Document, read
from netmon.strict import Strict
from probes.base import Duration
from probes.wording import Lang

PRESETS = Path(__file__).resolve().parents[1] / "scenarios"

Seconds = Annotated[Duration, Field(ge=0.0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class Flap(Strict):
    """Down for ``down_for`` at the end of every ``every`` seconds (default: half of it)."""

    every: Annotated[Seconds, Field(gt=0.0)]
    down_for: Seconds | None = None

    def is_down(self, t: float) -> bool:
        down_for = self.every / 2 if self.down_for is None else min(self.down_for, self.every)
        return t % self.every >= self.every - down_for


def _flap_shorthand(value: object) -> object:
    return {"every": value} if isinstance(value, str | int | float) else value


class Outage(Strict):
    start: Seconds
    end: Seconds

    def is_down(self, t: float) -> bool:
        return self.start <= t < self.end


class LinkBehaviour(Strict):
    """Impairments of one link. ``delay`` is added round-trip time; ``jitter`` spreads each packet's
    delay uniformly over ±jitter; ``loss`` is the probability a packet toward the target is dropped
    (a secure channel riding the link shares all three)."""

    delay: Seconds = 0.0
    jitter: Seconds = 0.0
    loss: Ratio = 0.0
    down: bool = False
    flap: Annotated[Flap | None, BeforeValidator(_flap_shorthand)] = None
    outages: list[Outage] = []
    #: The site's encryptor has failed: its secure channel (riding this link) is down while the line
    #: itself stays up. A line that is down takes the channel with it whatever this says.
    secure_down: bool = False

    def is_down(self, t: float) -> bool:
        return (self.down or (self.flap is not None and self.flap.is_down(t))
                or any(o.is_down(t) for o in self.outages))

    def merged(self, changes: dict[str, Any]) -> LinkBehaviour:
        return self.model_validate({**self.model_dump(), **changes})


class ServiceBehaviour(Strict):
    """An HTTP(S) service: answer ``status`` after ``latency``; the certificate expires in ``cert_days``.

    ``slow_from`` adds latency for requests from one center only (site slug → seconds): the document
    system slow from Mường Lạn while the data center and every other center see it fine, as only an
    agent inside that center can tell."""

    status: int = Field(default=200, ge=100, le=599)
    latency: Seconds = 0.0
    cert_days: float = 365.0
    slow_from: dict[str, Seconds] = {}

    def merged(self, changes: dict[str, Any]) -> ServiceBehaviour:
        return self.model_validate({**self.model_dump(), **changes})


class DnsBehaviour(Strict):
    latency: Seconds = 0.0
    rcode: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"] = "NOERROR"

    def merged(self, changes: dict[str, Any]) -> DnsBehaviour:
        return self.model_validate({**self.model_dump(), **changes})


class DeviceBehaviour(Strict):
    """A device's SNMP agent: a UPS runs ``on_battery``; the agent restarts (a reboot, sysUpTime back to
    0) at each time in ``reboots``, counted from lab start."""

    on_battery: bool = False
    reboots: list[Seconds] = []

    def merged(self, changes: dict[str, Any]) -> DeviceBehaviour:
        return self.model_validate({**self.model_dump(), **changes})


def device_kinds(inventory: Inventory) -> dict[str, str]:
    """``SITE/DEVICE`` → device kind, for every device of the inventory."""
    return {f"{site.slug}/{d.id}": d.kind for site in inventory.spec.sites for d in site.devices}


def check_device(target: str, behaviour: DeviceBehaviour, kinds: dict[str, str]) -> str | None:
    """Why ``behaviour`` cannot apply to ``target`` (None if it can)."""
    if target not in kinds:
        return f"unknown device {target!r} (expected SITE/DEVICE of the inventory)"
    if behaviour.on_battery and kinds[target] != "ups":
        return f"{target} is a {kinds[target]}, only a ups runs on battery"
    return None


class Description(Strict):
    """A scenario's description in both languages (``description: {en: ..., vi: ...}``)."""

    en: str
    vi: str


def _in_both(value: object) -> object:
    return {"en": value, "vi": value} if isinstance(value, str) else value


class ScenarioFile(Strict):
    version: Literal[1]
    #: One line `netmon demo` shows: the same text for both languages, or each its own.
    description: Annotated[Description, BeforeValidator(_in_both)] = Description(en="", vi="")
    link_types: dict[LinkType, LinkBehaviour] = {}
    links: dict[str, LinkBehaviour] = {}
    services: dict[str, ServiceBehaviour] = {}
    dns: DnsBehaviour = DnsBehaviour()
    devices: dict[str, DeviceBehaviour] = {}

    def describe(self, lang: Lang) -> str:
        """The description in ``lang``."""
        return self.description.vi if lang == "vi" else self.description.en


def resolve_path(name_or_path: str | Path) -> Path:
    """A preset name (``calm``, ``province-day``, ``storm``) or a file path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    preset = PRESETS / f"{name_or_path}.yaml"
    if not preset.exists():
        names = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml")))
        issue = ConfigIssue(str(name_or_path), 0, "(file)", f"no such scenario (presets: {names})")
        raise ConfigError([issue])
    return preset


def link_targets(inventory: Inventory) -> set[str]:
    """Every name a link entry (or `netmon lab set`) may use."""
    names = {h.id for h in inventory.spec.hubs}
    for site in inventory.spec.sites:
        names.add(site.slug)
        names.update(f"{site.slug}/{link.id}" for link in site.links)
    return names


def load(name_or_path: str | Path, inventory: Inventory) -> ScenarioFile:
    """Read, validate and cross-check a scenario; every problem is reported with file:line:path."""
    doc = read(resolve_path(name_or_path))
    try:
        scenario = ScenarioFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(_issues(doc, exc)) from None
    issues = []
    known = link_targets(inventory)
    for target in scenario.links:
        if target not in known:
            issues.append(doc.issue(("links", target), f"unknown site, site/link or hub {target!r}"))
    services = {s.id for s in inventory.spec.services}
    slugs = {s.slug for s in inventory.spec.sites}
    for target, service in scenario.services.items():
        if target not in services:
            issues.append(doc.issue(("services", target), f"unknown service {target!r} "
                                    f"(inventory services: {', '.join(sorted(services))})"))
        issues += [doc.issue(("services", target, "slow_from", site), f"unknown site {site!r}")
                   for site in service.slow_from if site not in slugs]
    kinds = device_kinds(inventory)
    for target, behaviour in scenario.devices.items():
        if problem := check_device(target, behaviour, kinds):
            key = "on_battery" if target in kinds else None
            issues.append(doc.issue(("devices", target, *([key] if key else [])), problem))
    if issues:
        raise ConfigError(issues)
    return scenario


def _issues(doc: Document, exc: ValidationError) -> list[ConfigIssue]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = PYDANTIC_MESSAGES.get(err["type"], err["msg"])
        out.append(doc.issue(loc, message))
    return out
