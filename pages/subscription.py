"""The links of the notification e-mails (?jeton=…): confirm a job alert, or unsubscribe, in one click.

A mail program's own "unsubscribe" button posts to the web layer's route instead (web.py, RFC 8058).
"""

import streamlit as st

from pvd_survey import notifications, ui
from pvd_survey.errors import DomainError, french_message

ui.guard("subscription")

st.title("Abonnement aux e-mails")
DONE_KEY = "subscription_done"  # what the click did, shown instead of the link (which has served)

token = ui.link_token("subscription")  # first: it clears the cookie once the link has served
done = st.session_state.get(DONE_KEY)
if done:
    st.success(done)
    st.stop()

try:
    with ui.read() as session:
        view = notifications.link_view(session, token)
except DomainError as error:
    # Used already, expired or incomplete: said politely, nothing changes.
    st.info(french_message(error), icon=":material/info:")
    st.stop()


def remember(message: str) -> None:
    """Keep what was done for the rerun: the link is then used up, the page says what it did."""
    st.session_state[DONE_KEY] = message
    ui.leave_link("subscription")


if view.action == "confirm":
    if view.done:
        st.info(f"Votre alerte est déjà confirmée : vous recevez {view.subject}.", icon=":material/info:")
        st.stop()
    st.write(
        f"Confirmez pour recevoir {view.subject} : au plus un e-mail par jour, seulement quand de nouvelles offres "
        "sont publiées. Chaque e-mail permet de vous désabonner en un clic."
    )
    if st.button("Confirmer mon alerte", type="primary", key="subscription_confirm", icon=":material/check:"):
        ui.act(
            notifications.confirm,
            token,
            then=lambda area: remember(
                f"Alerte confirmée : vous recevrez les nouvelles offres en {area}, au plus un e-mail par jour."
            ),
        )
else:
    st.write(f"Ce lien arrête {view.subject}.")
    if st.button("Me désabonner", type="primary", key="subscription_unsubscribe", icon=":material/unsubscribe:"):
        ui.act(
            notifications.unsubscribe,
            token,
            then=lambda subject: remember(f"C'est fait : vous ne recevrez plus {subject}."),
        )
