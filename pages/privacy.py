"""A person's access request: export everything held about one e-mail address, then erase it (admin)."""

import json

import streamlit as st

from pvd_survey import privacy, ui
from pvd_survey.errors import DomainError, errors_by_field

user = ui.guard("privacy")
settings = ui.settings()

st.title("Droits des personnes")
st.write(
    "Droit d'accès et d'effacement : retrouvez tout ce que l'application conserve sur une adresse e-mail "
    "(candidatures et documents, demandes de compte, invitation au questionnaire, inscriptions aux rencontres, "
    "compte), téléchargez-le pour "
    "la personne, puis effacez-le. Les réponses au questionnaire ne sont pas enregistrées avec l'adresse : "
    "l'effacement les retire des chiffres avec le prochain groupe publié."
)
FORM = "privacy_search"
LABELS = {"email": "Adresse e-mail de la personne"}
with st.form(FORM):
    ui.form_errors(FORM, LABELS)
    email = st.text_input(LABELS["email"], key="privacy_email")
    ui.field_error(FORM, "email")
    searched = st.form_submit_button("Rechercher")
if searched:
    try:  # (a bad address is said under the field, with the focus on it)
        with ui.read() as session:
            privacy.export_person(session, user, email)
    except DomainError as error:
        ui.remember_field_errors(FORM, errors_by_field(error))
        st.session_state.pop("privacy_target", None)
        st.rerun()
    ui.remember_field_errors(FORM, None)
    st.session_state["privacy_target"] = email
target = st.session_state.get("privacy_target")
if not target:
    st.stop()
try:
    with ui.read() as session:
        data = privacy.export_person(session, user, target)
except DomainError as error:
    ui.show_error(error)
    st.stop()

total = sum(len(records) for records in data.values())
for name, records in data.items():
    st.write(f"- {name} : {len(records)}")
if total == 0:
    st.info("Aucune donnée enregistrée pour cette adresse.")
    st.stop()
st.download_button(
    "Télécharger les données (JSON)",
    json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"),
    file_name="donnees-personnelles.json",
    mime="application/json",
    key="privacy_download",
    on_click="ignore",
    icon=":material/download:",
)


def erased_message(erased: dict[str, int]) -> str:
    """What was erased, per kind of data."""
    summary = ", ".join(f"{name} : {count}" for name, count in erased.items() if count)
    return f"Données effacées ({summary or 'rien'}). Un compte de l'application se désactive sur la page Comptes."


confirm = st.checkbox("Je confirme l'effacement définitif de ces données", key="privacy_confirm")
if st.button("Effacer", key="privacy_erase", disabled=not confirm, type="primary"):
    ui.act(
        privacy.erase_person,
        user,
        target,
        settings,
        success=erased_message,
        then=lambda _: (st.session_state.pop("privacy_target", None), ui.scrub_erased_data()),
    )
