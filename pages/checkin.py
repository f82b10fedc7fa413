"""Check-in on the day (often on a phone): find a confirmed person by name and mark them present."""

import streamlit as st

from pvd_survey import meetings, ui
from pvd_survey.errors import DomainError
from pvd_survey.meetings import ROLE_LABELS
from pvd_survey.models import paris_time

ui.guard("checkin")

st.title("Émargement")
with ui.read() as session:
    all_meetings = meetings.list_all(session)
if not all_meetings:
    st.info("Aucune rencontre pour l'instant.")
    st.page_link("pages/meetings_admin.py", label="Créer une rencontre", icon=":material/event_available:")
    st.stop()

by_id = {meeting.id: meeting for meeting in all_meetings}
choices = [meeting.id for meeting in meetings.order_for_check_in(all_meetings)]
try:
    from_url = meetings.meeting_in(st.query_params.get(meetings.MEETING_PARAMETER), all_meetings)
except DomainError:
    from_url = None  # a stale link: start from the meeting of the day
initial = from_url.id if from_url else choices[0]
meeting_id = st.selectbox(
    "Rencontre",
    choices,
    index=choices.index(initial),
    format_func=lambda i: f"{paris_time(by_id[i].starts_at, '%d/%m/%Y')} · {by_id[i].title}",
    key="checkin_meeting",
)
st.query_params[meetings.MEETING_PARAMETER] = str(meeting_id)

with ui.read() as session:
    lists = meetings.roster(session, meeting_id)
confirmed = len(lists.confirmed)
st.metric("Présents", f"{lists.present} / {confirmed}")
if confirmed:
    st.progress(lists.present / confirmed)

query = st.text_input("Rechercher un nom, une organisation ou une référence", key="checkin_query")
with ui.read() as session:
    found = meetings.search_attendees(session, meeting_id, query)
if query and not found:
    st.warning("Personne de la liste des inscrits confirmés ne correspond. Vérifiez l'orthographe.")
shown = found if query else found[:50]
for person in shown:
    with st.container(border=True):
        columns = st.columns([3, 1])
        columns[0].markdown(
            f"**{person.full_name}**  \n{ROLE_LABELS[person.attendee_role]} · {person.organisation or '—'} · "
            f"{person.reference}"
        )
        present = person.checked_in_at is not None
        label = "Présent ✓" if present else "Marquer présent"
        if columns[1].button(
            label, key=f"checkin_{person.id}", type="secondary" if present else "primary", width="stretch"
        ):
            ui.act(
                meetings.set_present,
                meeting_id,
                person.id,
                not present,
                success=f"{person.full_name} : " + ("présence annulée." if present else "présent(e)."),
            )
if not query and len(found) > len(shown):
    st.caption(f"{len(found) - len(shown)} autre(s) personne(s) : tapez un nom pour les trouver.")
