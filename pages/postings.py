"""A recruiter's postings: create, edit, publish, close and mark as filled (own organisation only)."""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from pvd_survey import access, recruitment, ui
from pvd_survey.models import paris_time
from pvd_survey.recruitment import PostingInput

user = ui.guard("postings")
settings = ui.settings()

st.title("Mes offres")
with ui.read() as session:
    postings = recruitment.list_own_postings(session, user)

if postings:
    st.dataframe(
        pd.DataFrame(
            {
                "N°": [p.id for p in postings],
                "Titre": [p.title for p in postings],
                "État": [p.status_label for p in postings],
                "Date limite": [f"{p.deadline:%d/%m/%Y}" for p in postings],
                "Publiée le": [paris_time(p.published_at) for p in postings],
                "Candidatures": [p.application_count for p in postings],
            }
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("Votre organisation n'a pas encore d'offre : créez la première ci-dessous.")

NEW = 0
if "postings_select_next" in st.session_state:  # a posting just created: open it
    st.session_state["postings_chosen"] = st.session_state.pop("postings_select_next")
by_id = {p.id: p for p in postings}
chosen_id = st.selectbox(
    "Offre",
    [NEW, *by_id],
    format_func=lambda i: "Nouvelle offre" if i == NEW else f"n° {i} · {by_id[i].title} ({by_id[i].status_label})",
    key="postings_chosen",
)
chosen = by_id.get(chosen_id)

if chosen is not None:
    st.caption(f"Adresse publique : {settings.base_url}/{access.PAGES_BY_KEY['jobs'].url_path}?offre={chosen.id}")
    columns = st.columns(3)
    if chosen.status == "draft" and columns[0].button("Publier", key="postings_publish", type="primary"):
        ui.act(recruitment.publish_posting, user, chosen.id, success="Offre publiée sur la page « Offres d'emploi ».")
    if chosen.status == "published" and columns[1].button("Clore les candidatures", key="postings_close"):
        ui.act(
            recruitment.close_posting,
            user,
            chosen.id,
            settings,
            success=lambda told: f"Offre close ; {told} candidat(s) prévenu(s).",
        )
    if chosen.status in ("published", "closed") and columns[2].button("Poste pourvu", key="postings_filled"):
        ui.act(
            recruitment.mark_filled,
            user,
            chosen.id,
            settings,
            success=lambda told: f"Offre marquée pourvue ; {told} candidat(s) prévenu(s).",
        )

if chosen is None or chosen.status in ("draft", "published"):
    initial = chosen.as_input() if chosen else PostingInput("", [], "projet", "complet", None)
    st.subheader("Modifier l'offre" if chosen else "Nouvelle offre")
    with st.form(f"postings_form_{chosen_id}"):
        title = st.text_input(
            "Intitulé du poste",
            key=f"postings_title_{chosen_id}",
            value=initial.title or "Chef de projet Petites villes de demain",
        )
        communes = st.text_area(
            "Communes Petites villes de demain concernées (une par ligne)",
            key=f"postings_communes_{chosen_id}",
            value="\n".join(initial.communes),
        )
        columns = st.columns(2)
        contracts = list(recruitment.CONTRACT_LABELS)
        contract = columns[0].selectbox(
            "Contrat",
            contracts,
            key=f"postings_contract_{chosen_id}",
            index=contracts.index(initial.contract),
            format_func=recruitment.CONTRACT_LABELS.get,
        )
        times = list(recruitment.WORKING_TIME_LABELS)
        working_time = columns[1].selectbox(
            "Temps de travail",
            times,
            key=f"postings_working_time_{chosen_id}",
            index=times.index(initial.working_time),
            format_func=recruitment.WORKING_TIME_LABELS.get,
        )
        salary_min = columns[0].number_input(
            "Salaire brut annuel minimum (€, facultatif)",
            key=f"postings_salary_min_{chosen_id}",
            min_value=0,
            step=500,
            value=initial.salary_min,
        )
        salary_max = columns[1].number_input(
            "Salaire brut annuel maximum (€, facultatif)",
            key=f"postings_salary_max_{chosen_id}",
            min_value=0,
            step=500,
            value=initial.salary_max,
        )
        start_date = columns[0].date_input(
            "Prise de poste souhaitée (facultatif)",
            key=f"postings_start_date_{chosen_id}",
            value=initial.start_date,
            format="DD/MM/YYYY",
        )
        deadline = columns[1].date_input(
            "Date limite de candidature",
            key=f"postings_deadline_{chosen_id}",
            value=initial.deadline or date.today() + timedelta(days=30),
            format="DD/MM/YYYY",
        )
        description = st.text_area(
            "Présentation du poste (Markdown)",
            key=f"postings_description_{chosen_id}",
            value=initial.description,
            height=160,
        )
        missions = st.text_area(
            "Missions (modèle de fiche de poste du programme)",
            key=f"postings_missions_{chosen_id}",
            value=initial.missions,
            height=180,
        )
        anah = st.checkbox(
            "Le poste pilote une OPAH-RU (cofinancement Anah)",
            key=f"postings_anah_{chosen_id}",
            value=initial.anah_opah_ru,
        )
        st.caption(recruitment.COFUNDING_TEXT)
        saved = st.form_submit_button("Enregistrer" if chosen else "Créer le brouillon", type="primary")
    if saved:
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
        if chosen:
            ui.act(recruitment.update_posting, user, chosen.id, data, success="Offre enregistrée.")
        else:
            ui.act(
                recruitment.create_posting,
                user,
                data,
                success="Brouillon créé : relisez-le puis publiez-le.",
                then=lambda created: st.session_state.update(postings_select_next=created.id),  # opened next run
            )
