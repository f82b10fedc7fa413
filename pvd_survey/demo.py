"""Realistic demonstration data for `python -m pvd_survey seed-demo` (idempotent).

Later capabilities (survey, postings, meetings) extend `seed()`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvd_survey import accounts
from pvd_survey.config import Settings
from pvd_survey.models import Organisation, User

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
    return created
