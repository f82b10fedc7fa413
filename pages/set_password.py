"""Choosing a password through a one-time link (?jeton=...), e.g. after a recruiter account is approved."""

import streamlit as st

from pvd_survey import accounts, ui
from pvd_survey.errors import DomainError

ui.guard("set_password")
settings = ui.settings()

st.title("Choisir un mot de passe")
token = ui.link_token("set_password")
if not token:
    st.info("Cette page s'ouvre depuis le lien reçu par e-mail à l'ouverture de votre compte.")
    st.stop()
try:
    with ui.read() as session:
        user = accounts.password_link_user(session, token)
except DomainError as error:
    ui.show_error(error)
    st.stop()

st.write(f"Compte : **{user.email}** ({user.role_label}). Au moins 12 caractères ; une phrase de plusieurs mots.")
FORM = "set_password_form"
# The form's fields, in its order, by the names the service gives their errors.
LABELS = {"password": "Mot de passe", "confirmation": "Confirmez le mot de passe"}
with st.form(FORM):
    ui.form_errors(FORM, LABELS)
    password = st.text_input(LABELS["password"], type="password", key="set_password_password")
    ui.field_error(FORM, "password")
    again = st.text_input(LABELS["confirmation"], type="password", key="set_password_again")
    ui.field_error(FORM, "confirmation")
    sent = st.form_submit_button("Enregistrer le mot de passe", type="primary")
if sent:
    # Every problem at once, under its field and listed at the top, the focus on the first.
    ui.submit_form(FORM, accounts.set_password_by_link, token, password, settings, confirmation=again, rerun=False)
    ui.leave_link("set_password", rerun_follows=False)  # the link has served
    ui.focus_on("set_password_done")
    with st.container(key="set_password_done"):
        st.success("Mot de passe enregistré. Vous pouvez vous connecter.")
    st.page_link("pages/login.py", label="Se connecter", icon=":material/login:")
    st.stop()
st.divider()
ui.quit_button("set_password")
