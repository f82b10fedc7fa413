"""Realistic demonstration data for `python -m pvd_survey seed-demo` (idempotent).

Later capabilities (survey, postings, meetings) extend `seed()`.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pvd_survey import accounts, meetings, survey, territory
from pvd_survey.config import Settings
from pvd_survey.models import Meeting, Organisation, OutboxMessage, SurveyInvitation, SurveyResponse, User, utcnow
from pvd_survey.survey_questions import BASELINE_2022, BASELINE_RESPONDENTS, CSV_COLUMNS, TRAINING_FIELD

# Real PVD territories (names as the programme lists them), with their department.
DEMO_ORGANISATIONS = (
    ("Communauté de communes du Montbardois", "epci", "21"),
    ("Quimperlé Communauté", "epci", "29"),
    ("Commune de Saint-Flour", "commune", "15"),
    ("Communauté de communes Cœur de Savoie", "epci", "73"),
    ("Commune de Revel", "commune", "31"),
    ("Commune de Mamers", "commune", "72"),
    ("Communauté de communes du Pays de Mormal", "epci", "59"),
    ("Commune de Saint-Laurent-du-Maroni", "commune", "973"),
)
DEMO_USERS = (
    ("claire.durand@demo.anct.gouv.fr", "Claire Durand", "direction", None),
    ("recrutement@demo.montbardois.fr", "Julien Morel", "recruteur", "Communauté de communes du Montbardois"),
    ("rh@demo.quimperle-communaute.bzh", "Anne Le Gall", "recruteur", "Quimperlé Communauté"),
    ("mairie@demo.saint-flour.fr", "Sophie Vidal", "recruteur", "Commune de Saint-Flour"),
)


DEMO_DEPARTMENTS = ("21", "29", "15", "73", "31", "72", "59", "973", "35", "56", "71", "89", "12", "46", "62")
DEMO_INVITEES = (
    ("lea.martin@demo.montbard.fr", "21"),
    ("thomas.bernard@demo.quimperle.bzh", "29"),
    ("ines.petit@demo.saint-flour.fr", "15"),
    ("hugo.robert@demo.coeurdesavoie.fr", "73"),
    ("chloe.richard@demo.revel.fr", "31"),
    ("lucas.durand@demo.mamers.fr", "72"),
    ("manon.dubois@demo.mormal.fr", "59"),
    ("nathan.moreau@demo.saintlaurentdumaroni.fr", "973"),
)


def _allocate(shares: dict[str, int], total: int) -> dict[str, int]:
    """Largest-remainder counts adding up to `total` for percentages adding up to 100."""
    exact = {key: share * total / 100 for key, share in shares.items()}
    counts = {key: int(value) for key, value in exact.items()}
    for key in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def baseline_like_csv(total: int = BASELINE_RESPONDENTS, seed: int = 2022) -> str:
    """A responses file (import format) whose shares are the published May 2022 ones."""
    rng = random.Random(seed)
    months = {"2020": "2020-11", "2021-S1": "2021-04", "2021-S2": "2021-10", "2022": "2022-03"}
    columns: dict[str, list[str]] = {}
    for code in ("start_period", "employer", "gender", "experience", "diploma"):
        values = [option for option, count in _allocate(BASELINE_2022[code], total).items() for _ in range(count)]
        rng.shuffle(values)
        columns["start_month" if code == "start_period" else code] = (
            [months[v] for v in values] if code == "start_period" else values
        )
    # Training fields: several per person allowed (117 % in all); dealt round-robin so that everyone
    # gets one before anyone gets two, and nobody the same field twice.
    fields: list[list[str]] = [[] for _ in range(total)]
    order = list(range(total))
    rng.shuffle(order)
    position = 0
    for field, share in sorted(BASELINE_2022["training_field"].items(), key=lambda item: -item[1]):
        for _ in range(round(share * total / 100)):
            fields[order[position % total]].append(field)
            position += 1
    columns["training_field"] = ["|".join(f for f in TRAINING_FIELD.options if f in chosen) for chosen in fields]
    columns["department"] = [DEMO_DEPARTMENTS[i % len(DEMO_DEPARTMENTS)] for i in range(total)]
    lines = [",".join(CSV_COLUMNS)] + [",".join(columns[c][i] for c in CSV_COLUMNS) for i in range(total)]
    return "\n".join(lines) + "\n"


def seed(session: Session, settings: Settings, password_factory: Callable[[], str]) -> list[str]:
    """Add what is missing of the demo data; return one line per thing created (with new passwords)."""
    created: list[str] = []
    by_name = {o.name: o.id for o in session.scalars(select(Organisation))}
    for name, kind, department in DEMO_ORGANISATIONS:
        if name not in by_name:
            by_name[name] = accounts.create_organisation(session, name, kind, department).id
            created.append(f"Organisation : {name} ({department})")
    existing = set(session.scalars(select(User.email)))
    for email, display_name, role, organisation in DEMO_USERS:
        if email in existing:
            continue
        password = password_factory()
        accounts.create_user(
            session,
            email=email,
            display_name=display_name,
            role=role,
            settings=settings,
            organisation_id=by_name[organisation] if organisation else None,
            password=password,
        )
        created.append(f"Compte {accounts.ROLE_LABELS[role]} : {email} / mot de passe : {password}")
    if not session.scalar(select(func.count()).select_from(SurveyResponse)):
        answers = survey.read_responses_csv(baseline_like_csv(240, seed=7), date.today())
        created.append(f"Questionnaire : {survey.import_responses(session, answers)} réponses importées")
    invited = set(session.scalars(select(SurveyInvitation.email)))
    entries = [
        survey.InvitationEntry(n, email, department)
        for n, (email, department) in enumerate(DEMO_INVITEES, start=1)
        if email not in invited
    ]
    if entries:
        batch = survey.invite(session, entries, settings)
        created.append(f"Questionnaire : {len(batch.created)} invitations (liens visibles dans « Messages »)")
    created.extend(_seed_meetings(session, settings))
    return created


DEMO_MEETING_DOMAIN = "exemple-pvd.fr"
# Title, kind, region, city, venue, online link, days from now, hours, capacity, registrations.
DEMO_MEETINGS = (
    (
        "Rencontre régionale des chefs de projet PVD",
        "rencontre_regionale",
        "27",
        "Dijon",
        "Préfecture de région, salle Vauban",
        None,
        21,
        7,
        80,
        64,
    ),
    (
        "Rencontre régionale : commerce de centre-bourg",
        "rencontre_regionale",
        "53",
        "Pontivy",
        "Palais des congrès",
        None,
        35,
        7,
        60,
        60 + 9,
    ),
    ("Atelier friches et foncier", "atelier", "76", "Figeac", "Espace Mitterrand", None, 12, 3, 25, 25 + 4),
    (
        "Webinaire : monter une OPAH-RU",
        "webinaire",
        None,
        "",
        "",
        "https://webinaire.anct.gouv.fr/opah-ru",
        8,
        2,
        300,
        212,
    ),
    ("Rencontre régionale Normandie", "rencontre_regionale", "28", "Caen", "Abbaye aux Dames", None, -20, 7, 70, 58),
)
_FIRST_NAMES = (
    "Camille",
    "Léa",
    "Hugo",
    "Chloé",
    "Nicolas",
    "Manon",
    "Julien",
    "Sarah",
    "Thomas",
    "Inès",
    "Émilie",
    "Karim",
    "Pauline",
    "Antoine",
    "Océane",
    "Mathieu",
    "Aurélie",
    "Yanis",
    "Hélène",
    "François",
)
_LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
)


def _seed_meetings(session: Session, settings: Settings) -> list[str]:
    """Upcoming and past meetings, some full with a waiting list, one with check-ins."""
    if session.scalar(select(func.count()).select_from(Meeting)):
        return []
    rng = random.Random(2026)
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    lines = []
    for title, kind, region, city, venue, url, days, hours, capacity, wanted in DEMO_MEETINGS:
        start = (now + timedelta(days=days)).replace(hour=8)  # 9:00 or 10:00 in Paris
        past = days < 0
        # A past meeting is created as it was, registrations open, then moved to its real dates.
        shift = timedelta(days=-days + 30) if past else timedelta(0)
        form = meetings.MeetingForm(
            title=title,
            kind=kind,
            region=region,
            city=city,
            venue=venue,
            online_url=url,
            starts_at=start + shift,
            ends_at=start + shift + timedelta(hours=hours),
            capacity=capacity,
            registration_opens_at=now - timedelta(days=30),
            registration_closes_at=start + shift - timedelta(days=1),
            audiences=("chef_de_projet", "elu", "partenaire"),
            description="Programme : tour de table, retours d'expérience des communes, ateliers en petits groupes.",
        )
        meeting_id = meetings.create_meeting(session, form)
        for number in range(wanted):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            role = rng.choices(("chef_de_projet", "elu", "partenaire"), weights=(70, 20, 10))[0]
            department = rng.choice(territory.departments_of_region(region)) if region else None
            person = meetings.RegistrationForm(
                full_name=f"{first} {last}",
                email=_ascii(f"{first}.{last}.{number}@{DEMO_MEETING_DOMAIN}".lower()),
                attendee_role=role,
                organisation=f"Commune n° {rng.randrange(1, 1646)}",
                department=department,
                consent=True,
            )
            meetings.register(session, meeting_id, person, settings)
        if past:
            meeting = session.get(Meeting, meeting_id)
            for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
                setattr(meeting, name, getattr(meeting, name) - shift)
            for attendee in meetings.roster(session, meeting_id).confirmed:
                if rng.random() < 0.85:
                    meetings.set_present(session, meeting_id, attendee.id, True, now=meeting.starts_at)
        lines.append(f"Rencontre : {title} ({min(wanted, capacity)}/{capacity} confirmés)")
    # The demo people do not exist: their confirmation e-mails are not kept for sending.
    session.execute(delete(OutboxMessage).where(OutboxMessage.recipient.like(f"%@{DEMO_MEETING_DOMAIN}")))
    return lines


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
