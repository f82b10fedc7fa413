"""The direction's meetings: create and edit, lists (confirmed, waiting, cancelled), exports, sign-in sheet."""

from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from pvd_survey import exports, french, meetings, territory, ui
from pvd_survey.clock import from_paris_parts, paris_from_utc, paris_time, utcnow
from pvd_survey.errors import DomainError, errors_by_field
from pvd_survey.meetings import KIND_LABELS, ROLE_LABELS, MeetingForm
from pvd_survey.models import ATTENDEE_ROLES, MEETING_KINDS

ui.guard("meetings_admin")
settings = ui.settings()
NEW = 0

st.title("Organiser les rencontres")

with ui.read() as session:
    all_meetings = meetings.list_all(session)
by_id = {meeting.id: meeting for meeting in all_meetings}


def seats(meeting: meetings.MeetingInfo) -> str:
    """Confirmed over capacity, the French way (« 1 200/2 000 »)."""
    return f"{french.number(meeting.confirmed)}/{french.number(meeting.capacity)}"


# The meeting of the address (?rencontre=<id>) stays chosen whatever its label becomes (its seats change it).
selected = ui.choose_record(
    "Rencontre",
    {i: f"{paris_time(m.starts_at, '%d/%m/%Y')} · {m.title} ({seats(m)})" for i, m in by_id.items()},
    meetings.MEETING_PARAMETER,
    "meetings_admin_selected",
    unknown="unknown_meeting",
    new_label="➕ Nouvelle rencontre",
    placeholder="Choisissez une rencontre",
)
if selected is None:
    st.stop()


def local(moment: datetime | None, default: datetime) -> datetime:
    """A stored time as Paris local time, or a default."""
    return paris_from_utc(moment) if moment else default


# The fields that can be wrong, in the form's order, by the names the service gives their errors.
LABELS = {
    "title": "Titre",
    "city": "Ville",
    "online_url": "Lien de visioconférence",
    "ends_at": "Fin",
    "capacity": "Nombre de places",
    "registration_opens_at": "Inscriptions : ouverture",
    "registration_closes_at": "Inscriptions : clôture",
    "audiences": "Publics admis",
}


def meeting_form(key: str, initial: MeetingForm | None) -> MeetingForm | None:
    """The meeting form; returns the typed meeting when submitted."""
    now = paris_from_utc(utcnow()).replace(second=0, microsecond=0)
    today = now.date()
    start_default = datetime.combine(today + timedelta(days=30), time(9, 30))
    start = local(initial.starts_at if initial else None, start_default)
    end = local(initial.ends_at if initial else None, start.replace(hour=17, minute=0))
    # Registrations open now by default (to the quarter of an hour before, the time widget's step).
    opens = local(initial.registration_opens_at if initial else None, now.replace(minute=now.minute // 15 * 15))
    closes = local(initial.registration_closes_at if initial else None, start - timedelta(days=2))
    form_key = f"meetings_admin_form_{key}"
    with st.form(form_key):
        ui.form_errors(form_key, LABELS)
        title = st.text_input("Titre", value=initial.title if initial else "", max_chars=200)
        ui.field_error(form_key, "title")
        columns = st.columns(2)
        kind = columns[0].selectbox(
            "Type",
            MEETING_KINDS,
            index=MEETING_KINDS.index(initial.kind) if initial else 0,
            format_func=KIND_LABELS.get,
        )
        region_choices = [None, *territory.REGIONS]
        region = columns[1].selectbox(
            "Région",
            region_choices,
            index=region_choices.index(initial.region) if initial else 0,
            format_func=lambda r: "Nationale (toutes régions)" if r is None else territory.REGIONS[r],
        )
        columns = st.columns(2)
        city = columns[0].text_input("Ville", value=initial.city if initial else "", max_chars=120)
        venue = columns[1].text_input("Lieu (adresse, salle)", value=initial.venue if initial else "", max_chars=300)
        ui.field_error(form_key, "city")
        online_url = st.text_input(
            "Lien de visioconférence (facultatif)", value=(initial.online_url or "") if initial else "", max_chars=500
        )
        ui.field_error(form_key, "online_url")
        columns = st.columns(4)
        start_day = ui.date_input("Début (jour)", place=columns[0], value=start.date())
        start_time = columns[1].time_input("Début (heure)", value=start.time(), step=900)
        end_day = ui.date_input("Fin (jour)", place=columns[2], value=end.date())
        end_time = columns[3].time_input("Fin (heure)", value=end.time(), step=900)
        ui.field_error(form_key, "ends_at")
        capacity = st.number_input(
            "Nombre de places", min_value=1, max_value=100_000, step=1, value=initial.capacity if initial else 60
        )
        ui.field_error(form_key, "capacity")
        columns = st.columns(4)
        opens_day = ui.date_input("Inscriptions : ouverture", place=columns[0], value=opens.date())
        opens_time = columns[1].time_input("à", value=opens.time(), step=900, key=f"{form_key}_opens_time")
        closes_day = ui.date_input("Inscriptions : clôture", place=columns[2], value=closes.date())
        closes_time = columns[3].time_input("à ", value=closes.time(), step=900, key=f"{form_key}_closes_time")
        ui.field_error(form_key, "registration_opens_at")
        ui.field_error(form_key, "registration_closes_at")
        audiences = ui.multiselect(
            "Publics admis",
            ATTENDEE_ROLES,
            default=list(initial.audiences) if initial else ["chef_de_projet", "elu", "partenaire"],
            format_func=ROLE_LABELS.get,
        )
        ui.field_error(form_key, "audiences")
        description = st.text_area(
            "Description (programme, accès…)", value=initial.description if initial else "", height=120
        )
        submitted = st.form_submit_button(
            "Enregistrer" if initial else "Créer la rencontre", type="primary", icon=":material/save:"
        )
    ui.show_flash(form_key)  # the outcome of the last submission, under the button
    if not submitted:
        return None
    return MeetingForm(
        title=title,
        kind=kind,
        region=region,
        city=city,
        venue=venue,
        online_url=online_url.strip() or None,
        starts_at=from_paris_parts(start_day, start_time),
        ends_at=from_paris_parts(end_day, end_time),
        capacity=int(capacity),
        registration_opens_at=from_paris_parts(opens_day, opens_time),
        registration_closes_at=from_paris_parts(closes_day, closes_time),
        audiences=tuple(audiences),
        description=description,
    )


def save(key: str, form: MeetingForm, meeting_id: int | None) -> None:
    """Create or update, then show the outcome."""
    form_key = f"meetings_admin_form_{key}"
    try:
        with ui.write() as session:
            if meeting_id is None:
                new_id = meetings.create_meeting(session, form)
                outcome = meetings.MeetingUpdate([], 0)
            else:
                new_id = meeting_id
                outcome = meetings.update_meeting(session, meeting_id, form, settings)
    except DomainError as error:
        # Every problem at once, under its field and listed at the top of the form, the focus on the first.
        ui.remember_field_errors(form_key, errors_by_field(error))
    else:
        ui.remember_field_errors(form_key, None)
        message = "Rencontre créée." if meeting_id is None else "Rencontre enregistrée."
        if outcome.promoted:
            message += (
                f" {len(outcome.promoted)} personne(s) passent de la liste d'attente aux inscrits et sont prévenues."
            )
        if outcome.notified:
            message += f" Nouvel horaire ou lieu : {outcome.notified} personne(s) prévenue(s) par e-mail."
        # A new meeting is shown from its top (the form was long): its confirmation is there.
        ui.flash(message, place="meetings_admin_created" if meeting_id is None else form_key, focus=True)
        ui.select_record(meetings.MEETING_PARAMETER, new_id)
    st.rerun()


def people_frame(people: list[meetings.AttendeeInfo], waiting: bool = False) -> pd.DataFrame:
    """A list of people as a table."""
    frame = pd.DataFrame(
        {
            # Text: someone offered a place has left the line (no position), and an empty cell would read « None ».
            "Position": ["—" if p.position is None else str(p.position) for p in people],
            "Nom": [p.full_name for p in people],
            "E-mail": [p.email for p in people],
            "Profil": [ROLE_LABELS[p.attendee_role] for p in people],
            "Organisation": [p.organisation for p in people],
            "Département": [p.department or "" for p in people],
            "Besoins": [p.needs for p in people],
            "Inscrit le": [paris_time(p.registered_at) for p in people],
            "Référence": [p.reference for p in people],
            "Offre": [p.offer for p in people],  # a waiting-list offer's state: « Place proposée jusqu'au … »
        }
    )
    if not any(p.offer for p in people):
        frame = frame.drop(columns="Offre")
    return frame if waiting else frame.drop(columns="Position")


if selected == NEW:
    st.subheader("Nouvelle rencontre")
    typed = meeting_form("new", None)
    if typed is not None:
        save("new", typed, None)
    st.stop()

with ui.read() as session:
    lists = meetings.roster(session, selected)
meeting = lists.meeting
ui.show_flash("meetings_admin_created", into_view=True)
st.subheader(meeting.title)
st.caption(
    f"{KIND_LABELS[meeting.kind]} · {meeting.region_label} · "
    f"{paris_time(meeting.starts_at)} – {paris_time(meeting.ends_at, '%H:%M')} · {meeting.place_label}"
)
st.code(meetings.meeting_link(settings, meeting.id), language=None)
st.caption("Lien public de la rencontre, à partager.")
metrics = st.columns(4)
metrics[0].metric("Confirmés", f"{french.number(meeting.confirmed)} / {french.number(meeting.capacity)}")
metrics[1].metric("Liste d'attente", french.number(meeting.waiting))
metrics[2].metric("Annulations", french.number(len(lists.cancelled)))
metrics[3].metric("Présents", french.number(lists.present))
if meeting.offered:
    held = french.count(
        meeting.offered,
        "place libérée proposée à la liste d'attente, réservée",
        "places libérées proposées à la liste d'attente, réservées",
    )
    st.caption(f"{held} jusqu'à la réponse ou la date limite (onglet « Liste d'attente »).")

downloads = st.columns(4)
for place, fmt, label in (
    (downloads[0], exports.CSV, "Liste (CSV)"),
    (downloads[1], exports.XLSX, "Liste (Excel)"),
    (downloads[3], exports.CSV_TOOLS, exports.TOOLS_LABEL),
):
    ui.roster_button(place, lists, fmt, label, f"meetings_admin_{fmt}")
ui.sign_in_sheet_button(downloads[2], lists, "meetings_admin_pdf")

if utcnow() >= meeting.ends_at:  # after the meeting: the attendance certificates of the people marked present
    with ui.read() as session:
        certificates = meetings.certificate_counts(session, meeting.id)
    st.markdown(
        f"**Attestations de présence** : {certificates.sent} envoyée(s) sur {certificates.present} personne(s) "
        "marquée(s) présente(s). Chacune ne part qu'une fois ; les absents n'en reçoivent pas."
    )
    if certificates.to_send and st.button(
        f"Envoyer les attestations ({certificates.to_send})", key="meetings_admin_certificates", icon=":material/send:"
    ):
        try:
            with ui.read() as session:
                due = meetings.certificates_to_send(session, meeting.id)
            progress = st.progress(0.0, text="Envoi des attestations…")
            sent = 0
            for done, registration_id in enumerate(due, start=1):
                with ui.write() as session:  # one person at a time: a pass cut short leaves nothing half done
                    sent += meetings.send_certificate(session, meeting.id, registration_id, settings)
                progress.progress(done / len(due), text=f"{done} / {len(due)}")
        except DomainError as error:
            ui.show_error(error)
        else:
            ui.flash(f"{sent} attestation(s) de présence envoyée(s).")
            st.rerun()

# Labels that no action changes (the counts are in the metrics above): the tab in use stays open after an action,
# with its confirmation.
tabs = st.tabs(["Inscrits", "Liste d'attente", "Annulations", "Modifier"])
with tabs[0]:
    if lists.confirmed:
        st.dataframe(people_frame(lists.confirmed), hide_index=True, width="stretch", key="meetings_admin_confirmed")
    else:
        st.info("Personne n'est encore inscrit.")
with tabs[1]:
    if lists.waiting:
        st.caption(
            "Dans l'ordre d'arrivée : une place libérée est proposée par e-mail à la première personne, qui a "
            f"jusqu'à la date limite pour l'accepter. {meetings.offer_rule(settings)}"
        )
        st.dataframe(
            people_frame(lists.waiting, waiting=True), hide_index=True, width="stretch", key="meetings_admin_waiting"
        )
    else:
        st.info("Liste d'attente vide.")
    active = lists.confirmed + lists.waiting
    if active:
        st.markdown("**Annuler une inscription** (la personne est prévenue par e-mail)")
        columns = st.columns([3, 1])
        person_id = columns[0].selectbox(
            "Personne",
            [p.id for p in active],
            format_func=lambda i: next(f"{p.full_name} ({p.email})" for p in active if p.id == i),
            index=None,
            placeholder="Choisissez une personne",
            key="meetings_admin_cancel_person",
            label_visibility="collapsed",
        )
        if columns[1].button("Annuler", disabled=person_id is None, key="meetings_admin_cancel"):
            ui.act(
                meetings.cancel_by_direction,
                meeting.id,
                person_id,
                settings,
                success=lambda promoted: (
                    "Inscription annulée."
                    + (" La place est proposée à la première personne en attente." if promoted else "")
                ),
                flash_at="meetings_admin_cancel",
            )
    ui.show_flash("meetings_admin_cancel")
with tabs[2]:
    if lists.cancelled:
        frame = people_frame(lists.cancelled).assign(
            **{"Annulé le": [paris_time(p.cancelled_at) for p in lists.cancelled]}
        )
        st.dataframe(frame, hide_index=True, width="stretch", key="meetings_admin_cancelled")
    else:
        st.info("Aucune annulation.")
with tabs[3]:
    typed = meeting_form(str(meeting.id), meeting.form())
    if typed is not None:
        save(str(meeting.id), typed, meeting.id)
