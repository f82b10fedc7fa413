"""Domain errors carry a machine code; this module is the one place that turns codes into French.

Services raise `DomainError("code", field=..., **params)`; pages and the command line call
`french_message(error)`. Tests assert codes, never the wording.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # Accounts and login
    "invalid_email": "L'adresse e-mail n'est pas valide : {detail}",
    "email_taken": "Un compte existe déjà pour l'adresse {email}.",
    "password_too_short": "Le mot de passe doit contenir au moins {minimum} caractères.",
    "password_too_long": "Le mot de passe ne doit pas dépasser {maximum} caractères.",
    "password_common": "Ce mot de passe figure parmi les plus courants : choisissez-en un autre.",
    "password_weak": "Ce mot de passe est trop facile à deviner. Essayez une phrase de plusieurs mots.",
    "password_contains_email": "Le mot de passe ne doit pas contenir votre adresse e-mail.",
    "password_needs_terminal": (
        "Aucun terminal pour saisir le mot de passe : utilisez --password-stdin ou --no-password."
    ),
    "password_mismatch": "Les deux mots de passe ne sont pas identiques.",
    "unknown_role": "Rôle inconnu : {role}. Rôles possibles : {choices}.",
    "organisation_required": "Un compte recruteur doit être rattaché à une organisation employeuse.",
    "organisation_not_allowed": "Seuls les comptes recruteur sont rattachés à une organisation.",
    "unknown_organisation": "Organisation introuvable : {organisation}.",
    "ambiguous_organisation": "Plusieurs organisations portent le nom {organisation} : précisez son identifiant.",
    "organisation_exists": "L'organisation {name} existe déjà dans ce département.",
    "organisation_name_required": "Le nom de l'organisation est obligatoire.",
    "unknown_organisation_kind": "Type d'organisation inconnu : {kind}. Types possibles : {choices}.",
    "unknown_department": "Département inconnu : {department}.",
    "department_required": "Choisissez le département de l'organisation.",
    "display_name_required": "Le nom est obligatoire.",
    "bad_credentials": "Adresse e-mail ou mot de passe incorrect.",
    "account_locked": (
        "Trop de tentatives de connexion échouées. Réessayez après {until} "
        "ou demandez à un administrateur de définir un nouveau mot de passe."
    ),
    "account_disabled": "Ce compte est désactivé. Contactez un administrateur du programme.",
    "unknown_user": "Compte introuvable.",
    "cannot_disable_self": "Vous ne pouvez pas désactiver votre propre compte.",
    "last_admin": "Impossible : ce compte est le dernier administrateur actif.",
    "setup_done": "Le premier compte administrateur a déjà été créé. Connectez-vous.",
    "sso_unverified": "Votre fournisseur d'identité n'a pas confirmé l'adresse e-mail {email}.",
    "sso_unknown": (
        "Aucun compte actif de l'application n'est associé à l'adresse {email}. "
        "Demandez à un administrateur du programme de vous en créer un."
    ),
    "forbidden": "Vous n'avez pas accès à cette page.",
    "login_required": "Connectez-vous pour accéder à cette page.",
    # Survey
    "invalid_answers": "{count} réponse(s) à corriger : voir les messages sous les questions.",
    "answer_required": "Répondez à cette question, ou choisissez « Je ne souhaite pas répondre ».",
    "no_answer_exclusive": "« Je ne souhaite pas répondre » ne se combine pas avec d'autres choix.",
    "unknown_code": "Réponse inconnue : {value}.",
    "bad_month": "Date attendue au format AAAA-MM (par exemple 2021-09), reçu : {value}.",
    "month_too_early": "Le programme a commencé en 2020 : la date de prise de poste ne peut pas précéder janvier 2020.",
    "month_in_future": "La date de prise de poste ne peut pas être dans le futur ({value}).",
    "invalid_link": (
        "Ce lien de questionnaire n'est pas valide. Vérifiez qu'il est complet, ou utilisez le lien le plus "
        "récent reçu par e-mail."
    ),
    "revoked_link": "Ce lien de questionnaire a été désactivé par la direction du programme.",
    "survey_closed": "Le questionnaire est clos depuis le {closed}. Merci de votre intérêt.",
    "unknown_invitation": "Invitation introuvable.",
    "invitation_revoked": "Cette invitation est désactivée : réactivez-la d'abord.",
    "invitation_not_revoked": "Cette invitation est déjà active.",
    "no_invitees": "Aucune adresse e-mail trouvée dans la liste.",
    "invalid_email_line": "Ligne {line} : adresse e-mail invalide ({value}).",
    "unknown_department_line": "Ligne {line} : département inconnu ({value}).",
    "import_rejected": "Fichier refusé : {count} ligne(s) en erreur, rien n'a été importé.",
    "unknown_filter": "Filtre inconnu : {name} « {value} ».",
    "filter_mismatch": "Le département {department} n'appartient pas à la région choisie.",
    "closing_in_past": "La date de clôture doit être dans le futur.",
    # Meetings
    "unknown_meeting": "Rencontre introuvable : vérifiez le lien, ou choisissez une rencontre dans la liste.",
    "field_required": "Ce champ est obligatoire.",
    "text_too_long": "Ce texte est trop long ({maximum} caractères au plus).",
    "bad_url": "Le lien doit commencer par https://.",
    "place_required": "Indiquez la ville ou le lieu, ou un lien de visioconférence.",
    "ends_before_start": "La fin doit être après le début.",
    "bad_capacity": "Le nombre de places doit être un nombre entier entre 1 et 100 000.",
    "deadline_after_start": "La clôture des inscriptions doit précéder le début de la rencontre.",
    "opens_after_deadline": "L'ouverture des inscriptions doit précéder leur clôture.",
    "audiences_required": "Choisissez au moins un public admis.",
    "capacity_below_confirmed": (
        "Impossible de passer à {capacity} places : {confirmed} personnes sont déjà confirmées. "
        "Annulez d'abord des inscriptions, ou gardez au moins {confirmed} places."
    ),
    "consent_required": "Cochez la case pour accepter la notice de confidentialité : sans cela, pas d'inscription.",
    "registration_not_open": "Les inscriptions à cette rencontre ouvrent le {opens}.",
    "registration_closed": "Les inscriptions à cette rencontre sont closes.",
    "audience_not_admitted": "Cette rencontre n'est pas ouverte au profil « {role} ».",
    "try_again": "L'enregistrement n'a pas pu aboutir. Réessayez : rien n'a été enregistré.",
    "already_cancelled": "Cette inscription est déjà annulée.",
    "meeting_started": "La rencontre a commencé : l'inscription ne peut plus être annulée.",
    "invalid_registration_link": (
        "Ce lien d'inscription n'est pas valide. Utilisez le lien le plus récent reçu par e-mail "
        "(un nouvel envoi remplace le précédent)."
    ),
    "unknown_registration": "Inscription introuvable pour cette rencontre.",
    "not_confirmed": "Seules les personnes confirmées peuvent être pointées présentes.",
    # Mail
    "mail_not_found": "Message introuvable.",
    "mail_not_failed": "Seuls les messages en échec peuvent être remis en file d'envoi.",
    "mail_not_pending": "Seuls les messages en attente peuvent être marqués comme remis à la main.",
    "smtp_not_configured": "Aucun serveur SMTP n'est configuré (PVD_SMTP_HOST).",
}


class DomainError(Exception):
    """A rule of the domain was not met; `code` says which, `field` where (for forms)."""

    def __init__(self, code: str, field: str | None = None, **params: object):
        self.code = code
        self.field = field
        self.params = params
        super().__init__(f"{code} {params}" if params else code)


def french_message(error: DomainError) -> str:
    """The French sentence shown to a person for a domain error."""
    template = MESSAGES.get(error.code)
    if template is None:
        return "Une erreur inattendue est survenue. Réessayez ou contactez l'équipe du programme."
    try:
        return template.format(**error.params)
    except (KeyError, IndexError):
        return template
