"""A candidate's private page (?jeton=...): the application's status, completing it, withdrawing it."""

import streamlit as st

from pvd_survey import recruitment, ui
from pvd_survey.errors import DomainError
from pvd_survey.models import paris_time
from pvd_survey.recruitment import Upload

ui.guard("application")

st.title("Ma candidature")
token = ui.link_token("application")
if not token:
    st.info("Cette page s'ouvre depuis le lien personnel reçu par e-mail après l'envoi d'une candidature.")
    st.stop()

try:
    with ui.read() as session:
        view = recruitment.candidate_view(session, token)
except DomainError as error:
    ui.show_error(error)
    st.stop()

st.subheader(view.posting_title)
st.write(f"{view.organisation_name} · référence **{view.reference}** · envoyée le {paris_time(view.created_at)}")
st.metric("Statut", view.status_label)
ui.show_flash("application_status")  # after withdrawing: here, at the top of what remains
if view.withdrawn:
    st.info("Vous avez retiré cette candidature : vos données personnelles et vos documents ont été supprimés.")
    st.stop()
if view.posting_status in ("closed", "filled"):
    st.caption(
        "Ce poste n'accepte plus de candidatures (" + recruitment.POSTING_STATUS_LABELS[view.posting_status] + ")."
    )
st.write(f"{view.full_name} · {view.email}" + (f" · {view.phone}" if view.phone else ""))
for kind, name in view.files:
    st.write(f"- {'CV' if kind == 'cv' else 'Lettre de motivation'} : {name}")

FORM = "application_update"
# The form's fields, in its order, by the names the service gives their errors.
LABELS = {
    "phone": "Téléphone",
    "cv": f"Nouveau CV (PDF, {ui.PDF_MAX_MB} Mo au plus)",
    "letter": f"Nouvelle lettre de motivation (PDF, {ui.PDF_MAX_MB} Mo au plus)",
}
if view.posting_status == "published":
    with st.expander("Compléter ma candidature"):
        ui.show_flash(FORM)  # the confirmation, above the form (with the focus)
        with st.form(FORM):
            ui.form_errors(FORM, LABELS)
            phone = st.text_input(LABELS["phone"], value=view.phone or "", key="application_phone")
            ui.field_error(FORM, "phone")
            cv = ui.file_upload(LABELS["cv"], "pdf", key="application_cv")
            ui.field_error(FORM, "cv")
            letter = ui.file_upload(LABELS["letter"], "pdf", key="application_letter")
            ui.field_error(FORM, "letter")
            update = st.form_submit_button("Mettre à jour")
        if update:
            # Every problem at once, under its field and listed at the top, the focus on the first.
            ui.submit_form(
                FORM,
                recruitment.update_by_token,
                token,
                phone=phone,
                cv=Upload(cv.name, cv.getvalue()) if cv is not None else None,
                letter=Upload(letter.name, letter.getvalue()) if letter is not None else None,
                success="Candidature mise à jour.",
                flash_at=FORM,
            )

st.subheader("Retirer ma candidature")
st.caption("Votre nom, votre adresse, votre téléphone et vos documents seront supprimés tout de suite.")
confirm = st.checkbox("Je veux retirer ma candidature", key="application_confirm_withdraw")
if st.button("Retirer ma candidature", key="application_withdraw", disabled=not confirm):
    ui.act(
        recruitment.withdraw,
        token,
        success="Candidature retirée. Vos données personnelles ont été supprimées.",
        # The erased data leave SQLite's WAL too; the tab forgets the link.
        then=lambda _: (ui.scrub_erased_data(), ui.leave_link("application")),
    )

st.divider()
st.caption("Sur un ordinateur partagé, quittez la page : elle ne s'ouvrira plus ici sans votre lien personnel.")
ui.quit_button("application")
