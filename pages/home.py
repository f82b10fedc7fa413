"""Home: what the app is for, and where each person goes next."""

import streamlit as st

from pvd_survey import ui

user = ui.guard("home")

st.title("Petites villes de demain")
st.write(
    "Le programme Petites villes de demain, piloté par l'Agence nationale de la cohésion des territoires (ANCT), "
    "accompagne 1 646 communes et leurs intercommunalités dans leur revitalisation. Chaque territoire recrute "
    "un ou une chef de projet, cofinancé à 75 % par le programme."
)
if ui.setup_needed():
    st.warning("L'application n'est pas encore prête : créez d'abord le premier compte administrateur.")
    st.page_link("pages/setup.py", label="Créer le premier compte administrateur", icon=":material/shield_person:")
elif user is None and st.session_state.get(ui.SSO_ERROR_KEY):
    st.error(st.session_state[ui.SSO_ERROR_KEY])
elif user is None:
    st.info(
        "Vous êtes recruteur, membre de la direction du programme ou administrateur ? "
        "Connectez-vous depuis le menu **Connexion**."
    )
else:
    st.success(f"Bonjour {user.display_name}. Vos pages sont dans le menu de gauche.")
