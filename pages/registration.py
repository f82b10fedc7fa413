"""A person's registration, opened from the private link of their e-mail (?jeton=...): status, position, cancel."""

import streamlit as st

from pvd_survey import meetings, ui
from pvd_survey.errors import DomainError
from pvd_survey.meetings import STATUS_LABELS
from pvd_survey.models import paris_time

ui.guard("registration")
settings = ui.settings()

st.title("Mon inscription")
token = ui.link_token("registration")
if not token:
    st.info("Cette page s'ouvre depuis le lien personnel reçu par e-mail après votre inscription à une rencontre.")
    st.page_link("pages/meetings.py", label="Voir les rencontres", icon=":material/event:")
    st.stop()

try:
    with ui.read() as session:
        view = meetings.open_private_link(session, token)
except DomainError as error:
    ui.show_error(error)
    st.page_link("pages/meetings.py", label="Voir les rencontres", icon=":material/event:")
    st.stop()

meeting = view.meeting
st.subheader(meeting.title)
st.markdown(
    f"**Quand** : {paris_time(meeting.starts_at, '%d/%m/%Y, %H:%M')} – {paris_time(meeting.ends_at, '%H:%M')} "
    f"(heure de Paris)  \n**Où** : {meeting.place_label or 'à préciser'}  \n"
    f"**Inscription** : {view.full_name} ({view.email}), référence {view.reference}"
)
status = STATUS_LABELS[view.status]
if view.status == "confirmed":
    st.success(f"Statut : {status}. Votre place est réservée.", icon=":material/check_circle:")
    with ui.read() as session:
        ticket = meetings.ticket_by_link(session, token, settings)
    if ticket is not None:
        with st.container(border=True):
            st.markdown("**Votre billet** : présentez ce code QR à l'accueil, sur votre téléphone ou imprimé.")
            st.image(
                ticket.qr_png,
                width=240,
                caption=ticket.code,
                output_format="PNG",
                alt=f"Code QR du billet de {ticket.full_name}, code {ticket.code}",
            )
            st.download_button(
                "Télécharger le billet (PDF)",
                ticket.pdf,
                file_name="billet.pdf",
                mime="application/pdf",
                icon=":material/download:",
                key="registration_ticket_pdf",
            )
elif view.status == "offered" and view.offer_open and view.offer_expires_at is not None:
    # The e-mail's « J'accepte » / « Je ne peux plus venir » links land here with the answer chosen: one click
    # confirms it (a link opened by a mail scanner decides nothing).
    chosen = st.query_params.get(meetings.OFFER_PARAMETER)
    st.warning(
        f"**Une place s'est libérée : elle vous est réservée jusqu'au {meetings.deadline_text(view.offer_expires_at)}"
        f"** (heure de Paris). {meetings.offer_rule(settings)} Sans réponse d'ici là, elle est proposée à la "
        "personne suivante et vous quittez la liste d'attente.",
        icon=":material/event_available:",
    )
    if chosen in meetings.OFFER_ANSWERS:
        st.info(
            "Confirmez votre réponse avec le bouton ci-dessous."
            if chosen == "accepter"
            else "Confirmez avec le bouton « Je ne peux plus venir » : la place ira à la personne suivante."
        )
    answers = st.columns(2)
    if answers[0].button(
        "J'accepte la place",
        type="primary" if chosen != "decliner" else "secondary",
        key="registration_accept",
        icon=":material/check_circle:",
    ):
        st.query_params.pop(meetings.OFFER_PARAMETER, None)
        ui.act(
            meetings.accept_offer,
            token,
            settings,
            success="Votre place est confirmée. Votre billet est ci-dessous et vous est envoyé par e-mail.",
        )
    if answers[1].button(
        "Je ne peux plus venir",
        type="primary" if chosen == "decliner" else "secondary",
        key="registration_decline",
        icon=":material/event_busy:",
    ):
        st.query_params.pop(meetings.OFFER_PARAMETER, None)
        ui.act(
            meetings.decline_offer,
            token,
            settings,
            success=lambda passed: (
                "C'est noté : votre inscription est annulée et la place "
                + ("est proposée à la personne suivante." if passed else "est de nouveau libre.")
            ),
            then=lambda _: ui.leave_link("registration"),
        )
elif view.offer_expires_at is not None and (view.status == "offered" or view.offer_outcome == "expired"):
    # Past the deadline (the background pass may not have passed the place on yet): an answer is refused.
    ui.show_error(DomainError("offer_expired", deadline=meetings.deadline_text(view.offer_expires_at)))
    st.page_link("pages/meetings.py", label="S'inscrire de nouveau", icon=":material/event:")
elif view.status == "waiting":
    st.warning(
        f"Statut : {status}, position {view.position}. Si une place se libère, elle vous est proposée par e-mail, "
        "à accepter avant une date limite.",
        icon=":material/hourglass_top:",
    )
else:
    st.info("Statut : inscription annulée.", icon=":material/cancel:")
    st.page_link("pages/meetings.py", label="S'inscrire de nouveau", icon=":material/event:")

with ui.read() as session:
    certificate = meetings.certificate_by_link(session, token)
if certificate is not None:
    st.download_button(
        "Télécharger mon attestation de présence (PDF)",
        certificate,
        file_name="attestation-de-presence.pdf",
        mime="application/pdf",
        icon=":material/workspace_premium:",
        key="registration_certificate",
    )

if view.can_cancel and view.status != "offered":  # an offer has its own « Je ne peux plus venir »
    st.divider()
    st.write(
        "Vous ne pourrez pas venir ? Annulez : votre place ira aussitôt à la première personne de la liste d'attente."
    )
    sure = st.checkbox("Je confirme vouloir annuler mon inscription", key="registration_sure")
    if st.button("Annuler mon inscription", disabled=not sure, key="registration_cancel", icon=":material/event_busy:"):
        ui.act(
            meetings.cancel_by_token,
            token,
            settings,
            success="Votre inscription est annulée. Un e-mail de confirmation vous est envoyé.",
            then=lambda _: ui.leave_link("registration"),
        )

st.divider()
st.caption("Sur un ordinateur partagé, quittez la page : elle ne s'ouvrira plus ici sans votre lien personnel.")
ui.quit_button("registration")
