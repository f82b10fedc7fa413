"""A recruiter's review of the applications to one posting: statuses, notes, CVs, refusals, exports.

The posting and the application shown are those of the address (`?offre=<id>&candidature=<id>`). A status change
that e-mails the candidate (a refusal) shows the exact message first and sends it only on « Confirmer l'envoi ».
"""

import pandas as pd
import streamlit as st

from pvd_survey import exports, french, recruitment, ui
from pvd_survey.errors import DomainError
from pvd_survey.models import paris_time

user = ui.guard("pipeline")

st.title("Candidatures reçues")
with ui.read() as session:
    postings = [p for p in recruitment.list_own_postings(session, user) if p.status != "draft"]

if not postings:
    if st.query_params.get(recruitment.POSTING_PARAMETER) is not None:
        ui.show_error(DomainError("unknown_posting"))
    st.info("Aucune offre publiée pour l'instant : les candidatures apparaîtront ici.")
    st.stop()

by_id = {p.id: p for p in postings}
# An id that is not one of the organisation's published postings shows nothing and says so.
posting_id = ui.choose_record(
    "Offre",
    {i: f"n° {i} · {p.title} ({p.status_label}, {p.application_count})" for i, p in by_id.items()},
    recruitment.POSTING_PARAMETER,
    "pipeline_posting",
    unknown="unknown_posting",
    first_by_default=True,
    placeholder="Choisissez une offre",
    forget=(recruitment.APPLICATION_PARAMETER,),
)
if posting_id is None:
    st.stop()

PAGE_SIZE = 200
with ui.read() as session:
    counts = recruitment.pipeline_counts(session, user, posting_id)
columns = st.columns(len(recruitment.PIPELINE_STATUSES))
for column, status in zip(columns, recruitment.PIPELINE_STATUSES, strict=True):
    column.metric(recruitment.APPLICATION_STATUS_LABELS[status], french.number(counts[status]))
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
rows = {a.id: a for a in applications}
# The application of the address may be on another page of the list, or have another status than the filter's.
wanted = st.query_params.get(recruitment.APPLICATION_PARAMETER)
if wanted and wanted.isascii() and wanted.isdecimal() and int(wanted) not in rows:
    try:
        with ui.read() as session:
            linked = recruitment.get_application(session, user, int(wanted))
    except DomainError:
        linked = None  # someone else's, or none: choose_record says so
    if linked is not None and linked.posting_id == posting_id:
        rows[linked.id] = linked
if not applications:
    st.info("Aucune candidature pour cette offre." if status_filter is None else "Aucune candidature à ce statut.")
    if wanted is None:
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


stem = f"candidatures-offre-{posting_id}"
ui.export_button(download[0], exports.CSV, "Exporter (CSV)", export(exports.CSV), stem, "pipeline_csv")
ui.export_button(download[1], exports.XLSX, "Exporter (Excel)", export(exports.XLSX), stem, "pipeline_xlsx")
ui.export_button(
    download[2], exports.CSV_TOOLS, exports.TOOLS_LABEL, export(exports.CSV_TOOLS), stem, "pipeline_csv_outils"
)

application_id = ui.choose_record(
    "Candidature",
    {i: f"{a.reference} · {a.full_name or '(retirée)'} · {a.status_label}" for i, a in rows.items()},
    recruitment.APPLICATION_PARAMETER,
    "pipeline_application",
    unknown="unknown_application",
    first_by_default=True,
    placeholder="Choisissez une candidature",
)
if application_id is None:
    st.stop()
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

    # A change that e-mails the person waits here, with its message, for « Confirmer l'envoi » or « Annuler ».
    pending_key = f"pipeline_pending_{chosen.id}"
    status_key = f"pipeline_status_{chosen.id}"
    if status_key not in st.session_state:  # the fields were just (re)drawn: no message waits for them
        st.session_state.pop(pending_key, None)
    pending = st.session_state.get(pending_key)
    statuses = list(recruitment.PIPELINE_STATUSES)
    new_status = st.selectbox(
        "Nouveau statut",
        statuses,
        index=statuses.index(chosen.status),
        format_func=recruitment.APPLICATION_STATUS_LABELS.get,
        key=status_key,
        disabled=pending is not None,
    )
    reason = message = None
    detail = ""
    if new_status == "non_retenue":
        reason = st.selectbox(
            "Motif",
            list(recruitment.REJECTION_REASON_LABELS),
            format_func=recruitment.REJECTION_REASON_LABELS.get,
            index=None,
            placeholder="Choisissez un motif",
            key=f"pipeline_reason_{chosen.id}",
            disabled=pending is not None,
        )
        if reason == "autre":
            detail = st.text_input(
                f"Précisez le motif (une phrase d'au moins {recruitment.REJECTION_DETAIL_MIN} caractères, "
                "reprise dans le message)",
                key=f"pipeline_other_{chosen.id}",
                disabled=pending is not None,
            )
        if reason and (reason != "autre" or len(" ".join(detail.split())) >= recruitment.REJECTION_DETAIL_MIN):
            proposed = recruitment.rejection_message(
                reason, by_id[posting_id].title, user.organisation_name or "", detail
            )
            message = st.text_area(
                "Message à la personne (modifiable ; vous le relirez avant l'envoi)",
                value=proposed,
                height=220,
                key=f"pipeline_message_{chosen.id}_{reason}_{hash(detail)}",
                disabled=pending is not None,
            )
    if pending is None and st.button("Enregistrer le statut", key=f"pipeline_save_{chosen.id}", type="primary"):
        try:
            with ui.read() as session:
                outgoing = recruitment.candidate_mail(
                    session, user, chosen.id, new_status, reason=reason, detail=detail, message=message
                )
        except DomainError as error:
            ui.show_error(error)
        else:
            if outgoing is None:  # nothing is sent: the change is made at once
                ui.act(
                    recruitment.move_application,
                    user,
                    chosen.id,
                    new_status,
                    success=f"Statut : {recruitment.APPLICATION_STATUS_LABELS[new_status]}.",
                    flash_at="pipeline_status",
                )
            else:
                st.session_state[pending_key] = (new_status, reason, detail, message, outgoing)
                st.rerun()
    if pending is not None:
        status, reason, detail, message, outgoing = pending
        with st.container(border=True, key="pipeline_preview"):
            st.markdown(
                f"**Message qui sera envoyé** pour le statut « {recruitment.APPLICATION_STATUS_LABELS[status]} »"
            )
            st.markdown(f"À : {outgoing.recipient}  \nObjet : {outgoing.subject}")
            st.code(outgoing.body, language=None, wrap_lines=True)
            st.caption("Rien n'est envoyé ni enregistré avant « Confirmer l'envoi ».")
            buttons = st.columns(2)
            if buttons[0].button("Confirmer l'envoi", key=f"pipeline_confirm_{chosen.id}", type="primary"):
                ui.act(
                    recruitment.move_application,
                    user,
                    chosen.id,
                    status,
                    reason=reason,
                    detail=detail,
                    message=message,
                    confirmed=outgoing,
                    success=f"Statut : {recruitment.APPLICATION_STATUS_LABELS[status]}. Le message a été envoyé.",
                    then=lambda _: st.session_state.pop(pending_key, None),
                    flash_at="pipeline_status",
                )
            if buttons[1].button("Annuler", key=f"pipeline_cancel_{chosen.id}"):
                st.session_state.pop(pending_key, None)
                ui.flash("Envoi annulé : rien n'a été envoyé ni changé.", "info", place="pipeline_status")
                st.rerun()
    ui.show_flash("pipeline_status")

    notes = st.text_area(
        "Notes (visibles seulement par votre organisation)", value=chosen.notes or "", key=f"pipeline_notes_{chosen.id}"
    )
    if st.button("Enregistrer les notes", key=f"pipeline_save_notes_{chosen.id}"):
        ui.act(recruitment.set_notes, user, chosen.id, notes, success="Notes enregistrées.", flash_at="pipeline_notes")
    ui.show_flash("pipeline_notes")
