"""Rules of surveys, without I/O: the question bank (en, fr, de), answer
validation, the survey lifecycle, one-time links, and the results: per-question
figures, breakdowns with small-group and complementary suppression, and the
storage shuffle that keeps answers from being joined to who answered by their
order."""

from __future__ import annotations

import hashlib
import random
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from shared.errors import Conflict, Invalid, NotFound
from shared.lifecycle import Lifecycle

LANGUAGES = ("en", "fr", "de")
DEFAULT_LANGUAGE = "en"
TYPES = ("agreement", "rating", "choice", "multi_choice", "text")
SCALE = (1, 2, 3, 4, 5)
AGREE = (4, 5)  # agree, strongly agree
MAX_EVENT_QUESTIONS = 10
MAX_OPTIONS = 10
BANK_TEXT_LENGTH = 2000  # the bank's free-text answers
SHORT_TEXT_LENGTH = 500  # an event-specific "short text" answer
BREAKDOWNS = ("country", "role")

Question = dict[str, Any]
"""A question as stored: ``id``, ``type``, ``text`` ({language: text}),
``options`` ([{``id``, ``text``}], choice types only), ``required``,
``max_length`` (text only)."""

SCALE_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "agreement": {
        "en": ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree",
               "Strongly agree"),
        "fr": ("Pas du tout d'accord", "Pas d'accord", "Ni d'accord ni pas d'accord",
               "D'accord", "Tout à fait d'accord"),
        "de": ("Stimme überhaupt nicht zu", "Stimme nicht zu", "Weder noch", "Stimme zu",
               "Stimme voll und ganz zu"),
    },
    "rating": {
        "en": ("1 (poor)", "2", "3", "4", "5 (excellent)"),
        "fr": ("1 (insuffisant)", "2", "3", "4", "5 (excellent)"),
        "de": ("1 (schlecht)", "2", "3", "4", "5 (ausgezeichnet)"),
    },
}  # fmt: skip


def _text(en: str, fr: str, de: str) -> dict[str, str]:
    return {"en": en, "fr": fr, "de": de}


# The standard set every event's survey starts from, so that results roll up
# across events and years (the programme's annual "94% agreed" figures).
BANK: tuple[Question, ...] = (
    {
        "id": "knowledge",
        "type": "agreement",
        "text": _text(
            "The activities gave me information and knowledge relevant to my work.",
            "Les activités m'ont apporté des informations et des connaissances utiles à mon "
            "travail.",
            "Die Aktivitäten haben mir Informationen und Wissen vermittelt, die für meine "
            "Arbeit relevant sind.",
        ),
        "required": True,
    },
    {
        "id": "understanding",
        "type": "agreement",
        "text": _text(
            "I understand other countries' policies and objectives better.",
            "Je comprends mieux les politiques et les objectifs des autres pays.",
            "Ich verstehe die Politik und die Ziele anderer Länder besser.",
        ),
        "required": True,
    },
    {
        "id": "needs_matched",
        "type": "agreement",
        "text": _text(
            "The event matched my needs.",
            "L'événement a répondu à mes besoins.",
            "Die Veranstaltung hat meinen Bedürfnissen entsprochen.",
        ),
        "required": True,
    },
    {
        "id": "overall",
        "type": "rating",
        "text": _text(
            "Overall, how would you rate the event?",
            "Dans l'ensemble, comment évaluez-vous l'événement ?",
            "Wie bewerten Sie die Veranstaltung insgesamt?",
        ),
        "required": True,
    },
    {
        "id": "use_learning",
        "type": "choice",
        "text": _text(
            "Will you use what you learnt in your work?",
            "Utiliserez-vous ce que vous avez appris dans votre travail ?",
            "Werden Sie das Gelernte in Ihrer Arbeit anwenden?",
        ),
        "options": [
            {"id": "yes", "text": _text("Yes", "Oui", "Ja")},
            {"id": "partly", "text": _text("Partly", "En partie", "Teilweise")},
            {"id": "no", "text": _text("No", "Non", "Nein")},
        ],
        "required": True,
    },
    {
        "id": "explore_further",
        "type": "text",
        "text": _text(
            "Which policy or practice would you like to explore further?",
            "Quelle politique ou pratique aimeriez-vous approfondir ?",
            "Welche Politik oder Praxis möchten Sie weiter vertiefen?",
        ),
        "required": False,
        "max_length": BANK_TEXT_LENGTH,
    },
    {
        "id": "next_steps",
        "type": "text",
        "text": _text(
            "What will you do next?",
            "Quelles seront vos prochaines étapes ?",
            "Was werden Sie als Nächstes tun?",
        ),
        "required": False,
        "max_length": BANK_TEXT_LENGTH,
    },
)
BANK_IDS = frozenset(q["id"] for q in BANK)
STATEMENTS = tuple(q["id"] for q in BANK if q["type"] == "agreement")


# --- questions ------------------------------------------------------------------


def language_of(requested: str | None) -> str:
    """The language to show: ``requested`` when there are texts in it, else English."""
    code = (requested or "").split("-")[0].strip().lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def localised(texts: Mapping[str, str], language: str) -> str:
    """``texts`` in ``language``, falling back to English (event questions may
    have English only)."""
    return texts.get(language) or texts[DEFAULT_LANGUAGE]


def present(question: Question, language: str) -> dict[str, Any]:
    """The public shape of a question, ``{"id", "type", "text", "options"?, "required"}``,
    in ``language``. Scales list their points as options (ids 1 to 5)."""
    shown: dict[str, Any] = {
        "id": question["id"],
        "type": question["type"],
        "text": localised(question["text"], language),
        "required": question["required"],
    }
    if question["type"] in SCALE_LABELS:
        labels = SCALE_LABELS[question["type"]][language]
        shown["options"] = [
            {"id": n, "text": label} for n, label in zip(SCALE, labels, strict=True)
        ]
    elif question["type"] in ("choice", "multi_choice"):
        shown["options"] = [
            {"id": o["id"], "text": localised(o["text"], language)} for o in question["options"]
        ]
    elif question.get("max_length"):
        shown["max_length"] = question["max_length"]
    return shown


def survey_questions(event_questions: Iterable[Question]) -> list[Question]:
    """The questions of an event's survey: the bank first, then its own."""
    return [*BANK, *event_questions]


def check_event_questions(questions: list[Question]) -> None:
    """Refuse more than ten event questions, duplicate ids, ids of the bank, and
    choice questions with fewer than two or duplicate options."""
    errors: dict[str, list[str]] = {}
    if len(questions) > MAX_EVENT_QUESTIONS:
        errors["questions"] = [f"At most {MAX_EVENT_QUESTIONS} event questions."]
    seen: set[str] = set()
    for question in questions:
        qid = question["id"]
        problems: list[str] = []
        if qid in BANK_IDS:
            problems.append("This id belongs to the standard question bank.")
        if qid in seen:
            problems.append("Two questions have this id.")
        seen.add(qid)
        options = question.get("options") or []
        if question["type"] in ("choice", "multi_choice"):
            ids = [o["id"] for o in options]
            if not 2 <= len(ids) <= MAX_OPTIONS:
                problems.append(f"A choice question has 2 to {MAX_OPTIONS} options.")
            if len(set(ids)) != len(ids):
                problems.append("Two options have the same id.")
        elif options:
            problems.append("Only choice and multi_choice questions have options.")
        if problems:
            errors[qid] = problems
    if errors:
        raise Invalid("The event questions are not valid.", errors=errors)


# --- answers ---------------------------------------------------------------------


def _scale_value(value: Any) -> int | str:
    """The scale point, or why the value is none."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in SCALE:
        return "Give a whole number from 1 to 5."
    return value


def _checked(question: Question, value: Any) -> tuple[Any, str | None]:
    """The answer to store (None: not answered) or a problem with it."""
    kind = question["type"]
    if value is None:
        return None, None
    if kind in SCALE_LABELS:
        checked = _scale_value(value)
        return (None, checked) if isinstance(checked, str) else (checked, None)
    option_ids = [o["id"] for o in question.get("options") or []]
    if kind == "choice":
        if not isinstance(value, str) or value not in option_ids:
            return None, f"Choose one of {', '.join(option_ids)}."
        return value, None
    if kind == "multi_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, "Give a list of option ids."
        if len(set(value)) != len(value) or not set(value) <= set(option_ids):
            return None, f"Choose distinct options among {', '.join(option_ids)}."
        return (sorted(value, key=option_ids.index) or None), None
    if not isinstance(value, str):
        return None, "Give a text."
    text = value.strip()
    limit = question.get("max_length") or SHORT_TEXT_LENGTH
    if len(text) > limit:
        return None, f"At most {limit} characters."
    return text or None, None


def validate_answers(questions: list[Question], answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The answers to store, ``{question id: value}``, from the posted
    ``[{"question_id", "value"}]``; refused (422) when an id is unknown or given
    twice, a value is outside its question's scale or options, or a required
    question is unanswered. Nothing is stored unless all are valid."""
    by_id = {q["id"]: q for q in questions}
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for answer in answers:
        qid = answer["question_id"]
        if qid not in by_id:
            errors[qid] = ["There is no such question in this survey."]
            continue
        if qid in values or qid in errors:
            errors[qid] = ["Answered twice."]
            continue
        value, problem = _checked(by_id[qid], answer.get("value"))
        if problem:
            errors[qid] = [problem]
        elif value is not None:
            values[qid] = value
    for question in questions:
        if question["required"] and question["id"] not in values and question["id"] not in errors:
            errors[question["id"]] = ["This question needs an answer."]
    if errors:
        raise Invalid("Some answers are missing or not valid; nothing was recorded.", errors=errors)
    return values


# --- the lifecycle and the link -----------------------------------------------------

# action -> (statuses it may start from, status it leads to, topic it announces)
LIFECYCLE = Lifecycle(
    "survey",
    {
        "open": (frozenset({"draft"}), "open", "survey.opened"),
        "close": (frozenset({"open"}), "closed", "survey.closed"),
    },
)
next_status = LIFECYCLE.next_status


def check_openable(event: Mapping[str, Any] | None, event_id: str) -> None:
    """A survey opens only for a completed event the service knows."""
    if event is None:
        raise NotFound(f"There is no event {event_id} (or it is not known here yet).")
    if event.get("status") != "completed":
        raise Conflict(
            f"The event is {event.get('status')}; a survey opens only once it is completed.",
            slug="event-not-completed",
            event_status=event.get("status"),
        )


def new_token() -> str:
    """A fresh one-time link token: 32 random bytes (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def survey_url(public_url: str, token: str) -> str:
    """The participant's link; always from the configured base, never the Host header."""
    return f"{public_url.rstrip('/')}/v1/survey-responses/{token}"


def swap_position(count: int, rng: random.Random) -> int | None:
    """Where a new answer goes among ``count`` stored ones of its event: the index
    (in id order) of the stored answer whose contents move to the new slot while
    the new contents take its place, or None to keep the new answer in the new slot.

    This is the inside-out Fisher-Yates shuffle: after every insertion the
    stored order of an event's answers is a uniformly random permutation of the
    order they came in, so the order of documents on disk (MongoDB's natural
    order) says nothing about who answered when.
    """
    k = rng.randrange(count + 1)
    return None if k == count else k


# --- results ----------------------------------------------------------------------


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def question_figures(question: Question, values: list[Any]) -> dict[str, Any]:
    """One question's figures over the answers given to it: ``answered``, the
    ``distribution`` (counts per scale point or option), ``agree_share`` for an
    agreement statement, ``mean`` for a rating; for a text question the texts
    themselves, sorted, without anything about who wrote them."""
    answered = [v for v in values if v is not None]
    figures: dict[str, Any] = {"answered": len(answered)}
    kind = question["type"]
    if kind == "text":
        figures["answers"] = sorted(answered, key=str.casefold)
        return figures
    if kind in SCALE_LABELS:
        counts = Counter(answered)
        figures["distribution"] = {str(n): counts.get(n, 0) for n in SCALE}
        if kind == "agreement":
            figures["agree_share"] = share(sum(counts[n] for n in AGREE), len(answered))
        else:
            figures["mean"] = round(sum(answered) / len(answered), 2) if answered else None
        return figures
    options = [o["id"] for o in question["options"]]
    chosen = Counter(
        v for value in answered for v in (value if kind == "multi_choice" else [value])
    )
    figures["distribution"] = {o: chosen.get(o, 0) for o in options}
    return figures


def suppressed_groups(counts: Mapping[str, int], min_group: int) -> set[str]:
    """The groups of one breakdown that are not shown, on its own.

    A group with fewer than ``min_group`` responses is hidden; and since the
    totals are shown, the hidden groups together are computable as totals minus
    the shown groups: while they hold fewer than ``min_group`` responses between
    them (but some), the smallest shown group is hidden too (complementary
    suppression). So a hidden group's figures are never the difference of
    published figures unless that difference covers at least ``min_group``
    people. With two groups where one is small, both are hidden.
    """
    return _complemented(counts, {g for g, n in counts.items() if n < min_group}, min_group)


def _complemented(counts: Mapping[str, int], hidden: set[str], min_group: int) -> set[str]:
    """``hidden`` and, while they hold some but fewer than ``min_group``
    responses between them, the smallest shown group (then by name)."""
    hidden = set(hidden)
    shown = sorted((n, g) for g, n in counts.items() if g not in hidden)
    while shown and 0 < sum(counts[g] for g in hidden) < min_group:
        _n, smallest = shown.pop(0)
        hidden.add(smallest)
    return hidden


def group_of(response: Mapping[str, Any], by: str) -> str:
    """The group of ``response`` in the breakdown ``by`` (``country`` or ``role``)."""
    return str(response.get(by) or "unknown")


def suppressed_breakdowns(
    responses: Iterable[Mapping[str, Any]], min_group: int
) -> dict[str, set[str]]:
    """The hidden groups of every breakdown (:data:`BREAKDOWNS`), decided together.

    Two breakdowns of the same people are two more sets of totals: an "expert"
    role group of six shown next to an "LV" country group of five experts gives
    the one expert from elsewhere as their difference, though each breakdown
    alone hides its small groups. So: class each response by its group in
    every breakdown, with each breakdown's hidden groups merged into one
    ("hidden"). Every published figure (the totals, each shown group) is a sum
    over these classes, and so is anything computed from published figures.
    While every class that has responses holds at least ``min_group``, nothing
    published or derivable describes fewer people. Starting from each
    breakdown's own suppression (:func:`suppressed_groups`), a class below
    ``min_group`` hides the smallest shown group it lies in, or for the class
    of hidden groups only, the smallest shown group next to it (then that
    breakdown's complement rule again), until no small class is left, or one
    class is left (the totals). It ends: with every group of a breakdown
    hidden, every class is a shown group of the other, or the hidden remainder,
    which the complement rule keeps large.
    """
    keys = [tuple(group_of(r, by) for by in BREAKDOWNS) for r in responses]
    sizes = [Counter(key[i] for key in keys) for i in range(len(BREAKDOWNS))]
    hidden = [suppressed_groups(sizes[i], min_group) for i in range(len(BREAKDOWNS))]
    while True:
        classes = Counter(
            tuple(None if g in hidden[i] else g for i, g in enumerate(key)) for key in keys
        )
        small = [c for c, n in classes.items() if n < min_group]
        if not small or len(classes) == 1:  # one class: the totals, published anyway
            return {by: hidden[i] for i, by in enumerate(BREAKDOWNS)}
        cell = min(small, key=lambda c: (classes[c], tuple(g or "" for g in c)))
        candidates = [(sizes[i][g], i, g) for i, g in enumerate(cell) if g is not None]
        if not candidates:  # the class of hidden groups only: widen it by a neighbour
            candidates = [
                (sizes[i][other[i]], i, other[i])
                for other in classes
                for i in range(len(BREAKDOWNS))
                if other[i] is not None
                and all(other[j] == cell[j] for j in range(len(cell)) if j != i)
            ]
        if not candidates:  # not while the complement rule holds; any shown group then
            candidates = [
                (sizes[i][g], i, g)
                for i in range(len(BREAKDOWNS))
                for g in sizes[i]
                if g not in hidden[i]
            ]
        _n, i, group = min(candidates)
        hidden[i] = _complemented(sizes[i], hidden[i] | {group}, min_group)


def breakdown(
    questions: list[Question],
    responses: list[Mapping[str, Any]],
    by: str,
    hidden: set[str],
) -> dict[str, Any]:
    """Figures per ``country`` or ``role`` of the respondents: each shown group
    with its ``responses`` and per closed question its figures; each ``hidden``
    one ``{"suppressed": true}`` and nothing else. Free texts are never broken down."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for response in responses:
        groups.setdefault(group_of(response, by), []).append(response)
    out: dict[str, Any] = {}
    for group in sorted(groups):
        members = groups[group]
        if group in hidden:
            out[group] = {"suppressed": True}
            continue
        out[group] = {
            "responses": len(members),
            "questions": {
                q["id"]: question_figures(q, [r["answers"].get(q["id"]) for r in members])
                for q in questions
                if q["type"] != "text"
            },
        }
    return out


def results(
    questions: list[Question],
    responses: list[Mapping[str, Any]],
    invited: int,
    min_group: int,
    language: str = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """The results of one event over its ``responses`` (each ``{"country",
    "role", "answers"}``): ``responses``, ``invited``, ``response_rate``, per
    question its figures, and ``breakdowns`` by country and role with small
    groups suppressed (:func:`suppressed_breakdowns`)."""
    hidden = suppressed_breakdowns(responses, min_group)
    return {
        **_totals(questions, responses, invited, language),
        "breakdowns": {by: breakdown(questions, responses, by, hidden[by]) for by in BREAKDOWNS},
    }


def programme_results(
    questions: list[Question],
    responses_by_event: Mapping[str, list[Mapping[str, Any]]],
    invited: int,
    min_group: int,
    language: str = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """The figures of several published surveys pooled (each response counts
    once). A group of a breakdown pools the responses of the events whose own
    results show it, or where it is everyone who answered (its figures are the
    event's totals), and no other: were LT hidden in an event (one respondent)
    and shown in another (five), LT over both minus LT of the second would be
    the one. So the programme's figures are sums of what the events publish
    and tell nothing more of anyone; a group no event shows, or that pools
    fewer than ``min_group`` responses, is suppressed."""
    pooled = [r for rs in responses_by_event.values() for r in rs]
    members: dict[str, list[Mapping[str, Any]]] = {by: [] for by in BREAKDOWNS}
    hidden: dict[str, set[str]] = {by: set() for by in BREAKDOWNS}
    for responses in responses_by_event.values():
        of_event = suppressed_breakdowns(responses, min_group)
        for by in BREAKDOWNS:
            if len({group_of(r, by) for r in responses}) == 1:
                members[by] += responses  # the group is everyone: the event's totals
                continue
            members[by] += [r for r in responses if group_of(r, by) not in of_event[by]]
            hidden[by] |= of_event[by]
    breakdowns = {}
    for by in BREAKDOWNS:
        pooled_sizes = Counter(group_of(r, by) for r in members[by])
        small = {g for g, n in pooled_sizes.items() if n < min_group}  # the rule, though known
        shown = breakdown(questions, members[by], by, small)
        never = {group: {"suppressed": True} for group in hidden[by] - set(shown)}
        breakdowns[by] = dict(sorted({**shown, **never}.items()))
    return {**_totals(questions, pooled, invited, language), "breakdowns": breakdowns}


def _totals(
    questions: list[Question], responses: list[Mapping[str, Any]], invited: int, language: str
) -> dict[str, Any]:
    return {
        "responses": len(responses),
        "invited": invited,
        "response_rate": share(len(responses), invited),
        "questions": [
            {
                **present(q, language),
                **question_figures(q, [r["answers"].get(q["id"]) for r in responses]),
            }
            for q in questions
        ],
    }


def agree_shares(figures: Mapping[str, Any]) -> dict[str, float]:
    """Question id -> agree share of the agreement statements of ``results``."""
    return {
        q["id"]: q["agree_share"]
        for q in figures["questions"]
        if q["type"] == "agreement" and q.get("agree_share") is not None
    }


def event_year(event: Mapping[str, Any]) -> int | None:
    """The year an event took place (its start), for the programme's annual figures."""
    starts_on = str(event.get("starts_on") or "")
    return int(starts_on[:4]) if starts_on[:4].isdigit() else None


FILTERS = ("programme", "format", "year", "host_country")


def matches(event: Mapping[str, Any] | None, filters: Mapping[str, Any]) -> bool:
    """Whether an event is one the programme aggregates ``filters`` ask for."""
    if event is None:
        return False
    for name in FILTERS:
        if name not in filters:
            continue
        value = event_year(event) if name == "year" else event.get(name)
        if value != filters[name]:
            return False
    return True
