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
    try:
        if password != confirmation:
            raise DomainError("password_mismatch", field="password")
        with ui.write() as session:
            user = accounts.create_first_admin(
                session, email=email, display_name=display_name, password=password, settings=settings
            )
    except DomainError as error:
        ui.show_error(error)
    else:
        st.success("Compte administrateur créé. Vous êtes connecté·e.")
        ui.sign_in(user)
