"""My account: who I am, and changing my own password."""

import streamlit as st

from pvd_survey import accounts, sessions, ui
from pvd_survey.errors import DomainError

user = ui.guard("account")
settings = ui.settings()

st.title("Mon compte")
st.write(f"**{user.display_name}** · {user.email} · {user.role_label}")
if user.organisation_name:
    st.write(f"Organisation : {user.organisation_name}")

st.subheader("Changer mon mot de passe")
with st.form("account_password_form", clear_on_submit=True):
    current = st.text_input("Mot de passe actuel", type="password", key="account_current")
    new = st.text_input("Nouveau mot de passe", type="password", key="account_new")
    confirmation = st.text_input("Confirmez le nouveau mot de passe", type="password", key="account_confirm")
    submitted = st.form_submit_button("Changer le mot de passe")


def change_password(session, current_password: str, new_password: str) -> None:
    """Every session of the account ends (new epoch); this one carries on."""
    updated = accounts.change_own_password(session, user.id, current_password, new_password, settings)
    sessions.carry_on(session, ui.session_id(), updated)


if submitted:
    if new != confirmation:
        ui.show_error(DomainError("password_mismatch", field="password"))
    else:
        ui.act(
            change_password,
            current,
            new,
            success="Mot de passe changé. Vos autres sessions ouvertes sont fermées.",
            rerun=False,
        )

st.subheader("Sessions")
with ui.read() as session:
    open_sessions = sessions.count_open(session, user.id, settings)
st.write(
    f"Sessions ouvertes sur ce compte : **{open_sessions}** (navigateurs ou appareils). Une session se ferme "
    f"après {settings.session_idle_minutes} minutes sans activité, et au plus tard {settings.session_max_hours} "
    "heures après la connexion."
)
if st.button("Se déconnecter de partout", key="account_sign_out_everywhere", icon=":material/devices_off:"):
    ui.sign_out(everywhere=True)
