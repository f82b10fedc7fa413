"""First start: create the first administrator account (no default credentials exist)."""

import streamlit as st

from pvd_survey import accounts, ui

ui.guard("setup")
settings = ui.settings()

st.title("Bienvenue : créez le premier compte administrateur")
st.write(
    "La base de données est vide. Ce compte pourra ensuite créer les comptes de la direction du programme "
    "et des recruteurs. Le code de création figure dans le journal du serveur. Choisissez un mot de passe d'au moins "
    f"{accounts.PASSWORD_MIN_LENGTH} caractères, par exemple une phrase de plusieurs mots."
)
FORM = "setup_form"
# The form's fields, in its order, by the names the service gives their errors.
LABELS = {
    "setup_code": "Code de création",
    "display_name": "Nom et prénom",
    "email": "Adresse e-mail",
    "password": "Mot de passe",
    "confirmation": "Confirmez le mot de passe",
}
with st.form(FORM):
    ui.form_errors(FORM, LABELS)
    code = st.text_input(
        LABELS["setup_code"],
        key="setup_code",
        placeholder="XXXX-XXXX-XXXX",
        help="Le code figure dans le journal du serveur de l'application, qui l'écrit à chaque démarrage tant "
        "qu'aucun administrateur n'existe. Seule la personne qui exploite le serveur le connaît.",
    )
    ui.field_error(FORM, "setup_code")
    display_name = st.text_input(LABELS["display_name"], key="setup_name")
    ui.field_error(FORM, "display_name")
    email = st.text_input(LABELS["email"], key="setup_email")
    ui.field_error(FORM, "email")
    password = st.text_input(LABELS["password"], type="password", key="setup_password")
    ui.field_error(FORM, "password")
    confirmation = st.text_input(LABELS["confirmation"], type="password", key="setup_password_confirm")
    ui.field_error(FORM, "confirmation")
    submitted = st.form_submit_button("Créer le compte administrateur", type="primary")

if submitted:
    # Every problem at once, under its field and listed at the top, the focus on the first.
    user = ui.submit_form(
        FORM,
        accounts.set_up,
        code=code,
        email=email,
        display_name=display_name,
        password=password,
        confirmation=confirmation,
        settings=settings,
        rerun=False,
    )
    st.success("Compte administrateur créé. Vous êtes connecté·e.")
    ui.sign_in(user)  # (the browser goes on to the home page at once)
