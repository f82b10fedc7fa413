"""Which role sees which page: one table, used by the navigation and by every page's own check."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonyme"
SIGNED_IN = frozenset({"admin", "direction", "recruteur"})
EVERYONE = SIGNED_IN | {ANONYMOUS}


@dataclass(frozen=True)
class PageSpec:
    """A page file in pages/, its address and who may open it."""

    key: str
    # Stable URL segment of the page (e-mailed links use some of them): never change one that was sent.
    url_path: str
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
    def address(self) -> str:
        """The page's address in the browser: the home page, the navigation's default, lives at the root only."""
        return "/" if self.key == "home" else f"/{self.url_path}"


PROGRAMME = frozenset({"admin", "direction"})
ADMIN = frozenset({"admin"})
RECRUITER = frozenset({"recruteur"})
NOT_SIGNED_IN = frozenset({ANONYMOUS})

# Every page, in menu order. Recruitment: the public job board and private candidate links, the recruiter's
# postings and pipeline, recruiter account requests (public, then approved by the direction), the links of the
# notification e-mails (confirming a job alert, unsubscribing) and the admin's access requests. The public
# notices at the end are linked from the footer of every page (ui.footer).
PAGES: tuple[PageSpec, ...] = (
    PageSpec("home", "home", "Accueil", ":material/home:", EVERYONE, "Petites villes de demain"),
    PageSpec("setup", "setup", "Premier administrateur", ":material/shield_person:", NOT_SIGNED_IN, "Compte"),
    PageSpec("login", "login", "Connexion", ":material/login:", NOT_SIGNED_IN, "Compte"),
    PageSpec(
        "my_organisation", "my-organisation", "Mon organisation", ":material/apartment:", RECRUITER, "Recrutement"
    ),
    PageSpec("meetings", "rencontres", "Rencontres", ":material/event:", EVERYONE, "Petites villes de demain"),
    PageSpec(
        "registration",
        "inscription",
        "Mon inscription",
        ":material/confirmation_number:",
        EVERYONE,
        "Petites villes de demain",
        hidden=True,
        personal_link=True,
    ),
    PageSpec(
        "survey",
        "questionnaire",
        "Questionnaire",
        ":material/assignment:",
        EVERYONE,
        "Petites villes de demain",
        hidden=True,
        personal_link=True,
    ),
    PageSpec("dashboard", "dashboard", "Tableau de bord", ":material/monitoring:", PROGRAMME, "Programme"),
    PageSpec(
        "invitations",
        "invitations",
        "Invitations au questionnaire",
        ":material/forward_to_inbox:",
        PROGRAMME,
        "Programme",
    ),
    PageSpec(
        "meetings_admin",
        "rencontres-organisation",
        "Organiser les rencontres",
        ":material/event_available:",
        PROGRAMME,
        "Programme",
    ),
    # The door page: the direction, and the people it names « accueil » for a meeting through their personal link
    # (ui.guard_with_link lets a valid link in; the page checks it).
    PageSpec(
        "checkin", "emargement", "Émargement", ":material/how_to_reg:", PROGRAMME, "Programme", personal_link=True
    ),
    PageSpec("organisations", "organisations", "Organisations", ":material/domain:", PROGRAMME, "Programme"),
    PageSpec("admin_users", "admin-users", "Comptes", ":material/group:", ADMIN, "Administration"),
    PageSpec("admin_outbox", "admin-outbox", "Messages", ":material/outgoing_mail:", ADMIN, "Administration"),
    PageSpec("account", "account", "Mon compte", ":material/person:", SIGNED_IN, "Compte"),
    PageSpec("jobs", "offres", "Offres d'emploi", ":material/work:", EVERYONE, "Recrutement"),
    PageSpec(
        "application",
        "candidature",
        "Ma candidature",
        ":material/description:",
        EVERYONE,
        "Recrutement",
        hidden=True,
        personal_link=True,
    ),
    PageSpec(
        "recruiter_signup",
        "demande-recruteur",
        "Demande de compte recruteur",
        ":material/person_add:",
        NOT_SIGNED_IN,
        "Compte",
        personal_link=True,
    ),
    PageSpec(
        "set_password",
        "mot-de-passe",
        "Choisir un mot de passe",
        ":material/password:",
        EVERYONE,
        "Compte",
        hidden=True,
        personal_link=True,
    ),
    PageSpec("postings", "mes-offres", "Mes offres", ":material/edit_note:", RECRUITER, "Recrutement"),
    PageSpec("pipeline", "candidatures", "Candidatures reçues", ":material/how_to_reg:", RECRUITER, "Recrutement"),
    PageSpec(
        "recruiter_requests",
        "comptes-recruteur",
        "Demandes de comptes recruteur",
        ":material/badge:",
        PROGRAMME,
        "Programme",
    ),
    PageSpec(
        "subscription",
        "abonnement",
        "Abonnement aux e-mails",
        ":material/unsubscribe:",
        EVERYONE,
        "Petites villes de demain",
        hidden=True,
        personal_link=True,
    ),
    PageSpec(
        "privacy", "droits-des-personnes", "Droits des personnes", ":material/privacy_tip:", ADMIN, "Administration"
    ),
    PageSpec(
        "legal_notice",
        "mentions-legales",
        "Mentions légales",
        ":material/gavel:",
        EVERYONE,
        "Informations",
        hidden=True,
    ),
    PageSpec(
        "personal_data",
        "donnees-personnelles",
        "Données personnelles",
        ":material/shield_lock:",
        EVERYONE,
        "Informations",
        hidden=True,
    ),
    PageSpec(
        "accessibility",
        "accessibilite",
        "Accessibilité",
        ":material/accessibility:",
        EVERYONE,
        "Informations",
        hidden=True,
    ),
)
FOOTER_PAGES = ("legal_notice", "personal_data", "accessibility")
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
