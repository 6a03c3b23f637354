"""`Strict`: the base of every configuration model (inventory, web, notification, lab and agent configs).

Immutable once validated, unknown keys rejected so a typo is an error, not a silent default. A probe's
options follow the same rules as plain dataclasses (`probes.base.ProbeOptions`), so running a check
needs no pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
