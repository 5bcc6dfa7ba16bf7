"""What a compression must not lose: the instructions and constraints of a prompt
("Answer briefly, in bullet points.", "Never book a car."), the role it gives the model
("You are a travel assistant."), and the numbers and names in everything else. The
optimizer keeps these first and measures its retention against them. Pure Python.

A sentence is an instruction when it starts with an imperative ("Answer", "Do not",
"Please list", "- Use"), addresses the model with a duty ("You must", "You will"), or
states a constraint ("must", "should", "never", "always", "only", "at most", "no more
than"). It gives a role when it starts "You are", "Act as" or "Your task is"."""

from __future__ import annotations

import re
from collections.abc import Iterable

OTHER, ROLE, INSTRUCTION = 0, 1, 2

# Verbs a prompt gives orders with, in their base form (an imperative starts with one).
_VERBS = """
    act add address adopt answer apply ask assume avoid be begin break bring build
    calculate call cite check choose classify clarify compare compose concentrate consider
    continue convert correct count create decline define describe detect determine discuss
    do draft draw edit emphasize end ensure estimate evaluate explain express extract fill
    find finish fix focus follow format generate give group help highlight identify ignore
    imagine include indicate infer keep label leave limit list locate look make mark match
    mention name note offer omit order organize outline output paraphrase pick plan point
    prefer prepare present preserve prioritize produce propose provide put quote rank rate
    read recommend refer refuse reject remember remove rephrase replace reply report
    request respond restate return review rewrite say score select send separate set show
    simplify skip sort specify spell start state stay stick stop structure suggest
    summarise summarize support take talk tell think translate treat try turn underline
    use verify wait warn write
"""
IMPERATIVE_VERBS = frozenset(_VERBS.split())
# Words that may come before the imperative: "Please answer", "Always cite", "- Use".
_LEAD = re.compile(
    r"^\s*(?:[-*•>]\s+|\(?\d{1,3}[.)]\s+|\(?[a-z][.)]\s+)?"
    r"(?:(?:please|kindly|also|then|now|finally|first|second|next|and|just|briefly|"
    r"always|never|only|carefully|politely)\b,?\s+)*",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(r"^(?:do\s+not|don't|don’t|never)\b", re.IGNORECASE)
_DUTY = re.compile(
    r"^\s*you\s+(?:must|should|shall|will|need\s+to|have\s+to|may\s+not|may\s+only|"
    r"can\s+only|cannot|can't|are\s+(?:not\s+)?(?:allowed|required|expected|to)\b)",
    re.IGNORECASE,
)
_CONSTRAINT = re.compile(
    r"\b(?:must|mustn't|should|shouldn't|shall|never|always|do\s+not|don't|don’t|"
    r"at\s+most|at\s+least|no\s+more\s+than|no\s+fewer\s+than|no\s+longer\s+than|"
    r"not\s+exceed|only\s+(?:use|answer|reply|respond|include|return|write|output))\b",
    re.IGNORECASE,
)
# "Use of force is rare", "Answers are short": the first word was a noun.
_NOT_AFTER_A_VERB = frozenset({"of", "is", "are", "was", "were", "has", "have", "had"})
_ROLE = re.compile(
    r"^\s*(?:you\s+are|you're|you’re|act\s+as|acting\s+as|pretend\s+to\s+be|"
    r"your\s+(?:role|task|job|goal|purpose|aim|mission)\s+is)\b",
    re.IGNORECASE,
)
# Numbers (with their units and separators) and capitalised names inside a sentence.
SPECIFIC = re.compile(r"(?<![\w.])\d[\d,.:/%-]*|(?<=[a-z,;] )[A-Z][\w’'-]*\w")


def kind(sentence: str) -> int:
    """INSTRUCTION, ROLE or OTHER (see the module's docstring). A question, a code block
    and a `key: value` line are never instructions."""
    text = sentence.strip()
    if not text or text.startswith("```") or text.endswith("?"):
        return OTHER
    if _ROLE.match(text):
        return ROLE
    if _DUTY.match(text) or _CONSTRAINT.search(text):
        return INSTRUCTION
    lead = _LEAD.match(text)
    rest = text[lead.end() :] if lead else text
    if _NEGATIVE.match(rest):
        return INSTRUCTION
    first = re.match(r"([A-Za-z]+)(\S?)\s*(\w*)", rest)
    if (first and first[1].lower() in IMPERATIVE_VERBS and first[2] not in (":", "-", "'", "’")
            and first[3].lower() not in _NOT_AFTER_A_VERB):
        return INSTRUCTION
    return OTHER


def specifics(text: str) -> list[str]:
    """The numbers and names in `text`, in order, each once."""
    seen: dict[str, None] = {}
    for m in SPECIFIC.finditer(text):
        value = m.group().rstrip(",.:/-")
        if value and re.search(r"\w", value):
            seen.setdefault(value, None)
    return list(seen)


def key_items(sentences: Iterable[str]) -> list[str]:
    """What a compression of these sentences must keep: every instruction and role whole,
    and the numbers and names of the other sentences (each once), in order."""
    items: dict[str, None] = {}
    for sentence in sentences:
        if kind(sentence) != OTHER:
            items.setdefault(sentence.strip(), None)
        elif not sentence.lstrip().startswith("```"):
            for value in specifics(sentence):
                items.setdefault(value, None)
    return list(items)
