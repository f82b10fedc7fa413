"""Asking for a recruiter account (then confirming the e-mail through ?jeton=...)."""

import streamlit as st

from pvd_survey import accounts, recruitment, ui

ui.guard("recruiter_signup")
settings = ui.settings()

st.title("Demande de compte recruteur")
token = ui.link_token("recruiter_signup")
if token:
    ui.act(
        recruitment.confirm_recruiter_request,
        token,
        settings,
        success=(
            "Adresse confirmée. Votre demande est transmise à la direction du programme : vous recevrez un e-mail "
            "dès qu'elle sera traitée."
        ),
        rerun=False,
    )
    ui.leave_link("recruiter_signup", rerun_follows=False)  # the link has served
    st.stop()

st.write(
    "Vous recrutez un ou une chef de projet Petites villes de demain pour une commune ou une intercommunalité ? "
    "Demandez un compte : confirmez votre adresse par le lien reçu par e-mail, puis la direction du programme "
    "valide votre demande. Votre compte ne permet rien avant cette validation."
)
FORM = "signup_form"
# The form's fields, in its order, by the names the service gives their errors.
LABELS = {
    "display_name": "Nom et prénom",
    "email": "Adresse e-mail professionnelle",
    "organisation_name": "Organisation (EPCI ou commune)",
    "kind": "Type d'organisation",
    "department": "Département",
}
ui.show_flash(FORM)  # the confirmation, in place of what was sent (with the focus)
with st.form(FORM):
    ui.form_errors(FORM, LABELS)
    name = st.text_input(LABELS["display_name"], key="signup_name")
    ui.field_error(FORM, "display_name")
    email = st.text_input(LABELS["email"], key="signup_email")
    ui.field_error(FORM, "email")
    organisation = st.text_input(LABELS["organisation_name"], key="signup_organisation")
    ui.field_error(FORM, "organisation_name")
    kind = st.selectbox(
        LABELS["kind"],
        list(accounts.ORGANISATION_KIND_LABELS),
        format_func=accounts.ORGANISATION_KIND_LABELS.get,
        key="signup_kind",
    )
    ui.field_error(FORM, "kind")
    department = ui.department_select(LABELS["department"], "signup_department")
    ui.field_error(FORM, "department")
    sent = st.form_submit_button("Envoyer la demande", type="primary")
if sent:
    # Every problem at once, under its field and listed at the top, the focus on the first.
    ui.submit_form(
        FORM,
        recruitment.request_recruiter_account,
        settings,
        email=email,
        display_name=name,
        organisation_name=organisation,
        organisation_kind=kind,
        department=department or "",
        success="Demande enregistrée. Confirmez votre adresse avec le lien que nous venons de vous envoyer.",
        flash_at=FORM,
    )
