"""Entry point: page config, signed-in user, and the navigation that each role is allowed to see."""

import streamlit as st

from pvd_survey import ui

st.set_page_config(page_title="Petites villes de demain", page_icon=":material/location_city:", layout="wide")

user = ui.current_user()
navigation = st.navigation(ui.navigation_pages(user), expanded=True)

with st.sidebar:
    if user is not None:
        st.caption(f"Connecté·e : **{user.display_name}**  \n{user.role_label}")
        if st.button("Se déconnecter", key="pvd_logout", icon=":material/logout:"):
            ui.sign_out()
            ui.flash("Vous êtes déconnecté·e.", "info")
            st.switch_page("pages/home.py")
    st.caption("Programme Petites villes de demain · ANCT")

ui.show_flash()
page_body = st.container()
# The footer is drawn before the page runs (below it on screen), so that a page that stops early keeps it.
ui.footer()
with page_body:
    navigation.run()
