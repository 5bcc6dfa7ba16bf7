"""Evaluators for token-efficiency experiments (guide §7.2): each reads a model's reply
(and the input it answered) and gives a score from 0 to 1 and whether the task passed.
Pure and offline: exact match, contains, a regular expression (bounded), valid against
a JSON schema (a small subset validator, below), the retention of key facts, and the
reading of a judge model's numeric score (the judge's request is sent by services/).

    check = contains("Paris")
    verdict = check("The capital is Paris.", "What is the capital of France?")
    verdict.passed, verdict.score   # True, 1.0
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from desktop_app.core.metrics import information_retention


class EvaluatorError(ValueError):
    """An evaluator that cannot be made as asked (a bad pattern, a bad schema)."""


@dataclass(frozen=True)
class Verdict:
    score: float  # 0..1, higher is better
    passed: bool  # the task was completed (task completion rate counts these)
    detail: str = ""  # why, in a few words, for the table and the export


Evaluator = Callable[[str, str], Verdict]
"""evaluator(reply, input_text) -> Verdict"""


def _verdict(ok: bool, detail: str = "") -> Verdict:
    return Verdict(1.0 if ok else 0.0, ok, detail)


def exact_match(expected: str) -> Evaluator:
    """Passes when the reply, stripped of surrounding white space, is `expected` (also
    stripped). Case and inner spacing count."""
    want = expected.strip()

    def check(reply: str, _input: str) -> Verdict:
        return _verdict(reply.strip() == want, "" if reply.strip() == want else "differs")

    return check


def contains(text: str) -> Evaluator:
    """Passes when the reply contains `text`, ignoring case."""
    if not text:
        raise EvaluatorError("contains: give the text the reply must contain")
    want = text.casefold()

    def check(reply: str, _input: str) -> Verdict:
        found = want in reply.casefold()
        return _verdict(found, "" if found else "not found")

    return check


MAX_PATTERN = 1000  # characters of a regular expression
REGEX_TIMEOUT = 0.5  # seconds one search may take before the reply counts as failed
MAX_MATCHED_TEXT = 200_000  # characters of a reply a pattern is run on


def compile_pattern(pattern: str) -> Any:
    """A pattern compiled with the `regex` package (a dependency of tiktoken), whose
    searches take a timeout: a catastrophic pattern ("(a+)+$") gives up after
    REGEX_TIMEOUT instead of hanging the run."""
    if not pattern:
        raise EvaluatorError("regex: give a pattern")
    if len(pattern) > MAX_PATTERN:
        raise EvaluatorError(f"regex: the pattern is longer than {MAX_PATTERN} characters")
    try:
        return regex.compile(pattern, regex.VERSION0)
    except regex.error as exc:
        raise EvaluatorError(f"regex: not a valid pattern ({exc})") from None


def bounded_search(compiled: Any, text: str, timeout: float = REGEX_TIMEOUT) -> bool | None:
    """True/False for a match; None when the search ran out of time."""
    try:
        return compiled.search(text[:MAX_MATCHED_TEXT], timeout=timeout) is not None
    except TimeoutError:
        return None


def matches(pattern: str, timeout: float = REGEX_TIMEOUT) -> Evaluator:
    """Passes when the pattern is found anywhere in the reply (use ^...$ for all of it)."""
    compiled = compile_pattern(pattern)

    def check(reply: str, _input: str) -> Verdict:
        found = bounded_search(compiled, reply, timeout)
        if found is None:
            return Verdict(0.0, False, f"pattern timed out after {timeout:g} s")
        return _verdict(found, "" if found else "no match")

    return check


# --- JSON schema: a subset ---------------------------------------------------------------
# Supported keywords: type (string or list), enum, const, properties, required,
# additionalProperties (bool or schema), items (one schema), minItems, maxItems,
# minLength, maxLength, pattern (bounded, as above), minimum, maximum,
# exclusiveMinimum, exclusiveMaximum, anyOf, allOf, oneOf, not. Others ($ref, formats,
# dependencies, patternProperties, ...) are refused when the schema is made, never
# silently ignored.
SCHEMA_KEYWORDS = frozenset({
    "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "anyOf", "allOf", "oneOf", "not",
    # annotations, no effect on validity
    "$schema", "$id", "title", "description", "default", "examples", "$comment",
})
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _check_schema(schema: Any, where: str = "schema") -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise EvaluatorError(f"json-schema: {where} must be an object")
    unknown = sorted(set(schema) - SCHEMA_KEYWORDS)
    if unknown:
        raise EvaluatorError(f"json-schema: {where} uses {', '.join(unknown)}, which this "
                             "validator does not support")
    types = schema.get("type")
    for t in [types] if isinstance(types, str) else (types or []):
        if t not in _TYPES:
            raise EvaluatorError(f"json-schema: {where} has an unknown type {t!r}")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties.{name}")
    for key in ("items", "not"):
        if key in schema:
            _check_schema(schema[key], f"{where}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        _check_schema(schema["additionalProperties"], f"{where}.additionalProperties")
    for key in ("anyOf", "allOf", "oneOf"):
        for i, sub in enumerate(schema.get(key) or []):
            _check_schema(sub, f"{where}.{key}[{i}]")
    if "pattern" in schema:
        compile_pattern(str(schema["pattern"]))


def schema_errors(value: Any, schema: Any, path: str = "$") -> list[str]:
    """What is wrong with `value` under `schema` (the subset above); [] when valid."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path}: nothing is allowed here"]
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_TYPES[t](value) for t in allowed):
            return [f"{path}: expected {' or '.join(allowed)}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not one of the allowed values")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: not the required value")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(f"{path}: missing {name!r}")
        for name, item in value.items():
            if name in props:
                errors.extend(schema_errors(item, props[name], f"{path}.{name}"))
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                if extra is False:
                    errors.append(f"{path}: {name!r} is not allowed")
                elif isinstance(extra, dict):
                    errors.extend(schema_errors(item, extra, f"{path}.{name}"))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors.extend(schema_errors(item, schema["items"], f"{path}[{i}]"))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']}")
        if "pattern" in schema:
            found = bounded_search(compile_pattern(str(schema["pattern"])), value)
            if not found:
                errors.append(f"{path}: does not match the pattern")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{path}: not above {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{path}: not below {schema['exclusiveMaximum']}")
    for sub in schema.get("allOf") or []:
        errors.extend(schema_errors(value, sub, path))
    if "anyOf" in schema and not any(not schema_errors(value, s, path)
                                     for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        passing = sum(1 for s in schema["oneOf"] if not schema_errors(value, s, path))
        if passing != 1:
            errors.append(f"{path}: matches {passing} of oneOf, not exactly one")
    if "not" in schema and not schema_errors(value, schema["not"], path):
        errors.append(f"{path}: matches what 'not' forbids")
    return errors


_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def reply_json(reply: str) -> Any:
    """The JSON a reply holds: the whole reply, or the inside of one ``` fence around it.
    Raises ValueError when it holds none."""
    fenced = _FENCE.match(reply)
    return json.loads(fenced.group(1) if fenced else reply.strip())


def json_schema_valid(schema: Mapping[str, Any] | bool) -> Evaluator:
    """Passes when the reply is JSON valid under `schema` (the subset above)."""
    _check_schema(schema)

    def check(reply: str, _input: str) -> Verdict:
        try:
            value = reply_json(reply)
        except (ValueError, RecursionError):
            return Verdict(0.0, False, "not JSON")
        errors = schema_errors(value, schema)
        return _verdict(not errors, "; ".join(errors[:3]))

    return check


def retention(facts: Mapping[str, str] | Sequence[str], threshold: float = 1.0) -> Evaluator:
    """The guide's retention evaluator: the share of the key facts the reply states
    (metrics.information_retention), passing when at least `threshold` of them appear."""
    fixed: Any = dict(facts) if isinstance(facts, Mapping) else [str(f) for f in facts]
    if not fixed:
        raise EvaluatorError("retention: give at least one fact")

    def check(reply: str, _input: str) -> Verdict:
        kept = information_retention(fixed, reply)
        lost = f"lost: {', '.join(kept.lost)}" if kept.lost else ""
        return Verdict(kept.ratio, kept.ratio >= threshold,
                       f"kept {len(kept.retained)} of {kept.total}" + (f"; {lost}" if lost else ""))

    return check


# --- a judge's score ---------------------------------------------------------------------
JUDGE_SCALE = 10
JUDGE_PASS = 0.7  # a judge's score of 7 of 10 or more passes
JUDGE_SYSTEM = (
    "You grade answers. Read the task and the answer, then rate how well the answer "
    f"completes the task on a scale from 0 (useless) to {JUDGE_SCALE} (perfect). Reply with "
    "the number only."
)


def judge_messages(input_text: str, reply: str) -> list[dict[str, str]]:
    """The request a judge model is sent for one reply."""
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": f"Task:\n{input_text}\n\nAnswer:\n{reply}\n\nScore "
                                    f"(0-{JUDGE_SCALE}):"},
    ]


_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?")


def read_judge_score(text: str, scale: int = JUDGE_SCALE, pass_at: float = JUDGE_PASS
                     ) -> Verdict:
    """The first number in a judge's reply ("8", "Score: 7.5/10") as a 0..1 score.
    A reply without a number, or with one outside the scale, scores 0 and fails."""
    found = _NUMBER.search(text[:2000])
    if found is None:
        return Verdict(0.0, False, "the judge gave no number")
    number = float(found.group(1))
    out_of = float(found.group(2)) if found.group(2) else float(scale)
    if not math.isfinite(number) or out_of <= 0 or number > out_of:
        return Verdict(0.0, False, f"the judge gave {found.group(0)}, outside 0-{scale}")
    score = number / out_of
    return Verdict(score, score >= pass_at, f"judge: {found.group(0)}")


# --- from the command line's words --------------------------------------------------------
KINDS = ("exact", "contains", "regex", "json-schema", "retention", "judge")


def split_spec(spec: str) -> tuple[str, str]:
    """"contains:Paris" -> ("contains", "Paris")."""
    kind, sep, arg = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS:
        raise EvaluatorError(f"evaluator {spec!r}: use one of "
                             + ", ".join(f"{k}:..." for k in KINDS))
    return kind, arg


def offline_evaluator(kind: str, arg: Any) -> Evaluator:
    """An offline evaluator by kind; `arg` is the text, the pattern, the loaded schema or
    the loaded facts (a judge needs a model: services.experiments makes it)."""
    if kind == "exact":
        return exact_match(str(arg))
    if kind == "contains":
        return contains(str(arg))
    if kind == "regex":
        return matches(str(arg))
    if kind == "json-schema":
        return json_schema_valid(arg)
    if kind == "retention":
        if not isinstance(arg, Mapping | list):
            raise EvaluatorError("retention: the facts must be a JSON object or list")
        return retention(arg)
    raise EvaluatorError(f"{kind}: not an offline evaluator")
