"""Sign in with e-mail and password, or through ProConnect when single sign-on is configured."""

import streamlit as st

from pvd_survey import accounts, ui

ui.guard("login")
settings = ui.settings()

st.title("Connexion")
sso_error = st.session_state.get(ui.SSO_ERROR_KEY)
if sso_error:
    st.error(sso_error)
    if st.button("Se déconnecter de ProConnect", key="login_sso_logout"):
        st.logout()

if ui.sso_configured():
    st.write("Agents publics : utilisez votre compte ProConnect.")
    if st.button("S'identifier avec ProConnect", key="login_sso", type="primary"):
        st.login()
    st.divider()

with st.form("login_form"):
    email = st.text_input("Adresse e-mail", key="login_email", autocomplete="username")
    password = st.text_input("Mot de passe", type="password", key="login_password", autocomplete="current-password")
    submitted = st.form_submit_button("Se connecter", type="primary")

if submitted:
    # Not in ui.write(): authenticate() runs argon2 between two short transactions of its own, so a sign-in
    # never holds SQLite's write lock (or a connection) for the half second the password check takes.
    outcome = accounts.authenticate(ui.runtime().factory, email, password, settings)
    if outcome.error is not None:
        ui.show_error(outcome.error)
    else:
        st.success(f"Bienvenue, {outcome.user.display_name}.")
        ui.sign_in(outcome.user, ui.page_after_login(outcome.user))
st.caption("Mot de passe oublié ? Demandez à un administrateur du programme de vous en définir un nouveau.")
