"""Template models — branches, steps, conditions — with every validation rule of SPEC §2."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_serializer,
    model_validator,
)

from seqflow.domain.durations import ZERO, DurationStr
from seqflow.domain.errors import DomainError, Issue, TemplateError, validate_document
from seqflow.domain.template_graph import cycle_issues, key_issues, target_issues

AUTO_TYPES = frozenset({"auto_email", "auto_sms"})
MANUAL_TYPES = frozenset({"manual_email", "call", "linkedin", "manual_sms", "task"})
STEP_TYPES = AUTO_TYPES | MANUAL_TYPES
ENGAGEMENTS = frozenset({"opened", "clicked", "replied", "bounced"})
NO_CONDITION_MET = "no_condition_met"
AUTO_WHENS = ENGAGEMENTS | {NO_CONDITION_MET}
DONE = "Done"
RETRY = "Retry"

StepType = Literal["auto_email", "auto_sms", "manual_email", "call", "linkedin", "manual_sms", "task"]
ThenKind = Literal["next", "goto_step", "goto_branch", "complete", "exit"]
THEN_KINDS: tuple[ThenKind, ...] = ("next", "goto_step", "goto_branch", "complete", "exit")


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _known_type(value: Any) -> Any:
    if isinstance(value, str) and value not in STEP_TYPES:
        raise ValueError(f"unknown step type {value!r} (expected one of {', '.join(sorted(STEP_TYPES))})")
    return value


NonBlank = Annotated[str, AfterValidator(_non_blank)]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Then(BaseModel):
    """Where a condition sends the enrollment: exactly one of the five keys."""

    model_config = _FROZEN

    next: Literal[True] | None = None
    goto_step: NonBlank | None = None
    goto_branch: NonBlank | None = None
    complete: Literal[True] | None = None
    exit: NonBlank | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [k for k in THEN_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            found = ", ".join(given) or "none"
            raise ValueError(f"needs exactly one of {', '.join(THEN_KINDS)} (found: {found})")
        return self

    @model_serializer
    def _serialize(self) -> dict[str, Any]:
        return {self.kind: getattr(self, self.kind)}

    @property
    def kind(self) -> ThenKind:
        return next(k for k in THEN_KINDS if getattr(self, k) is not None)

    @property
    def target(self) -> str | None:
        """The step key, branch key or exit reason; None for next and complete."""
        value = getattr(self, self.kind)
        return value if isinstance(value, str) else None


class Condition(BaseModel):
    """`when` something happens (within a time, for no_condition_met), `then` move."""

    model_config = _FROZEN

    when: NonBlank
    within: DurationStr | None = None
    then: Then

    @model_validator(mode="after")
    def _within_only_for_no_condition_met(self) -> Self:
        if self.when == NO_CONDITION_MET and self.within is None:
            raise DomainError([("within", "no_condition_met needs a within duration")])
        if self.when != NO_CONDITION_MET and self.within is not None:
            raise DomainError([("within", "within applies only to no_condition_met")])
        return self


class EmailContent(BaseModel):
    model_config = _FROZEN

    from_alias: NonBlank
    subject: str = ""
    body: str = ""


class SmsContent(BaseModel):
    model_config = _FROZEN

    body: str


class Step(BaseModel):
    """One unit of work: automatic (sent by the dispatcher) or manual (a task)."""

    model_config = _FROZEN

    key: NonBlank
    type: Annotated[StepType, BeforeValidator(_known_type)]
    delay: DurationStr = Field(default=ZERO)
    priority: Literal["low", "normal", "high"] = "normal"
    email: EmailContent | None = None
    sms: SmsContent | None = None
    instructions: str | None = None
    script: str | None = None
    conditions: tuple[Condition, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        issues = [*_content_issues(self), *_condition_issues(self)]
        if issues:
            raise DomainError(issues)
        return self

    @property
    def is_auto(self) -> bool:
        return self.type in AUTO_TYPES

    @property
    def channel(self) -> Literal["email", "sms"] | None:
        """The send channel of an automatic step (rate limits); None for manual steps."""
        return {"auto_email": "email", "auto_sms": "sms"}.get(self.type)  # type: ignore[return-value]

    @property
    def outcomes(self) -> list[str]:
        """The Mark As menu of a manual step: its `when` labels, or ["Done"]; [] for automatic steps."""
        if self.is_auto:
            return []
        return [c.when for c in self.conditions] or [DONE]

    def then_for_outcome(self, label: str) -> Then | None:
        """The move for a `when` label (an outcome or an engagement); None when the step has no such one."""
        if not self.is_auto and not self.conditions and label == DONE:
            return Then(next=True)
        return next((c.then for c in self.conditions if c.when == label), None)

    @property
    def engagement_conditions(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.when in ENGAGEMENTS)

    @property
    def no_condition_met(self) -> Condition | None:
        return next((c for c in self.conditions if c.when == NO_CONDITION_MET), None)


def _content_issues(step: Step) -> list[Issue]:
    if step.type == "auto_email":
        if step.email is None:
            return [("email", "an auto_email step needs email content (from_alias, subject, body)")]
        return [
            (f"email.{f}", "must not be blank for auto_email")
            for f in ("subject", "body")
            if not getattr(step.email, f).strip()
        ]
    if step.type == "auto_sms":
        if step.sms is None:
            return [("sms", "an auto_sms step needs sms content (body)")]
        return [] if step.sms.body.strip() else [("sms.body", "must not be blank for auto_sms")]
    return []


def _condition_issues(step: Step) -> list[Issue]:
    issues = _duplicate_when_issues(step.conditions)
    if step.is_auto:
        return issues + _auto_condition_issues(step.conditions)
    return issues + _manual_condition_issues(step.conditions)


def _duplicate_when_issues(conditions: tuple[Condition, ...]) -> list[Issue]:
    seen: dict[str, int] = {}
    issues: list[Issue] = []
    for i, c in enumerate(conditions):
        if c.when in seen:
            issues.append((f"conditions[{i}].when", f"duplicate {c.when!r} (also conditions[{seen[c.when]}])"))
        seen.setdefault(c.when, i)
    return issues


def _auto_condition_issues(conditions: tuple[Condition, ...]) -> list[Issue]:
    expected = ", ".join(sorted(AUTO_WHENS))
    issues: list[Issue] = [
        (
            f"conditions[{i}].when",
            f"{c.when!r} is not a condition of an automatic step (expected one of {expected})",
        )
        for i, c in enumerate(conditions)
        if c.when not in AUTO_WHENS
    ]
    whens = {c.when for c in conditions}
    if whens & ENGAGEMENTS and NO_CONDITION_MET not in whens:
        issues.append(("conditions", "an automatic step with engagement conditions also needs no_condition_met"))
    return issues


def _manual_condition_issues(conditions: tuple[Condition, ...]) -> list[Issue]:
    issues: list[Issue] = []
    for i, c in enumerate(conditions):
        if c.when == NO_CONDITION_MET:
            issues.append((f"conditions[{i}].when", "no_condition_met applies only to automatic steps"))
        elif c.when.strip().casefold() == RETRY.casefold():
            issues.append((f"conditions[{i}].when", "'Retry' is reserved for error tasks"))
    return issues


class Branch(BaseModel):
    model_config = _FROZEN

    key: NonBlank
    steps: tuple[Step, ...]

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.steps:
            raise DomainError([("steps", "a branch needs at least one step")])
        return self


class Move(NamedTuple):
    """Where a `then` leads: ("arrive", step_key), ("complete", None) or ("exit", reason)."""

    action: Literal["arrive", "complete", "exit"]
    value: str | None


class Template(BaseModel):
    """A reusable definition: branches → steps → conditions. The first branch is the entry branch."""

    model_config = _FROZEN

    name: NonBlank
    owner: NonBlank
    branches: tuple[Branch, ...]

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.branches:
            raise DomainError([("branches", "a template needs at least one branch")])
        issues = key_issues(self) + target_issues(self)
        issues = issues or cycle_issues(self)
        if issues:
            raise DomainError(issues)
        return self

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> Template:
        """Validate a JSON document (text or parsed); raise TemplateError listing every error."""
        return validate_document(cls, data, TemplateError)

    def to_json(self) -> dict[str, Any]:
        """The JSON form accepted by from_json (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    @cached_property
    def _positions(self) -> dict[str, tuple[str, int]]:
        return {s.key: (b.key, i) for b in self.branches for i, s in enumerate(b.steps)}

    @cached_property
    def _branches(self) -> dict[str, Branch]:
        return {b.key: b for b in self.branches}

    def entry_step(self) -> Step:
        return self.branches[0].steps[0]

    def steps(self) -> Iterator[Step]:
        """Every step, branch by branch, in template order."""
        return (s for b in self.branches for s in b.steps)

    def step(self, key: str) -> Step:
        branch_key, index = self.locate(key)
        return self._branches[branch_key].steps[index]

    def locate(self, key: str) -> tuple[str, int]:
        """(branch key, index in the branch) of a step; KeyError for an unknown key."""
        if key not in self._positions:
            raise KeyError(f"unknown step {key!r}")
        return self._positions[key]

    def next_step_key(self, key: str) -> str | None:
        """The next step in the same branch; None at the end of the branch (= complete)."""
        branch_key, index = self.locate(key)
        steps = self._branches[branch_key].steps
        return steps[index + 1].key if index + 1 < len(steps) else None

    def first_step_of(self, branch_key: str) -> str:
        if branch_key not in self._branches:
            raise KeyError(f"unknown branch {branch_key!r}")
        return self._branches[branch_key].steps[0].key

    def resolve_target(self, step_key: str, then: Then) -> Move:
        """Where `then` on step `step_key` leads; `next` at the end of a branch means complete."""
        match then.kind:
            case "next":
                following = self.next_step_key(step_key)
                return Move("arrive", following) if following else Move("complete", None)
            case "goto_step":
                return Move("arrive", self.step(then.goto_step or "").key)
            case "goto_branch":
                return Move("arrive", self.first_step_of(then.goto_branch or ""))
            case "complete":
                return Move("complete", None)
            case _:
                return Move("exit", then.exit)
