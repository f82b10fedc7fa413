"""First start: create the first administrator account (no default credentials exist)."""

import streamlit as st

from pvd_survey import accounts, ui
from pvd_survey.errors import DomainError

ui.guard("setup")
settings = ui.settings()

st.title("Bienvenue : créez le premier compte administrateur")
st.write(
    "La base de données est vide. Ce compte pourra ensuite créer les comptes de la direction du programme "
    "et des recruteurs. Choisissez un mot de passe d'au moins "
    f"{accounts.PASSWORD_MIN_LENGTH} caractères, par exemple une phrase de plusieurs mots."
)
with st.form("setup_form"):
    display_name = st.text_input("Nom et prénom", key="setup_name")
    email = st.text_input("Adresse e-mail", key="setup_email")
    password = st.text_input("Mot de passe", type="password", key="setup_password")
    confirmation = st.text_input("Confirmez le mot de passe", type="password", key="setup_password_confirm")
    submitted = st.form_submit_button("Créer le compte administrateur", type="primary")

if submitted:
    if password != confirmation:
        ui.show_error(DomainError("password_mismatch", field="password"))
    else:
        user = ui.act(
            accounts.create_first_admin,
            email=email,
            display_name=display_name,
            password=password,
            settings=settings,
            success="Compte administrateur créé. Vous êtes connecté·e.",
            rerun=False,
        )
        if user is not None:
            ui.sign_in(user)
