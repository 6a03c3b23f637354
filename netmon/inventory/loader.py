"""Load, validate and resolve the inventory into the `Check` values the scheduler runs.

Validation happens in three passes, and every pass reports all of its problems at once:
1. YAML syntax and duplicate keys (`source`), 2. the schema (`model`), 3. whole-file rules here —
unique names, references that resolve, each probe's own options, timeouts that fit their interval
and their probe, coordinates inside Vietnam. Any issue raises `ConfigError`; nothing half-valid
is ever returned, so a reload can keep the last good inventory.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from netmon.inventory import setaside
from netmon.inventory.model import SECURE_CHECK, CheckConfig, InventoryFile, Link, Site, Thresholds
from netmon.inventory.source import ConfigError, ConfigIssue, Document, read
from probes import base

log = logging.getLogger("netmon.inventory")

#: Bounding box of Vietnam's territory on land (mainland and near-shore islands), generous by ~0.2°.
VIETNAM_LAT = (8.0, 23.6)
VIETNAM_LON = (102.0, 110.0)

#: pydantic's words for what the config files' readers say otherwise (the inventory, scenarios, `lab set`).
PYDANTIC_MESSAGES = {
    "extra_forbidden": "unknown key",
    "unexpected_keyword_argument": "unknown key",  # the same, in a probe's options (a dataclass)
    "missing": "required field missing",
}


@dataclass(frozen=True, slots=True)
class Node:
    """Anything that owns checks: a commune/ward center, a VNPT hub, or the data center itself.

    These are the plain values exporters publish as ``netmon_site_info``.
    """

    slug: str
    name: str
    kind: str
    district: str
    lat: float | None
    lon: float | None
    upstream: str
    link_type: str
    isp: str


@dataclass(frozen=True)
class Inventory:
    """A validated, resolved inventory. Immutable: a reload builds a new one."""

    file: str
    spec: InventoryFile
    nodes: tuple[Node, ...]
    checks: tuple[base.Check, ...]
    #: Check key → thresholds of the link type it measures (only checks bound to a link).
    thresholds: dict[str, Thresholds] = field(default_factory=dict)
    #: Keys of the checks that export their observations as histograms (their own choice, else their
    #: link type's: ``defaults.rtt_histogram``).
    histograms: frozenset[str] = frozenset()

    @property
    def sites(self) -> list[Site]:
        return list(self.spec.sites)

    def node(self, slug: str) -> Node | None:
        return next((n for n in self.nodes if n.slug == slug), None)

    def counts(self) -> dict[str, int]:
        sites = self.spec.sites
        return {
            "sites": len(sites),
            "hubs": len(self.spec.hubs),
            "links": sum(len(s.links) for s in sites),
            "checks": len(self.checks),
            "services": len(self.spec.services),
        }


def load(path: str | Path) -> Inventory:
    """Read and validate ``path``; raise `ConfigError` listing every problem found."""
    return resolve(read(path))


M = TypeVar("M")


def load_model(path: str | Path, model: type[M],
               rules: Callable[[Document], Iterable[ConfigIssue]] | None = None) -> M:
    """``path`` read once and validated against ``model`` (a small config: agent, bridge, web-config);
    raises `ConfigError` listing every issue with its line.

    ``rules`` are the caller's cross-field checks. They read the parsed document, not the model, so
    that they run even when the schema fails: a file's schema errors and its rule errors come in one
    pass, as the inventory's do, each located by `Document.issue`."""
    doc = read(path)
    issues = list(rules(doc)) if rules else []
    try:
        value = TypeAdapter(model).validate_python(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        issues += _pydantic_issues(doc, (), exc)
    if issues:
        raise ConfigError(issues)
    return value


def entries(data: object, *keys: str) -> list[Any]:
    """``data[keys[0]][keys[1]]…`` when each step is a mapping, else nothing; a rule reading the raw
    document skips what the schema reports as mistyped."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, list) else []


def resolve(doc: Document) -> Inventory:
    try:
        spec = InventoryFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError([*_pydantic_issues(doc, (), exc), *_beyond_schema(doc, exc)]) from None
    resolver = _Resolver(doc, spec)
    inventory = resolver.run()
    if resolver.issues:
        raise ConfigError(resolver.issues)
    return inventory


def _beyond_schema(doc: Document, exc: ValidationError) -> list[ConfigIssue]:
    """The whole-file issues of what the schema accepted, so that one run lists every error instead of
    rounds of them (`netmon.inventory.setaside` says what is set aside and which issues are dropped)."""
    aside = setaside.make_sound(doc, exc)
    if aside is None:
        return []
    resolver = _Resolver(aside.doc, aside.spec)
    resolver.run()
    return aside.restore(resolver.issues)


def _pydantic_issues(doc: Document, prefix: Sequence[str | int], exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        path = (*prefix, *err["loc"])
        message = PYDANTIC_MESSAGES.get(err["type"], err["msg"])
        if err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            message = f"must be one of {err['ctx']['expected']}, got {err['input']!r}"
        if err["type"] == "dataclass_type":  # a probe's options are dataclasses: worded as for the models
            message = f"Input should be a valid dictionary or instance of {err['ctx']['class_name']}"
        issues.append(doc.issue(path, message))
    return issues


class _Resolver:
    """The whole-file rules; collects issues instead of stopping at the first."""

    def __init__(self, doc: Document, spec: InventoryFile):
        self.doc = doc
        self.spec = spec
        self.issues: list[ConfigIssue] = []
        self.hubs = {h.id: h for h in spec.hubs}
        self.services = {s.id: s for s in spec.services}
        self.broken_services: set[str] = set()

    def error(self, path: Sequence[str | int], message: str) -> None:
        self.issues.append(self.doc.issue(path, message))

    def run(self) -> Inventory:
        spec = self.spec
        self._unique(
            [("datacenter", "slug"), *[("hubs", i, "id") for i in range(len(spec.hubs))],
             *[("sites", i, "slug") for i in range(len(spec.sites))]],
            [spec.datacenter.slug, *[h.id for h in spec.hubs], *[s.slug for s in spec.sites]],
            "slug",
        )
        self._unique([("sites", i, "admin_code") for i in range(len(spec.sites))],
                     [s.admin_code for s in spec.sites], "admin code")
        self._unique([("services", i, "id") for i in range(len(spec.services))],
                     [s.id for s in spec.services], "service id")
        for lt in {link.type for site in spec.sites for link in site.links} - set(spec.defaults.link_types):
            self.error(("defaults", "link_types"), f"no thresholds for link type {lt!r}")
        for i, svc in enumerate(spec.services):
            if not self._url(("services", i, "url"), svc.url):
                self.broken_services.add(svc.id)  # said once here, not again for every check naming it

        nodes: list[Node] = []
        checks: list[base.Check] = []
        thresholds: dict[str, Thresholds] = {}
        dc = spec.datacenter
        self._location(("datacenter", "location"), dc.location.lat, dc.location.lon)
        nodes.append(Node(dc.slug, dc.name, "datacenter", "", dc.location.lat, dc.location.lon, "", "", ""))
        checks += self._checks(("datacenter",), dc.slug, dc.checks, {}, dc.address)
        for i, hub in enumerate(spec.hubs):
            loc = hub.location
            if loc:
                self._location(("hubs", i, "location"), loc.lat, loc.lon)
            nodes.append(Node(hub.id, hub.name, "hub", hub.district, loc.lat if loc else None,
                              loc.lon if loc else None, dc.slug, "", hub.isp))
            checks += self._checks(("hubs", i), hub.id, hub.checks, {}, hub.address)
        for i, site in enumerate(spec.sites):
            path = ("sites", i)
            self._location((*path, "location"), site.location.lat, site.location.lon)
            self._hub((*path, "upstream"), site.upstream)
            links = {link.id: link for link in site.links}
            self._unique([(*path, "links", j, "id") for j in range(len(site.links))],
                         [link.id for link in site.links], "link id")
            for j, link in enumerate(site.links):
                if link.upstream is not None:
                    self._hub((*path, "links", j, "upstream"), link.upstream)
            if not any(link.role == "primary" for link in site.links):
                self.error((*path, "links"), "no link has role 'primary'")
            nodes.append(Node(site.slug, site.name, site.kind, site.district, site.location.lat,
                              site.location.lon, site.upstream, site.primary.type, site.primary.isp))
            for check in _spread(site.slug, list(self._checks(path, site.slug, site.checks, links, None))):
                checks.append(check)
                if check.link and check.link in links:
                    limits = spec.defaults.link_types.get(links[check.link].type)
                    if limits is not None:
                        thresholds[check.key] = limits
            checks += self._secure_channel(path, site, checks)
            checks += self._devices(path, site, links)
        return Inventory(self.doc.file, spec, tuple(nodes), tuple(checks), thresholds,
                         self._histograms(checks))

    def _histograms(self, checks: Sequence[base.Check]) -> frozenset[str]:
        by_type = set(self.spec.defaults.rtt_histogram)
        link_types = {(s.slug, lk.id): lk.type for s in self.spec.sites for lk in s.links}
        observing = {name for name, probe in base.registry().items()
                     if any(spec.kind is base.Kind.OBSERVATION for spec in probe.metrics)}
        out = set()
        for check in checks:
            if check.probe not in observing:
                continue
            choice = check.options.histogram()
            if choice is None:
                choice = link_types.get((check.site, check.link)) in by_type
            if choice:
                out.add(check.key)
        return frozenset(out)

    def _unique(self, paths: Sequence[Sequence[str | int]], values: Sequence[str], what: str) -> None:
        seen: dict[str, Sequence[str | int]] = {}
        for path, value in zip(paths, values, strict=True):
            if value in seen:
                self.error(path, f"duplicate {what} {value!r} (first at line {self.doc.locate(seen[value])})")
            else:
                seen[value] = path

    def _hub(self, path: Sequence[str | int], hub: str) -> None:
        if hub not in self.hubs:
            self.error(path, f"unknown hub {hub!r}{_suggest(hub, self.hubs)}")

    def _location(self, path: Sequence[str | int], lat: float, lon: float) -> None:
        if not (VIETNAM_LAT[0] <= lat <= VIETNAM_LAT[1] and VIETNAM_LON[0] <= lon <= VIETNAM_LON[1]):
            self.error(path, f"coordinates ({lat}, {lon}) are outside Vietnam")

    def _url(self, path: Sequence[str | int], url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.error(path, f"{url!r} is not an http(s) URL with a host")
            return False
        return True

    def _checks(
        self,
        owner: tuple[str | int, ...],
        slug: str,
        configs: Sequence[CheckConfig],
        links: dict[str, Link],
        own_address: str | None,
    ) -> Iterator[base.Check]:
        self._unique([(*owner, "checks", k, "id") for k in range(len(configs))],
                     [c.id for c in configs], "check id")
        for k, cfg in enumerate(configs):
            path = (*owner, "checks", k)
            check = self._check(path, slug, cfg, links, own_address)
            if check is not None:
                yield check

    def _check(
        self,
        path: tuple[str | int, ...],
        slug: str,
        cfg: CheckConfig,
        links: dict[str, Link],
        own_address: str | None,
    ) -> base.Check | None:
        registry = base.registry()
        if cfg.probe not in registry:
            hint = _suggest(cfg.probe, registry) or f" (known: {', '.join(sorted(registry))})"
            self.error((*path, "probe"), f"unknown probe {cfg.probe!r}{hint}")
            return None
        probe = registry[cfg.probe]
        raw = dict(cfg.model_extra or {})
        service = self.services.get(cfg.service) if cfg.service else None
        if service is not None and service.ca_file and "ca_file" in _field_names(probe.options):
            raw.setdefault("ca_file", service.ca_file)  # the service's trust anchor, unless the check has one
        try:
            options = base.options(probe.options, raw)
        except ValidationError as exc:
            self.issues += _pydantic_issues(self.doc, path, exc)
            self._target(path, cfg, probe.options, links, own_address)  # references too
            return None
        defaults = self.spec.defaults
        interval = cfg.interval or defaults.interval
        timeout = cfg.timeout or min(defaults.timeout, interval * 0.9)
        if timeout >= interval:
            self.error((*path, "timeout"), f"timeout {timeout:g}s must be less than interval {interval:g}s")
        if options.minimum_timeout() > timeout:
            self.error((*path, "timeout"), f"timeout {timeout:g}s is shorter than the "
                       f"{options.minimum_timeout():g}s this {cfg.probe} check needs")
        target = self._target(path, cfg, probe.options, links, own_address)
        if target is None:
            return None
        problem = options.check_target(target)
        if problem is not None:
            self.error((*path, "target"), problem)
            return None
        return base.Check(site=slug, id=cfg.id, probe=cfg.probe, target=target, options=options,
                          interval=interval, timeout=timeout, link=cfg.link or "")

    def _secure_channel(
        self, owner: tuple[str | int, ...], site: Site, checks: Sequence[base.Check]
    ) -> Iterator[base.Check]:
        """The tunnel's own check: an ICMP echo to the site end's tunnel address, on no link (``link=""``)
        so that a dead encryptor never counts as a dead line in the rules that judge links. It is probed
        beside its line the way the line is: the options, interval and timeout of the primary link's own
        ICMP check (defaults when it has none)."""
        channel = site.secure_channel
        if channel is None:
            return
        path = (*owner, "secure_channel")
        if any(c.id == SECURE_CHECK for c in site.checks):
            self.error(path, f"check id {SECURE_CHECK!r} is this block's own; rename the check")
            return
        primary = site.primary.id
        line = next((c for c in checks if c.site == site.slug and c.link == primary and c.probe == "icmp"),
                    None)
        if line is not None:
            yield dataclasses.replace(line, id=SECURE_CHECK, target=channel.address, link="")
            return
        interval = self.spec.defaults.interval
        options = base.options(base.registry()["icmp"].options, {})
        timeout = min(self.spec.defaults.timeout, interval * 0.9)
        if options.minimum_timeout() > timeout:
            self.error(path, f"the default timeout {timeout:g}s is shorter than the "
                       f"{options.minimum_timeout():g}s an icmp check needs: give the primary link one")
            return
        yield base.Check(site=site.slug, id=SECURE_CHECK, probe="icmp", target=channel.address,
                         options=options, interval=interval, timeout=timeout)

    def _devices(
        self, owner: tuple[str | int, ...], site: Site, links: dict[str, Link]
    ) -> Iterator[base.Check]:
        """Each device becomes an ``snmp`` check; its id must be unique among the site's check ids."""
        taken = {c.id for c in site.checks}
        self._unique([(*owner, "devices", j, "id") for j in range(len(site.devices))],
                     [d.id for d in site.devices], "device id")
        snmp = base.registry().get("snmp")
        for j, dev in enumerate(site.devices):
            path = (*owner, "devices", j)
            if dev.id in taken:
                self.error((*path, "id"), f"device id {dev.id!r} is also a check id of this site")
            if snmp is None:
                self.error(path, "the snmp collector is not installed")
                continue
            raw: dict[str, Any] = {"kind": dev.kind, **(dev.model_extra or {})}
            raw |= {k: v for k, v in (("timeout", dev.timeout), ("retries", dev.retries)) if v is not None}
            try:
                options = base.options(snmp.options, raw)
            except ValidationError as exc:
                self.issues += _pydantic_issues(self.doc, path, exc)
                continue
            if (dev.address is None) == (dev.link is None):
                self.error(path, "give either address or link")
                continue
            if dev.link is not None and dev.link not in links:
                self.error((*path, "link"), f"unknown link {dev.link!r}{_suggest(dev.link, links)}")
                continue
            interval = dev.interval or self.spec.defaults.interval
            timeout = min(self.spec.defaults.timeout, interval * 0.9)
            if options.minimum_timeout() > timeout:
                self.error((*path, "timeout"), f"{options.minimum_timeout():g}s for one request and its "
                           f"retries does not fit the {timeout:g}s poll deadline")
            target = dev.address if dev.address is not None else links[str(dev.link)].cpe
            yield base.Check(site=site.slug, id=dev.id, probe="snmp", target=target,
                             options=options, interval=interval, timeout=timeout, link=dev.link or "",
                             labels={"kind": dev.kind})

    def _target(
        self,
        path: tuple[str | int, ...],
        cfg: CheckConfig,
        kind: type[base.ProbeOptions],
        links: dict[str, Link],
        own_address: str | None,
    ) -> str | None:
        link = None
        if cfg.link is not None:
            link = links.get(cfg.link)
            if link is None:
                self.error((*path, "link"), f"unknown link {cfg.link!r}{_suggest(cfg.link, links)}")
                return None
        if cfg.target is not None and cfg.service is not None:
            self.error((*path, "service"), "give either target or service, not both")
            return None
        if cfg.service is not None:
            if cfg.service in self.broken_services:
                return None
            svc = self.services.get(cfg.service)
            if svc is None:
                hint = _suggest(cfg.service, self.services)
                self.error((*path, "service"), f"unknown service {cfg.service!r}{hint}")
                return None
            return kind.service_target(svc.url)
        if cfg.target is not None:
            return cfg.target
        if link is not None:
            return link.cpe
        if own_address is not None:
            return own_address
        self.error(path, "needs a target, a service or a link")
        return None


def _field_names(kind: type[base.ProbeOptions]) -> set[str]:
    return {f.name for f in dataclasses.fields(kind)}


def _suggest(word: str, known: Any) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _spread(slug: str, checks: list[base.Check]) -> list[base.Check]:
    """``checks`` with the site's reachability checks (on a link, not SNMP) of each interval at evenly
    spaced phases, from one the site's slug hashes to. A cut is first seen by whichever check runs next:
    two checks 15 s apart see it within 15 s, where two hashed phases could fall together and leave
    30 s (docs/runbook.md#timing)."""
    spread: dict[float, list[int]] = {}
    for i, check in enumerate(checks):
        if check.link and check.link != "agent" and check.probe != "snmp":
            spread.setdefault(check.interval, []).append(i)
    start = (zlib.crc32(slug.encode()) % 10_000) / 10_000
    out = list(checks)
    for interval, indexes in spread.items():
        for k, i in enumerate(indexes):
            out[i] = dataclasses.replace(checks[i], phase=(start + k / len(indexes)) % 1.0 * interval)
    return out

