"""A HELD-OUT set of conversations in the format of `planted_facts`: facts planted early,
ordinary chat after them, a value changed later, more chat. Written by hand without
looking at the extractor, in domains the main set does not use (hiring, a car repair, a
contract negotiation, a school matter, a software bug triage), and in a less tidy style:
lowercase typing, bullet lists, facts the assistant states and the user confirms, facts
buried mid-paragraph, numbers written as "1.5k" or "twelve".

`conversation(name)` returns the messages and the facts a later turn would need."""

from __future__ import annotations

from tests.reference.planted_facts import Conversation, Planted, _chat
from tests.reference.planted_facts import _filler as _planted_filler

# Filler questions for the new domains: ordinary chat that carries no fact a later turn
# needs. Answers reuse the generic answer sentences of the main set.
_HELDOUT_QUESTIONS = {
    "hiring": [
        "How many interview rounds is too many for a senior role?",
        "What makes a good structured interview question?",
        "How do we reduce bias when scoring candidates?",
        "Should the hiring manager sit in on every round?",
        "How quickly should we get back to candidates after an interview?",
        "What's a fair way to check references?",
        "How do I write a job ad that doesn't scare people off?",
        "Is it worth paying for a job board, or is referral enough?",
        "How do we sell the team without overpromising?",
        "What should onboarding look like in the first week?",
        "How do I turn down a strong candidate kindly?",
        "What's a sensible way to calibrate interviewers?",
    ],
    "car": [
        "How often should brake fluid be changed?",
        "Is it worth using premium fuel in an ordinary car?",
        "What does a rattle from under the car usually mean?",
        "How do I know if a garage is overcharging?",
        "Should I warm up the engine in winter?",
        "How long do tyres usually last?",
        "What should I check before a long motorway drive?",
        "Is a dashcam worth having?",
        "How do I keep the battery healthy if I rarely drive?",
        "What's the best way to clean the inside of the windscreen?",
        "Do I need winter tyres where it rarely snows?",
        "What should be in a roadside emergency kit?",
    ],
    "contract": [
        "What does an indemnity clause usually cover?",
        "How do people normally negotiate payment terms?",
        "Is it common to ask for a kill fee?",
        "How should change requests be handled in a services contract?",
        "What is a reasonable notice period for termination?",
        "Should the statement of work be separate from the main agreement?",
        "How do I push back on a clause without souring the relationship?",
        "What's the difference between a warranty and a representation?",
        "Do I need a lawyer to read every amendment?",
        "How do confidentiality clauses usually end?",
        "What should I keep on file once the contract is signed?",
        "How do e-signatures hold up compared to wet ink?",
    ],
    "school": [
        "How much homework is normal at that age?",
        "How do I get her to talk about her day?",
        "What's a good bedtime routine on school nights?",
        "How can I help with reading without making it a chore?",
        "Is it okay to let her walk to a friend's house alone?",
        "What should go in a packed lunch that actually gets eaten?",
        "How do I handle a falling-out with her best friend?",
        "Any tips for getting out of the door on time in the morning?",
        "How do I raise a concern with a teacher without sounding pushy?",
        "What are good activities for the half-term break?",
        "How much pocket money is reasonable?",
        "How do I support her before a test without adding pressure?",
    ],
    "bugs": [
        "How do we write a good bug report template?",
        "What's the difference between severity and priority?",
        "How do we keep the triage meeting short?",
        "Should flaky tests be quarantined or fixed immediately?",
        "How do we decide when a bug is a feature request?",
        "What makes a useful reproduction case?",
        "How much logging is enough to debug production issues?",
        "How do we communicate status to customers during an incident?",
        "What should a blameless postmortem include?",
        "How do we stop the same bug from coming back?",
        "When is it worth adding a regression test?",
        "How do we track follow-up actions so they actually get done?",
    ],
}


def _filler(domain: str, turns: int, seed: int) -> list[dict[str, str]]:
    """planted_facts' ordinary chat, over the held-out question lists."""
    return _planted_filler(domain, turns, seed, _HELDOUT_QUESTIONS[domain])


def _hiring() -> Conversation:
    early = _chat(
        ("hey, i'm running the hiring for a senior backend engineer at brightwater "
         "logistics. i'm the hiring manager, Olga Kowalczyk. the req id is REQ-5531 if "
         "that matters",
         "Hi Olga, happy to help with the senior backend hire. What stage are you at?"),
        ("we're down to one finalist, Rahul Menon. he did well in the screens. honestly "
         "the team liked him a lot, the only worry was that his notice period is twelve "
         "weeks which is long, but we can live with it if he starts before the new "
         "warehouse system goes live. anyway i want to get the offer out quickly",
         "Understood. A long notice period is common at senior level. What are you "
         "thinking for the offer?"),
        ("Here's where we landed after talking to finance:\n"
         "- base salary €88,000\n"
         "- 1.5k signing bonus\n"
         "- start date 4 November\n"
         "- he wants to work remotely on Fridays, which is fine with us",
         "That's a clear package: €88,000 base, a signing bonus, a 4 November start and "
         "remote Fridays."),
        ("one more thing, for the final round we decided to drop the live coding and give "
         "him a take-home exercise instead",
         "A take-home works well for senior candidates. So to recap the final round: the "
         "panel with Rahul is on Wednesday 9 October at 14:00, with you and the CTO. Is "
         "that right?"),
        ("yes, that's right",
         "Great, I'll keep that as the plan."),
        ("Legal reminded us: nobody on the panel may ask about age, religion or family "
         "plans. Offer paperwork goes through hr.desk@brightwater-logistics.com.",
         "Noted on both. I'll keep the interview questions strictly job-related."),
    )
    later = _chat(
        ("ok so finance came back and approved more money, we're offering him €91,500 "
         "base now instead",
         "Good news. I'll use €91,500 as the base salary from now on."),
    )
    facts = [
        Planted("Olga Kowalczyk", "the hiring manager"),
        Planted("REQ-5531", "the requisition id"),
        Planted("Rahul Menon", "the finalist"),
        Planted("twelve weeks", "his notice period (buried mid-paragraph)"),
        Planted("€91,500", "the base salary offered, as raised", before="€88,000"),
        Planted("1.5k", "the signing bonus"),
        Planted("4 November", "the start date"),
        Planted("Fridays", "he works remotely on Fridays"),
        Planted("take-home", "take-home exercise instead of live coding"),
        Planted("9 October", "final panel date (stated by assistant, confirmed)"),
        Planted("family plans", "prohibited interview topics"),
        Planted("hr.desk@brightwater-logistics.com", "where offer paperwork goes"),
    ]
    return Conversation("hiring", early + _filler("hiring", 30, 11) + later
                        + _filler("hiring", 30, 12), facts)


def _car_repair() -> Conversation:
    early = _chat(
        ("my car's making a horrible noise, it's a 2016 skoda octavia estate, about "
         "87,450 miles on it. vin is TMBJG7NE5G0123456",
         "Sorry to hear that. What kind of noise, and has a garage looked at it yet?"),
        ("Yes, Fenwick Motors had a look. The mechanic, Dave Ostrowski, thinks it's the "
         "exhaust manifold gasket. Their estimate is £640 with labour. The work order "
         "number is WO-30718.",
         "Thanks. A blown manifold gasket is a common cause of a ticking or blowing "
         "noise, and the estimate sounds within the normal range."),
        ("I rang them to book it in.",
         "Let me check I have it right: you're dropping the car off on Monday 2 March at "
         "08:15, and they'll call you when it's ready?"),
        ("yep thats it. their number is 0161 496 0732 if i need to chase",
         "Perfect, I'll keep that handy."),
        ("couple of things i told them:\n"
         "* genuine parts only, no aftermarket stuff, the extended warranty needs it\n"
         "* if they give me a courtesy car it has to be an automatic, i can't drive manual "
         "any more after the shoulder op\n"
         "* we're leaving the timing belt until spring, don't let them talk me into it now",
         "All clear: genuine parts only, an automatic courtesy car, and the timing belt "
         "waits until spring."),
        ("Oh and the MOT runs out on 19 April so I want it all done well before that.",
         "Good to know. There should be plenty of time."),
    )
    later = _chat(
        ("ugh, Dave called. the manifold itself is cracked, not just the gasket, so the "
         "new estimate is £815",
         "That's frustrating. I've updated the estimate to £815."),
    )
    facts = [
        Planted("87,450", "the mileage"),
        Planted("TMBJG7NE5G0123456", "the VIN"),
        Planted("Fenwick Motors", "the garage"),
        Planted("Dave Ostrowski", "the mechanic"),
        Planted("£815", "the repair estimate, as revised", before="£640"),
        Planted("WO-30718", "the work order number"),
        Planted("2 March", "drop-off date (stated by assistant, confirmed)"),
        Planted("0161 496 0732", "the garage's phone number"),
        Planted("genuine parts", "genuine parts only"),
        Planted("automatic", "the courtesy car must be an automatic"),
        Planted("timing belt", "timing belt left until spring"),
        Planted("19 April", "the MOT expiry date"),
    ]
    return Conversation("car_repair", early + _filler("car", 30, 13) + later
                        + _filler("car", 30, 14), facts)


def _contract() -> Conversation:
    early = _chat(
        ("I'm negotiating a master services agreement with Halvorsen Design AS in Oslo. "
         "My contact there is Ingrid Halvorsen, and our own lawyer is Benedict Achebe.",
         "Happy to help you think it through. What are the sticking points?"),
        ("The draft is MSA-2025-014. They've proposed a day rate of $1,150, payment terms "
         "of net 60, and Norwegian law. We've said we need net 30.",
         "Those are typical opening positions. Net 60 is long for a small supplier."),
        ("After a call this morning we agreed to meet in the middle at net 45. The "
         "governing law stays Norway, I don't mind that.",
         "Net 45 is a fair compromise, and Norwegian law is a reasonable concession."),
        ("A few red lines for me:\n"
         "1. I will not sign any non-compete, full stop.\n"
         "2. Liability has to be capped at 2x the annual fees.\n"
         "3. I keep the IP in my pre-existing libraries; they only own the deliverables.",
         "Those are sensible and common positions. The IP carve-out is especially "
         "important for a consultancy."),
        ("they want it signed by 28 February, send questions to "
         "legal@halvorsen-design.no",
         "That's a tight but doable deadline."),
        ("Also, I'd rather everything go by email than by phone; I like having a paper "
         "trail.",
         "Makes sense, a written record helps in negotiations."),
    )
    later = _chat(
        ("Good news, Ingrid accepted a higher rate: the day rate is now $1,240.",
         "Excellent. I'll work from a day rate of $1,240."),
    )
    facts = [
        Planted("Halvorsen Design AS", "the client"),
        Planted("Ingrid Halvorsen", "the client's contact"),
        Planted("Benedict Achebe", "our lawyer"),
        Planted("MSA-2025-014", "the contract reference"),
        Planted("$1,240", "the day rate, as raised", before="$1,150"),
        Planted("net 45", "the payment terms agreed"),
        Planted("Norway", "the governing law"),
        Planted("non-compete", "will not sign a non-compete"),
        Planted("2x the annual fees", "the liability cap"),
        Planted("pre-existing libraries", "IP retained in pre-existing libraries"),
        Planted("28 February", "the signing deadline"),
        Planted("legal@halvorsen-design.no", "where to send questions"),
    ]
    return Conversation("contract", early + _filler("contract", 30, 15) + later
                        + _filler("contract", 30, 16), facts)


def _school() -> Conversation:
    early = _chat(
        ("hi, my daughter is in year 4 at st aldhelm's primary, her teacher is mr "
         "okonkwo. her full name is Mayowa Adeyemi but everyone calls her Maya",
         "Hi! Happy to help. What's going on at school?"),
        ("Parents' evening is on Thursday 13 March at 4:40pm. I want to ask about her "
         "reading, and whether she should stay in class 4B or move to 4C with her friends. "
         "Actually we talked about it at home and decided she stays in 4B.",
         "Staying put is often the calmer option. I'll help you prepare questions."),
        ("school office number is 01223 760 415 and her pupil id is SA-2231-MK, they "
         "always ask for it when i ring",
         "Good to have both to hand."),
        ("She's allergic to tree nuts, and the school has her EpiPen. So the class trip to "
         "the zoo is a bit of a worry. It's on 21 May and costs £38.50, which we paid "
         "already.",
         "It's worth confirming the trip staff know about the allergy and carry the "
         "EpiPen."),
        ("house rules we've agreed with her:\n"
         "- no screens after 7:30pm on school nights\n"
         "- homework before any playdates\n"
         "- grandad Frank does the Wednesday pick-up",
         "Clear rules like those tend to work well."),
        ("and she'd rather walk to school than get the bus, weather allowing",
         "Walking is a nice way to start the day."),
    )
    later = _chat(
        ("The school moved parents' evening, my slot is 5:20pm now, same day",
         "Thanks, I've updated your parents' evening slot to 5:20pm."),
    )
    facts = [
        Planted("aldhelm", "the school"),
        Planted("okonkwo", "her teacher"),
        Planted("Maya", "what she is called"),
        Planted("13 March", "parents' evening date"),
        Planted("5:20pm", "parents' evening time, as moved", before="4:40pm"),
        Planted("4B", "decided she stays in class 4B"),
        Planted("01223 760 415", "the school office number"),
        Planted("SA-2231-MK", "her pupil id"),
        Planted("tree nuts", "her allergy"),
        Planted("£38.50", "the trip cost"),
        Planted("7:30pm", "no screens after this on school nights"),
        Planted("Frank", "who does the Wednesday pick-up"),
    ]
    return Conversation("school", early + _filler("school", 30, 17) + later
                        + _filler("school", 30, 18), facts)


def _bug_triage() -> Conversation:
    early = _chat(
        ("We've got a nasty one. BUG-7804: refunds on the payments service are being "
         "rounded to the wrong cent for some currencies. It started after we deployed "
         "v3.14.2; the last good version was v3.13.9.",
         "That sounds like a regression in the rounding path. How many customers are "
         "affected?"),
        ("mostly one customer so far, fairhaven pharmacy, account ACC-00912. roughly "
         "1.2k transactions affected since tuesday",
         "Understood. I'd treat that as high severity given it touches money."),
        ("Triage summary so far:\n"
         "- severity: Sev2 for now\n"
         "- on-call engineer: Tomasz Wrona\n"
         "- customer contact: it-support@fairhavenpharmacy.co.uk\n"
         "- all times in the incident doc are in UTC",
         "Thanks, that's a tidy summary."),
        ("Whatever we do, we must not roll back migration 0047, it has already rewritten "
         "the ledger table and a rollback would corrupt it.",
         "Agreed, a forward fix is safer than rolling back that migration."),
        ("So the plan is a hotfix behind a feature flag, and Keiko runs triage on this?",
         "Right: the hotfix ships behind the refund_v2_rounding flag, and Keiko Sato is "
         "the triage lead. Does that match what the team agreed?"),
        ("yes exactly. postmortem is due Friday 24 January",
         "Got it, I'll keep the postmortem date in mind."),
    )
    later = _chat(
        ("Escalating: a second customer reported it, so this is Sev1 now.",
         "Understood, I've raised it to Sev1."),
    )
    facts = [
        Planted("BUG-7804", "the bug id"),
        Planted("v3.14.2", "the version that introduced it"),
        Planted("ACC-00912", "the affected customer's account"),
        Planted("1.2k", "how many transactions were affected"),
        Planted("Sev1", "the severity, as escalated", before="Sev2"),
        Planted("Tomasz Wrona", "the on-call engineer"),
        Planted("it-support@fairhavenpharmacy.co.uk", "the customer contact"),
        Planted("UTC", "times are in UTC"),
        Planted("0047", "must not roll back migration 0047"),
        Planted("refund_v2_rounding", "the feature flag (stated by assistant, confirmed)"),
        Planted("Keiko Sato", "the triage lead (stated by assistant, confirmed)"),
        Planted("24 January", "the postmortem due date"),
    ]
    return Conversation("bug_triage", early + _filler("bugs", 30, 19) + later
                        + _filler("bugs", 30, 20), facts)


CONVERSATIONS = {c.name: c for c in (_hiring(), _car_repair(), _contract(), _school(),
                                     _bug_triage())}


def conversation(name: str) -> Conversation:
    return CONVERSATIONS[name]
