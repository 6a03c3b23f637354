"""Validation rules a probe's options declare without importing pydantic.

A probe's options are plain frozen dataclasses whose fields carry their rules as ``Annotated``
metadata, the markers below. Pydantic reads them when it validates the options at load, with the same
errors as its own ``BeforeValidator``/``AfterValidator``/``Field``; a process that only runs checks
resolved elsewhere (the edge agent) never loads pydantic (~16 MB of its 50 MB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any


@dataclass(frozen=True, slots=True)
class Before:
    """Run ``parse`` on the raw value before the field's own type is validated (pydantic's
    ``BeforeValidator``): a ValueError it raises is a config error at that field."""

    parse: Callable[[Any], Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.parse, handler(source))


@dataclass(frozen=True, slots=True)
class After:
    """Run ``check`` on the validated value (pydantic's ``AfterValidator``). With ``earlier`` it also
    receives the fields validated before this one, by name (what pydantic's ``ValidationInfo.data``
    holds), for a rule that depends on them."""

    check: Callable[..., Any]
    earlier: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        if not self.earlier:
            return core_schema.no_info_after_validator_function(self.check, handler(source))
        check = self.check
        return core_schema.with_info_after_validator_function(lambda v, info: check(v, info.data),
                                                              handler(source))


class Rules:
    """Pydantic's ``Field`` constraints (``ge``, ``le``, ``min_length``, ``pattern``, ``discriminator``...)
    on a field, applied when pydantic validates: the same keywords, the same errors."""

    def __init__(self, **constraints: Any):
        self.constraints = constraints

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic import Field

        return handler(Annotated[source, Field(**self.constraints)])

    def __repr__(self) -> str:
        return f"Rules({', '.join(f'{k}={v!r}' for k, v in self.constraints.items())})"


#: What every options dataclass sets as ``__pydantic_config__``: unknown keys are errors (a typo must
#: not be a silent default), like the inventory's own models.
STRICT: dict[str, Any] = {"extra": "forbid"}
