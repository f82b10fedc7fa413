"""Shared constants, texts and small helpers of recruitment (the codes and their labels are in vocabulary.py)."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

from pvd_survey import access, links
from pvd_survey.accounts import UserInfo
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError

POSTING_PARAMETER = "offre"
PDF_MAX_BYTES = 5 * 1024 * 1024
BOARD_PAGE_SIZE = 50

# What a recruiter may move an application to (a withdrawn application is frozen).
PIPELINE_STATUSES = ("recue", "examen", "entretien", "retenue", "non_retenue")
_REJECTION_SENTENCES = {
    "profil": "Après examen attentif, votre profil ne correspond pas aux besoins de ce poste.",
    "pourvu": "Le poste a été pourvu.",
    "doublon": "Nous avons reçu plusieurs candidatures de votre part pour ce poste : nous gardons la plus récente.",
    "autre": "{other}",
}

# From the programme's model job description ("modèle de fiche de poste", see the programme guide).
MODEL_MISSIONS = """\
- Participer à la conception ou à l'actualisation du projet de territoire et de sa programmation ;
- Mettre en œuvre le plan d'action opérationnel, y compris la stratégie habitat et, le cas échéant, \
le programme d'OPAH-RU ;
- Organiser le pilotage et l'animation du programme avec les partenaires (État, Banque des territoires, Anah, \
Cerema, ADEME…) ;
- Contribuer à la mise en réseau nationale et locale du programme Petites villes de demain."""
COFUNDING_TEXT = (
    "Poste cofinancé à 75 % par le programme Petites villes de demain (ANCT et Banque des territoires), dans la "
    "limite de 45 000 € par an, jusqu'à la fin du programme (décembre 2026)."
)
ANAH_TEXT = "L'Anah cofinance également le poste, qui pilote une OPAH-RU."

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})
_SAFE_NAME = re.compile(r"[^\w .()\-]+", re.UNICODE)


# ---------------------------------------------------------------------------- small helpers


def _page_link(settings: Settings, page_key: str, token: str) -> str:
    return links.personal_link(settings.base_url, access.PAGES_BY_KEY[page_key].url_path, token)


def render_markdown(text: str) -> str:
    """Markdown turned into HTML, then sanitised (no script, no event handler, no raw HTML)."""
    return nh3.clean(_markdown.render(text or ""), link_rel="noopener noreferrer nofollow")


def _clean_text(value: str | None, limit: int) -> str:
    return (value or "").strip()[:limit]


def _one_line(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def _require_recruiter(actor: UserInfo | None) -> int:
    if actor is None or actor.role != "recruteur" or actor.organisation_id is None:
        raise DomainError("forbidden")
    return actor.organisation_id


def _require_direction(actor: UserInfo | None) -> None:
    if actor is None or actor.role not in ("admin", "direction"):
        raise DomainError("forbidden")
