"""Settings for health gates: the PromQL checks measured after a deploy (and, shorter, after a
rollback), under `services.<name>.gate.<environment>`. The analysis that reads them lives in
`bot.gates`.

Placeholders in queries are ``$service``, ``$environment`` and ``$version``, filled in with the
run's values (`expand`). The rule, checked when the settings load:

- only those three names; ``$$`` stands for a literal ``$`` (e.g. in a regex ``"a$$"``);
- no braces: ``${service}`` is the configuration file's environment-variable syntax, and
  ``{service}`` / ``{{service}}`` are not placeholders here, so PromQL braces stay natural:
  ``rate(http_requests_total{service="$service", code=~"5.."}[5m])``;
- a placeholder sits inside a quoted PromQL string (a label value), never in bare PromQL, and a
  value holding a quote, backslash or line break is refused: chat text cannot leave the string;
- a placeholder's name ends at the first character that cannot be part of a name: ``"$service-api"``
  works, ``"$service_api"`` is refused as the unknown ``$service_api``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from bot.settings.durations import Duration

PLACEHOLDERS = ("service", "environment", "version")

Operator = Literal["<", "<=", ">", ">=", "==", "!="]
_NEGATION: dict[Operator, Operator] = {
    "<": ">=",
    "<=": ">",
    ">": "<=",
    ">=": "<",
    "==": "!=",
    "!=": "==",
}
_CONDITION = re.compile(r"^(<=|>=|==|!=|<|>)\s*(\S+)$")
_EXAMPLE = "e.g. '< 0.05', '<= 30', '> 0.99', '>= 1', '== 0' or '!= 0'"


def format_number(value: float) -> str:
    """A measured value or threshold as a person reads it: ``0.071``, ``30``, ``12346``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if 1e4 <= abs(value) < 1e15:
        return f"{value:.0f}"
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class Condition:
    """When a measured value is a success: ``value <op> threshold``."""

    op: Operator
    threshold: float

    def holds(self, value: float) -> bool:
        t = self.threshold
        match self.op:
            case "<":
                return value < t
            case "<=":
                return value <= t
            case ">":
                return value > t
            case ">=":
                return value >= t
            case "==":
                return value == t
            case "!=":
                return value != t

    def explain(self, value: float) -> str:
        """A true statement about `value`: ``0.012 <= 0.05``, or ``0.071 > 0.05 (failed)``."""
        if self.holds(value):
            return f"{format_number(value)} {self.op} {format_number(self.threshold)}"
        negated = _NEGATION[self.op]
        return f"{format_number(value)} {negated} {format_number(self.threshold)} (failed)"

    def __str__(self) -> str:
        return f"{self.op} {format_number(self.threshold)}"


def parse_condition(text: str) -> Condition:
    """``< 0.05`` and the like; raise ValueError with a readable message otherwise."""
    cleaned = text.strip()
    if cleaned.lower().startswith("result"):
        raise ValueError(
            f"condition {text!r}: write only the operator and the number ({_EXAMPLE}), "
            "without 'result'"
        )
    match = _CONDITION.match(cleaned)
    if match is None:
        if cleaned.startswith("=") and not cleaned.startswith("=="):
            raise ValueError(f"condition {text!r}: use '==' to compare for equality")
        raise ValueError(f"condition {text!r} must be an operator and a number ({_EXAMPLE})")
    op, number = match.group(1), match.group(2)
    if number.endswith("%"):
        raise ValueError(f"condition {text!r}: write a percentage as a ratio (5% is 0.05)")
    try:
        threshold = float(number)
    except ValueError:
        raise ValueError(f"condition {text!r}: {number!r} is not a number ({_EXAMPLE})") from None
    if not math.isfinite(threshold):
        raise ValueError(f"condition {text!r}: the threshold must be a finite number")
    return Condition(op=op, threshold=threshold)  # type: ignore[arg-type]


def _condition(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"condition {value!r} must be quoted text with an operator and a number ({_EXAMPLE})"
        )
    return parse_condition(value)


SuccessCondition = Annotated[
    Condition,
    PlainValidator(_condition),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string"}),
]

# --- placeholders -------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FORMAT_STYLE = re.compile(r"(?<!\$)\{\{?\s*\.?\s*(service|environment|version|svc)\s*\}\}?")
_UNSAFE = re.compile(r"[\"'`\\\x00-\x1f\x7f]")
_Piece = tuple[bool, str]
"""(is a placeholder, text): literal text, or a placeholder's name."""


def _pieces(query: str) -> list[_Piece]:
    """Split a query into literal text and placeholders, enforcing the rule in the docstring."""
    found = _FORMAT_STYLE.search(query)
    if found is not None:
        raise ValueError(
            f"write ${found.group(1)}, not {found.group(0)}: placeholders are "
            "$service, $environment and $version"
        )
    pieces: list[_Piece] = []
    text: list[str] = []
    quote = ""  # the open string's quote character, "" outside strings
    i = 0
    while i < len(query):
        char = query[i]
        if char == "$":
            nxt = query[i + 1 : i + 2]
            if nxt == "$":
                text.append("$")
                i += 2
                continue
            if nxt == "{":
                end = query.find("}", i)
                name = query[i + 2 : end] if end > 0 else "…"
                raise ValueError(
                    f"write ${name}, not ${{{name}}}: ${{…}} is the configuration's "
                    "environment-variable syntax"
                )
            ident = _IDENT.match(query, i + 1)
            if ident is None:
                raise ValueError(
                    f"a lone $ at character {i + 1}: write $$ for a literal $, or use "
                    "$service, $environment or $version"
                )
            name = ident.group(0)
            if name not in PLACEHOLDERS:
                raise ValueError(
                    f"unknown placeholder ${name} (use $service, $environment or $version; "
                    "write $$ for a literal $)"
                )
            if not quote:
                raise ValueError(
                    f'placeholder ${name} must sit inside a quoted string, e.g. {name}="${name}"'
                )
            pieces.append((False, "".join(text)))
            pieces.append((True, name))
            text = []
            i = ident.end()
            continue
        text.append(char)
        if quote:
            if char == "\\" and quote != "`":
                text.append(query[i + 1 : i + 2])
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        i += 1
    if quote:
        raise ValueError(f"unterminated string: a {quote} is never closed")
    pieces.append((False, "".join(text)))
    return [piece for piece in pieces if piece[0] or piece[1]]


def check_query(query: str) -> str:
    """Validate a PromQL template's placeholders (see the module docstring); return it."""
    if not query.strip():
        raise ValueError("the query is empty")
    _pieces(query)
    return query


def expand(query: str, service: str, environment: str, version: str) -> str:
    """Fill in a query's placeholders. Refuses values holding a quote, backslash or control
    character (line breaks included), so they can never leave their PromQL string."""
    values = {"service": service, "environment": environment, "version": version}
    for name, value in values.items():
        bad = _UNSAFE.search(value)
        if bad is not None:
            raise ValueError(
                f"{name} {value!r} cannot go into a query: it holds {bad.group(0)!r} "
                "(quotes, backslashes and line breaks are refused)"
            )
    return "".join(values[text] if is_name else text for is_name, text in _pieces(query))


Query = Annotated[str, AfterValidator(check_query)]


# --- models -------------------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Traffic(_Frozen):
    """A minimum-traffic guard: a measurement is inconclusive (never a pass) while this query
    gives less than `minimum`, or no data."""

    query: Query
    """PromQL, same placeholders as the metric's, e.g.
    ``sum(increase(http_requests_total{service="$service"}[5m]))``."""
    minimum: float = Field(ge=0, allow_inf_nan=False)


class GateMetric(_Frozen):
    """One check: `query` measured every `interval`, `count` times, each value judged by
    `success` (Argo Rollouts' semantics; `consecutive_failure_limit` is our extension)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    query: Query
    """PromQL giving one number; ``$service``, ``$environment``, ``$version`` inside quotes."""
    success: SuccessCondition
    """``< 0.05``, ``<= 30``, ``> 0.99``, ``>= 1``, ``== 0``, ``!= 0`` (quote it in YAML)."""
    interval: Duration = timedelta(minutes=1)
    count: int = Field(5, ge=1, le=1000)
    """Judged measurements (successes and failures) for a pass; an inconclusive or error one
    is measured again, up to `inconclusive_limit`."""
    failure_limit: int | None = Field(None, ge=0)
    """Failed measurements tolerated (below `count`); the metric fails at one more. Unset: 0,
    or, when `consecutive_failure_limit` is set, no cumulative limit (only the run counts)."""
    consecutive_failure_limit: int | None = Field(None, ge=1)
    """The metric fails after this many failed measurements in a row (a success ends the run;
    inconclusive and error ones are skipped): ``<= 0.05`` every 1m with 5 here is "5xx above
    5 % for 5 minutes"."""
    inconclusive_limit: int = Field(0, ge=0)
    """Inconclusive (no data, NaN, low traffic) and error measurements tolerated."""
    traffic: Traffic | None = None

    @field_validator("interval")
    @classmethod
    def _interval(cls, interval: timedelta) -> timedelta:
        if interval < timedelta(seconds=5):
            raise ValueError("a metric is measured at most every 5s")
        return interval

    @model_validator(mode="after")
    def _limits(self) -> GateMetric:
        if self.failure_limit is not None and self.failure_limit >= self.count:
            raise ValueError(
                f"failure_limit {self.failure_limit} lets all {self.count} measurements fail: "
                "keep it below count"
            )
        run = self.consecutive_failure_limit
        if run is not None and run > self.count:
            raise ValueError(
                f"consecutive_failure_limit {run} can never be reached in count {self.count} "
                "measurements"
            )
        if run is not None and self.failure_limit is not None and self.failure_limit < run:
            raise ValueError(
                f"consecutive_failure_limit {run} never applies: failure_limit "
                f"{self.failure_limit} already fails the metric at failure "
                f"{self.failure_limit + 1} (raise failure_limit or leave it unset)"
            )
        return self

    @property
    def effective_failure_limit(self) -> int | None:
        """`failure_limit` with its default filled in; None: no cumulative limit."""
        if self.failure_limit is not None:
            return self.failure_limit
        return None if self.consecutive_failure_limit is not None else 0


class Canary(_Frozen):
    """A canary step before each deploy: the release first takes `weight` percent of the
    traffic (the backend gets the weight as the run parameter `weight_param`), the gate judges
    it, and then it is promoted to all traffic or only the canary is taken away."""

    weight_param: str = Field("canary_weight", pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    """The run parameter carrying the weight; ``/deploy … canary_weight=25`` picks another
    weight for one deploy, ``canary_weight=0`` deploys to everything at once."""
    weight: int = Field(ge=1, le=99)
    promote: Literal["auto", "manual"] = "auto"
    """``auto``: a passing canary is promoted at once; ``manual``: its card gets a Promote
    button."""


GateMode = Literal["auto", "semi", "manual"]
SemiDefault = Literal["rollback", "hold"]


class Gate(_Frozen):
    """The health gate of a service in one environment."""

    metrics: tuple[GateMetric, ...] = Field(min_length=1)
    initial_delay: Duration = timedelta(0)
    """Wait this long after the deploy (or rollback) before the first measurement."""
    after_rollback_count: int = Field(2, ge=1, le=1000)
    """A rollback's gate takes this many measurements per metric instead of `count`."""
    mode: GateMode = "manual"
    """On failure: ``auto`` rolls back; ``semi`` posts a card (see `semi_default`); ``manual``
    posts a card with a Rollback button."""
    semi_default: SemiDefault = "rollback"
    """``rollback``: the card counts down `countdown` and rolls back unless someone presses
    Hold; ``hold``: it rolls back only when someone presses Rollback."""
    countdown: Duration = timedelta(minutes=5)
    canary: Canary | None = None

    @field_validator("initial_delay")
    @classmethod
    def _delay(cls, delay: timedelta) -> timedelta:
        if delay < timedelta(0):
            raise ValueError("the initial delay cannot be negative")
        return delay

    @field_validator("countdown")
    @classmethod
    def _countdown(cls, countdown: timedelta) -> timedelta:
        if countdown < timedelta(seconds=10):
            raise ValueError("a countdown lasts at least 10s")
        return countdown

    @model_validator(mode="after")
    def _unique(self) -> Gate:
        names = [metric.name for metric in self.metrics]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"metric names must be unique: {', '.join(twice)}")
        return self

    def metric(self, name: str) -> GateMetric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)
