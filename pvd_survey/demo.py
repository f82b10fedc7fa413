"""Realistic demonstration data for `python -m pvd_survey seed-demo` (idempotent).

Later capabilities (survey, postings, meetings) extend `seed()`.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvd_survey import accounts, meetings, survey, territory
from pvd_survey.clock import paris_today, utcnow
from pvd_survey.config import Settings
from pvd_survey.models import Meeting, Organisation, SurveyInvitation, SurveyResponse, User
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


DEMO_SURVEY_RESPONSES = 1200


def spread_departments(total: int, rng: random.Random) -> list[str]:
    """`total` departments drawn unevenly over all 101 (some busy, some with only one or two people)."""
    codes = list(territory.DEPARTMENTS)
    weights = [rng.choice((1, 2, 3, 4, 6, 9)) * (0.3 if len(code) == 3 else 1) for code in codes]
    return rng.choices(codes, weights=weights, k=total)


def _allocate(shares: dict[str, int], total: int) -> dict[str, int]:
    """Largest-remainder counts adding up to `total` for percentages adding up to 100."""
    exact = {key: share * total / 100 for key, share in shares.items()}
    counts = {key: int(value) for key, value in exact.items()}
    for key in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def baseline_like_csv(
    total: int = BASELINE_RESPONDENTS, seed: int = 2022, departments: Sequence[str] = DEMO_DEPARTMENTS
) -> str:
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
    columns["department"] = [departments[i % len(departments)] for i in range(total)]
    lines = [",".join(CSV_COLUMNS)] + [",".join(columns[c][i] for c in CSV_COLUMNS) for i in range(total)]
    return "\n".join(lines) + "\n"


def real_data(session: Session) -> list[str]:
    """What in the database is not demo data (accounts, organisations, invitations), one French line each.

    Administrators do not count: a demonstration needs one to be looked at.
    """
    demo_users = [email for email, *_ in DEMO_USERS]
    demo_invitees = [email for email, _ in DEMO_INVITEES]
    demo_organisations = [name for name, *_ in DEMO_ORGANISATIONS] + [
        name for town, _ in DEMO_TOWNS for name in _town_organisation_names(town)
    ]
    counts = {
        "compte(s) qui ne sont pas ceux de la démonstration": session.scalar(
            select(func.count()).select_from(User).where(User.role != "admin", User.email.not_in(demo_users))
        ),
        "organisation(s) qui ne sont pas celles de la démonstration": session.scalar(
            select(func.count()).select_from(Organisation).where(Organisation.name.not_in(demo_organisations))
        ),
        "invitation(s) au questionnaire qui ne sont pas celles de la démonstration": session.scalar(
            select(func.count()).select_from(SurveyInvitation).where(SurveyInvitation.email.not_in(demo_invitees))
        ),
    }
    return [f"{count} {what}" for what, count in counts.items() if count]


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
        # Spread over the whole country, unevenly, as a real programme's answers are: most departments
        # show on the map, a few stay under k and are hidden.
        departments = spread_departments(DEMO_SURVEY_RESPONSES, random.Random(7))
        answers = survey.read_responses_csv(baseline_like_csv(DEMO_SURVEY_RESPONSES, 7, departments), paris_today())
        created.append(f"Questionnaire : {survey.import_responses(session, answers, settings)} réponses importées")
    invited = set(session.scalars(select(SurveyInvitation.email)))
    entries = [
        survey.InvitationEntry(n, email, department)
        for n, (email, department) in enumerate(DEMO_INVITEES, start=1)
        if email not in invited
    ]
    if entries:
        batch = survey.invite(session, entries, settings)
        created.append(f"Questionnaire : {len(batch.created)} invitations (liens visibles dans « Messages »)")
    created += seed_recruitment(session, settings)
    created += _seed_meetings(session, settings)
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
            places = territory.departments_of_region(region) if region else list(territory.DEPARTMENTS)
            department = rng.choice(places)
            person = meetings.RegistrationForm(
                full_name=f"{first} {last}",
                email=_ascii(f"{first}.{last}.{number}@{DEMO_MEETING_DOMAIN}".lower()),
                attendee_role=role,
                organisation=f"Commune n° {rng.randrange(1, 1646)}",
                department=department,
                consent=True,
            )
            meetings.register(session, meeting_id, person, settings, notify=False)  # nobody to write to
        if past:
            meeting = session.get_one(Meeting, meeting_id)
            for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
                setattr(meeting, name, getattr(meeting, name) - shift)
            for attendee in meetings.roster(session, meeting_id).confirmed:
                if rng.random() < 0.85:
                    meetings.set_present(session, meeting_id, attendee.id, True, now=meeting.starts_at)
        lines.append(f"Rencontre : {title} ({min(wanted, capacity)}/{capacity} confirmés)")
    return lines


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


# ---------------------------------------------------------------------------- recruitment


def sample_pdf(*lines: str) -> bytes:
    """A small valid one-page PDF (demo CVs and tests)."""
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("Helvetica", size=12)
    for line in lines or ("Curriculum vitae",):
        document.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


DEMO_POSTINGS = (
    # (organisation, title, contract, communes, state, days since publication, applicants)
    (
        "Communauté de communes du Montbardois",
        "Chef de projet Petites villes de demain",
        "projet",
        ("Montbard", "Venarey-les-Laumes"),
        "published",
        12,
        6,
    ),
    ("Quimperlé Communauté", "Cheffe ou chef de projet revitalisation", "cdd", ("Quimperlé",), "published", 5, 4),
    ("Commune de Saint-Flour", "Chef de projet PVD et OPAH-RU", "titulaire", ("Saint-Flour",), "published", 20, 3),
    (
        "Communauté de communes Cœur de Savoie",
        "Chef de projet centre-bourg",
        "projet",
        ("Montmélian", "Saint-Pierre-d'Albigny"),
        "published",
        2,
        0,
    ),
    ("Commune de Revel", "Manager de centre-ville et chef de projet PVD", "projet", ("Revel",), "published", 30, 5),
    ("Commune de Mamers", "Chef de projet Petites villes de demain", "autre", ("Mamers",), "draft", 0, 0),
    (
        "Communauté de communes du Pays de Mormal",
        "Chef de projet revitalisation",
        "projet",
        ("Le Quesnoy", "Landrecies"),
        "closed",
        60,
        4,
    ),
    (
        "Commune de Saint-Laurent-du-Maroni",
        "Chef de projet Petites villes de demain",
        "cdd",
        ("Saint-Laurent-du-Maroni",),
        "filled",
        90,
        3,
    ),
    (
        "Communauté de communes du Montbardois",
        "Chargé de mission habitat (OPAH-RU)",
        "cdd",
        ("Montbard",),
        "filled",
        120,
        2,
    ),
)
DEMO_CANDIDATES = (
    "Léa Martin",
    "Hugo Bernard",
    "Chloé Petit",
    "Nathan Robert",
    "Inès Richard",
    "Louis Durand",
    "Camille Dubois",
    "Jules Moreau",
    "Manon Laurent",
    "Arthur Simon",
    "Zoé Michel",
    "Gabriel Lefebvre",
)


def seed_recruitment(session: Session, settings: Settings) -> list[str]:
    """Postings in several regions and states, and applications with small generated PDF CVs (once)."""
    from dataclasses import replace
    from datetime import timedelta

    from pvd_survey import recruitment
    from pvd_survey.clock import utcnow
    from pvd_survey.models import JobPosting

    if session.scalar(select(func.count()).select_from(JobPosting)):
        return []
    recruiter_id = session.scalar(select(User.id).where(User.role == "recruteur"))
    if recruiter_id is None:
        return []
    template = accounts.get_user(session, recruiter_id)
    by_name = {o.name: o.id for o in session.scalars(select(Organisation))}
    now = utcnow()
    rng = random.Random(4)
    applications = 0
    candidates = iter(DEMO_CANDIDATES * 4)
    for name, title, contract, communes, state, age, applicants in DEMO_POSTINGS:
        # The organisation's recruiter, as the services see one (demo organisations may have no account yet).
        actor = replace(template, organisation_id=by_name[name], organisation_name=name)
        published_at = now - timedelta(days=age)
        posting = recruitment.create_posting(
            session,
            actor,
            recruitment.PostingInput(
                title=title,
                communes=list(communes),
                contract=contract,
                working_time="complet",
                deadline=(published_at + timedelta(days=45)).date(),
                description=(
                    f"La collectivité recrute son chef de projet pour conduire le programme Petites villes de demain "
                    f"à {communes[0]} : **revitalisation du centre**, habitat, commerce et espaces publics."
                ),
                salary_min=rng.choice((30000, 32000, 34000)),
                salary_max=rng.choice((38000, 40000, 42000)),
                anah_opah_ru="OPAH" in title,
            ),
            now=published_at,
        )
        if state == "draft":
            continue
        recruitment.publish_posting(session, actor, posting.id, now=published_at)
        for number in range(applicants):
            full_name = next(candidates)
            email = f"{full_name.lower().replace(' ', '.')}@demo-candidat.fr".replace("é", "e").replace("è", "e")
            email = email.replace("ï", "i").replace("ô", "o").replace("ë", "e")
            recruitment.apply(
                session,
                posting.id,
                recruitment.ApplicationInput(
                    full_name=full_name,
                    email=email,
                    phone=f"06 12 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                    cv=recruitment.Upload(f"CV {full_name}.pdf", sample_pdf(f"Curriculum vitae : {full_name}")),
                    letter_text="Madame, Monsieur, je souhaite mettre mon expérience au service de votre territoire.",
                    consent_privacy=True,
                    consent_contact=number % 3 == 0,
                ),
                settings,
                now=published_at + timedelta(days=1),
            )
            applications += 1
        rows = recruitment.list_applications(session, actor, posting.id)
        for row, status in zip(rows, ("examen", "entretien", "retenue"), strict=False):
            recruitment.move_application(session, actor, row.id, status)
        if state == "closed":
            recruitment.close_posting(session, actor, posting.id, settings, now=published_at + timedelta(days=46))
        elif state == "filled":
            recruitment.mark_filled(session, actor, posting.id, settings, now=published_at + timedelta(days=age // 2))
    spread = _seed_postings_across_territory(session, template, rng, now, settings)
    return [
        f"Recrutement : {len(DEMO_POSTINGS)} offres et {applications} candidatures (CV PDF générés)",
        f"Recrutement : {spread} offres dans {len(DEMO_TOWNS)} communes de toute la France (carte)",
    ]


# Small towns all over France (metropolitan and overseas), for postings that make the map look like a
# real programme: published, filled and closed over the last eight months.
DEMO_TOWNS = (
    ("Abbeville", "80"), ("Avesnes-sur-Helpe", "59"), ("Hirson", "02"), ("Sedan", "08"), ("Bar-sur-Aube", "10"),
    ("Langres", "52"), ("Commercy", "55"), ("Lunéville", "54"), ("Sarrebourg", "57"), ("Saverne", "67"),
    ("Thann", "68"), ("Remiremont", "88"), ("Lure", "70"), ("Pontarlier", "25"), ("Saint-Claude", "39"),
    ("Autun", "71"), ("Clamecy", "58"), ("Avallon", "89"), ("Gien", "45"), ("Vierzon", "18"),
    ("Issoudun", "36"), ("Loches", "37"), ("Romorantin-Lanthenay", "41"), ("Nogent-le-Rotrou", "28"),
    ("L'Aigle", "61"), ("Vire", "14"), ("Coutances", "50"), ("Fécamp", "76"), ("Gisors", "27"),
    ("Château-Gontier", "53"), ("Saumur", "49"), ("Châteaubriant", "44"), ("Fontenay-le-Comte", "85"),
    ("Guingamp", "22"), ("Pontivy", "56"), ("Fougères", "35"), ("Loudun", "86"), ("Parthenay", "79"),
    ("Ruffec", "16"), ("Jonzac", "17"), ("Bellac", "87"), ("Aubusson", "23"), ("Ussel", "19"),
    ("Sarlat-la-Canéda", "24"), ("Marmande", "47"), ("Lesparre-Médoc", "33"), ("Oloron-Sainte-Marie", "64"),
    ("Lannemezan", "65"), ("Condom", "32"), ("Moissac", "82"), ("Saint-Girons", "09"), ("Limoux", "11"),
    ("Prades", "66"), ("Lodève", "34"), ("Le Vigan", "30"), ("Langogne", "48"), ("Millau", "12"),
    ("Figeac", "46"), ("Carmaux", "81"), ("Brioude", "43"), ("Thiers", "63"), ("Feurs", "42"),
    ("Tarare", "69"), ("Bourg-Saint-Andéol", "07"), ("Die", "26"), ("La Mure", "38"),
    ("Saint-Jean-de-Maurienne", "73"), ("Bonneville", "74"), ("Oyonnax", "01"), ("Briançon", "05"),
    ("Sisteron", "04"), ("Apt", "84"), ("Brignoles", "83"), ("Puget-Théniers", "06"), ("Corte", "2B"),
    ("Sartène", "2A"), ("Coulommiers", "77"), ("Étampes", "91"), ("Rambouillet", "78"),
    ("Magny-en-Vexin", "95"), ("Crépy-en-Valois", "60"), ("Saint-Pourçain-sur-Sioule", "03"),
    ("Basse-Terre", "971"), ("Le Marin", "972"), ("Saint-Pierre", "974"), ("Dembeni", "976"),
)  # fmt: skip


def _town_organisation_names(town: str) -> tuple[str, str]:
    """The demo employer of a town: its commune, or its community of communes."""
    return f"Commune de {town}", f"Communauté de communes du pays de {town}"


def _seed_postings_across_territory(session: Session, template, rng: random.Random, now, settings: Settings) -> int:
    """One or two postings per demo town, in every state, published over the last eight months."""
    from dataclasses import replace
    from datetime import timedelta

    from pvd_survey import recruitment

    created = 0
    for town, department in DEMO_TOWNS:
        kind = rng.choice(("commune", "epci"))
        name = dict(zip(("commune", "epci"), _town_organisation_names(town), strict=True))[kind]
        organisation = accounts.create_organisation(session, name, kind, department)
        actor = replace(template, organisation_id=organisation.id, organisation_name=name)
        for _ in range(rng.choice((1, 1, 2))):
            state = rng.choices(("published", "filled", "closed"), weights=(35, 50, 15))[0]
            age = rng.randint(2, 40) if state == "published" else rng.randint(50, 240)
            published_at = now - timedelta(days=age, hours=rng.randint(0, 23))
            posting = recruitment.create_posting(
                session,
                actor,
                recruitment.PostingInput(
                    title=rng.choice(("Chef de projet Petites villes de demain", "Cheffe ou chef de projet PVD")),
                    communes=[town],
                    contract=rng.choice(("projet", "cdd", "titulaire")),
                    working_time="complet",
                    deadline=(published_at + timedelta(days=45)).date(),
                    description=f"{town} recrute son chef de projet Petites villes de demain.",
                ),
                now=published_at,
            )
            recruitment.publish_posting(session, actor, posting.id, now=published_at)
            if state == "filled":
                filled_at = min(now - timedelta(hours=1), published_at + timedelta(days=rng.randint(20, 120)))
                recruitment.mark_filled(session, actor, posting.id, settings, now=filled_at)
            elif state == "closed":
                recruitment.close_posting(session, actor, posting.id, settings, now=published_at + timedelta(days=46))
            created += 1
    return created
