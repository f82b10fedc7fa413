"""The pages' entry script (run by `streamlit_app.py`'s App): page config, signed-in user, the role's navigation."""

from pathlib import Path

import streamlit as st

from pvd_survey import ui, web

st.set_page_config(
    page_title="Petites villes de demain",
    page_icon=str(Path(__file__).parent / "pvd_survey" / "assets" / "favicon.png"),
    layout="wide",
)

with ui.domain_errors_shown():  # e.g. every database connection busy: a French message, never a trace
    user = ui.current_user(touch=False)  # the page's guard records the activity (or not: personal links)
    navigation = st.navigation(ui.navigation_pages(user), expanded=True)

with st.sidebar:
    if user is not None:
        st.caption(f"Connecté·e : **{user.display_name}**  \n{user.role_label}")
        if st.button("Se déconnecter", key="pvd_logout", icon=":material/logout:"):
            with ui.domain_errors_shown():
                ui.sign_out()
    st.caption("Programme Petites villes de demain · ANCT")
    ui.french_widgets()

if st.query_params.get(web.SIGNED_OUT_PARAMETER):
    # Back from the sign-out route, which cleared the session cookie.
    del st.query_params[web.SIGNED_OUT_PARAMETER]
    ui.flash("Vous êtes déconnecté·e.", "info")
ui.show_flash()
page_body = st.container()
# The footer is drawn before the page runs (below it on screen), so that a page that stops early keeps it.
ui.footer()
with page_body, ui.domain_errors_shown():
    navigation.run()
