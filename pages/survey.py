"""The profile survey, opened from a personal link (?jeton=...): draft saved as you go, one response per link."""

import streamlit as st

from pvd_survey import survey, territory, ui
from pvd_survey.errors import DomainError
from pvd_survey.models import paris_time
from pvd_survey.survey_questions import (
    DEPARTMENT,
    DIPLOMA,
    EMPLOYER,
    EXPERIENCE,
    GENDER,
    NO_ANSWER,
    NO_ANSWER_LABEL,
    QUESTIONS,
    START_MONTH,
    TRAINING_FIELD,
    month_options,
)

ui.guard("survey")
settings = ui.settings()

st.title("Questionnaire : le profil des chefs de projet")
token = ui.link_token("survey")
if not token:
    st.info("Ce questionnaire s'ouvre depuis le lien personnel reçu par e-mail de la direction du programme.")
    st.stop()

try:
    with ui.read() as session:  # opening the link writes nothing (see survey/respondent.py)
        opened = survey.open_survey(session, token, settings)
except DomainError as error:
    ui.show_error(error)
    st.stop()

# Widgets are filled once per link from the server copy (draft or previous answers).
if st.session_state.get("survey_loaded_for") != opened.invitation_id:
    form = opened.form
    st.session_state.update({f"survey_{q.code}": form.get(q.code) for q in QUESTIONS if q.kind != "multiple"})
    st.session_state["survey_training_field"] = list(form.get("training_field") or [])
    st.session_state["survey_loaded_for"] = opened.invitation_id
    st.session_state["survey_saved_values"] = "loaded"  # the widgets hold the server's copy
    ui.remember_field_errors("survey", None)
    st.session_state.pop("survey_done", None)

st.write(
    "Sept questions, deux minutes. La direction du programme Petites villes de demain (ANCT) suit ainsi "
    "qui sont les chefs de projet et compare avec l'enquête de mai 2022."
)
with st.expander("Vos données : ce que nous en faisons", icon=":material/lock:", expanded=not opened.submitted):
    st.markdown(
        "- **Finalité** : connaître le profil des chefs de projet pour adapter l'accompagnement du programme.\n"
        f"- **Anonymat** : {survey.anonymity_notice(settings.disclosure_k)} Vos réponses sont chiffrées avec "
        "cette clé et enregistrées sans date ni lien avec votre adresse ; ouvrir ce lien, enregistrer un "
        "brouillon, répondre ou retirer vos réponses ne laisse aucune trace du côté de votre invitation. "
        "Le message qui contenait le lien est "
        "effacé de nos serveurs dès son envoi.\n"
        f"- **Quand les chiffres bougent** : à heures fixes (toutes les {settings.survey_release_minutes} "
        f"minutes), seulement si au moins {settings.disclosure_k} réponses nouvelles, modifiées ou retirées "
        "attendent : votre réponse attend les suivantes.\n"
        "- **Durée** : les réponses sont conservées jusqu'à la fin du programme (décembre 2026). Vous pouvez "
        "les retirer à tout moment depuis ce lien.\n"
        "- Chaque question accepte « Je ne souhaite pas répondre »."
    )
if opened.closes_at:
    st.caption(f"Questionnaire ouvert jusqu'au {paris_time(opened.closes_at, '%d/%m/%Y à %H:%M')}.")
if opened.submitted:
    st.success("Vous avez déjà répondu. Vous pouvez modifier vos réponses ci-dessous puis les renvoyer.")
if opened.pending:
    st.caption(
        f"Votre dernière modification sera comptée avec les prochaines réponses : les chiffres ne changent que "
        f"par groupes d'au moins {settings.disclosure_k}."
    )


def label_with(options: dict[str, str]):
    """Labels for codes, with the 'no answer' choice."""
    return lambda code: NO_ANSWER_LABEL if code == NO_ANSWER else options.get(code, code)


months = month_options()
ui.form_errors("survey", {question.code: question.label for question in QUESTIONS})
st.selectbox(
    START_MONTH.label,
    [NO_ANSWER, *months],
    format_func=label_with(months),
    index=None,
    placeholder="Choisissez un mois",
    key="survey_start_month",
)
ui.field_error("survey", "start_month")
for question in (EMPLOYER, GENDER, EXPERIENCE, DIPLOMA):
    st.radio(
        question.label,
        [*question.options, NO_ANSWER],
        format_func=label_with(question.options),
        index=None,
        key=f"survey_{question.code}",
    )
    ui.field_error("survey", question.code)
ui.checkbox_group(
    TRAINING_FIELD.label + " (plusieurs choix possibles)",
    [*TRAINING_FIELD.options, NO_ANSWER],
    "survey_training_field",
    format_func=label_with(TRAINING_FIELD.options),
    exclusive=NO_ANSWER,  # ticking it unticks the others, and the other way round
)
ui.field_error("survey", "training_field")
st.selectbox(
    DEPARTMENT.label,
    [NO_ANSWER, *territory.DEPARTMENTS],
    format_func=label_with(DEPARTMENT.options),
    index=None,
    placeholder="Choisissez un département",
    key="survey_department",
)
ui.field_error("survey", "department")

values = {q.code: st.session_state.get(f"survey_{q.code}") for q in QUESTIONS}
values["training_field"] = list(st.session_state.get("survey_training_field") or [])

# Save a draft on the server whenever an answer changes: a refresh or another browser loses nothing.
last_saved = st.session_state.get("survey_saved_values")
if last_saved not in ("loaded", values):
    saved_at = ui.act(survey.save_draft, token, values, settings, rerun=False)
    if saved_at is None:
        st.stop()
    st.caption(f"Brouillon enregistré à {paris_time(saved_at, '%H:%M:%S')}.")
st.session_state["survey_saved_values"] = values


def _sent(_created: bool) -> None:
    st.session_state["survey_saved_values"] = values
    st.session_state.pop("survey_loaded_for", None)
    ui.leave_link("survey")  # the next person at this computer finds nothing


if st.button("Envoyer mes réponses", type="primary", key="survey_submit", icon=":material/send:"):
    # Every unanswered or wrong question at once: under each, listed above the first, the focus on the first.
    ui.submit_form(
        "survey",
        survey.submit,
        token,
        values,
        settings,
        then=_sent,
        success=lambda created: (
            (
                "Merci ! Vos réponses sont enregistrées."
                if created
                else "Merci ! Vos réponses ont été mises à jour (une seule réponse est conservée par personne)."
            )
            + " Pour les modifier ou les retirer, rouvrez le lien reçu par e-mail."
        ),
    )

if opened.submitted:
    with st.expander("Retirer mes réponses", icon=":material/delete:"):
        st.write(
            "Vos réponses seront retirées des chiffres avec les prochaines réponses (par groupes d'au moins "
            f"{settings.disclosure_k}), puis effacées. Vous pourrez répondre à nouveau avec ce lien."
        )
        if st.button("Retirer mes réponses", key="survey_withdraw", icon=":material/delete:"):
            ui.act(
                survey.withdraw,
                token,
                settings,
                success="Vos réponses sont retirées. Merci d'avoir participé.",
                then=lambda _: (st.session_state.pop("survey_loaded_for", None), ui.leave_link("survey")),
            )

st.divider()
st.caption("Sur un ordinateur partagé, quittez la page : elle ne s'ouvrira plus ici sans votre lien personnel.")
ui.quit_button("survey")
