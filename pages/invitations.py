"""Survey invitations: invite chefs de projet (one or many), resend, revoke, the closing date, reminder rounds,
and protected aggregates. Never whether, when or what one person answered."""

from datetime import time

import pandas as pd
import streamlit as st

from pvd_survey import charts, french, stats, survey, territory, ui
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.errors import DomainError, french_markdown
from pvd_survey.survey_questions import InvalidAnswers

ui.guard("invitations")
settings = ui.settings()

st.title("Invitations au questionnaire")

st.subheader("Inviter")
# Plain text, not a caption: a caption greys its links and code below the contrast WCAG asks for (axe:
# color-contrast), and Markdown turns an e-mail address into a link unless it is code.
st.markdown(
    "Une adresse par ligne, éventuellement suivie du département du poste (`prenom.nom@mairie.fr;21`), "
    "ou un fichier CSV de même forme. Chaque personne reçoit un lien personnel ; une adresse déjà invitée "
    "n'est pas invitée deux fois."
)
INVITE_FORM = "invitations_form"
# The form's fields, in its order, by the names its errors are given.
INVITE_LABELS = {"invitees": "Adresses e-mail", "invitees_file": "ou fichier CSV"}


def refused_list(error: DomainError, field: str) -> dict[str, DomainError]:
    """A refused list as the form's errors: every bad line together, under the field that held the list."""
    if isinstance(error, InvalidAnswers):  # bad lines (each with its number)
        lines = " ".join(french_markdown(line) for line in error.errors.values())
        return {field: DomainError("invitee_lines", field=field, count=len(error.errors), lines=lines)}
    return {field if error.field == "invitees" else error.field or "": error}


ui.show_flash(INVITE_FORM)  # the confirmation, above the form (with the focus)
with st.form(INVITE_FORM, clear_on_submit=False):
    ui.form_errors(INVITE_FORM, INVITE_LABELS)
    pasted = st.text_area(INVITE_LABELS["invitees"], key="invitations_text", height=140)
    ui.field_error(INVITE_FORM, "invitees")
    uploaded = ui.file_upload(INVITE_LABELS["invitees_file"], "csv", key="invitations_file")
    ui.field_error(INVITE_FORM, "invitees_file")
    submitted = st.form_submit_button("Envoyer les invitations", type="primary")
if submitted:
    list_field = "invitees" if uploaded is None else "invitees_file"
    try:
        entries = survey.parse_invitation_list(ui.text_of(uploaded, pasted, "invitees_file"))
        with ui.write() as session:
            batch = survey.invite(session, entries, settings)
    except DomainError as error:
        # Every bad line at once, under the field of the list and at the top, the focus on it.
        ui.remember_field_errors(INVITE_FORM, refused_list(error, list_field))
        st.rerun()
    ui.remember_field_errors(INVITE_FORM, None)
    message = f"{french.count(len(batch.created), 'invitation')} en file d'envoi."
    if batch.already_invited:
        message += f" Déjà invitée(s), non renvoyée(s) : {', '.join(batch.already_invited)}."
    ui.flash(message, place=INVITE_FORM, focus=True)
    st.rerun()

st.subheader("Clôture")
with ui.read() as session:
    closes_at = survey.closing_time(session)
    invitations = survey.list_invitations(session)
if closes_at:
    state = "clos depuis le" if closes_at <= utcnow() else "ouvert jusqu'au"
    st.write(f"Questionnaire {state} {paris_time(closes_at, '%d/%m/%Y à %H:%M')}.")
else:
    st.write("Le questionnaire est ouvert, sans date de clôture.")
CLOSING_FORM = "invitations_closing"
CLOSING_LABELS = {"day": "Date de clôture"}
ui.show_flash(CLOSING_FORM)  # the confirmation, above the form (with the focus)
with st.form(CLOSING_FORM):
    ui.form_errors(CLOSING_FORM, CLOSING_LABELS)
    day = ui.date_input(CLOSING_LABELS["day"], value=None, key="invitations_close_day")
    ui.field_error(CLOSING_FORM, "day")
    hour = st.time_input("Heure (heure de Paris)", value=time(23, 59), key="invitations_close_time")
    column_set, column_remove = st.columns(2)
    set_closing = column_set.form_submit_button("Fixer la clôture")
    remove_closing = column_remove.form_submit_button("Retirer la date de clôture")
if set_closing:
    ui.submit_form(
        CLOSING_FORM,
        survey.close_on,
        day,
        hour,
        success=lambda moment: f"Clôture fixée au {paris_time(moment, '%d/%m/%Y à %H:%M')}.",
        flash_at=CLOSING_FORM,
    )
if remove_closing:
    ui.submit_form(
        CLOSING_FORM,
        survey.set_closing_time,
        None,
        success="Date de clôture retirée : le questionnaire est ouvert.",
        flash_at=CLOSING_FORM,
    )

st.subheader("Relances automatiques")
st.markdown(
    "Aux dates choisies, le système envoie un nouveau lien à chaque personne invitée qui n'a pas encore répondu. "
    "La direction ne voit pas qui a été relancé : les relances n'apparaissent ni dans la liste ci-dessous ni dans "
    "les messages, et elles sont effacées dès leur envoi (une copie de la base de données montre toutefois quels "
    "liens une relance a renouvelés)."
)
if settings.smtp is None:
    st.warning(
        "L'envoi d'e-mails n'est pas configuré (PVD_SMTP_HOST) : les relances attendront qu'il le soit, car une "
        "relance transmise à la main dirait à qui la transmet qui n'a pas répondu."
    )
with ui.read() as session:
    reminders = survey.list_reminders(session)
for reminder in reminders:
    state = f"faite le {paris_time(reminder.done_at, '%d/%m/%Y à %H:%M')}" if reminder.done_at else "prévue"
    line, action = st.columns([4, 1])
    line.write(f"Relance du {paris_time(reminder.due_at, '%d/%m/%Y à %H:%M')} : {state}.")
    if reminder.done_at is None and action.button("Annuler", key=f"invitations_reminder_cancel_{reminder.id}"):
        ui.act(survey.cancel_reminder, reminder.id, success="Relance annulée.")
REMINDER_FORM = "invitations_reminder"
REMINDER_LABELS = {"day": "Date de la relance"}
ui.show_flash(REMINDER_FORM)  # the confirmation, above the form (with the focus)
with st.form(REMINDER_FORM):
    ui.form_errors(REMINDER_FORM, REMINDER_LABELS)
    reminder_day = ui.date_input(REMINDER_LABELS["day"], value=None, key="invitations_reminder_day")
    ui.field_error(REMINDER_FORM, "day")
    reminder_hour = st.time_input("Heure (heure de Paris)", value=time(9, 0), key="invitations_reminder_time")
    add_reminder = st.form_submit_button("Prévoir la relance")
if add_reminder:
    ui.submit_form(
        REMINDER_FORM,
        survey.schedule_reminder_on,
        reminder_day,
        reminder_hour,
        success=lambda moment: f"Relance prévue le {paris_time(moment, '%d/%m/%Y à %H:%M')}.",
        flash_at=REMINDER_FORM,
    )

st.subheader("Réponses par région")
st.caption(
    "Invitations actives par région du département indiqué à l'envoi ; réponses publiées reçues par lien, par "
    f"région du département indiqué dans la réponse. Un chiffre portant sur moins de {settings.disclosure_k} "
    "personnes est masqué, les autres sont déplacés au hasard de 2 au plus, comme sur le tableau de bord."
)
with ui.read() as session:
    funnel = stats.invitation_funnel(session, settings, k=settings.disclosure_k)
if funnel:
    table = charts.funnel_frame(funnel)
    for column in ("Invitations", "Réponses publiées"):  # whole numbers as text, hidden ones "masqué"
        table[column] = [charts.HIDDEN_TEXT if pd.isna(value) else french.number(int(value)) for value in table[column]]
    st.dataframe(table, hide_index=True, width="stretch", key="invitations_funnel")

st.subheader(f"Personnes invitées ({french.number(len(invitations))})")
st.caption(
    "Qui a répondu, quand, ou qui a retiré ses réponses n'est montré nulle part : seul le serveur peut le savoir, "
    "pour la personne elle-même et pour les relances."
)
if not invitations:
    st.info("Personne n'a encore été invité.")
    st.stop()
st.dataframe(
    pd.DataFrame(
        {
            "E-mail": [i.email for i in invitations],
            "Département": [territory.department_label(i.department) if i.department else "" for i in invitations],
            "État": ["désactivée" if i.status == "revoked" else "active" for i in invitations],
            "Envois par la direction": [french.number(i.sent_count) for i in invitations],
            "Dernier envoi par la direction": [paris_time(i.last_sent_at) for i in invitations],
        }
    ),
    hide_index=True,
    width="stretch",
)
by_id = {i.id: i for i in invitations}  # ids as options: the widget must not keep a stale copy
chosen_id = st.selectbox(
    "Invitation",
    list(by_id),
    format_func=lambda invitation_id: by_id[invitation_id].email,
    index=None,
    placeholder="Choisissez une invitation",
    key="invitations_chosen",
)
chosen = by_id.get(chosen_id)
if chosen is not None:
    if chosen.status == "active":
        resend_column, revoke_column = st.columns(2)
        if resend_column.button("Renvoyer (nouveau lien)", key="invitations_resend"):
            ui.act(
                survey.resend,
                chosen.id,
                settings,
                success=f"Invitation renvoyée à {chosen.email} ; l'ancien lien ne fonctionne plus.",
            )
        if revoke_column.button("Désactiver le lien", key="invitations_revoke"):
            ui.act(survey.revoke, chosen.id, success=f"Lien de {chosen.email} désactivé.")
    elif st.button("Réactiver (nouveau lien)", key="invitations_reactivate"):
        ui.act(
            survey.reactivate,
            chosen.id,
            settings,
            success=f"Invitation de {chosen.email} réactivée ; un nouveau lien est envoyé.",
        )
