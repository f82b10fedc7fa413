"""My account: who I am, changing my own password, the notification e-mails I want, my sessions."""

import streamlit as st

from pvd_survey import accounts, notifications, sessions, ui

user = ui.guard("account")
settings = ui.settings()

st.title("Mon compte")
st.write(f"**{user.display_name}** · {user.email} · {user.role_label}")
if user.organisation_name:
    st.write(f"Organisation : {user.organisation_name}")

st.subheader("Changer mon mot de passe")
PASSWORD_FORM = "account_password_form"
# The form's fields, in its order, by the names the service gives their errors.
PASSWORD_LABELS = {
    "current_password": "Mot de passe actuel",
    "password": "Nouveau mot de passe",
    "confirmation": "Confirmez le nouveau mot de passe",
}
ui.show_flash(PASSWORD_FORM)  # the confirmation, above the emptied form (with the focus)
with st.form(PASSWORD_FORM, clear_on_submit=True):
    ui.form_errors(PASSWORD_FORM, PASSWORD_LABELS)
    current = st.text_input(PASSWORD_LABELS["current_password"], type="password", key="account_current")
    ui.field_error(PASSWORD_FORM, "current_password")
    new = st.text_input(PASSWORD_LABELS["password"], type="password", key="account_new")
    ui.field_error(PASSWORD_FORM, "password")
    confirmation = st.text_input(PASSWORD_LABELS["confirmation"], type="password", key="account_confirm")
    ui.field_error(PASSWORD_FORM, "confirmation")
    submitted = st.form_submit_button("Changer le mot de passe")


def change_password(session, current_password: str, new_password: str, confirmation: str) -> None:
    """Every session of the account ends (new epoch); this one carries on."""
    updated = accounts.change_own_password(
        session, user.id, current_password, new_password, settings, confirmation=confirmation
    )
    sessions.carry_on(session, ui.session_id(), updated)


if submitted:
    # Every problem at once, under its field and listed at the top, the focus on the first.
    ui.submit_form(
        PASSWORD_FORM,
        change_password,
        current,
        new,
        confirmation,
        success="Mot de passe changé. Vos autres sessions ouvertes sont fermées.",
        flash_at=PASSWORD_FORM,
    )

with ui.read() as session:
    chosen = notifications.preferences(session, user)
if chosen:  # recruiters (new applications) and the direction (recruiter requests)
    st.subheader("E-mails de notification")
    with st.form("account_notifications_form"):
        picked = {
            topic: st.radio(
                notifications.TOPIC_LABELS[topic],
                notifications.FREQUENCIES_BY_TOPIC[topic],
                index=notifications.FREQUENCIES_BY_TOPIC[topic].index(frequency),
                format_func=notifications.FREQUENCY_LABELS.get,
                key=f"account_notify_{topic}",
            )
            for topic, frequency in chosen.items()
        }
        saved = st.form_submit_button("Enregistrer mes choix")
    digest = any("daily" in notifications.FREQUENCIES_BY_TOPIC[topic] for topic in chosen)
    when = f"Le récapitulatif part chaque matin vers {notifications.DAILY_HOUR} h, s'il y a du nouveau. "
    st.caption((when if digest else "") + "Chaque e-mail contient aussi un lien pour ne plus les recevoir, en un clic.")

    def save_preferences(session, choices: dict[str, str]) -> None:
        """Every topic's choice, in one unit of work."""
        for topic, frequency in choices.items():
            notifications.set_preference(session, user, topic, frequency)

    if saved:
        ui.act(save_preferences, picked, success="Vos choix d'e-mails sont enregistrés.", rerun=False)

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
