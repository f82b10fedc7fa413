"""The direction approves or refuses recruiter account requests, and creates recruiter accounts from a CSV."""

import streamlit as st

from pvd_survey import accounts, french, recruitment, territory, ui
from pvd_survey.clock import paris_time
from pvd_survey.errors import DomainError, ImportRejected, row_message

user = ui.guard("recruiter_requests")
settings = ui.settings()

st.title("Demandes de comptes recruteur")
with ui.read() as session:
    requests = recruitment.list_recruiter_requests(session, user)

st.subheader(f"Demandes à traiter ({len(requests)})")
if not requests:
    st.info("Aucune demande confirmée en attente.")
# Each request is found by its id (its buttons' keys); once handled, it leaves the list and its confirmation takes
# its place (the slot of its position), where the person was looking.
for position, request in enumerate(requests):
    ui.show_flash(f"requests_slot_{position}")
    with st.container(border=True):
        st.markdown(f"**{request.display_name}** · {request.email}")
        st.caption(
            f"{request.organisation_name} ({accounts.ORGANISATION_KIND_LABELS[request.organisation_kind]}, "
            f"{territory.department_label(request.department)}) · demandé le {paris_time(request.created_at)}"
        )
        columns = st.columns([1, 3])
        approve = columns[0].button("Valider", key=f"requests_approve_{request.id}", type="primary")
        reason = columns[1].text_input("Motif du refus", key=f"requests_reason_{request.id}")
        refuse = columns[1].button("Refuser", key=f"requests_refuse_{request.id}")
        if approve:
            ui.act(
                recruitment.approve_recruiter_request,
                user,
                request.id,
                settings,
                success=lambda created: (
                    f"Compte recruteur créé pour {created.email} ; un lien pour choisir son mot de passe est parti."
                ),
                flash_at=f"requests_slot_{position}",
            )
        if refuse:
            ui.act(
                recruitment.refuse_recruiter_request,
                user,
                request.id,
                reason,
                success=f"Demande de {request.email} refusée ; la personne est prévenue.",
                flash_at=f"requests_slot_{position}",
            )
ui.show_flash(f"requests_slot_{len(requests)}")

st.subheader("Créer des comptes recruteur depuis un fichier")
st.caption(
    "CSV UTF-8 avec l'en-tête « email,nom,organisation,type,departement » (type : epci, commune ou autre). "
    "Une seule ligne en erreur et rien n'est créé. Chaque personne reçoit un lien pour choisir son mot de passe ; "
    "une organisation inconnue est créée."
)
BULK_FORM = "requests_bulk"
# The form's fields, in its order: the bad lines of a refused file go under the field that held it.
BULK_LABELS = {"file": "Fichier CSV", "text": "ou contenu du fichier"}


def refused_file(error: DomainError, field: str) -> dict[str, DomainError]:
    """A refused file as the form's errors: every bad line together, under the field that held the file."""
    if isinstance(error, ImportRejected):
        lines = " ; ".join(row_message(row) for row in error.errors)
        return {field: DomainError("import_rejected_lines", field=field, count=error.params["count"], lines=lines)}
    return {error.field or "": error}


ui.show_flash(BULK_FORM)  # the confirmation, above the form (with the focus)
with st.form(BULK_FORM):
    ui.form_errors(BULK_FORM, BULK_LABELS)
    uploaded = ui.file_upload(BULK_LABELS["file"], "csv", key="requests_bulk_file")
    ui.field_error(BULK_FORM, "file")
    pasted = st.text_area(BULK_LABELS["text"], key="requests_bulk_text")
    ui.field_error(BULK_FORM, "text")
    sent = st.form_submit_button("Créer les comptes")
if sent:
    try:
        text = ui.text_of(uploaded, pasted, "file")
        with ui.write() as session:
            created = recruitment.bulk_create_recruiters(session, user, text, settings)
    except DomainError as error:
        # Every bad line at once, under the field of the file and at the top, the focus on it.
        ui.remember_field_errors(BULK_FORM, refused_file(error, "file" if uploaded is not None else "text"))
        st.rerun()
    ui.remember_field_errors(BULK_FORM, None)
    ui.flash(
        f"{french.count(len(created), 'compte recruteur créé', 'comptes recruteur créés')}.",
        place=BULK_FORM,
        focus=True,
    )
    st.rerun()
