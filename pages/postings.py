"""A recruiter's postings: create, edit, publish, close and mark as filled (own organisation only).

The posting shown is the one of the address (`?offre=<id>`). Its form is an explicit « Enregistrer »; « Publier »
(a draft) saves what the form shows, with the same checks, then publishes it. The form remembers the version of
the posting it was loaded with: once someone else changed the posting, saving is refused and says so.
"""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from pvd_survey import access, french, recruitment, ui
from pvd_survey.models import paris_time
from pvd_survey.recruitment import PostingInfo, PostingInput

user = ui.guard("postings")
settings = ui.settings()
SNAPSHOT = "postings_loaded"  # the posting as its edit form was loaded (its version and its values)
# The editor's fields that can be wrong, in the form's order, by the names the services give their errors.
LABELS = {
    "title": "Intitulé du poste",
    "communes": "Communes Petites villes de demain concernées (une par ligne)",
    "contract": "Contrat",
    "working_time": "Temps de travail",
    "salary": "Salaire brut annuel",
    "deadline": "Date limite de candidature",
    "missions": "Missions (modèle de fiche de poste du programme)",
}

st.title("Mes offres")
with ui.read() as session:
    postings = recruitment.list_own_postings(session, user)

if postings:
    st.dataframe(
        pd.DataFrame(
            {
                "N°": [str(p.id) for p in postings],  # (a number that names, not one that counts)
                "Titre": [p.title for p in postings],
                "État": [p.status_label for p in postings],
                "Date limite": [f"{p.deadline:%d/%m/%Y}" for p in postings],
                "Publiée le": [paris_time(p.published_at) for p in postings],
                "Candidatures": [french.number(p.application_count) for p in postings],
            }
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("Votre organisation n'a pas encore d'offre : créez la première ci-dessous.")

by_id = {p.id: p for p in postings}
chosen_id = ui.choose_record(
    "Offre",
    {p.id: f"n° {p.id} · {p.title} ({p.status_label})" for p in postings},
    recruitment.POSTING_PARAMETER,
    "postings_chosen",
    unknown="unknown_posting",
    new_label="Nouvelle offre",
    placeholder="Choisissez une offre",
)
if chosen_id is None:
    st.stop()
chosen = by_id.get(chosen_id)


def form_suffix(posting: PostingInfo | None) -> str:
    """The form's widget keys: one set per posting and version, so that a saved posting's form reloads."""
    return "0" if posting is None else f"{posting.id}_{posting.updated_at:%Y%m%d%H%M%S%f}"


def loaded(current: PostingInfo) -> PostingInfo:
    """The posting as its form was loaded: kept while the form's fields live, so that a colleague's change since
    is caught on saving (the fields keep what the person typed)."""
    snapshot = st.session_state.get(SNAPSHOT)
    if (
        not isinstance(snapshot, PostingInfo)
        or snapshot.id != current.id
        or f"postings_title_{form_suffix(snapshot)}" not in st.session_state
    ):
        snapshot = current
        st.session_state[SNAPSHOT] = snapshot
    return snapshot


def reload_form() -> None:
    """Forget the loaded version: the next run loads the posting as it is now."""
    st.session_state.pop(SNAPSHOT, None)


snapshot = loaded(chosen) if chosen is not None else None
if chosen is not None:
    st.caption(f"Adresse publique : {settings.base_url}/{access.PAGES_BY_KEY['jobs'].url_path}?offre={chosen.id}")
    columns = st.columns(2)
    if chosen.status == "published" and columns[0].button("Clore les candidatures", key="postings_close"):
        ui.act(
            recruitment.close_posting,
            user,
            chosen.id,
            settings,
            success=lambda told: f"Offre close ; {told} candidat(s) prévenu(s).",
            then=lambda _: reload_form(),
            flash_at="postings_state",
        )
    if chosen.status in ("published", "closed") and columns[1].button("Poste pourvu", key="postings_filled"):
        ui.act(
            recruitment.mark_filled,
            user,
            chosen.id,
            settings,
            success=lambda told: f"Offre marquée pourvue ; {told} candidat(s) prévenu(s).",
            then=lambda _: reload_form(),
            flash_at="postings_state",
        )
    ui.show_flash("postings_state")
    if snapshot is not None and snapshot.updated_at != chosen.updated_at:
        st.warning(
            "Cette offre a changé depuis que vous avez ouvert le formulaire (modifiée par une autre personne de votre "
            f"organisation, ou close à sa date limite ; état actuel : {chosen.status_label}). Vos modifications ne "
            "peuvent plus être enregistrées : rechargez l'offre."
        )
        if st.button("Recharger l'offre", key="postings_reload", icon=":material/refresh:"):
            reload_form()
            st.rerun()

if snapshot is None or snapshot.status in ("draft", "published"):
    suffix = form_suffix(snapshot)
    initial = snapshot.as_input() if snapshot else PostingInput("", [], "projet", "complet", None)
    st.subheader("Modifier l'offre" if snapshot else "Nouvelle offre")
    form_key = f"postings_form_{suffix}"
    with st.form(form_key):
        ui.form_errors(form_key, LABELS)
        title = st.text_input(
            LABELS["title"],
            key=f"postings_title_{suffix}",
            value=initial.title or "Chef de projet Petites villes de demain",
        )
        ui.field_error(form_key, "title")
        communes = st.text_area(
            LABELS["communes"],
            key=f"postings_communes_{suffix}",
            value="\n".join(initial.communes),
        )
        ui.field_error(form_key, "communes")
        columns = st.columns(2)
        contracts = list(recruitment.CONTRACT_LABELS)
        contract = columns[0].selectbox(
            "Contrat",
            contracts,
            key=f"postings_contract_{suffix}",
            index=contracts.index(initial.contract),
            format_func=recruitment.CONTRACT_LABELS.get,
        )
        times = list(recruitment.WORKING_TIME_LABELS)
        working_time = columns[1].selectbox(
            "Temps de travail",
            times,
            key=f"postings_working_time_{suffix}",
            index=times.index(initial.working_time),
            format_func=recruitment.WORKING_TIME_LABELS.get,
        )
        salary_min = columns[0].number_input(
            "Salaire brut annuel minimum (€, facultatif)",
            key=f"postings_salary_min_{suffix}",
            min_value=0,
            step=500,
            value=initial.salary_min,
        )
        with columns[0]:
            ui.field_error(form_key, "salary")
        salary_max = columns[1].number_input(
            "Salaire brut annuel maximum (€, facultatif)",
            key=f"postings_salary_max_{suffix}",
            min_value=0,
            step=500,
            value=initial.salary_max,
        )
        start_date = ui.date_input(
            "Prise de poste souhaitée (facultatif)",
            place=columns[0],
            key=f"postings_start_date_{suffix}",
            value=initial.start_date,
        )
        deadline = ui.date_input(
            LABELS["deadline"],
            place=columns[1],
            key=f"postings_deadline_{suffix}",
            value=initial.deadline or date.today() + timedelta(days=30),
        )
        with columns[1]:
            ui.field_error(form_key, "deadline")
        description = st.text_area(
            "Présentation du poste (Markdown)",
            key=f"postings_description_{suffix}",
            value=initial.description,
            height=160,
        )
        missions = st.text_area(
            LABELS["missions"],
            key=f"postings_missions_{suffix}",
            value=initial.missions,
            height=180,
        )
        ui.field_error(form_key, "missions")
        anah = st.checkbox(
            "Le poste pilote une OPAH-RU (cofinancement Anah)",
            key=f"postings_anah_{suffix}",
            value=initial.anah_opah_ru,
        )
        st.caption(recruitment.COFUNDING_TEXT)
        if snapshot is not None and snapshot.status == "draft":
            st.caption(
                "« Publier » enregistre d'abord ce que montre ce formulaire, puis met l'offre en ligne sur la page "
                "« Offres d'emploi »."
            )
        elif snapshot is not None:
            st.caption("L'offre est en ligne : ce que vous enregistrez y est visible aussitôt.")
        buttons = st.columns(2)
        saved = buttons[0].form_submit_button(
            "Enregistrer" if snapshot else "Créer le brouillon", key="postings_save", type="primary"
        )
        publish = (
            buttons[1].form_submit_button("Publier", key="postings_publish", icon=":material/public:")
            if snapshot is not None and snapshot.status == "draft"
            else False
        )
    ui.show_flash("postings_form")
    if saved or publish:
        data = PostingInput(
            title=title,
            communes=communes.splitlines(),
            contract=contract,
            working_time=working_time,
            deadline=deadline,
            description=description,
            missions=missions,
            salary_min=int(salary_min) if salary_min else None,
            salary_max=int(salary_max) if salary_max else None,
            start_date=start_date,
            anah_opah_ru=anah,
        )
        # Every problem at once, under its field and listed at the top, the focus on the first.
        if snapshot is None:
            ui.submit_form(
                form_key,
                recruitment.create_posting,
                user,
                data,
                success="Brouillon créé : relisez-le puis publiez-le.",
                then=lambda created: ui.select_record(recruitment.POSTING_PARAMETER, created.id),
                flash_at="postings_form",
            )
        elif publish:
            ui.submit_form(
                form_key,
                recruitment.publish_posting,
                user,
                snapshot.id,
                data=data,
                loaded_version=snapshot.updated_at,
                success="Offre enregistrée et publiée sur la page « Offres d'emploi ».",
                then=lambda _: reload_form(),
                flash_at="postings_form",
            )
        else:
            ui.submit_form(
                form_key,
                recruitment.update_posting,
                user,
                snapshot.id,
                data,
                loaded_version=snapshot.updated_at,
                success="Offre enregistrée.",
                then=lambda _: reload_form(),
                flash_at="postings_form",
            )
