"""Pure domain models: durations, templates, activation settings (no I/O)."""

from seqflow.domain.activation import Activation, RateLimit, RateLimits, SendWindow, Weekday, check_aliases
from seqflow.domain.durations import Duration, DurationStr, parse_duration
from seqflow.domain.errors import ActivationError, DomainError, TemplateError, format_validation_error
from seqflow.domain.template import (
    AUTO_TYPES,
    ENGAGEMENTS,
    MANUAL_TYPES,
    Branch,
    Condition,
    EmailContent,
    Move,
    SmsContent,
    Step,
    Template,
    Then,
)

__all__ = [
    "AUTO_TYPES",
    "ENGAGEMENTS",
    "MANUAL_TYPES",
    "Activation",
    "ActivationError",
    "Branch",
    "Condition",
    "DomainError",
    "Duration",
    "DurationStr",
    "EmailContent",
    "Move",
    "RateLimit",
    "RateLimits",
    "SendWindow",
    "SmsContent",
    "Step",
    "Template",
    "TemplateError",
    "Then",
    "Weekday",
    "check_aliases",
    "format_validation_error",
    "parse_duration",
]
