"""Domain errors carry a machine code; this module is the one place that turns codes into French.

Services raise `DomainError("code", field=..., **params)`, `InvalidAnswers` (several fields wrong at once) or
`ImportRejected` (bad lines of an imported file, each a `RowError` with a code); pages and the command line call
`french_message(error)` and `row_message(row)`. Tests assert codes, never the wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MESSAGES: dict[str, str] = {
    # Database
    "database_missing": (
        "Aucune base de données à l'emplacement {path} : vérifiez PVD_DATABASE_URL, ou créez-la avec "
        "`python -m pvd_survey migrate`."
    ),
    "schema_empty": "La base de données est vide : créez son schéma avec `python -m pvd_survey migrate`.",
    "schema_behind": (
        "La base de données est à la version {current} du schéma et ce code attend la version {expected} : "
        "sauvegardez-la, puis mettez-la à jour avec `python -m pvd_survey migrate`."
    ),
    "schema_ahead": (
        "La base de données est à la version {current} du schéma, plus récente que ce code (version {expected}) : "
        "une version plus récente de l'application l'a mise à jour. Utilisez cette version-là."
    ),
    # Unreachable database server (pages show it as ui.OUTAGE_TITLE's page); whether a write just sent was kept
    # cannot be known, so the message promises nothing about it.
    "database_unreachable": "Le service est momentanément indisponible. Réessayez dans quelques instants.",
    "database_busy": (
        "Le service est très sollicité en ce moment : aucune connexion à la base de données ne s'est libérée "
        "à temps. Rien n'a été enregistré ; réessayez dans quelques instants."
    ),
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
    "current_password_wrong": "Ce n'est pas votre mot de passe actuel.",
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
    "setup_code_invalid": (
        "Ce code de création n'est pas le bon. Il figure dans le journal du serveur de l'application, sur la ligne "
        "« code de création du premier compte administrateur ». Vous pouvez aussi créer ce compte en ligne de "
        "commande : python -m pvd_survey create-user --role admin --email … --password-stdin"
    ),
    "sso_unverified": "Votre fournisseur d'identité n'a pas confirmé l'adresse e-mail {email}.",
    "sso_unknown": (
        "Aucun compte actif de l'application n'est associé à l'adresse {email}. "
        "Demandez à un administrateur du programme de vous en créer un."
    ),
    "forbidden": "Vous n'avez pas accès à cette page.",
    "setup_needed": "L'application n'est pas encore prête : créez d'abord le premier compte administrateur.",
    "login_required": "Connectez-vous pour accéder à cette page.",
    "ticket_invalid": "Ce lien de connexion a expiré ou a déjà servi. Connectez-vous à nouveau.",
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
    "nothing_to_withdraw": "Aucune réponse à retirer : vous n'avez pas encore répondu avec ce lien.",
    "survey_key_mismatch": (
        "Vos réponses enregistrées ne peuvent pas être lues : la clé du serveur (PVD_SECRET_KEY) a changé. "
        "Prévenez la direction du programme."
    ),
    "survey_key_lost": (
        "La clé du serveur (PVD_SECRET_KEY) n'est pas celle de cette base, qui a scellé les réponses du "
        "questionnaire et les liens personnels : l'application ne peut ni lire les chiffres ni retrouver les "
        "réponses par les liens. Remettez la clé d'origine (la même sur chaque serveur), puis redémarrez."
    ),
    "reminder_in_past": "La date de relance doit être dans le futur.",
    "reminder_exists": "Une relance est déjà prévue le {when}.",
    "unknown_reminder": "Relance introuvable ou déjà faite.",
    "unknown_invitation": "Invitation introuvable.",
    "invitation_revoked": "Cette invitation est désactivée : réactivez-la d'abord.",
    "invitation_not_revoked": "Cette invitation est déjà active.",
    "no_invitees": "Aucune adresse e-mail trouvée dans la liste.",
    "invalid_email_line": "Ligne {line} : adresse e-mail invalide ({value}).",
    "unknown_department_line": "Ligne {line} : département inconnu ({value}).",
    "import_rejected": "Fichier refusé : {count} ligne(s) en erreur, rien n'a été importé.",
    "file_not_utf8": "Le fichier doit être encodé en UTF-8 (enregistrez-le en « CSV UTF-8 » depuis le tableur).",
    "import_rejected_lines": "Fichier refusé : {count} ligne(s) en erreur, rien n'a été importé. {lines}.",
    "row_empty_file": "fichier vide : la première ligne doit nommer les colonnes",
    "row_bad_header": "en-tête attendu « {expected} », trouvé « {found} »",
    "row_column_count": "{found} colonnes au lieu de {expected}",
    # Lines of the recruiter accounts file (row_message puts the line and the column before them)
    "row_invalid_email": "adresse e-mail invalide ({value})",
    "row_email_taken": "un compte existe déjà pour {email}",
    "row_email_repeated": "{email} apparaît deux fois dans le fichier",
    "row_value_required": "valeur manquante",
    "row_unknown_choice": "valeur inconnue ({value}) ; valeurs possibles : {choices}",
    "row_unknown_department": "département inconnu ({value})",
    "row_no_rows": "aucune ligne sous l'en-tête : rien à importer",
    "row_bad_encoding": (
        "caractère illisible en {encoding} (octet {byte}) ; enregistrez le fichier en CSV UTF-8 (Excel : « CSV "
        "UTF-8 (délimité par des virgules) »), ou indiquez son encodage, par exemple --encoding cp1252"
    ),
    "row_line_too_long": "ligne de plus de {maximum} octets : ce n'est pas un fichier de réponses",
    "row_field_too_long": (
        "champ de plus de {maximum} caractères : un guillemet \" n'est sans doute pas refermé ; la lecture s'arrête là"
    ),
    "row_bad_csv": (
        "ligne illisible en CSV (caractère nul, fin de ligne d'ancien Mac, ou guillemet \" mal placé) ; enregistrez le "
        "fichier en CSV UTF-8 "
        "depuis le tableur ; la lecture s'arrête là"
    ),
    "import_more_errors": (
        "… et d'autres erreurs : {count} ligne(s) en erreur en tout (seules les premières sont listées)."
    ),
    "import_file_missing": "Fichier introuvable : {path}",
    "import_file_not_file": "{path} n'est pas un fichier (un dossier ?) : donnez le chemin d'un fichier CSV.",
    "import_file_unreadable": "Impossible de lire {path} : {detail}",
    "unknown_filter": "Filtre inconnu : {name} « {value} ».",
    "filter_mismatch": "Le département {department} n'appartient pas à la région choisie.",
    "unknown_section": "Rubrique inconnue : « {value} ». La synthèse du tableau de bord est affichée.",
    "closing_in_past": "La date de clôture doit être dans le futur.",
    "closing_day_required": "Choisissez une date de clôture.",
    "reminder_day_required": "Choisissez la date de la relance.",
    "invitee_lines": "Rien n'a été envoyé : {count} ligne(s) à corriger. {lines}",
    # Map, overview and report
    "future_month": "Le mois {value} n'a pas encore commencé : choisissez le mois en cours ou un mois passé.",
    "report_chart_failed": (
        "Le rapport n'a pas pu être préparé : un graphique n'a pas pu être dessiné. Réessayez ; si cela se "
        "reproduit, prévenez l'équipe technique."
    ),
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
        "La capacité ne peut pas descendre sous {taken} places (personnes confirmées : {confirmed} ; places libérées "
        "proposées à la liste d'attente, en attente de réponse : {offered}). Annulez d'abord des inscriptions, ou "
        "gardez au moins {taken} places."
    ),
    "consent_required": "Cochez la case pour accepter la notice de confidentialité : sans cela, rien n'est enregistré.",
    "registration_not_open": "Les inscriptions à cette rencontre ouvrent le {opens}.",
    "registration_closed": "Les inscriptions à cette rencontre sont closes.",
    "audience_not_admitted": "Cette rencontre n'est pas ouverte au profil « {role} ».",
    "try_again": "L'enregistrement n'a pas pu aboutir. Réessayez : rien n'a été enregistré.",
    "already_cancelled": "Cette inscription est déjà annulée.",
    "offer_expired": (
        "Cette place ne vous est plus réservée : l'offre a expiré le {deadline} (heure de Paris) sans réponse, et "
        "vous ne figurez plus sur la liste d'attente."
    ),
    "offer_closed": (
        "Aucune place ne vous est proposée pour cette inscription : l'offre a déjà reçu une réponse ou a été retirée."
    ),
    "meeting_started": "La rencontre a commencé : l'inscription ne peut plus être annulée.",
    "offer_meeting_started": "La rencontre a commencé : la place proposée ne peut plus être acceptée.",
    "invalid_registration_link": (
        "Ce lien d'inscription n'est pas valide. Utilisez le lien le plus récent reçu par e-mail "
        "(un nouvel envoi remplace le précédent)."
    ),
    "unknown_registration": "Inscription introuvable pour cette rencontre.",
    "not_confirmed": "Seules les personnes confirmées peuvent être pointées présentes.",
    "invalid_door_link": (
        "Ce lien d'accueil n'est pas valide : il a été retiré, la rencontre est passée, ou il est incomplet. "
        "Demandez-en un nouveau à la direction du programme."
    ),
    "unknown_door_pass": "Cette personne n'est pas (ou plus) dans l'équipe d'accueil de la rencontre.",
    "meeting_over": "La rencontre est terminée : il n'y a plus d'accueil à organiser.",
    "meeting_not_over": "Les attestations de présence s'envoient une fois la rencontre terminée.",
    # Mail
    "mail_not_found": "Message introuvable.",
    "mail_not_failed": "Seuls les messages en échec peuvent être remis en file d'envoi.",
    "mail_not_pending": "Seuls les messages en attente peuvent être marqués comme remis à la main.",
    "smtp_not_configured": "Aucun serveur SMTP n'est configuré (PVD_SMTP_HOST).",
    # Recruitment
    "unknown_posting": "Offre introuvable parmi celles de votre organisation.",
    "posting_not_public": "Offre introuvable ou plus publiée.",
    "posting_title_required": "Le titre de l'offre est obligatoire.",
    "posting_communes_required": "Indiquez au moins une commune Petites villes de demain concernée.",
    "posting_unknown_contract": "Type de contrat inconnu : {value}.",
    "posting_unknown_working_time": "Temps de travail inconnu : {value}.",
    "posting_bad_salary": "Fourchette de salaire incohérente : le minimum doit être inférieur au maximum.",
    "posting_deadline_required": "La date limite de candidature est obligatoire.",
    "posting_deadline_past": "La date limite de candidature est déjà passée : choisissez une date à venir.",
    "posting_missions_required": "Décrivez les missions du poste.",
    "posting_not_editable": "Une offre close ou pourvue ne peut plus être modifiée.",
    "posting_not_draft": "Seul un brouillon peut être publié.",
    "posting_not_published": "Seule une offre publiée (ou close, pour la marquer pourvue) peut changer ainsi.",
    "posting_changed_meanwhile": (
        "Cette offre a été modifiée, publiée ou close depuis que vous avez ouvert le formulaire (par une autre "
        "personne de votre organisation, ou à sa date limite) : rien n'a été enregistré. Rechargez l'offre pour voir "
        "sa version actuelle, puis refaites vos modifications."
    ),
    "applicant_name_required": "Indiquez vos nom et prénom.",
    "invalid_phone": "Numéro de téléphone invalide : par exemple 06 12 34 56 78 ou +32 470 12 34 56.",
    "file_required": "Joignez votre CV au format PDF.",
    "file_bad_name": "Nom de fichier refusé : il ne doit contenir ni « / », ni « \\ », ni « .. ».",
    "file_empty": "Le fichier est vide.",
    "file_too_large": "Le fichier dépasse la taille maximale de {maximum}.",
    "file_not_pdf": "Le fichier n'est pas un PDF (son contenu a été vérifié, pas seulement son nom).",
    "file_broken_pdf": "Le fichier PDF est endommagé ou illisible : enregistrez-le de nouveau en PDF.",
    "already_applied": (
        "Vous avez déjà postulé à cette offre avec cette adresse. Vous pouvez recevoir un nouveau lien personnel "
        "pour mettre à jour votre candidature."
    ),
    "invalid_application_link": (
        "Ce lien de candidature n'est pas valide. Vérifiez qu'il est complet, ou utilisez le plus récent reçu "
        "par e-mail."
    ),
    "application_withdrawn": "Cette candidature a été retirée : ses données personnelles ont été supprimées.",
    "unknown_application": "Candidature introuvable parmi celles de votre organisation.",
    "unknown_file": "Document introuvable.",
    "unknown_application_status": "Statut de candidature inconnu : {value}.",
    "rejection_reason_required": "Choisissez le motif du refus.",
    "rejection_message_required": "Le message à la personne candidate ne peut pas être vide.",
    "rejection_detail_too_short": (
        "Précisez le motif « Autre » en une phrase d'au moins {minimum} caractères : elle figure dans le message "
        "envoyé à la personne."
    ),
    "candidate_message_unconfirmed": (
        "Ce changement de statut envoie un message à la personne candidate : affichez-le et confirmez l'envoi."
    ),
    "candidate_message_changed": (
        "Le message a changé depuis son aperçu (l'offre ou la candidature a été modifiée entre-temps) : rien n'a été "
        "envoyé. Annulez, puis relisez le nouveau message avant de confirmer."
    ),
    "unknown_export_format": "Format d'export inconnu : {value}.",
    "recruiter_request_exists": "Une demande de compte est déjà en cours pour cette adresse.",
    "invalid_request_link": "Ce lien de confirmation n'est pas valide.",
    "unknown_recruiter_request": "Demande introuvable ou déjà traitée.",
    "refusal_reason_required": "Indiquez le motif du refus.",
    "invalid_password_link": "Ce lien n'est plus valide (déjà utilisé ou expiré). Demandez-en un nouveau.",
    "unknown_purge_email": "Aucune donnée n'est enregistrée pour l'adresse {email}.",
    # Notifications
    "unknown_notification_frequency": "Choix inconnu pour ces e-mails : {value}.",
    "alert_region_required": "Choisissez la région des offres qui vous intéressent.",
    "invalid_subscription_link": (
        "Ce lien ne correspond à aucun abonnement en cours : il a peut-être déjà servi (votre choix est alors "
        "bien enregistré), ou il a expiré, ou il est incomplet. Rien n'a été modifié."
    ),
}


class DomainError(Exception):
    """A rule of the domain was not met; `code` says which, `field` where (for forms)."""

    def __init__(self, code: str, field: str | None = None, **params: object):
        self.code = code
        self.field = field
        self.params = params
        super().__init__(f"{code} {params}" if params else code)


class SchemaMismatch(DomainError):
    """The database is missing, or not at the schema of this code: only `migrate` (and the app's start) change it."""


class InvalidAnswers(DomainError):
    """Several fields of a form are wrong at once: `errors` maps each field to its own coded error."""

    def __init__(self, errors: dict[str, DomainError]):
        super().__init__("invalid_answers", count=len(errors))
        self.errors = errors


class FieldChecks:
    """A form's checks run one after the other, each error kept by field, then raised all at once (RGAA 11.10).

        checks = FieldChecks()
        with checks:
            name = check_name(form.name)  # a DomainError here is kept, and the next check still runs
        ...
        checks.raise_errors()  # nothing if all passed; the one error; or InvalidAnswers with each field's

    A value assigned inside a failed block is unset: use it only after raise_errors().
    """

    def __init__(self) -> None:
        self.errors: dict[str, DomainError] = {}

    def __enter__(self) -> FieldChecks:
        return self

    def __exit__(self, kind: object, error: BaseException | None, _trace: object) -> bool:
        if isinstance(error, DomainError):
            self.errors.setdefault(error.field or "", error)  # a field's first problem is the one to fix first
            return True
        return False

    def raise_errors(self) -> None:
        """Raise what the checks found: the one error as it is, several as InvalidAnswers."""
        if len(self.errors) == 1:
            raise next(iter(self.errors.values()))
        if self.errors:
            raise InvalidAnswers(self.errors)


@dataclass(frozen=True)
class RowError:
    """What is wrong with one line of an imported file: `reason` is a code of MESSAGES, `params` fill its
    sentence, `column` names the column at fault when there is one. A line may have several."""

    line: int
    reason: str
    params: Mapping[str, object] = field(default_factory=dict)
    column: str | None = None


class ImportRejected(DomainError):
    """The file has bad lines (`errors`, in file order): nothing was imported."""

    def __init__(self, errors: list[RowError], lines: int | None = None):
        # `lines`: how many lines are bad when `errors` lists only the first ones.
        super().__init__("import_rejected", count=lines if lines is not None else len({e.line for e in errors}))
        self.errors = errors


def _french(code: str, params: Mapping[str, object]) -> str:
    template = MESSAGES.get(code)
    if template is None:
        return "Une erreur inattendue est survenue. Réessayez ou contactez l'équipe du programme."
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def french_message(error: DomainError) -> str:
    """The French sentence shown to a person for a domain error."""
    return _french(error.code, error.params)


GENERAL = ""  # the « field » of an error that belongs to no field of a form (listed at the top only)


def errors_by_field(error: DomainError) -> dict[str, DomainError]:
    """A domain error as a form's errors by field: InvalidAnswers' own, else the one error under its field."""
    if isinstance(error, InvalidAnswers):
        return dict(error.errors)
    return {error.field or GENERAL: error}


def form_summary(messages: Mapping[str, str], labels: Mapping[str, str]) -> str:
    """The list at the top of a refused form (Markdown): a heading, then each error with its field's label, in the
    form's order (`labels`), those of no field first."""
    order = list(labels)
    fields = sorted(messages, key=lambda field: order.index(field) + 1 if field in labels else 0)
    count = sum(field in labels for field in messages)
    heading = "Le formulaire n'a pas été envoyé" + (f" : {count} champ(s) à corriger." if count else ".")
    lines = [(f"- **{labels[field]}** : " if field in labels else "- ") + messages[field] for field in fields]
    return heading + "\n\n" + "\n".join(lines)


# Echoed values (typed in a URL, a form, a file) are shown literally: the marks a Markdown renderer could read as a
# link, an image, emphasis, code, HTML, a formula or an icon are escaped, a bare address is broken ("https:/",
# "www."), and the value is put on one line, so that a link sent around cannot put its own link or bold text in the
# app's message box; a long one is cut, so that it cannot fill the page either.
_MARKDOWN_MARKS = re.compile(r"[\\`*_\[\]()<>~$|]|:(?=/)|(?<!\S):(?=\w)|(?<=www)\.", re.IGNORECASE)
ECHO_LIMIT = 100


def _literal(value: object) -> object:
    if not isinstance(value, str):
        return value
    shown = " ".join(value.split())
    shown = shown if len(shown) <= ECHO_LIMIT else shown[:ECHO_LIMIT] + "…"
    return _MARKDOWN_MARKS.sub(lambda match: "\\" + match.group(0), shown)


def french_markdown(error: DomainError) -> str:
    """The French sentence for a domain error, for a Markdown display (st.error): its values shown as typed."""
    return _french(error.code, {name: _literal(value) for name, value in error.params.items()})


def row_message(row: RowError) -> str:
    """The French line shown for a bad line of an imported file, e.g. "ligne 3 : gender : Réponse inconnue : x."."""
    column = f"{row.column} : " if row.column else ""
    return f"ligne {row.line} : {column}{_french(row.reason, row.params)}"
