"""The codes the database stores, each tuple beside its French labels: one home for every vocabulary.

Codes are what columns hold (each enforced by a CHECK constraint of models.py and the migrations); labels
are what people read. Plain tuples and dicts, no import: the command line, the models and the pages share
them. tests/test_vocabulary.py checks that every code has a label and that the database refuses any other.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------- accounts

ROLES = ("admin", "direction", "recruteur")
ROLE_LABELS = {"admin": "Administrateur", "direction": "Direction du programme", "recruteur": "Recruteur"}

ORGANISATION_KINDS = ("epci", "commune", "autre")
ORGANISATION_KIND_LABELS = {"epci": "EPCI (intercommunalité)", "commune": "Commune", "autre": "Autre structure"}

# ---------------------------------------------------------------------------- e-mail outbox

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "manual")
OUTBOX_STATUS_LABELS = {
    "pending": "En attente",
    "sending": "En cours d'envoi",
    "sent": "Envoyé",
    "failed": "Échec définitif",
    "manual": "Remis à la main",
}

# What each outbox message is about (the « Messages » page shows the label). Written by the services only, never
# typed by anyone: no CHECK constraint (tests/test_vocabulary.py finds every kind the services write).
MESSAGE_KINDS = (
    "account_created",
    "survey_invitation",
    "survey_reminder",
    "meeting_confirmed",
    "meeting_waiting",
    "meeting_cancelled",
    "meeting_promoted",
    "meeting_offered",
    "meeting_offer_expired",
    "meeting_changed",
    "meeting_reminder",
    "meeting_certificate",
    "door_pass",
    "application_received",
    "application_link",
    "application_rejected",
    "posting_closed",
    "posting_filled",
    "recruiter_request_confirm",
    "recruiter_welcome",
    "recruiter_refused",
    "new_application",
    "application_digest",
    "recruiter_request_waiting",
    "job_alert_confirm",
    "job_alert",
)
MESSAGE_KIND_LABELS = {
    "account_created": "Création de compte",
    "survey_invitation": "Invitation au questionnaire",
    "survey_reminder": "Relance du questionnaire",
    "meeting_confirmed": "Inscription confirmée à une rencontre",
    "meeting_waiting": "Inscription en liste d'attente",
    "meeting_cancelled": "Inscription à une rencontre annulée",
    "meeting_promoted": "Place libérée : inscription confirmée",
    "meeting_offered": "Place libérée proposée (à accepter avant une date limite)",
    "meeting_offer_expired": "Place proposée sans réponse à temps (offre expirée)",
    "meeting_changed": "Rencontre modifiée (date, horaire ou lieu)",
    "meeting_reminder": "Rappel avant une rencontre",
    "meeting_certificate": "Attestation de présence à une rencontre",
    "door_pass": "Lien d'accueil pour l'émargement d'une rencontre",
    "application_received": "Candidature reçue",
    "application_link": "Lien de suivi de candidature renvoyé",
    "application_rejected": "Candidature non retenue",
    "posting_closed": "Offre close (aux candidats)",
    "posting_filled": "Offre pourvue (aux candidats)",
    "recruiter_request_confirm": "Confirmation d'adresse d'une demande de compte recruteur",
    "recruiter_welcome": "Compte recruteur accepté",
    "recruiter_refused": "Demande de compte recruteur refusée",
    "new_application": "Nouvelle candidature (au recruteur)",
    "application_digest": "Récapitulatif quotidien des candidatures",
    "recruiter_request_waiting": "Demande de compte recruteur à examiner",
    "job_alert_confirm": "Confirmation d'une alerte offres d'emploi",
    "job_alert": "Alerte offres d'emploi",
}

# ---------------------------------------------------------------------------- survey

INVITATION_STATUSES = ("active", "revoked")
# Lower case: they end a sentence or fill a table cell ("Invitation désactivée").
INVITATION_STATUS_LABELS = {"active": "active", "revoked": "désactivée"}

# ---------------------------------------------------------------------------- meetings

MEETING_KINDS = ("rencontre_regionale", "atelier", "webinaire", "autre")
MEETING_KIND_LABELS = {
    "rencontre_regionale": "Rencontre régionale",
    "atelier": "Atelier",
    "webinaire": "Webinaire",
    "autre": "Autre",
}

ATTENDEE_ROLES = ("chef_de_projet", "elu", "partenaire", "autre")
ATTENDEE_ROLE_LABELS = {
    "chef_de_projet": "Chef de projet",
    "elu": "Élu ou élue",
    "partenaire": "Partenaire",
    "autre": "Autre",
}

# 'offered': first on the waiting list, a freed place held for them until the offer's deadline (meetings/offers.py).
REGISTRATION_STATUSES = ("confirmed", "offered", "waiting", "cancelled")
REGISTRATION_STATUS_LABELS = {
    "confirmed": "Confirmée",
    "offered": "Place proposée",
    "waiting": "Liste d'attente",
    "cancelled": "Annulée",
}

# How a waiting-list offer ended (a registration that was never offered a place has none).
OFFER_OUTCOMES = ("accepted", "enlarged", "declined", "expired", "withdrawn")
OFFER_OUTCOME_LABELS = {
    "accepted": "Offre acceptée",
    "enlarged": "Place confirmée (rencontre agrandie)",
    "declined": "Offre déclinée",
    "expired": "Offre expirée",
    "withdrawn": "Offre retirée par la direction",
}

# Who cancelled a registration: the person (through their private link) or the direction on their behalf.
CANCELLERS = ("participant", "direction")
CANCELLER_LABELS = {"participant": "La personne inscrite", "direction": "La direction du programme"}

# ---------------------------------------------------------------------------- recruitment

POSTING_STATUSES = ("draft", "published", "closed", "filled")
POSTING_STATUS_LABELS = {"draft": "Brouillon", "published": "Publiée", "closed": "Close", "filled": "Pourvue"}

CONTRACTS = ("projet", "cdd", "titulaire", "autre")
CONTRACT_LABELS = {
    "projet": "Contrat de projet",
    "cdd": "CDD",
    "titulaire": "Titulaire / détachement",
    "autre": "Autre",
}

WORKING_TIMES = ("complet", "partiel")
WORKING_TIME_LABELS = {"complet": "Temps complet", "partiel": "Temps partiel"}

APPLICATION_STATUSES = ("recue", "examen", "entretien", "retenue", "non_retenue", "retiree")
APPLICATION_STATUS_LABELS = {
    "recue": "Reçue",
    "examen": "En cours d'examen",
    "entretien": "Entretien",
    "retenue": "Retenue",
    "non_retenue": "Non retenue",
    "retiree": "Retirée par la personne candidate",
}

REJECTION_REASONS = ("profil", "pourvu", "doublon", "autre")
REJECTION_REASON_LABELS = {
    "profil": "Profil ne correspondant pas",
    "pourvu": "Poste pourvu",
    "doublon": "Candidature en doublon",
    "autre": "Autre",
}

APPLICATION_FILE_KINDS = ("cv", "letter")
APPLICATION_FILE_KIND_LABELS = {"cv": "CV", "letter": "Lettre de motivation"}

RECRUITER_REQUEST_STATUSES = ("unconfirmed", "pending", "approved", "refused")
RECRUITER_REQUEST_STATUS_LABELS = {
    "unconfirmed": "Adresse e-mail à confirmer",
    "pending": "En attente de décision",
    "approved": "Acceptée",
    "refused": "Refusée",
}

# ---------------------------------------------------------------------------- notifications

# What an account can be told about by e-mail (each with its preference on « Mon compte »).
NOTIFICATION_TOPICS = ("new_application", "recruiter_request")
NOTIFICATION_TOPIC_LABELS = {
    "new_application": "Nouvelles candidatures à vos offres",
    "recruiter_request": "Demandes de compte recruteur en attente de décision",
}

# How often: at once, in one daily summary, or never.
NOTIFICATION_FREQUENCIES = ("immediate", "daily", "none")
NOTIFICATION_FREQUENCY_LABELS = {
    "immediate": "Un e-mail à chaque fois",
    "daily": "Un récapitulatif par jour",
    "none": "Aucun e-mail",
}

# The daily sendings, each claimed once a day.
NOTIFICATION_RUNS = ("application_digest", "job_alerts")
NOTIFICATION_RUN_LABELS = {
    "application_digest": "Récapitulatif quotidien des candidatures",
    "job_alerts": "Alertes offres d'emploi",
}

# ---------------------------------------------------------------------------- every vocabulary, for the tests

VOCABULARIES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "ROLES": (ROLES, ROLE_LABELS),
    "ORGANISATION_KINDS": (ORGANISATION_KINDS, ORGANISATION_KIND_LABELS),
    "OUTBOX_STATUSES": (OUTBOX_STATUSES, OUTBOX_STATUS_LABELS),
    "MESSAGE_KINDS": (MESSAGE_KINDS, MESSAGE_KIND_LABELS),
    "INVITATION_STATUSES": (INVITATION_STATUSES, INVITATION_STATUS_LABELS),
    "MEETING_KINDS": (MEETING_KINDS, MEETING_KIND_LABELS),
    "ATTENDEE_ROLES": (ATTENDEE_ROLES, ATTENDEE_ROLE_LABELS),
    "REGISTRATION_STATUSES": (REGISTRATION_STATUSES, REGISTRATION_STATUS_LABELS),
    "OFFER_OUTCOMES": (OFFER_OUTCOMES, OFFER_OUTCOME_LABELS),
    "CANCELLERS": (CANCELLERS, CANCELLER_LABELS),
    "POSTING_STATUSES": (POSTING_STATUSES, POSTING_STATUS_LABELS),
    "CONTRACTS": (CONTRACTS, CONTRACT_LABELS),
    "WORKING_TIMES": (WORKING_TIMES, WORKING_TIME_LABELS),
    "APPLICATION_STATUSES": (APPLICATION_STATUSES, APPLICATION_STATUS_LABELS),
    "REJECTION_REASONS": (REJECTION_REASONS, REJECTION_REASON_LABELS),
    "APPLICATION_FILE_KINDS": (APPLICATION_FILE_KINDS, APPLICATION_FILE_KIND_LABELS),
    "RECRUITER_REQUEST_STATUSES": (RECRUITER_REQUEST_STATUSES, RECRUITER_REQUEST_STATUS_LABELS),
    "NOTIFICATION_TOPICS": (NOTIFICATION_TOPICS, NOTIFICATION_TOPIC_LABELS),
    "NOTIFICATION_FREQUENCIES": (NOTIFICATION_FREQUENCIES, NOTIFICATION_FREQUENCY_LABELS),
    "NOTIFICATION_RUNS": (NOTIFICATION_RUNS, NOTIFICATION_RUN_LABELS),
}
