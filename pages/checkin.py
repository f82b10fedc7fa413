"""The door on the day (often a phone): scan tickets (a scanner or the camera), search a name, count arrivals.

The direction chooses the meeting and names its « accueil » team; a person of that team arrives through their
personal link, which opens this page for that one meeting.
"""

import re
from datetime import timedelta

import streamlit as st

from pvd_survey import access, exports, french, meetings, ui
from pvd_survey.errors import DomainError, french_message
from pvd_survey.meetings import ROLE_LABELS, ScanResult
from pvd_survey.models import paris_time

user, token = ui.guard_with_link("checkin")
settings = ui.settings()
RESULT_KEY, ERROR_KEY, PHOTO_KEY = "checkin_result", "checkin_error", "checkin_photo_seen"
DOOR_FORM = "checkin_door_form"  # naming the « accueil » team; its fields, by the names the service gives their errors
DOOR_LABELS = {"full_name": "Nom", "email": "E-mail"}


def _plain(text: str) -> str:
    """Text shown as is in Markdown (a name with * or _ stays a name)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~<])", r"\\\1", text)


st.title("Émargement")
if token is None:  # the direction: every meeting
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
    meeting = by_id[meeting_id]
else:  # a person of the « accueil » team: the meeting of their link
    try:
        with ui.read() as session:
            door = meetings.open_door_pass(session, token)
            meeting = meetings.get_meeting(session, door.meeting_id)
    except DomainError as error:
        ui.show_error(error)
        st.stop()
    meeting_id = meeting.id
    st.markdown(f"**{_plain(meeting.title)}**  \n{paris_time(meeting.starts_at, '%d/%m/%Y')} · {meeting.place_label}")
    st.caption(f"Accueil : {door.full_name}")

# Answers are kept with the meeting they were given for: switching meetings never shows another meeting's answer.
if st.session_state.get("checkin_answer_meeting") != meeting_id:
    st.session_state.pop(RESULT_KEY, None)
    st.session_state.pop(ERROR_KEY, None)


def _still_open() -> bool:
    """Whether this page may still be used: checked again by the parts that rerun alone (a scan, the counts)."""
    if token is None:  # the direction: its session may have ended since the page was drawn
        current = ui.current_user(touch=False)
        return access.can_view("checkin", current.role if current else None, setup_needed=False)
    try:  # a door link: the direction may have withdrawn it (a lost phone)
        with ui.read() as session:
            meetings.open_door_pass(session, token)
    except DomainError:
        return False
    return True


def _answer(action, *args) -> None:
    """Run a scan (or a check-in by name) and keep its answer for the page to show in large type."""
    if not _still_open():
        st.session_state[ERROR_KEY] = french_message(DomainError("invalid_door_link" if token else "login_required"))
        st.session_state.pop(RESULT_KEY, None)
        st.session_state["checkin_answer_meeting"] = meeting_id
        return
    try:
        with ui.write() as session:
            result = action(session, meeting_id, *args)
    except DomainError as error:  # (the database busy or unreachable: said, nothing recorded)
        st.session_state[ERROR_KEY] = french_message(error)
        st.session_state.pop(RESULT_KEY, None)
    else:
        st.session_state[RESULT_KEY] = result
        st.session_state.pop(ERROR_KEY, None)
    st.session_state["checkin_answer_meeting"] = meeting_id


def _scanned() -> None:
    # A scanner types the code then Enter: answer it, and empty the field for the next one.
    typed = st.session_state.get("checkin_scan", "")
    st.session_state["checkin_scan"] = ""
    if typed.strip():
        _answer(meetings.scan, typed)


@st.fragment(run_every=timedelta(seconds=5))
def _counts() -> None:
    # Live: the arrivals recorded by every device at the door show within 5 seconds. Kept apart from the scan
    # field: a refresh of the field's own part could take away a code a scanner is typing.
    if not _still_open():
        st.rerun(scope="app")  # the whole page, which then says why it is shut
    with ui.read() as session:
        counts = meetings.door_counts(session, meeting_id)
    st.metric(
        "Arrivées",
        f"{french.number(counts.arrived)} / {french.number(counts.expected)}",
        help="Personnes arrivées / inscrits confirmés",
    )
    if counts.expected:
        st.progress(min(1.0, counts.arrived / counts.expected))


@st.fragment
def _door() -> None:
    # A scan reruns this part only, not the name list below.
    st.text_input(
        "Code du billet",
        key="checkin_scan",
        on_change=_scanned,
        autocomplete="off",
        placeholder="Scannez le billet (douchette), ou tapez son code puis Entrée",
    )
    if st.toggle("Lire les billets avec l'appareil photo", key="checkin_use_camera"):
        photo = st.camera_input("Photographiez le code QR du billet", key="checkin_camera")
        if photo is not None and photo.file_id != st.session_state.get(PHOTO_KEY):
            st.session_state[PHOTO_KEY] = photo.file_id  # each photo is answered once, not at every rerun
            _answer(meetings.scan_photo, photo.getvalue())
    ui.show_flash("checkin")
    if st.session_state.get(ERROR_KEY):
        st.error(st.session_state[ERROR_KEY])
    result: ScanResult | None = st.session_state.get(RESULT_KEY)
    if result is None:
        return
    show = {"welcome": st.success, "already": st.warning}.get(result.outcome, st.error)
    who = f"\n### {_plain(result.full_name)}" if result.full_name else ""
    where = f"  \n{_plain(result.organisation)}" if result.organisation else ""
    show(f"## {result.headline}{who}{where}" + (f"\n\n{result.advice}" if result.advice else ""))
    undoable = result.admitted and result.registration_id is not None
    if undoable and st.button("Annuler cet enregistrement", key="checkin_undo", icon=":material/undo:"):
        ui.act(
            meetings.undo_check_in,
            meeting_id,
            result.registration_id,
            success=f"Arrivée de {result.full_name} annulée.",
            flash_at="checkin",
            then=lambda _: st.session_state.pop(RESULT_KEY, None),
        )


_counts()
_door()

st.subheader("Chercher un nom")
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
            f"**{_plain(person.full_name)}**  \n{ROLE_LABELS[person.attendee_role]} · "
            f"{_plain(person.organisation) or '—'} · {person.reference}"
        )
        present = person.checked_in_at is not None
        if present:
            if columns[1].button("Présent ✓", key=f"checkin_{person.id}", type="secondary", width="stretch"):
                ui.act(
                    meetings.undo_check_in,
                    meeting_id,
                    person.id,
                    success=f"{person.full_name} : présence annulée.",
                    flash_at="checkin",
                )
        elif columns[1].button("Marquer présent", key=f"checkin_{person.id}", type="primary", width="stretch"):
            _answer(meetings.check_in_by_hand, person.id)
            st.rerun()
if not query and len(found) > len(shown):
    st.caption(
        f"{french.count(len(found) - len(shown), 'autre personne', 'autres personnes')} : tapez un nom pour les "
        "trouver."
    )

with st.expander("Mode dégradé : si le réseau tombe", icon=":material/wifi_off:"):
    st.markdown(
        "La lecture des billets et la recherche par nom interrogent le serveur à chaque fois : sans réseau, elles "
        "s'arrêtent. **Avant l'ouverture des portes**, sur l'ordinateur ou le téléphone de l'accueil :\n"
        "1. imprimez la **feuille d'émargement** (une ligne à signer par inscrit confirmé, par ordre alphabétique) "
        "et gardez-la près de l'entrée ;\n"
        "2. la direction télécharge la **liste des inscrits** (CSV) : elle s'ouvre sans réseau et donne, pour "
        "chaque personne, la référence imprimée sur son billet, son statut (confirmée, liste d'attente, annulée) "
        "et ses besoins ;\n"
        "3. notez le numéro à appeler à la direction du programme.\n\n"
        "**Si le réseau tombe** : faites signer la feuille ; une personne absente de la feuille n'a pas de place "
        "confirmée (vérifiez son statut dans la liste). **Au retour du réseau** : pointez les présents d'après la "
        "feuille signée, par la recherche par nom ou en lisant les billets gardés, pour que les chiffres de "
        "présence soient justes."
    )
    with ui.read() as session:
        lists = meetings.roster(session, meeting_id)
    downloads = st.columns(2)
    ui.sign_in_sheet_button(downloads[0], lists, "checkin_sheet_pdf")
    if token is None:  # (with e-mails and needs: for the direction, not for a door link)
        ui.roster_button(downloads[1], lists, exports.CSV, "Liste des inscrits (CSV)", "checkin_csv")

if token is not None:  # on a computer lent for the day: the next person finds the door shut
    st.divider()
    ui.quit_button("checkin")
else:  # the direction names the « accueil » team of the meeting
    st.divider()
    st.subheader("Équipe d'accueil")
    st.caption(
        "Chaque personne nommée ici reçoit par e-mail un lien personnel qui ouvre cette page pour cette rencontre "
        "seulement, sans compte, jusqu'au lendemain de la rencontre. Retirez le lien d'un téléphone perdu."
    )
    ui.show_flash(DOOR_FORM)  # the confirmation, above the emptied form (with the focus)
    with st.form(DOOR_FORM):  # (emptied after a success only: a refused form keeps what was typed)
        ui.form_errors(DOOR_FORM, DOOR_LABELS)
        columns = st.columns(2)
        with columns[0]:
            name = st.text_input(DOOR_LABELS["full_name"], key="checkin_door_name")
            ui.field_error(DOOR_FORM, "full_name")
        with columns[1]:
            email = st.text_input(DOOR_LABELS["email"], key="checkin_door_email")
            ui.field_error(DOOR_FORM, "email")
        if st.form_submit_button("Envoyer le lien d'accueil", icon=":material/forward_to_inbox:"):
            # Every problem at once, under its field and listed at the top, the focus on the first.
            ui.submit_form(
                DOOR_FORM,
                meetings.name_door_keeper,
                meeting_id,
                name,
                email,
                settings,
                success=f"Lien d'accueil envoyé à {email.strip()}.",
                then=lambda _: [st.session_state.pop(key, None) for key in ("checkin_door_name", "checkin_door_email")],
                flash_at=DOOR_FORM,
            )
    with ui.read() as session:
        keepers = meetings.door_keepers(session, meeting_id)
    for keeper in keepers:
        columns = st.columns([3, 1])
        state = f"retiré le {paris_time(keeper.revoked_at, '%d/%m à %H:%M')}" if keeper.revoked_at else "lien actif"
        columns[0].markdown(f"{_plain(keeper.full_name)} · {_plain(keeper.email)} · {state}")
        if keeper.revoked_at is None and columns[1].button("Retirer", key=f"checkin_revoke_{keeper.id}"):
            ui.act(
                meetings.revoke_door_pass,
                meeting_id,
                keeper.id,
                success=f"Le lien d'accueil de {keeper.full_name} n'ouvre plus rien.",
                flash_at=DOOR_FORM,
            )
