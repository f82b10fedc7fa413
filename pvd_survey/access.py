"""Which role sees which page: one table, used by the navigation and by every page's own check."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonyme"
SIGNED_IN = frozenset({"admin", "direction", "recruteur"})
EVERYONE = SIGNED_IN | {ANONYMOUS}


@dataclass(frozen=True)
class PageSpec:
    """A page file in pages/ and who may open it."""

    key: str
    title: str
    icon: str
    roles: frozenset[str]
    section: str
    # Reachable by URL (e.g. a personal link) but not listed in the menu.
    hidden: bool = False
    # Opened from a personal link (`?jeton=…`): the web layer moves the token into a short-lived cookie.
    personal_link: bool = False

    @property
    def path(self) -> str:
        """Path of the page file, relative to the project root."""
        return f"pages/{self.key}.py"

    @property
    def url_path(self) -> str:
        """Stable URL segment of the page (e-mailed links use some of them)."""
        return URL_PATHS.get(self.key, self.key.replace("_", "-"))


URL_PATHS = {
    "survey": "questionnaire",
    "meetings": "rencontres",
    "registration": "inscription",
    "meetings_admin": "rencontres-organisation",
    "checkin": "emargement",
}

PAGES: tuple[PageSpec, ...] = (
    PageSpec("home", "Accueil", ":material/home:", EVERYONE, "Petites villes de demain"),
    PageSpec("setup", "Premier administrateur", ":material/shield_person:", frozenset({ANONYMOUS}), "Compte"),
    PageSpec("login", "Connexion", ":material/login:", frozenset({ANONYMOUS}), "Compte"),
    PageSpec("my_organisation", "Mon organisation", ":material/apartment:", frozenset({"recruteur"}), "Recrutement"),
    PageSpec("meetings", "Rencontres", ":material/event:", EVERYONE, "Petites villes de demain"),
    PageSpec(
        "registration",
        "Mon inscription",
        ":material/confirmation_number:",
        EVERYONE,
        "Petites villes de demain",
        hidden=True,
        personal_link=True,
    ),
    PageSpec(
        "survey",
        "Questionnaire",
        ":material/assignment:",
        EVERYONE,
        "Petites villes de demain",
        hidden=True,
        personal_link=True,
    ),
    PageSpec("dashboard", "Tableau de bord", ":material/monitoring:", frozenset({"admin", "direction"}), "Programme"),
    PageSpec(
        "invitations",
        "Invitations au questionnaire",
        ":material/forward_to_inbox:",
        frozenset({"admin", "direction"}),
        "Programme",
    ),
    PageSpec(
        "meetings_admin",
        "Organiser les rencontres",
        ":material/event_available:",
        frozenset({"admin", "direction"}),
        "Programme",
    ),
    PageSpec("checkin", "Émargement", ":material/how_to_reg:", frozenset({"admin", "direction"}), "Programme"),
    PageSpec("organisations", "Organisations", ":material/domain:", frozenset({"admin", "direction"}), "Programme"),
    PageSpec("admin_users", "Comptes", ":material/group:", frozenset({"admin"}), "Administration"),
    PageSpec("admin_outbox", "Messages", ":material/outgoing_mail:", frozenset({"admin"}), "Administration"),
    PageSpec("account", "Mon compte", ":material/person:", SIGNED_IN, "Compte"),
)

# Recruitment: the public job board and private candidate links, the recruiter's postings and pipeline,
# recruiter account requests (public, then approved by the direction) and the admin's access requests.
URL_PATHS.update(
    {
        "jobs": "offres",
        "application": "candidature",
        "recruiter_signup": "demande-recruteur",
        "set_password": "mot-de-passe",
        "postings": "mes-offres",
        "pipeline": "candidatures",
        "recruiter_requests": "comptes-recruteur",
        "privacy": "droits-des-personnes",
    }
)
PAGES += (
    PageSpec("jobs", "Offres d'emploi", ":material/work:", EVERYONE, "Recrutement"),
    PageSpec(
        "application",
        "Ma candidature",
        ":material/description:",
        EVERYONE,
        "Recrutement",
        hidden=True,
        personal_link=True,
    ),
    PageSpec(
        "recruiter_signup",
        "Demande de compte recruteur",
        ":material/person_add:",
        frozenset({ANONYMOUS}),
        "Compte",
        personal_link=True,
    ),
    PageSpec(
        "set_password",
        "Choisir un mot de passe",
        ":material/password:",
        EVERYONE,
        "Compte",
        hidden=True,
        personal_link=True,
    ),
    PageSpec("postings", "Mes offres", ":material/edit_note:", frozenset({"recruteur"}), "Recrutement"),
    PageSpec("pipeline", "Candidatures reçues", ":material/how_to_reg:", frozenset({"recruteur"}), "Recrutement"),
    PageSpec(
        "recruiter_requests",
        "Demandes de comptes recruteur",
        ":material/badge:",
        frozenset({"admin", "direction"}),
        "Programme",
    ),
    PageSpec("privacy", "Droits des personnes", ":material/privacy_tip:", frozenset({"admin"}), "Administration"),
)

# Public notices, linked from the footer of every page (ui.footer) rather than from the menu.
URL_PATHS.update(
    {"legal_notice": "mentions-legales", "personal_data": "donnees-personnelles", "accessibility": "accessibilite"}
)
FOOTER_PAGES = ("legal_notice", "personal_data", "accessibility")
PAGES += (
    PageSpec("legal_notice", "Mentions légales", ":material/gavel:", EVERYONE, "Informations", hidden=True),
    PageSpec("personal_data", "Données personnelles", ":material/shield_lock:", EVERYONE, "Informations", hidden=True),
    PageSpec("accessibility", "Accessibilité", ":material/accessibility:", EVERYONE, "Informations", hidden=True),
)
PAGES_BY_KEY = {page.key: page for page in PAGES}


def can_view(page_key: str, role: str | None, setup_needed: bool) -> bool:
    """True if a person with this role (None: not signed in) may open the page now."""
    page = PAGES_BY_KEY.get(page_key)
    if page is None:
        return False
    if setup_needed:
        # Until the first administrator exists, the set-up page is (almost) the whole app; the notices
        # read no data.
        return page.key in ("setup", "home", *FOOTER_PAGES)
    if page.key == "setup":
        return False
    return (role or ANONYMOUS) in page.roles


def allowed_pages(role: str | None, setup_needed: bool) -> list[PageSpec]:
    """Pages the person may open, in display order (the first one opens by default)."""
    pages = [page for page in PAGES if can_view(page.key, role, setup_needed)]
    # On first start the set-up page opens by default.
    return sorted(pages, key=lambda page: page.key != "setup") if setup_needed else pages


def visible_pages(role: str | None, setup_needed: bool) -> list[PageSpec]:
    """Pages listed in the navigation menu."""
    return [page for page in allowed_pages(role, setup_needed) if not page.hidden]
