"""Conversations with facts planted early, ordinary chat after them, and some values
changed later: the yardstick for what memory and the summary keep when history
overflows. Written by hand for these tests (several domains, both sides speaking);
`conversation(name)` returns the messages and the facts a later turn would need.

A fact is its needle: the words that must reach the request for the fact to survive
(a value, not a phrasing). A changed fact has the value it had before too, which memory
must no longer hold."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Planted:
    needle: str  # what must reach the request
    about: str  # the fact, in words, for failure messages
    before: str | None = None  # the value it had before it changed, if it did


@dataclass(frozen=True)
class Conversation:
    name: str
    messages: list[dict[str, str]]
    facts: list[Planted]


def _chat(*turns: tuple[str, str]) -> list[dict[str, str]]:
    out = []
    for user, assistant in turns:
        out.append({"role": "user", "content": user})
        out.append({"role": "assistant", "content": assistant})
    return out


# Ordinary chat: questions and answers that carry no fact a later turn needs, with the
# pleasantries real chats repeat.
_FILLER_QUESTIONS = {
    "trip": [
        "What should I pack for a city break in early summer?",
        "Is it worth getting a transport card or just paying per ride?",
        "How do people usually tip in restaurants there?",
        "Any tips for avoiding the worst of the crowds at the big sights?",
        "What's a good way to spend a rainy afternoon?",
        "Should I learn a few phrases before going?",
        "How early should I get to the airport for a short-haul flight?",
        "Is it easy to find vegetarian food in the old town?",
        "What kind of shoes are best for cobbled streets?",
        "Do museums usually close one day a week?",
        "How do I keep my phone charged while sightseeing all day?",
        "What are good souvenirs that aren't tacky?",
    ],
    "project": [
        "How should we structure the repository for the services?",
        "What's a sensible branching strategy for a small team?",
        "How do you usually write a good pull request description?",
        "Any advice on keeping the test suite fast as it grows?",
        "What should go into the README for new developers?",
        "How do we decide between logging and metrics for a given signal?",
        "What's a reasonable code review turnaround?",
        "How should we handle configuration for different environments?",
        "Any thoughts on naming conventions for endpoints?",
        "How do we keep dependencies up to date without breaking things?",
        "What makes a good on-call runbook?",
        "How much documentation is too much?",
    ],
    "wedding": [
        "How far ahead should invitations go out?",
        "What's a good way to organise the seating plan?",
        "Should we have a first look before the ceremony?",
        "How long should the speeches be?",
        "Any ideas for keeping guests entertained between the ceremony and dinner?",
        "How do we handle plus-ones politely?",
        "What's a realistic timeline for the day itself?",
        "Should we do favours, or is that old-fashioned?",
        "How do we choose music for the first dance?",
        "What's the etiquette for thank-you notes?",
        "How do we make the day comfortable for older guests?",
        "What should be in an emergency kit for the day?",
    ],
    "care": [
        "How can I make the house safer against falls?",
        "What are good ways to keep her socially active?",
        "How do I talk to her about accepting more help?",
        "What should I bring to a hospital appointment?",
        "Any tips for sleeping better at her age?",
        "How do I look after myself as a carer?",
        "What kind of gentle exercise is usually recommended?",
        "How can I help her remember to drink enough water?",
        "What questions should I ask the pharmacist?",
        "How do I organise her paperwork?",
        "Are there good apps for coordinating family visits?",
        "What's a healthy simple breakfast?",
    ],
    "renovation": [
        "What order do trades usually work in for a kitchen refit?",
        "How do I compare quotes fairly?",
        "What should I ask a builder before hiring them?",
        "How do I keep dust out of the rest of the house?",
        "What's the difference between matt and eggshell paint?",
        "How long does plaster take to dry before painting?",
        "Is underfloor heating worth it in a kitchen?",
        "What lighting works best over a worktop?",
        "How do I live without a kitchen for a few weeks?",
        "Any tips for choosing tiles?",
        "How do I check the work is done properly?",
        "What usually goes wrong on projects like this?",
    ],
}

_ANSWER_SENTENCES = [
    "That depends a little on your priorities, but there are a few things that usually help.",
    "Most people find it easiest to start small and adjust as they go.",
    "It is worth writing down what matters most to you before deciding.",
    "A common approach is to plan the essentials first and leave room for the rest.",
    "Try not to overthink it; the simple option is often the right one.",
    "If you are unsure, asking someone who has done it recently is a good shortcut.",
    "Keep a short checklist so nothing important slips through.",
    "Timing matters more than people expect, so leave some slack.",
    "There is no single right answer, and both options have their fans.",
    "Comfort and practicality tend to beat what looks best on paper.",
    "It helps to agree on a rough plan early and then stop revisiting it.",
    "Small habits, repeated, make a bigger difference than one big effort.",
    "Budget a little extra time for the things that always take longer.",
    "If something feels off, it is usually worth pausing to check.",
    "Good preparation makes the day itself much calmer.",
]
_PLEASANTRIES = [
    "Happy to help with that.",
    "Let me know if you need anything else.",
    "Great question!",
    "Sounds good.",
]


def _filler(domain: str, turns: int, seed: int,
            questions: list[str] | None = None) -> list[dict[str, str]]:
    """`turns` turns of ordinary chat: the domain's questions (or `questions`), each
    answered with stock advice and pleasantries."""
    rng = random.Random(seed)
    questions = questions or _FILLER_QUESTIONS[domain]
    out: list[tuple[str, str]] = []
    for i in range(turns):
        q = questions[i % len(questions)]
        body = " ".join(rng.sample(_ANSWER_SENTENCES, 6))
        answer = f"{rng.choice(_PLEASANTRIES)} {body} {rng.choice(_PLEASANTRIES)}"
        out.append((q, answer))
    return _chat(*out)


def _trip() -> Conversation:
    early = _chat(
        ("Hi! My name is Priya Natarajan and I'm planning a trip to Lisbon with my "
         "partner Tom Becker.",
         "Lovely to meet you, Priya. Lisbon is a great choice. When are you thinking of "
         "going?"),
        ("We fly out on 14 June at 07:45 and come back on 21 June. Our total budget is "
         "€3,200 for everything.",
         "Noted: 14 June to 21 June, with a budget of €3,200. Do you have a hotel yet?"),
        ("Yes, we booked Casa do Rio in Alfama. The booking code is QX7T2L.",
         "Perfect, Casa do Rio in Alfama, booking code QX7T2L."),
        ("Important: Tom is allergic to shellfish, so restaurants need to be careful. "
         "And we never want red-eye flights again.",
         "Understood, no shellfish for Tom and no overnight flights."),
        ("I prefer aisle seats, and Tom likes the window.",
         "I'll keep that in mind when we look at seats."),
        ("We decided to do the Sintra day trip on 17 June rather than Porto.",
         "Good choice; Sintra on 17 June works well as a day trip."),
    )
    later = _chat(
        ("Small update: we raised the budget to €4,000 because flights went up.",
         "Thanks, I've updated the budget to €4,000."),
    )
    facts = [
        Planted("Priya", "the traveller's name"),
        Planted("Tom Becker", "who travels with her"),
        Planted("14 June", "departure date"),
        Planted("07:45", "departure time"),
        Planted("21 June", "return date"),
        Planted("€4,000", "the budget, as raised", before="€3,200"),
        Planted("Casa do Rio", "the hotel"),
        Planted("QX7T2L", "the booking code"),
        Planted("shellfish", "Tom's allergy"),
        Planted("red-eye", "no red-eye flights"),
        Planted("aisle", "her seat preference"),
        Planted("Sintra", "the day trip decided"),
    ]
    return Conversation("trip", early + _filler("trip", 30, 1) + later
                        + _filler("trip", 30, 2), facts)


def _project() -> Conversation:
    early = _chat(
        ("I'm Dana Okafor, the project manager at Meridian Health. We need a patient "
         "appointment API.",
         "Hi Dana. Happy to help plan the appointment API for Meridian Health."),
        ("The deadline is 31 March 2027 and we have a budget of 120 engineering hours.",
         "Got it: 31 March 2027, 120 hours."),
        ("The tracking ticket is MH-2291. It must support PostgreSQL 14.",
         "Noted, ticket MH-2291, PostgreSQL 14 required."),
        ("We must never log patient names, that's a hard rule from compliance.",
         "Understood: patient names never appear in logs."),
        ("After the meeting we agreed to use FastAPI for the service.",
         "FastAPI is a good fit for this."),
        ("The rate limit should be 50 requests per second per client.",
         "50 requests per second per client, noted."),
        ("Our lead developer is Marcus Lee; he reviews every merge.",
         "Thanks, Marcus Lee reviews merges."),
    )
    later = _chat(
        ("Update from Dana: the deadline moved to 15 April 2027.",
         "Thanks, the deadline is now 15 April 2027."),
    )
    facts = [
        Planted("Dana Okafor", "the project manager"),
        Planted("Meridian Health", "the client"),
        Planted("15 April 2027", "the deadline, as moved", before="31 March 2027"),
        Planted("120", "the budget in hours"),
        Planted("MH-2291", "the ticket"),
        Planted("PostgreSQL 14", "the database version required"),
        Planted("patient names", "never log patient names"),
        Planted("FastAPI", "the framework agreed"),
        Planted("50 requests per second", "the rate limit"),
        Planted("Marcus Lee", "the lead developer"),
    ]
    return Conversation("project", early + _filler("project", 30, 3) + later
                        + _filler("project", 30, 4), facts)


def _wedding() -> Conversation:
    early = _chat(
        ("We're Sam and Alex, getting married on 12 September 2027 at the Old Mill Barn.",
         "Congratulations, Sam and Alex! The Old Mill Barn sounds beautiful."),
        ("We expect 140 guests. The caterer is Green Fork and we paid a deposit of $2,500.",
         "140 guests, Green Fork catering, $2,500 deposit paid."),
        ("The invoice number for the venue is INV-88412.",
         "Venue invoice INV-88412, noted."),
        ("Alex's mother is Margaret, and she must have step-free access.",
         "Step-free access for Margaret, understood."),
        ("We'd rather have a fully vegetarian menu.",
         "A vegetarian menu it is."),
        ("We booked Lena Park as the photographer.",
         "Lena Park is booked for photography."),
    )
    later = _chat(
        ("Change of plan: the guest count is now 155 after the RSVPs came in.",
         "Updated: 155 guests."),
    )
    facts = [
        Planted("Sam", "one of the couple"),
        Planted("12 September 2027", "the wedding date"),
        Planted("Old Mill Barn", "the venue"),
        Planted("155", "the guest count, as changed", before="140"),
        Planted("Green Fork", "the caterer"),
        Planted("$2,500", "the deposit paid"),
        Planted("INV-88412", "the venue invoice"),
        Planted("step-free", "Margaret's access need"),
        Planted("vegetarian", "the menu preference"),
        Planted("Lena Park", "the photographer booked"),
    ]
    return Conversation("wedding", early + _filler("wedding", 30, 5) + later
                        + _filler("wedding", 30, 6), facts)


def _care() -> Conversation:
    early = _chat(
        ("I'm looking after my grandmother, Rosa Álvarez. She is 82.",
         "That's a lot to take on. How can I help with Rosa's care?"),
        ("She takes metformin 500 mg twice a day, and she is allergic to penicillin.",
         "Metformin 500 mg twice daily; penicillin allergy. Important to keep on record."),
        ("Her cardiologist is Dr. Kwame Mensah. Her next appointment is on Tuesday "
         "3 December at 10:30.",
         "Dr. Kwame Mensah, Tuesday 3 December at 10:30."),
        ("Her insurance ID is BX-40-7781.",
         "Insurance ID BX-40-7781."),
        ("She must not lift anything over 5 kg after the surgery.",
         "No lifting over 5 kg, noted."),
        ("She prefers to speak Spanish with the doctors.",
         "Spanish with the doctors, understood."),
    )
    later = _chat(
        ("The doctor changed her dose: metformin 850 mg twice a day from now on.",
         "Thanks, I've noted metformin 850 mg twice a day."),
    )
    facts = [
        Planted("Rosa Álvarez", "the grandmother's name"),
        Planted("82", "her age"),
        Planted("850 mg", "her metformin dose, as changed", before="500 mg"),
        Planted("penicillin", "her allergy"),
        Planted("Kwame Mensah", "her cardiologist"),
        Planted("3 December", "the appointment date"),
        Planted("10:30", "the appointment time"),
        Planted("BX-40-7781", "her insurance ID"),
        Planted("5 kg", "the lifting limit"),
        Planted("Spanish", "the language she prefers"),
    ]
    return Conversation("care", early + _filler("care", 30, 7) + later
                        + _filler("care", 30, 8), facts)


def _renovation() -> Conversation:
    early = _chat(
        ("We're redoing the kitchen at 27 Elm Road. The builder is Harlow & Sons.",
         "Sounds like a big project. Harlow & Sons at 27 Elm Road, noted."),
        ("Their quote was £18,400 including VAT, and the work starts on 6 May.",
         "£18,400 with VAT, starting 6 May."),
        ("The worktop is 3.2 metres long and we chose quartz in a colour called "
         "Arctic White.",
         "A 3.2 m quartz worktop in Arctic White."),
        ("The electrician, Joe Brennan, can only come on Thursdays.",
         "Joe Brennan, Thursdays only."),
        ("We can't have gas in the new kitchen; it has to be induction.",
         "Induction only, no gas."),
        ("The planning reference is PL/2026/0457.",
         "Planning reference PL/2026/0457."),
    )
    later = _chat(
        ("The builder revised the quote to £19,250 after finding damp.",
         "Understood, the quote is now £19,250."),
    )
    facts = [
        Planted("27 Elm Road", "the address"),
        Planted("Harlow & Sons", "the builder"),
        Planted("£19,250", "the quote, as revised", before="£18,400"),
        Planted("6 May", "the start date"),
        Planted("3.2", "the worktop length"),
        Planted("Arctic White", "the worktop colour"),
        Planted("Joe Brennan", "the electrician"),
        Planted("Thursdays", "when he can come"),
        Planted("induction", "no gas, induction only"),
        Planted("PL/2026/0457", "the planning reference"),
    ]
    return Conversation("renovation", early + _filler("renovation", 30, 9) + later
                        + _filler("renovation", 30, 10), facts)


CONVERSATIONS = {c.name: c for c in (_trip(), _project(), _wedding(), _care(), _renovation())}


def conversation(name: str) -> Conversation:
    return CONVERSATIONS[name]
