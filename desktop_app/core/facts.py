"""The offline fact extractor: the statements a later turn needs, found without a model.

A sentence carries information when it names someone or something, gives a number with
its unit, a date or a time, a code or an identifier, a way to reach someone, a rule
("never", "must", "allergic"), a decision ("we agreed", "booked") or a preference. Such
statements become short `key: value` facts ("budget: €4,000", "cardiologist: Dr. Kwame
Mensah"), or, where no key would keep the meaning, the statement itself, condensed
("rule: Tom is allergic to shellfish"). User statements come first; a later value for
the same thing replaces the earlier one (a budget raised later in the chat), and every
fact remembers the message it came from.

Pure Python: no model, no Qt, no SQL. Cheap enough to run over every message a request
leaves out (a few microseconds a sentence)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from desktop_app.core.text import STOPWORDS, split_sentences

if TYPE_CHECKING:
    from desktop_app.core.records import Message

__all__ = [
    "Fact",
    "FoundFacts",
    "OfflineFactExtractor",
    "facts_in",
    "fact_weight",
    "merge_found",
    "signals",
]

MAX_KEY_WORDS = 4
MAX_VALUE_WORDS = 14
MAX_NOTE_WORDS = 24

# --- what a sentence carries ------------------------------------------------------------
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_UNITS = (
    r"%|percent|per ?cent|mg|mcg|µg|g|kg|lbs?|pounds?|oz|ml|l|litres?|liters?|mm|cm|m|km|"
    r"metres?|meters?|miles?|inches|inch|feet|foot|ft|sq ?m|m2|m²|hours?|hrs?|h|minutes?|"
    r"mins?|seconds?|secs?|s|ms|days?|nights?|weeks?|months?|years?|yrs?|people|persons?|"
    r"guests?|adults?|children|kids|users?|seats?|rooms?|beds?|items?|units?|pieces?|"
    r"tablets?|pills?|doses?|times|requests?(?: per (?:second|minute|hour|day))?|rps|"
    r"gb|mb|kb|tb|ghz|mhz|kw|kwh|w|v|°c|°f|degrees?|calories|kcal|points?|tickets?|"
    r"dollars?|euros?|usd|eur|gbp|chf|jpy|cad|aud|rupees?|yen"
)
_SIGNALS: dict[str, re.Pattern[str]] = {
    "money": re.compile(
        r"(?:[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|CAD|AUD|INR|JPY)\s?)\d(?:[\d,.]*\d)?(?:\s?[kKmM]\b|\s?(?:million|billion|thousand)\b)?"
        r"|\b\d(?:[\d,.]*\d)?\s?(?:dollars?|euros?|pounds sterling|usd|eur|gbp|rupees|yen)\b",
        re.IGNORECASE),
    "quantity": re.compile(rf"\b\d+(?:[.,]\d+)?\s?(?:{_UNITS})(?![\w])", re.IGNORECASE),
    "date": re.compile(
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s(?:of\s)?(?:{_MONTHS})\b(?:\s\d{{4}})?"
        rf"|\b(?:{_MONTHS})\.?\s\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s\d{{4}})?"
        r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
        rf"|\b(?:{_DAYS})\b|\b(?:tomorrow|tonight|next (?:week|month|year))\b",
        re.IGNORECASE),
    "time": re.compile(r"\b\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?(?!\d)|\b\d{1,2}\s?[ap]\.?m\.?\b",
                       re.IGNORECASE),
    "code": re.compile(
        r"(?<![\w/.-])(?=[A-Z0-9/#-]*\d)(?=[A-Z0-9/#-]*[A-Z])[A-Z0-9#][A-Z0-9]*"
        r"(?:[/-][A-Z0-9]+)*(?![\w/])"
        r"|#\d{3,}\b"
        r"|(?<![\w.])v\d+(?:\.\d+)+\b"  # a version: v3.14.2
        r"|(?<![\w/.-])(?!\d+(?:st|nd|rd|th|s|k|m|x|am|pm)\b)"
        r"(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z]+\d+[A-Za-z\d]*\b"),  # Sev1, P2
    "contact": re.compile(
        r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b|\bhttps?://\S+|(?<!\w)\+?\d[\d ()-]{7,}\d\b"),
    "number": re.compile(r"(?<![\w.,/-])\d+(?:[.,]\d+)*(?:[kKmMxX]\b)?(?![\w/-])"),
}
# Words that say a sentence states a rule, a decision, a preference or a change. Looked
# up in the sentence's set of words (a regular expression of alternatives would try each
# one at every position: this is the hot path of folding a long session).
_STATEMENT_WORDS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    kind: (frozenset(w for w in spec.split() if "_" not in w),
           tuple(w.replace("_", " ") for w in spec.split() if "_" in w))
    for kind, spec in {
        "rule": "never always must mustn't cannot can't can_only shouldn't should_not don't "
                "do_not doesn't does_not no_more_than at_most at_least no_later_than required "
                "require requires has_to have_to need_to needs_to only forbidden not_allowed "
                "hard_rule allergic allergy allergies intolerant intolerance will_not won't "
                "refuse red_line red_lines",
        "decision": "decided decide agreed agree booked chose chosen choose settled_on "
                    "going_with go_with confirmed picked signed approved ordered reserved "
                    "will_use we'll_use opted",
        "preference": "prefer prefers preferred rather like likes love loves hate hates "
                      "dislike dislikes favourite favorite enjoy enjoys can't_stand want wants",
        "change": "change changed move moved raise raised increase increased lowered reduced "
                  "revised update updated now instead postponed rescheduled canceled "
                  "cancelled bumped went_up went_down from_now_on change_of_plan",
    }.items()
}
_LOWER_WORDS = re.compile(r"[a-z][a-z']*")
# how much each kind of signal says (a code or a name is rarely small talk)
_WEIGHT = {"name": 2.0, "money": 2.5, "quantity": 2.0, "date": 2.0, "time": 2.0,
           "code": 3.0, "contact": 3.0, "number": 1.0, "rule": 2.0, "decision": 2.0,
           "preference": 1.5, "change": 0.5}
_VALUE_KINDS = ("money", "quantity", "date", "time", "code", "contact", "number", "name")

# A name: capitalized words, joined by the small words names carry ("Casa do Rio",
# "Harlow & Sons"), with an optional title.
_CAP = r"(?:[A-Z\u00c0-\u00de][\w'\u00c0-\u024f-]*)"
_NAME = re.compile(
    rf"(?:(?:Dr|Mr|Mrs|Ms|Prof|St)\.?\s)?{_CAP}(?:\s(?:(?:de|da|do|dos|del|van|von|der|"
    rf"la|le|di|du|of|&)\s)?{_CAP})*")
_NOT_NAME_WORDS = (
    "i i'm i've i'll i'd ok okay hi hello hey yes no thanks thank please sure great "
    "perfect lovely noted understood sounds good got important update note also and but "
    "we're it's that's we've let's here's there's you're they're i've we'll you'll "
    "from after before with the this that these those our my your their his her its when "
    "while if then there here what which who how why where our "
    "so then monday tuesday wednesday thursday friday saturday sunday january february "
    "march april may june july august september october november december")
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())


def _names(sentence: str) -> list[str]:
    """Proper names in a sentence. A capitalized word that only starts the sentence (or
    follows a colon) is taken for a name only when more capitalized words follow it."""
    out = []
    for m in _NAME.finditer(sentence):
        text = m.group().strip()
        parts = text.split()
        while parts and parts[0].lower().rstrip(".,") in _NOT_NAMES:
            parts.pop(0)
        while parts and parts[-1].lower() in ("&", "and", "of", "de", "da", "do"):
            parts.pop()
        if not parts:
            continue
        text = " ".join(parts)
        head = sentence[: m.start() + m.group().find(parts[0])].rstrip()
        at_start = not head or head[-1] in ".:!?\"'(-"
        if at_start and len(parts) == 1:
            continue
        if any(ch.isdigit() for ch in text) or text.isupper() and len(text) > 1 and len(parts) == 1:
            continue  # codes are their own kind
        out.append(text)
    return out


def signals(sentence: str) -> dict[str, list[str]]:
    """What a sentence carries, by kind: {"date": ["14 June"], "name": ["Casa do Rio"]}."""
    found: dict[str, list[str]] = {}
    taken: list[tuple[int, int]] = []  # spans of values already read as a richer kind
    for kind in ("contact", "money", "date", "time", "quantity", "code", "number"):
        for m in _SIGNALS[kind].finditer(sentence):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in taken):
                continue
            found.setdefault(kind, []).append(m.group().strip())
            taken.append(m.span())
    names = _names(sentence)
    if names:
        found["name"] = names
    lower = sentence.lower()
    present = set(_LOWER_WORDS.findall(lower))
    for kind, (single, phrases) in _STATEMENT_WORDS.items():
        hits = sorted(single & present) + [p for p in phrases if p in lower]
        if hits:
            found[kind] = hits
    return found


def fact_weight(found: Mapping[str, Sequence[str]]) -> float:
    """How much information a sentence's signals carry (0 for small talk)."""
    return sum(_WEIGHT[k] * min(len(v), 3) for k, v in found.items() if k != "change")


def needles(found: Mapping[str, Sequence[str]]) -> list[str]:
    """The values a sentence's information hangs on: its names, numbers, dates, codes."""
    return [v for k in _VALUE_KINDS for v in found.get(k, ())]


# --- facts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    key: str
    value: str
    message_id: int | None = None
    role: str = "user"
    kind: str = "value"  # "value" (key: value), or "note": the statement itself
    weight: float = 0.0

    def line(self) -> str:
        return f"{self.key}: {self.value}"


class FoundFacts(dict[str, str]):
    """New or changed facts (key -> value), with the message each came from."""

    def __init__(self, facts: Iterable[Fact] = ()) -> None:
        facts = list(facts)
        super().__init__((f.key, f.value) for f in facts)
        self.sources: dict[str, int | None] = {f.key: f.message_id for f in facts}
        self.facts: dict[str, Fact] = {f.key: f for f in facts}


_POSS = r"(?:my|our|his|her|their|your|the|its|[A-Z][a-z]+'s)"
_KEYWORD = (r"(?!(?:my|our|his|her|their|your|the|a|an|is|are|was|were|and|or|we|i|she|he|"
            r"they|it)\b)[A-Za-z][\w-]*")
_KEY = rf"(?P<k>{_KEYWORD}(?:\s(?:(?:for|of|on|in|at)\s(?:the\s)?)?{_KEYWORD}){{0,4}}?)"
_VERB_BE = r"(?:is|are|was|were|'s|will be|would be|should be|has become|becomes|remains)"
_KEYED: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.IGNORECASE) for p in (
    # "my name is Priya Natarajan", "call me Ada"
    r"\b(?P<k>name)\s+is\s+(?P<v>.+)",
    r"\bcall me\s+(?P<v>[A-Z][\w'-]*(?:\s[A-Z][\w'-]*)*)",
    # "I'm Dana Okafor, the project manager at Meridian Health"
    r"^(?:hi[,!]?\s+)?(?:i'm|i am)\s+(?P<v>[A-Z][\w'-]+(?:\s[A-Z][\w'-]+)+),\s+(?:the|a|an)\s+"
    r"(?P<k2v>.+)",
    # what people say of themselves
    r"\bi live in\s+(?P<location>[^.,;!?\n]+)",
    r"\bi(?:'m| am) from\s+(?P<from>[^.,;!?\n]+)",
    r"\bi work (?:at|for)\s+(?P<employer>[^.,;!?\n]+)",
    r"\bi work as (?:an? )?(?P<job>[^.,;!?\n]+)",
    # "the deadline moved to 15 April", "we raised the budget to €4,000"
    rf"\b(?:raised|increased|lowered|reduced|moved|changed|revised|updated|pushed|bumped|cut|"
    rf"set)\s+{_POSS}\s+{_KEY}\s+to\s+(?P<v>.+)",
    rf"\b{_POSS}\s+{_KEY}\s+(?:has\s+|was\s+|is\s+|got\s+)?(?:moved|changed|went up|went down|"
    rf"been raised|been moved|raised|increased|dropped|fell|rose)\s+to\s+(?P<v>.+)",
    # "her dose: metformin 850 mg"
    rf"\b{_POSS}\s+{_KEY}:\s+(?P<v>.+)",
    # "our total budget is €3,200", "Alex's mother is Margaret", "the rate limit should be 50"
    rf"\b{_POSS}\s+{_KEY}\s+{_VERB_BE}\s+(?:now\s+|still\s+)?(?P<v>.+)",
    # "a budget of 120 hours", "a deposit of $2,500"
    rf"\b(?:a|an|the|our|my)\s+{_KEY}\s+of\s+(?P<v>[$€£¥]?\d.+)",
))
# "my partner Tom Becker", "my grandmother, Rosa Álvarez", "the electrician, Joe Brennan,"
_APPOS_WORD = (r"(?!(?:my|our|his|her|their|the|a|an|and|or|at|in|on|for|of|with|from|to|by|"
               r"is|are|was|were)\b)[a-z][\w-]*")
_APPOSITIVE = re.compile(
    rf"\b(?:my|our|his|her|their|the)\s+((?:{_APPOS_WORD}\s){{0,2}}{_APPOS_WORD}),?\s+"
    rf"((?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s)?{_CAP}(?:\s{_CAP})*)")
# "metformin 500 mg" (a thing, then its amount)
_THING_AMOUNT = re.compile(
    rf"\b([a-z][a-z-]{{3,}})\s+(\d+(?:[.,]\d+)?\s?(?:{_UNITS})\b.*)", re.IGNORECASE)
# "140 guests" (a count of things)
_NOT_THING_WORDS = (
    "expect expecting have having has had need needs invite inviting pay paid pays take "
    "takes took get gets got cost costs weigh weighs about around over under than only "
    "least most just were was are is be been being with for from into")
_NOT_THINGS = frozenset(_NOT_THING_WORDS.split())
_AGE = re.compile(r"\b(?:i am|i'm|she is|he is|she's|he's|who is|aged?)\s+(\d{1,3})"
                  r"(?:\s+years?\s+old)?(?![\w])(?![.,]\d)", re.IGNORECASE)
_PERSONAL = re.compile(r"\b(?:i|i'm|i've|i'd|we|we're|we've|we'd|my|our|she|he|they|her|"
                       r"his|their|us|allerg\w*|intoleran\w*)\b", re.IGNORECASE)
_COUNT_OF = re.compile(
    r"\b(?:expect|expecting|have|having|invite|inviting|need|about|around)\s+(\d[\d,]*)\s+"
    r"([a-z]{3,})\b", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r";\s+|,?\s+(?:and|but|so|while)\s+(?=(?:the|my|our|his|her|"
                           r"their|we|i|she|he|they|it)\b)"
                           r"|,\s+(?=(?:the|my|our|his|her|their)\s+[\w' -]{1,30}?\s+"
                           r"(?:is|are|was|were)\b)", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_CONFIRMS = re.compile(r"^\W*(?:yes|yep|yeah|yup|correct|exactly|right|confirmed|that's (?:right|"
                       r"correct|it)|thats (?:right|it))\b", re.IGNORECASE)
# "€91,500 base", "1.5k signing bonus": an amount, then what it is
_AMOUNT_THING = re.compile(
    r"(?P<v>(?:[$€£¥₹]\s?)?\d[\d,.]*[kKmM]?)\s+(?P<k>(?!(?:for|per|a|an|the|now|each|in|with|"
    r"of|to|at|on|and|or|is|are|was)\b)[a-z][a-z-]{2,}(?:\s(?!(?:for|per|a|an|the|now|each|in|"
    r"with|of|to|at|on|and|or|is|are|was|instead)\b)[a-z][a-z-]{2,})?)")
_LEAD = re.compile(
    r"^(?:(?:hi|hello|hey|yes|no|ok|okay|so|and|but|also|well|oh|perfect|great|thanks|"
    r"thank you|noted|understood|sure|small update|update|change of plan|important|"
    r"note|fyi|btw)\b[\s,:!.-]*)+", re.IGNORECASE)
_KEY_STOP = STOPWORDS | {"now", "new", "current", "next", "total", "final", "actual"}
_VALUE_TAIL = re.compile(
    r"\s*(?:,\s*(?:so|which|because|since|as|but|though)\b.*|\s+(?:because|since|after|"
    r"as|so that|which)\s.*)$", re.IGNORECASE)


def _clean_value(value: str) -> str:
    value = value.strip().strip("\"'")
    value = _VALUE_TAIL.sub("", value)
    value = re.sub(r"\s+(?:from now on|for everything|in total|all in)$", "", value,
                   flags=re.IGNORECASE)
    value = re.sub(r"^(?:now|still|on|at|in|to|about|around|roughly)\s+", "", value,
                   flags=re.IGNORECASE)
    value = value.rstrip(" .,;:!?")
    words = value.split()
    if len(words) > MAX_VALUE_WORDS:
        value = " ".join(words[:MAX_VALUE_WORDS]) + "…"
    return value


def make_key(phrase: str) -> str:
    """A fact's key from the words naming it: "Our total budget" -> "total_budget"."""
    words = re.findall(r"[\w'-]+", phrase.lower())
    words = [w for w in words if w not in ("my", "our", "his", "her", "their", "your", "the",
                                           "a", "an", "its")]
    words = [w[:-2] if w.endswith("'s") else w for w in words][-MAX_KEY_WORDS:]
    key = re.sub(r"[^\w]+", "_", " ".join(words)).strip("_")
    return key[:64]


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _key_stems(key: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in key.split("_") if w and w not in _KEY_STOP)


def _value_kind(value: str) -> str:
    found = signals(value)
    for kind in _VALUE_KINDS:
        if found.get(kind):
            return kind
    return "text"


def _compatible(a: str, b: str) -> bool:
    """Could value `b` replace value `a` (both an amount, both a date, ...)?"""
    ka, kb = _value_kind(a), _value_kind(b)
    numeric = {"money", "quantity", "number"}
    return ka == kb or (ka in numeric and kb in numeric) or "text" in (ka, kb)


def _condensed(sentence: str) -> str:
    text = _LEAD.sub("", sentence.strip()).strip()  # as written: a name may be lowercase
    words = text.split()
    if len(words) > MAX_NOTE_WORDS:
        text = " ".join(words[:MAX_NOTE_WORDS]) + "…"
    return text.rstrip(" ,;:")


def _keyed(clause: str) -> list[tuple[str, str]]:
    """(key, value) pairs a clause states outright."""
    out: list[tuple[str, str]] = []
    for pattern in _KEYED:
        m = pattern.search(clause)
        if not m:
            continue
        groups = m.groupdict()
        if groups.get("k2v"):  # "I'm Dana Okafor, the project manager at Meridian Health"
            out.append(("name", _clean_value(groups["v"])))
            role = _clean_value(groups["k2v"])
            if role:
                out.append(("role", role))
            break
        named = next((k for k in ("location", "from", "employer", "job") if groups.get(k)), None)
        if named:
            out.append((named, _clean_value(groups[named])))
            break
        key = make_key(groups["k"]) if groups.get("k") else "name"
        value = _clean_value(groups["v"])
        if key and value and _key_stems(key) and len(value) >= 1:
            out.append((key, value))
            break
    for m in _APPOSITIVE.finditer(clause):
        key = make_key(m.group(1))
        if m.group(2).isupper():
            continue  # "the appointment API": an acronym, not a person
        if key and _key_stems(key) and all(k != key for k, _ in out):
            out.append((key, m.group(2)))
    m = _AGE.search(clause)
    if m and not out:
        out.append(("age", m.group(1)))
    m = _AMOUNT_THING.search(clause)
    if m and not out and re.search(r"[$€£¥₹]|\d[kKmM]\b", m.group("v")):
        out.append((make_key(m.group("k")), m.group("v")))
    m = _COUNT_OF.search(clause)
    if m and not out:
        out.append((make_key(m.group(2)), f"{m.group(1)} {m.group(2)}"))
    # "metformin 500 mg": the amount of a thing, also when a key was stated ("her dose:
    # metformin 850 mg"), so that a later amount of the same thing replaces it
    m = _THING_AMOUNT.search(clause)
    if m and m.group(1).lower() not in _KEY_STOP | _NOT_THINGS:
        key = make_key(m.group(1))
        if all(k != key for k, _ in out):
            out.append((key, _clean_value(m.group(2))))
    return out


_AMOUNT = re.compile(r"^[$€£¥₹]?\s?(\d(?:[\d,.]*\d)?)(?:\s?[^\W\d_]+)*$")


def _core(item: str) -> str:
    """What must appear for a value to count as present: its number ("120" of "120
    hours", "3,200" of "€3,200") when it has one, else its words."""
    m = _AMOUNT.match(item)
    if m and not _SIGNALS["date"].search(item):
        return m.group(1)
    return item.lower()


def _present(item: str, text: str) -> bool:
    """Is `item` (a value's core, lowercased) in `text`, not as part of a longer number
    ("2" is not in "MSA-2025-014")?"""
    core = _core(item).lower()
    return re.search(rf"(?<![\d.,]){re.escape(core)}(?![\d])", text) is not None


def _covered(values: Iterable[str], items: Iterable[str]) -> bool:
    text = " ".join(values).lower()
    return all(_present(n, text) for n in items)


def _note_key(found: Mapping[str, Sequence[str]]) -> str:
    for kind, key in (("rule", "rule"), ("decision", "decision"), ("preference", "preference")):
        if found.get(kind):
            return key
    return "note"


_SENTENCE_START = re.compile(r"(?:we|i|she|he|they|it|you|there|this|that)\b", re.IGNORECASE)
_KV_LINE = re.compile(r"^[ \t]*[-*]?[ \t]*([A-Za-z][\w .-]{0,40}?)[ \t]*:[ \t]+(\S.{0,200})$",
                      re.MULTILINE)


def facts_in(messages: Sequence[Message]) -> list[Fact]:
    """Every fact the messages state, in the order they state them (duplicates and
    changes included: `merge_found` resolves them)."""
    out: list[Fact] = []
    asked: Message | None = None  # the assistant's last message, which a "yes" confirms
    for m in messages:
        if m.role not in ("user", "assistant") or not m.content:
            continue
        if m.role == "user" and asked is not None and _CONFIRMS.match(m.content):
            # "you're dropping the car off on 2 March?" "yep": the user's own statement
            out.extend(_stated(asked.content, asked.id, "user", confirmed=True))
        asked = m if m.role == "assistant" else None
        if m.role == "user":  # "key: value" lines the user wrote are facts as they stand
            for line in _KV_LINE.finditer(m.content):
                key = make_key(line.group(1))
                if _LEAD.fullmatch(line.group(1) + ":") or _SENTENCE_START.match(line.group(2)):
                    continue  # "Small update: we raised the budget…" is a sentence
                if key and _key_stems(key):
                    out.append(Fact(key, _clean_value(line.group(2)), m.id, m.role, "value",
                                    fact_weight(signals(line.group(2))) + 2.0))
        out.extend(_stated(m.content, m.id, m.role))
    return out


def _stated(content: str, message_id: int | None, role: str,
            confirmed: bool = False) -> list[Fact]:
    """The facts one message states (or, `confirmed`, the questions the user said yes
    to)."""
    out: list[Fact] = []
    for sentence in split_sentences(content):
        if sentence.startswith(("```", "|")) or (sentence.endswith("?") and not confirmed):
            continue  # a question asks; it states nothing to remember
        bullet = _BULLET.match(sentence) is not None
        sentence = _BULLET.sub("", sentence).rstrip("?")
        found = signals(sentence)
        weight = fact_weight(found)
        statement = any(found.get(k) for k in ("rule", "decision", "preference"))
        personal = _PERSONAL.search(sentence) is not None
        if statement and personal:
            weight += 1.0  # what someone here must, decided or prefers
        if _AGE.search(sentence):
            weight += 1.5
        clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c.strip()]
        pairs = [p for c in clauses for p in _keyed(c)]
        # what the user lists, or says of someone ("her teacher is mr okonkwo"), is
        # meant to be remembered even without a name or a number in it
        least = 0.0 if (role == "user" and bullet) else (
            1.0 if (role == "user" and pairs) else 2.0)
        if weight < least or (weight == 0 and len(sentence.split()) < 3):
            continue
        for key, value in pairs:
            out.append(Fact(key, value, message_id, role, "value", weight))
        rest = needles(found)
        if role != "user" and not rest:
            continue  # the assistant's advice; its facts are what it names
        if statement and not (personal or rest or role == "user"):
            continue  # general advice ("always keep a checklist")
        if not pairs or statement or not _covered((v for _, v in pairs), rest):
            note = _condensed(sentence)
            if len(note.split()) >= 3:
                out.append(Fact(_note_key(found), note, message_id, role, "note", weight))
    return out


def _same_thing(key: str, other: str) -> bool:
    a, b = _key_stems(key), _key_stems(other)
    return bool(a and b) and (a <= b or b <= a)


def merge_found(found: Iterable[Fact], existing: Mapping[str, str],
                existing_roles: Mapping[str, str] | None = None) -> FoundFacts:
    """The new or changed facts, against what memory holds: a value for the same thing
    (same key, or one key's words within the other's: "budget" and "total_budget") of a
    compatible kind replaces the older one, the latest statement winning, except that
    the assistant never overrides what the user said; a note is kept only when its
    values are not already in memory. Keys stay unique ("rule", "rule_2")."""
    current: dict[str, str] = dict(existing)
    roles: dict[str, str] = dict(existing_roles or {})
    changed: dict[str, Fact] = {}
    for fact in found:
        if fact.kind == "note":
            items = needles(signals(fact.value)) or [fact.value]
            said = signals(fact.value)
            if _covered(current.values(), items) and (fact.role != "user" or not any(
                    said.get(k) for k in ("rule", "decision", "preference"))):
                continue
            if any(_near(fact.value, v) for v in current.values()):
                continue
            key = _free_key(fact.key, current)
        else:
            key = next((k for k in current if k == fact.key), None) or next(
                (k for k in current if _same_thing(fact.key, k)
                 and _compatible(current[k], fact.value)), None) or fact.key
            old = current.get(key)
            if old is not None:
                if _normal(old) == _normal(fact.value):
                    continue
                if fact.role != "user" and roles.get(key) == "user":
                    continue  # the assistant's wording does not replace the user's
                if old and _normal(fact.value) in _normal(old):
                    continue  # a shorter echo of what is kept
                for k, note in _restated(current, old, fact.value):
                    current[k] = note
                    changed[k] = Fact(k, note, fact.message_id, roles.get(k, "user"), "note",
                                      fact.weight)
        if fact.role == "user":  # "this is Sev1 now": a level named again moves on
            for k, text in _levels_moved(current, fact.value):
                current[k] = text
                changed[k] = Fact(k, text, fact.message_id, roles.get(k, "user"),
                                  "value", fact.weight)
        current[key] = fact.value
        roles[key] = fact.role
        changed[key] = Fact(key, fact.value, fact.message_id, fact.role, fact.kind,
                            fact.weight)
    return FoundFacts(f for k, f in changed.items() if existing.get(k) != f.value)


_LEVEL = re.compile(r"\b([A-Za-z]{1,4})(\d{1,2})\b")  # Sev1, P2, Tier3, S0


def _levels_moved(current: Mapping[str, str], statement: str) -> list[tuple[str, str]]:
    """Facts that name a level ("severity: Sev2") which `statement` names at another
    number ("this is Sev1 now"), with the new level in its place."""
    out = []
    for m in _LEVEL.finditer(statement):
        prefix, number = m.group(1), m.group(2)
        for key, text in current.items():
            if text == statement:
                continue
            for old in _LEVEL.finditer(text):
                if old.group(1).lower() == prefix.lower() and old.group(2) != number:
                    out.append((key, text[:old.start()] + m.group() + text[old.end():]))
                    break
    return out


def _restated(current: Mapping[str, str], old: str, new: str) -> list[tuple[str, str]]:
    """Statements in memory that quote a value which has just changed, with the new
    value in its place ("Our quote was £18,400" once the quote is £19,250), so memory
    never holds the old value as if it were current."""
    before, after = needles(signals(old)), needles(signals(new))
    if len(before) != len(after) or not before:
        return []
    out = []
    for key, text in current.items():
        if all(b in text for b in before) and text != old:
            for b, a in zip(before, after, strict=True):
                text = re.sub(rf"(?<![\w,.]){re.escape(b)}(?![\w])", a, text)
            out.append((key, text))
    return out


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _near(a: str, b: str) -> bool:
    """Is one statement the other said again (most of its words the same)?"""
    wa, wb = set(_normal(a).split()), set(_normal(b).split())
    if not wa or not wb:
        return False
    return len(wa & wb) / len(wa | wb) >= 0.7


def _free_key(key: str, taken: Mapping[str, str]) -> str:
    if key not in taken:
        return key
    n = 2
    while f"{key}_{n}" in taken:
        n += 1
    return f"{key}_{n}"


def priority(line: str) -> float:
    """How much a memory line is worth keeping when not all fit."""
    return fact_weight(signals(line))


@dataclass
class OfflineFactExtractor:
    """core.history's FactExtractor without a model: the facts of the messages, user
    statements first, merged with what memory holds."""

    method: str = "rules"
    found: list[Fact] = field(default_factory=list)  # everything found by the last call

    def extract(self, messages: Sequence[Message], existing: Mapping[str, str]) -> FoundFacts:
        self.found = facts_in(messages)
        return merge_found(self.found, existing)


# --- retention -----------------------------------------------------------------------------
RETENTION_WARNING = 0.8  # below this share of facts kept, the window says so


@dataclass(frozen=True)
class FactRetention:
    """How many of the facts found in the messages a text keeps: the guide's information
    retention ratio (§7.1.2), counted over the offline extractor's facts."""

    kept: tuple[str, ...]
    lost: tuple[str, ...]

    @property
    def total(self) -> int:
        return len(self.kept) + len(self.lost)

    @property
    def ratio(self) -> float:
        return len(self.kept) / self.total if self.total else 1.0

    @property
    def low(self) -> bool:
        return self.ratio < RETENTION_WARNING

    def describe(self) -> str:
        if not self.total:
            return "no facts to keep"
        return f"kept {len(self.kept)} of {self.total} facts"

    def to_dict(self) -> dict[str, object]:
        return {"kept": len(self.kept), "total": self.total, "lost": list(self.lost[:20])}


def _kept_in(value: str, text: str) -> bool:
    items = needles(signals(value))
    if items:
        return all(_core(n) in text for n in items)
    words = set(_normal(value).split()) - STOPWORDS
    present = set(_normal(text).split())
    return bool(words) and len(words & present) >= 0.7 * len(words)


def retention_of(facts: Mapping[str, str], text: str) -> FactRetention:
    """Which facts `text` keeps: a fact with names, numbers, dates or codes is kept when
    all of them appear; a plain statement when most of its words do."""
    lower = text.lower()
    kept: list[str] = []
    lost: list[str] = []
    for key, value in facts.items():
        (kept if _kept_in(value, lower) else lost).append(f"{key}: {value}")
    return FactRetention(tuple(kept), tuple(lost))


def facts_of(messages: Sequence[Message]) -> dict[str, str]:
    """The facts the messages state, each at its latest value."""
    return dict(merge_found(facts_in(messages), {}))
