"""A recruiter's review of the applications to one posting: statuses, notes, CVs, refusals, exports."""

import pandas as pd
import streamlit as st

from pvd_survey import exports, recruitment, ui
from pvd_survey.errors import DomainError
from pvd_survey.models import paris_time

user = ui.guard("pipeline")

st.title("Candidatures reçues")
with ui.read() as session:
    postings = [p for p in recruitment.list_own_postings(session, user) if p.status != "draft"]

# ?offre=<id> opens one posting directly; an id that is not the organisation's shows nothing and says so.
wanted = st.query_params.get(recruitment.POSTING_PARAMETER)
if wanted is not None and "pipeline_posting" not in st.session_state:
    if not wanted.isdigit() or int(wanted) not in {p.id for p in postings}:
        ui.show_error(DomainError("unknown_posting"))
    else:
        st.session_state["pipeline_posting"] = int(wanted)
if not postings:
    st.info("Aucune offre publiée pour l'instant : les candidatures apparaîtront ici.")
    st.stop()

by_id = {p.id: p for p in postings}
posting_id = st.selectbox(
    "Offre",
    list(by_id),
    format_func=lambda i: f"n° {i} · {by_id[i].title} ({by_id[i].status_label}, {by_id[i].application_count})",
    key="pipeline_posting",
)
st.query_params[recruitment.POSTING_PARAMETER] = str(posting_id)
PAGE_SIZE = 200
with ui.read() as session:
    counts = recruitment.pipeline_counts(session, user, posting_id)
columns = st.columns(len(recruitment.PIPELINE_STATUSES))
for column, status in zip(columns, recruitment.PIPELINE_STATUSES, strict=True):
    column.metric(recruitment.APPLICATION_STATUS_LABELS[status], counts[status])
filters = st.columns(2)
status_filter = filters[0].selectbox(
    "Statut",
    [None, *recruitment.APPLICATION_STATUSES],
    format_func=lambda s: "Tous" if s is None else recruitment.APPLICATION_STATUS_LABELS[s],
    key="pipeline_status_filter",
)
shown = sum(counts.values()) if status_filter is None else counts[status_filter]
page_count = max(1, -(-shown // PAGE_SIZE))
page_number = filters[1].number_input("Page", min_value=1, max_value=page_count, step=1, key="pipeline_page")
with ui.read() as session:
    applications = recruitment.list_applications(
        session, user, posting_id, status_filter, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
    )
if not applications:
    st.info("Aucune candidature pour cette offre." if status_filter is None else "Aucune candidature à ce statut.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        {
            "Référence": [a.reference for a in applications],
            "Nom": [a.full_name or "(retirée)" for a in applications],
            "Statut": [a.status_label for a in applications],
            "Reçue le": [paris_time(a.created_at) for a in applications],
            "Notes": [a.notes or "" for a in applications],
        }
    ),
    hide_index=True,
    width="stretch",
)
download = st.columns(3)


def export(kind: str):
    """The export, built only when the button is clicked (it reads every application of the posting)."""

    def build() -> bytes:
        with ui.read() as session:
            return recruitment.export_applications(session, user, posting_id, kind)

    return build


download[0].download_button(
    "Exporter (CSV)",
    export("csv"),
    file_name=f"candidatures-offre-{posting_id}.csv",
    mime=exports.CSV_MEDIA_TYPE,
    key="pipeline_csv",
    on_click="ignore",
    icon=":material/download:",
)
download[1].download_button(
    "Exporter (Excel)",
    export("xlsx"),
    file_name=f"candidatures-offre-{posting_id}.xlsx",
    mime=exports.XLSX_MEDIA_TYPE,
    key="pipeline_xlsx",
    on_click="ignore",
    icon=":material/download:",
)
download[2].download_button(
    exports.TOOLS_LABEL,
    export(exports.CSV_TOOLS),
    file_name=exports.file_name(f"candidatures-offre-{posting_id}", exports.CSV_TOOLS),
    mime=exports.CSV_MEDIA_TYPE,
    key="pipeline_csv_outils",
    on_click="ignore",
    icon=":material/data_object:",
)

rows = {a.id: a for a in applications}
application_id = st.selectbox(
    "Candidature",
    list(rows),
    format_func=lambda i: f"{rows[i].reference} · {rows[i].full_name or '(retirée)'} · {rows[i].status_label}",
    key="pipeline_application",
)
chosen = rows[application_id]
with st.container(border=True):
    st.subheader(chosen.full_name or "Candidature retirée")
    if chosen.status == "retiree":
        st.info("La personne a retiré sa candidature : ses données ont été supprimées.")
        st.stop()
    st.write(f"{chosen.email}" + (f" · {chosen.phone}" if chosen.phone else ""))
    st.caption(f"Reçue le {paris_time(chosen.created_at)} · statut : {chosen.status_label}")
    for kind, label in (("cv", "Télécharger le CV"), ("letter", "Télécharger la lettre")):
        if kind in chosen.files:
            with ui.read() as session:
                name, content = recruitment.application_file(session, user, chosen.id, kind)
            st.download_button(
                f"{label} ({name})",
                content,
                file_name=name,
                mime="application/pdf",
                key=f"pipeline_file_{kind}_{chosen.id}",
                on_click="ignore",
                icon=":material/picture_as_pdf:",
            )
    if chosen.cover_letter_text:
        st.text_area(
            "Lettre de motivation", chosen.cover_letter_text, disabled=True, key=f"pipeline_letter_{chosen.id}"
        )

    statuses = list(recruitment.PIPELINE_STATUSES)
    new_status = st.selectbox(
        "Nouveau statut",
        statuses,
        index=statuses.index(chosen.status),
        format_func=recruitment.APPLICATION_STATUS_LABELS.get,
        key=f"pipeline_status_{chosen.id}",
    )
    reason = message = None
    if new_status == "non_retenue":
        reason = st.selectbox(
            "Motif",
            list(recruitment.REJECTION_REASON_LABELS),
            format_func=recruitment.REJECTION_REASON_LABELS.get,
            index=None,
            placeholder="Choisissez un motif",
            key=f"pipeline_reason_{chosen.id}",
        )
        other = ""
        if reason == "autre":
            other = st.text_input("Précisez le motif", key=f"pipeline_other_{chosen.id}")
        if reason:
            proposed = recruitment.rejection_message(
                reason, by_id[posting_id].title, user.organisation_name or "", other
            )
            message = st.text_area(
                "Message envoyé à la personne (modifiable)",
                value=proposed,
                height=220,
                key=f"pipeline_message_{chosen.id}_{reason}_{hash(other)}",
            )
    if st.button("Enregistrer le statut", key=f"pipeline_save_{chosen.id}", type="primary"):
        sent = " Le message a été envoyé." if new_status == "non_retenue" else ""
        ui.act(
            recruitment.move_application,
            user,
            chosen.id,
            new_status,
            reason=reason,
            message=message,
            success=f"Statut : {recruitment.APPLICATION_STATUS_LABELS[new_status]}.{sent}",
        )

    notes = st.text_area(
        "Notes (visibles seulement par votre organisation)", value=chosen.notes or "", key=f"pipeline_notes_{chosen.id}"
    )
    if st.button("Enregistrer les notes", key=f"pipeline_save_notes_{chosen.id}"):
        ui.act(recruitment.set_notes, user, chosen.id, notes, success="Notes enregistrées.")
