"""Sign in with e-mail and password, or through ProConnect when single sign-on is configured."""

import streamlit as st

from pvd_survey import ui

ui.guard("login")

st.title("Connexion")
ui.sign_in_form()
