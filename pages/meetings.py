"""Public list of upcoming meetings (by region, with places left) and a meeting's page with its registration form."""

import streamlit as st

from pvd_survey import french, meetings, territory, ui
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.errors import DomainError
from pvd_survey.meetings import KIND_LABELS, ROLE_LABELS, RegistrationForm

ui.guard("meetings")
settings = ui.settings()
FORM = "meetings_form"
# The registration form's fields, in its order, by the names the services give their errors.
LABELS = {
    "full_name": "Prénom et nom",
    "email": "Adresse e-mail",
    "attendee_role": "Vous êtes",
    "organisation": "Organisation ou commune",
    "department": "Département (facultatif)",
    "needs": "Besoins particuliers (facultatif)",
    "consent": "J'ai lu et j'accepte la notice ci-dessus",
}
PAGE_SIZE = 20  # meetings listed at once, soonest first


def when(meeting: meetings.MeetingInfo) -> str:
    """Date and hours in Paris time."""
    return f"{paris_time(meeting.starts_at, '%d/%m/%Y, %H:%M')} – {paris_time(meeting.ends_at, '%H:%M')}"


def places(meeting: meetings.MeetingInfo) -> str:
    """Places left, or the waiting list."""
    if meeting.places_left > 0:
        left = french.count(meeting.places_left, "place restante", "places restantes")
        return f"{left} sur {french.number(meeting.capacity)}"
    return f"Complet : liste d'attente ({french.count(meeting.waiting, 'personne')})"


def show_list() -> None:
    """Upcoming meetings, soonest first, filtered by region."""
    st.title("Rencontres du programme")
    st.write(
        "Rencontres régionales, ateliers et webinaires des chefs de projet, élus et partenaires "
        "Petites villes de demain. L'inscription est gratuite ; les places sont limitées."
    )
    region_param = st.query_params.get("region")
    choices = [None, *territory.REGIONS]
    region = st.selectbox(
        "Région",
        choices,
        index=choices.index(region_param) if region_param in choices else 0,
        format_func=lambda r: "Toutes les régions" if r is None else territory.REGIONS[r],
        key="meetings_region",
    )
    if region:
        st.query_params["region"] = region
    else:
        st.query_params.pop("region", None)
    shown = st.session_state.get("meetings_shown", PAGE_SIZE)
    with ui.read() as session:
        upcoming = meetings.list_upcoming(session, region, limit=shown + 1)
    more = len(upcoming) > shown
    upcoming = upcoming[:shown]
    now = utcnow()
    count = (
        f"{french.number(len(upcoming))} premières rencontres à venir"
        if more
        else f"{french.count(len(upcoming), 'rencontre')} à venir"
    )
    st.caption(count + (" (rencontres nationales comprises)." if region else "."))
    if not upcoming:
        st.info("Aucune rencontre à venir pour l'instant. Revenez bientôt.")
    for meeting in upcoming:
        with st.container(border=True):
            st.markdown(f"**{meeting.title}**")
            st.caption(
                f"{KIND_LABELS[meeting.kind]} · {meeting.region_label} · {when(meeting)} · {meeting.place_label}"
            )
            state = meeting.registration_state(now)
            status = {
                "open": places(meeting),
                "not_open": f"Inscriptions à partir du {paris_time(meeting.registration_opens_at)}",
                "closed": "Inscriptions closes",
            }[state]
            columns = st.columns([3, 1])
            columns[0].write(status)
            if columns[1].button("Voir et s'inscrire", key=f"meetings_open_{meeting.id}", width="stretch"):
                st.query_params[meetings.MEETING_PARAMETER] = str(meeting.id)
                st.rerun()
    if more and st.button("Afficher plus de rencontres", key="meetings_more", icon=":material/expand_more:"):
        st.session_state["meetings_shown"] = shown + PAGE_SIZE
        st.rerun()


def show_meeting(raw_id: str) -> None:
    """One meeting's page (shareable URL) and its registration form."""
    if st.button("Toutes les rencontres", icon=":material/arrow_back:", key="meetings_back"):
        st.query_params.pop(meetings.MEETING_PARAMETER, None)
        st.rerun()
    try:
        with ui.read() as session:
            meeting = meetings.get_meeting(session, meetings.parse_meeting_id(raw_id))
    except DomainError as error:
        ui.show_error(error)
        return
    st.title(meeting.title)
    st.caption(f"{KIND_LABELS[meeting.kind]} · {meeting.region_label}")
    st.markdown(f"**Quand** : {when(meeting)} (heure de Paris)  \n**Où** : {meeting.place_label or 'à préciser'}")
    if meeting.description:
        st.markdown(meeting.description)
    st.caption("Public : " + ", ".join(ROLE_LABELS[code].lower() for code in meeting.audiences) + ".")
    state = meeting.registration_state(utcnow())
    if state != "open":
        ui.show_error(
            DomainError("registration_closed")
            if state == "closed"
            else DomainError("registration_not_open", opens=paris_time(meeting.registration_opens_at))
        )
        return
    places_line = st.empty()
    places_line.info(places(meeting), icon=":material/event_seat:")
    done = st.session_state.get(f"meetings_done_{meeting.id}")
    if done:
        show_done(meeting, done)
        return
    form_area = st.empty()
    with form_area.container():
        outcome = registration_form(meeting)
    if outcome is not None:
        # Drawn in this run, in place of the form (a rerun would run the whole page again for the same screen).
        st.session_state[f"meetings_done_{meeting.id}"] = outcome
        form_area.empty()
        with ui.read() as session:
            places_line.info(places(meetings.get_meeting(session, meeting.id)), icon=":material/event_seat:")
        show_done(meeting, outcome)


def show_done(meeting: meetings.MeetingInfo, outcome: meetings.RegistrationOutcome) -> None:
    """The outcome of a registration (the focus and the screen on it), and a way to register someone else."""
    ui.focus_on("meetings_outcome")
    with st.container(key="meetings_outcome"):
        show_outcome(outcome)
    if st.button("Inscrire une autre personne", key="meetings_another"):
        st.session_state.pop(f"meetings_done_{meeting.id}")
        st.rerun()


def show_outcome(outcome: meetings.RegistrationOutcome) -> None:
    """What the person needs to know after submitting."""
    if outcome.already_registered:
        st.warning(
            f"Vous étiez déjà inscrit(e) avec l'adresse {outcome.email} (référence {outcome.reference}). "
            "Nous vous avons renvoyé la confirmation par e-mail, avec un nouveau lien personnel."
        )
    if outcome.status == "confirmed":
        st.success(
            f"Inscription confirmée. Référence : **{outcome.reference}**. Un e-mail de confirmation part vers "
            f"{outcome.email}, avec l'invitation pour votre agenda et le lien pour annuler si besoin."
        )
    elif outcome.status == "offered":  # registered before: a freed place is offered to them right now
        st.warning(
            f"Une place libérée vous est proposée (référence {outcome.reference}) : l'e-mail envoyé à {outcome.email} "
            "dit jusqu'à quand elle vous est réservée, avec les liens « J'accepte » et « Je ne peux plus venir »."
        )
    else:
        st.warning(
            f"La rencontre est complète : vous êtes sur la liste d'attente, en position **{outcome.position}** "
            f"(référence {outcome.reference}). Si une place se libère, elle vous est proposée par e-mail à "
            f"{outcome.email}, à accepter avant une date limite."
        )


def registration_form(meeting: meetings.MeetingInfo) -> meetings.RegistrationOutcome | None:
    """Name, e-mail, profile, organisation, department, needs, consent; the outcome once registered."""
    st.subheader("S'inscrire")
    with st.form(FORM):
        ui.form_errors(FORM, LABELS)
        st.text_input(LABELS["full_name"], max_chars=200, key="meetings_full_name")
        ui.field_error(FORM, "full_name")
        st.text_input(LABELS["email"], max_chars=320, key="meetings_email", placeholder="prenom.nom@mairie.fr")
        ui.field_error(FORM, "email")
        st.selectbox(
            LABELS["attendee_role"],
            list(meeting.audiences),
            format_func=ROLE_LABELS.get,
            index=None,
            placeholder="Choisissez votre profil",
            key="meetings_role",
        )
        ui.field_error(FORM, "attendee_role")
        st.text_input(LABELS["organisation"], max_chars=200, key="meetings_organisation")
        ui.field_error(FORM, "organisation")
        ui.department_select(LABELS["department"], "meetings_department")
        ui.field_error(FORM, "department")
        st.text_area(
            LABELS["needs"],
            max_chars=2000,
            placeholder="Accessibilité, régime alimentaire…",
            key="meetings_needs",
        )
        ui.field_error(FORM, "needs")
        st.markdown(
            "**Vos données.** Elles servent à organiser la rencontre (liste des inscrits, émargement, "
            "e-mails de confirmation et de rappel). Seule la direction du programme (ANCT) les voit ; "
            "les chiffres de participation publiés sont anonymes. Elles sont anonymisées un an après la "
            "rencontre. Vous pouvez annuler à tout moment avec le lien reçu par e-mail, et demander l'accès "
            "à vos données ou leur effacement à la direction du programme."
        )
        st.checkbox(LABELS["consent"], key="meetings_consent")
        ui.field_error(FORM, "consent")
        submitted = st.form_submit_button("M'inscrire", type="primary", icon=":material/how_to_reg:")
    if not submitted:
        return None
    state = st.session_state
    form = RegistrationForm(
        full_name=state.get("meetings_full_name") or "",
        email=state.get("meetings_email") or "",
        attendee_role=state.get("meetings_role") or "",
        organisation=state.get("meetings_organisation") or "",
        department=state.get("meetings_department"),
        needs=state.get("meetings_needs") or "",
        consent=bool(state.get("meetings_consent")),
    )
    # Every problem at once, under its field and listed at the top (the meeting closed meanwhile: at the top);
    # once registered, the outcome is drawn in this run, in place of the form.
    return ui.submit_form(FORM, meetings.register, meeting.id, form, settings, rerun=False)


meeting_param = st.query_params.get(meetings.MEETING_PARAMETER)
if meeting_param is not None:
    show_meeting(meeting_param)
else:
    show_list()
