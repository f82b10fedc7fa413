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
with st.form("signup_form"):
    name = st.text_input("Nom et prénom", key="signup_name")
    email = st.text_input("Adresse e-mail professionnelle", key="signup_email")
    organisation = st.text_input("Organisation (EPCI ou commune)", key="signup_organisation")
    kind = st.selectbox(
        "Type d'organisation",
        list(accounts.ORGANISATION_KIND_LABELS),
        format_func=accounts.ORGANISATION_KIND_LABELS.get,
        key="signup_kind",
    )
    department = ui.department_select("Département", "signup_department")
    sent = st.form_submit_button("Envoyer la demande", type="primary")
if sent:
    ui.act(
        recruitment.request_recruiter_account,
        settings,
        email=email,
        display_name=name,
        organisation_name=organisation,
        organisation_kind=kind,
        department=department or "",
        success="Demande enregistrée. Confirmez votre adresse avec le lien que nous venons de vous envoyer.",
    )
