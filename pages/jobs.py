"""The public job board: published chef de projet postings, filters, a posting's page (?offre=<id>) and applying."""

import streamlit as st

from pvd_survey import accounts, french, recruitment, territory, ui
from pvd_survey.errors import DomainError
from pvd_survey.recruitment import ApplicationInput, Upload

ui.guard("jobs")
settings = ui.settings()

st.title("Offres d'emploi")

# Postings past their deadline close by themselves: a cheap read first, a write only when one is due.
with ui.read() as session:
    due = recruitment.expired_postings_exist(session)
if due:
    with ui.write() as session:
        recruitment.close_expired_postings(session, settings)


def show_posting(posting: recruitment.PostingInfo) -> None:
    """A posting's full text (the description is sanitised Markdown)."""
    st.header(posting.title)
    st.write(
        f"**{posting.organisation_name}** ({accounts.ORGANISATION_KIND_LABELS[posting.employer_kind]}) · "
        f"{posting.place_label}"
    )
    facts = [
        f"**Contrat** : {posting.contract_label}",
        f"**Temps de travail** : {recruitment.WORKING_TIME_LABELS[posting.working_time]}",
        f"**Communes PVD concernées** : {', '.join(posting.communes)}",
        f"**Date limite de candidature** : {posting.deadline:%d/%m/%Y}",
    ]
    if posting.start_date:
        facts.append(f"**Prise de poste souhaitée** : {posting.start_date:%d/%m/%Y}")
    if posting.salary_label:
        facts.append(f"**Rémunération** : {posting.salary_label}")
    st.markdown("\n".join(f"- {fact}" for fact in facts))
    if posting.description:
        st.subheader("Le poste")
        st.html(recruitment.render_markdown(posting.description))
    st.subheader("Missions")
    st.html(recruitment.render_markdown(posting.missions))
    st.info(posting.cofunding_label, icon=":material/euro:")


FORM = "jobs_apply"
# The application form's fields, in its order, by the names the services give their errors.
LABELS = {
    "full_name": "Nom et prénom",
    "email": "Adresse e-mail",
    "phone": "Téléphone (facultatif)",
    "cv": "CV (PDF, 5 Mo au plus)",
    "letter": "Lettre de motivation (PDF, 5 Mo au plus, facultative)",
    "consent_privacy": "J'ai lu la notice de confidentialité et j'accepte ce traitement.",
}
APPLIED_KEY = "jobs_applied"  # (posting, reference, e-mail) of the application just sent from this tab


def show_confirmation(posting: recruitment.PostingInfo, reference: str, email: str) -> None:
    """What replaces the application form once it is sent: the reference and what happens next."""
    ui.focus_on("jobs_confirmation")  # at the top of the screen
    with st.container(key="jobs_confirmation"):
        st.success(f"Candidature envoyée. Votre référence : {reference}.", icon=":material/check_circle:")
        st.markdown(
            f"Votre candidature au poste « {posting.title} » ({posting.organisation_name}) est enregistrée.\n\n"
            "**La suite**\n"
            f"- Un e-mail part vers **{email}** avec votre lien personnel : il permet de suivre votre candidature, "
            "de la compléter ou de la retirer. Gardez-le (et regardez dans les indésirables s'il n'arrive pas).\n"
            f"- {posting.organisation_name} examine les candidatures reçues jusqu'au {posting.deadline:%d/%m/%Y}. "
            "Vous êtes prévenu·e par e-mail de la réponse, ou si le poste est pourvu ou n'accepte plus de "
            "candidatures.\n"
            f"- Rappelez la référence **{reference}** si vous écrivez à l'employeur."
        )


def apply_form(posting: recruitment.PostingInfo) -> None:
    """The application form, its privacy notice, and what happens after sending."""
    st.subheader("Postuler")
    with st.expander("Notice de confidentialité", icon=":material/lock:"):
        st.markdown(
            f"- **Finalité** : examiner votre candidature au poste « {posting.title} ».\n"
            f"- **Destinataires** : uniquement l'employeur de ce poste ({posting.organisation_name}). "
            "Vos documents ne sont accessibles par aucune adresse publique.\n"
            "- **Durée de conservation** : trois mois après la clôture ou le recrutement, puis suppression ; "
            "deux ans après le dernier contact si vous acceptez d'être contacté·e pour d'autres postes.\n"
            "- Vous pouvez retirer votre candidature à tout moment avec le lien personnel reçu par e-mail : vos "
            "données et vos documents sont alors supprimés."
        )
    with st.form(FORM, clear_on_submit=False):
        ui.form_errors(FORM, LABELS)
        name = st.text_input(LABELS["full_name"], key="jobs_name")
        ui.field_error(FORM, "full_name")
        email = st.text_input(LABELS["email"], key="jobs_email")
        ui.field_error(FORM, "email")
        phone = st.text_input(LABELS["phone"], key="jobs_phone", placeholder="06 12 34 56 78")
        ui.field_error(FORM, "phone")
        cv = ui.file_upload(LABELS["cv"], "pdf", key="jobs_cv")
        ui.field_error(FORM, "cv")
        letter = ui.file_upload(LABELS["letter"], "pdf", key="jobs_letter")
        ui.field_error(FORM, "letter")
        letter_text = st.text_area("ou lettre de motivation (texte, facultatif)", key="jobs_letter_text")
        consent = st.checkbox(LABELS["consent_privacy"], key="jobs_consent")
        ui.field_error(FORM, "consent_privacy")
        contact = st.checkbox(
            "J'accepte d'être contacté·e pour d'autres postes de chef de projet PVD (facultatif).", key="jobs_contact"
        )
        sent = st.form_submit_button("Envoyer ma candidature", type="primary")
    if sent:
        data = ApplicationInput(
            full_name=name,
            email=email,
            phone=phone,
            cv=Upload(cv.name, cv.getvalue()) if cv is not None else None,
            letter=Upload(letter.name, letter.getvalue()) if letter is not None else None,
            letter_text=letter_text,
            consent_privacy=consent,
            consent_contact=contact,
        )

        def sent_off(receipt: recruitment.ApplicationReceipt) -> None:
            st.session_state.pop("jobs_duplicate", None)
            # The next run shows the confirmation instead of the form (whose fields and PDF go with it).
            st.session_state[APPLIED_KEY] = (posting, receipt.reference, receipt.email)

        def refused(error: DomainError) -> None:
            if error.code == "already_applied":
                st.session_state["jobs_duplicate"] = (posting.id, email)

        # Every problem at once, under its field and listed at the top, the focus on the first.
        ui.submit_form(FORM, recruitment.apply, posting.id, data, settings, then=sent_off, refused=refused)
    duplicate = st.session_state.get("jobs_duplicate")
    if (
        duplicate
        and duplicate[0] == posting.id
        and st.button("M'envoyer un lien pour mettre à jour ma candidature", key="jobs_resend")
    ):
        ui.act(
            recruitment.resend_application_link,
            posting.id,
            duplicate[1],
            settings,
            success="Si une candidature existe pour cette adresse, un nouveau lien personnel vient d'y être envoyé.",
            then=lambda _: st.session_state.pop("jobs_duplicate", None),
        )


posting_id = st.query_params.get(recruitment.POSTING_PARAMETER)
if posting_id:
    applied = st.session_state.get(APPLIED_KEY)
    if applied is not None and str(applied[0].id) == posting_id:
        # Just sent: the confirmation, first on the page (at the top of the screen), in place of the form.
        show_confirmation(*applied)
        if st.button("Voir les autres offres", key="jobs_back_after_applying", icon=":material/arrow_back:"):
            del st.query_params[recruitment.POSTING_PARAMETER]
            st.session_state.pop(APPLIED_KEY, None)
            st.rerun()
        st.stop()
    if st.button("Toutes les offres", key="jobs_back", icon=":material/arrow_back:"):
        del st.query_params[recruitment.POSTING_PARAMETER]
        st.rerun()
    try:
        with ui.read() as session:
            posting = recruitment.get_public_posting(session, posting_id)
    except DomainError as error:
        ui.show_error(error)
        st.stop()
    show_posting(posting)
    apply_form(posting)
    st.stop()

# Filters start from the URL (a filtered list can be shared), are checked, and are written back to it.
URL_KEYS = {"region": "region", "department": "departement", "contract": "contrat", "employer_kind": "employeur"}
URL_KEYS |= {"keyword": "q", "sort": "tri"}
try:
    initial = recruitment.make_board_filters(**{name: st.query_params.get(key) for name, key in URL_KEYS.items()})
except DomainError as error:
    ui.show_error(error)
    st.caption("Les filtres de l'adresse ont été ignorés.")
    initial = recruitment.BoardFilters()


def start_index(choices: list, value) -> int:
    """Position of the URL's value among the choices (the first, 'all', if absent)."""
    return choices.index(value) if value in choices else 0


ALL = None
columns = st.columns(3)
region_choices = [ALL, *territory.REGIONS]
region = columns[0].selectbox(
    "Région",
    region_choices,
    index=start_index(region_choices, initial.region),
    format_func=lambda r: "Toutes" if r is None else territory.REGIONS[r],
    key="jobs_region",
)
departments = territory.departments_of_region(region) if region else list(territory.DEPARTMENTS)
department_choices = [ALL, *departments]
department = columns[1].selectbox(
    "Département",
    department_choices,
    index=start_index(department_choices, initial.department),
    format_func=lambda d: "Tous" if d is None else territory.department_label(d),
    key="jobs_department",
)
contract_choices = [ALL, *recruitment.CONTRACT_LABELS]
contract = columns[2].selectbox(
    "Contrat",
    contract_choices,
    index=start_index(contract_choices, initial.contract),
    format_func=lambda c: "Tous" if c is None else recruitment.CONTRACT_LABELS[c],
    key="jobs_contract",
)
columns = st.columns(3)
employer_choices = [ALL, *accounts.ORGANISATION_KIND_LABELS]
employer = columns[0].selectbox(
    "Employeur",
    employer_choices,
    index=start_index(employer_choices, initial.employer_kind),
    format_func=lambda e: "Tous" if e is None else accounts.ORGANISATION_KIND_LABELS[e],
    key="jobs_employer",
)
keyword = columns[1].text_input("Mot-clé (titre ou description)", value=initial.keyword or "", key="jobs_keyword")
sort_choices = ["published", "deadline"]
sort = columns[2].selectbox(
    "Trier par",
    sort_choices,
    index=start_index(sort_choices, initial.sort),
    format_func={"published": "Publication la plus récente", "deadline": "Date limite la plus proche"}.get,
    key="jobs_sort",
)
try:
    filters = recruitment.make_board_filters(region, department, contract, employer, keyword, sort)
except DomainError as error:
    ui.show_error(error)
    st.stop()
wanted = {key: getattr(filters, name) for name, key in URL_KEYS.items()}
wanted["tri"] = None if filters.sort == "published" else filters.sort
st.query_params.from_dict({key: value for key, value in wanted.items() if value})
page_number = st.session_state.get("jobs_page", 1)
# The same for every visitor: read again only once a posting changed (or the day did).
board = ui.shared_read(
    recruitment.board_version,
    recruitment.list_published,
    filters,
    offset=(page_number - 1) * recruitment.BOARD_PAGE_SIZE,
    limit=recruitment.BOARD_PAGE_SIZE,
)
st.subheader(french.count(board.count, "offre"))
if board.count == 0:
    st.info("Aucune offre publiée ne correspond à ces critères.")
for posting in board.postings:
    with st.container(border=True):
        st.markdown(f"**{posting.title}**")
        st.caption(
            f"{posting.organisation_name} · {posting.place_label} · {posting.contract_label} · "
            f"candidatures jusqu'au {posting.deadline:%d/%m/%Y}"
        )
        if st.button("Voir l'offre et postuler", key=f"jobs_open_{posting.id}"):
            st.query_params[recruitment.POSTING_PARAMETER] = str(posting.id)
            st.rerun()
pages = max(1, -(-board.count // recruitment.BOARD_PAGE_SIZE))
if pages > 1:
    st.number_input("Page", min_value=1, max_value=pages, step=1, key="jobs_page")


# ---------------------------------------------------------------------------- job alerts by e-mail (notifications)


def alert_block(board_region: str | None) -> None:
    """Subscribing to new postings by e-mail, double opt-in. Shown only with SMTP: the alerts are never passed on by
    hand (notifications/alerts.py)."""
    from pvd_survey import notifications  # (imported here: this block stays apart from the board and applying)

    st.divider()
    st.subheader("Recevoir les nouvelles offres par e-mail")
    regions = list(territory.REGIONS)
    columns = st.columns(2)
    alert_region = columns[0].selectbox(
        "Région des offres",
        regions,
        index=regions.index(board_region) if board_region in regions else None,
        placeholder="Choisissez une région",
        format_func=territory.REGIONS.get,
        key="jobs_alert_region",
    )
    alert_department = columns[1].selectbox(
        "Département (facultatif)",
        [None, *(territory.departments_of_region(alert_region) if alert_region else [])],
        format_func=lambda d: "Toute la région" if d is None else territory.department_label(d),
        key="jobs_alert_department",
    )
    alert_email = st.text_input("Votre adresse e-mail", key="jobs_alert_email")
    st.caption(
        "Au plus un e-mail par jour, seulement quand de nouvelles offres sont publiées. Vous recevez d'abord un e-mail "
        f"de confirmation : rien d'autre n'est envoyé avant, et sans confirmation dans les "
        f"{notifications.ALERT_CONFIRM_DAYS} jours votre adresse est supprimée. Votre adresse ne sert qu'à ces "
        "alertes ; chaque e-mail permet de se désabonner en un clic, ce qui la supprime."
    )
    if st.button("M'abonner aux alertes", key="jobs_alert_subscribe", icon=":material/notifications:"):
        ui.act(
            notifications.subscribe,
            settings,
            alert_email,
            alert_region,
            alert_department,
            success=(
                "Si cette adresse ne reçoit pas déjà ces alertes, un e-mail de confirmation vient de lui être envoyé : "
                "l'alerte commence une fois son lien ouvert."
            ),
            rerun=False,
        )


if settings.smtp is not None:
    alert_block(filters.region)
