"""The inventory's schema: what an operator may write in config/communes.yaml.

Every model rejects unknown keys. Field-level rules live here; rules that need the whole file
(references, uniqueness, timeouts against probe options) live in `netmon.inventory.loader`.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from netmon.strict import Strict
from probes.base import Duration

LinkType = Literal["fiber", "4g", "microwave", "vsat"]
LINK_TYPES: tuple[str, ...] = ("fiber", "4g", "microwave", "vsat")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("must be lower-case ASCII letters, digits and '-' (e.g. chieng-mung)")
    return value


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


#: A duration that must be more than zero (intervals, timeouts, limits).
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Slug = Annotated[str, AfterValidator(_slug)]
Address = Annotated[str, BeforeValidator(lambda v: str(v) if v is not None else v), AfterValidator(_address)]


class Thresholds(Strict):
    """Limits for one link type: a VSAT link at 600 ms is normal, a fiber link at 600 ms is broken."""

    rtt_degraded: PositiveDuration
    rtt_down: PositiveDuration
    loss_degraded: Ratio
    loss_down: Ratio
    jitter_degraded: PositiveDuration
    #: How long a site's primary checks must fail before it is called unreachable (alerts use it).
    unreachable_after: PositiveDuration


class Defaults(Strict):
    interval: PositiveDuration = 30.0
    timeout: PositiveDuration = 10.0
    link_types: dict[LinkType, Thresholds]
    #: Link types whose ICMP checks export every echo's RTT as a histogram (20 series a check, for the
    #: RTT heatmap and finer report percentiles); a check's own ``rtt_histogram`` overrides it.
    rtt_histogram: list[LinkType] = []


#: QCVN 34:2019/BTTTT floors for fixed broadband: service availability and domestic latency. A link
#: without a written contract is held to these, never to nothing.
FLOOR_AVAILABILITY = 0.995
FLOOR_LATENCY = 0.050
#: The specialised government data network's 2025 target bandwidth per commune center, in Mbps.
BANDWIDTH_TARGET_MBPS = 200.0


class Contract(Strict):
    """What a link's provider committed to (`netmon report contract` holds the link to it)."""

    #: Share of the service period the link must be up (0-1), e.g. 0.995.
    availability: Ratio | None = None
    #: Longest an outage may last before it breaches the contract (time to restore), e.g. ``4h``.
    restore: PositiveDuration | None = None
    #: Committed bandwidth in Mbps (compared with ``accounting.bandwidth_target_mbps``).
    bandwidth_mbps: float | None = Field(default=None, gt=0)
    #: Round-trip latency committed to (compared with the measured p95).
    latency: PositiveDuration | None = None
    #: SLA on the number of outages: at most this many per month (30.44 days) of a report's period.
    max_outages_per_month: int | None = Field(default=None, ge=0)
    #: The contract's reference, shown in reports (e.g. "HĐ 12/2025/VNPT-SL").
    reference: str | None = None


class Location(Strict):
    lat: float
    lon: float


class Link(Strict):
    id: Slug
    type: LinkType
    isp: str = Field(min_length=1)
    #: Date the link entered service in its current form; reports compare before and after it.
    since: date
    cpe: Address
    role: Literal["primary", "backup"] = "primary"
    #: Hub this link hangs off when it differs from the site's (e.g. a backup over another ISP).
    upstream: str | None = None
    #: Metered links (4G/VSAT data plans): bytes of probe traffic allowed per day; `netmon probe` keeps
    #: its ad-hoc runs within what the scheduled checks leave of it.
    budget_bytes_per_day: int | None = Field(default=None, gt=0)
    #: What the provider committed to; fields left out come from ``accounting.contract``.
    contract: Contract | None = None


#: The check id the loader gives a site's secure-channel probe: the metric contract's one name for it
#: (`check="secure-channel"` in rules, dashboards and history).
SECURE_CHECK = "secure-channel"


class SecureChannel(Strict):
    """The site's transmission-channel encryptor: an encrypted tunnel to the data center over its line.

    The province handed each commune such equipment on the specialised data network. ``address`` is the
    site end's address inside the tunnel; netmon pings it through the tunnel (check ``secure-channel``)
    while the line's own checks ping the CPE beside it, so "line up, secure channel down" reads apart
    from "line down". The tunnel rides the primary link (the specialised network's line): the alert
    rules judge the channel only while that line is up.
    """

    address: Address


class CheckConfig(BaseModel):
    """Common check fields; the remaining keys are the probe's own options, validated by its model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: Slug
    probe: str
    target: str | None = None
    link: str | None = None
    service: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None


class Contact(Strict):
    role: str
    name: str | None = None
    phone_file: str | None = None


class Device(BaseModel):
    """Equipment read over SNMP (CPE router, switch, UPS, 4G router); becomes one ``snmp`` check.

    The check id is the device id. ``timeout`` and ``retries`` are per SNMP request (sized for the
    link: a VSAT round trip is slow); the poll as a whole gets the check timeout of the defaults. The
    remaining keys (``profiles``, ``snmp`` credentials by reference, ``port``...) are the snmp
    collector's own options, validated by its model.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    id: Slug
    kind: Literal["cpe", "switch", "ups", "lte-router"]
    address: Address | None = None
    link: str | None = None
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    retries: int | None = Field(default=None, ge=0, le=5)


#: Maintenance windows are written in, and muted in, the province's local time.
MAINTENANCE_TZ = "Asia/Ho_Chi_Minh"
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_CLOCK_RANGE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$")


def local_time(moment: datetime) -> datetime:
    """``moment`` in `MAINTENANCE_TZ`; a time written without an offset is already local."""
    zone = ZoneInfo(MAINTENANCE_TZ)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


class MaintenanceWindow(Strict):
    """Planned work that mutes the alerts of a site, or of a hub and every site behind it.

    One-off: ``start`` and ``end`` (local time unless an offset is given). Recurring: ``weekdays`` and
    ``time`` such as ``"22:00-24:00"``, in `MAINTENANCE_TZ`. Alerts are still evaluated (history keeps
    the outage); only notifications are muted — `netmon alerts generate` turns these into Alertmanager
    time intervals.
    """

    reason: str = Field(min_length=1)
    start: datetime | None = None
    end: datetime | None = None
    weekdays: list[Weekday] = []
    time: str | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> MaintenanceWindow:
        one_off = self.start is not None or self.end is not None
        recurring = bool(self.weekdays) or self.time is not None
        if one_off == recurring:
            raise ValueError("give either start and end (one-off) or weekdays and time (recurring)")
        if one_off and (self.start is None or self.end is None
                        or local_time(self.end) <= local_time(self.start)):
            raise ValueError("a one-off window needs a start and an end after it")
        if recurring and (not self.weekdays or self.time is None or not _CLOCK_RANGE.match(self.time)
                          or self.time[:5] >= self.time[6:]):
            raise ValueError("a recurring window needs weekdays and a time such as \"22:00-24:00\"")
        return self


class Site(Strict):
    slug: Slug
    name: str = Field(min_length=1)
    kind: Literal["ward", "commune"]
    admin_code: Annotated[str, Field(pattern=r"^\d{5}$")]
    district: str
    location: Location
    address: str | None = None
    upstream: str
    links: list[Link] = Field(min_length=1)
    checks: list[CheckConfig] = []
    devices: list[Device] = []
    contacts: list[Contact] = []
    maintenance: list[MaintenanceWindow] = []
    secure_channel: SecureChannel | None = None

    @property
    def primary(self) -> Link:
        """The link the site is measured and named by: the one with role primary (the loader requires
        one; the first link while a file without one is being checked)."""
        return next((lk for lk in self.links if lk.role == "primary"), self.links[0])


class Hub(Strict):
    id: Slug
    name: str
    district: str
    address: Address
    location: Location | None = None
    isp: str = "VNPT"
    checks: list[CheckConfig] = []
    maintenance: list[MaintenanceWindow] = []


class Service(Strict):
    id: Slug
    name: str
    kind: Literal["document-management", "meeting", "portal", "signature", "party-management", "procedures",
                  "reporting", "dns", "other"]
    url: str
    #: The service's trust anchor (PEM): the http checks of this service trust only it, unless a check
    #: names its own ``ca_file``. For a provincial CA the system store does not know, or the lab's CA.
    ca_file: str | None = None


class Datacenter(Strict):
    slug: Slug
    name: str
    address: Address
    location: Location
    checks: list[CheckConfig] = []


class Holiday(Strict):
    date: date
    name: str = Field(min_length=1)


class ServicePeriod(Strict):
    """When the centers serve citizens; ``--service-period`` reports count only this time."""

    hours: str = "07:00-17:00"
    weekdays: list[Weekday] = Field(default=["monday", "tuesday", "wednesday", "thursday", "friday"],
                                    min_length=1)
    #: Days off on top of the shipped Vietnamese public holidays (`netmon.report.calendar`).
    holidays: list[Holiday] = []
    #: false: only ``holidays`` above count (e.g. for a year the shipped list does not cover yet).
    national_holidays: bool = True

    @model_validator(mode="after")
    def _hours(self) -> ServicePeriod:
        if not _CLOCK_RANGE.match(self.hours) or self.hours[:5] >= self.hours[6:]:
            raise ValueError('hours must be a local time range such as "07:00-17:00"')
        return self


class Accounting(Strict):
    """The province's accounting rules, stated once for every report (docs/report.md explains each)."""

    contract: Contract = Contract(availability=FLOOR_AVAILABILITY, latency=FLOOR_LATENCY)
    service_period: ServicePeriod = ServicePeriod()
    #: Interruptions shorter than this are not counted (0: all count); reports disclose it when set.
    ignore_shorter_than: Annotated[Duration, Field(ge=0)] = 0.0
    #: Share of the error budget (allowed downtime) used at which a link is flagged.
    budget_warning: Ratio = 0.5
    bandwidth_target_mbps: float = Field(default=BANDWIDTH_TARGET_MBPS, gt=0)


class Meeting(Strict):
    """One provincial online meeting with the communes; local time unless an offset is given."""

    title: str = Field(min_length=1)
    start: datetime
    duration: PositiveDuration = 7200.0


class Meetings(Strict):
    """The meeting calendar and when, before each meeting, every center's readiness is checked.

    Commune guidance asks technicians to be ready 60 minutes before; the second check, 15 minutes
    before, tells the provincial office who is still not. ``calendar`` is an iCalendar (.ics) file,
    relative to the inventory, whose events are added to ``events``.
    """

    readiness_at: list[PositiveDuration] = Field(default=[3600.0, 900.0], min_length=1)
    calendar: str | None = None
    events: list[Meeting] = []


class InventoryFile(Strict):
    version: Literal[1]
    defaults: Defaults
    datacenter: Datacenter
    meetings: Meetings = Meetings()
    services: list[Service] = []
    hubs: list[Hub] = []
    sites: list[Site] = []
    accounting: Accounting = Accounting()
