"""First start: create the first administrator account (no default credentials exist)."""

import streamlit as st

from pvd_survey import accounts, ui
from pvd_survey.errors import DomainError

ui.guard("setup")
settings = ui.settings()

st.title("Bienvenue : créez le premier compte administrateur")
st.write(
    "La base de données est vide. Ce compte pourra ensuite créer les comptes de la direction du programme "
    "et des recruteurs. Le code de création figure dans le journal du serveur. Choisissez un mot de passe d'au moins "
    f"{accounts.PASSWORD_MIN_LENGTH} caractères, par exemple une phrase de plusieurs mots."
)
with st.form("setup_form"):
    code = st.text_input(
        "Code de création",
        key="setup_code",
        placeholder="XXXX-XXXX-XXXX",
        help="Le code figure dans le journal du serveur de l'application, qui l'écrit à chaque démarrage tant "
        "qu'aucun administrateur n'existe. Seule la personne qui exploite le serveur le connaît.",
    )
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
            accounts.set_up,
            code=code,
            email=email,
            display_name=display_name,
            password=password,
            settings=settings,
            success="Compte administrateur créé. Vous êtes connecté·e.",
            rerun=False,
        )
        if user is not None:
            ui.sign_in(user)
