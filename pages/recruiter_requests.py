"""The direction approves or refuses recruiter account requests, and creates recruiter accounts from a CSV."""

import streamlit as st

from pvd_survey import accounts, recruitment, territory, ui
from pvd_survey.clock import paris_time
from pvd_survey.errors import DomainError, ImportRejected, french_message, row_message

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
with st.form("requests_bulk"):
    uploaded = ui.file_upload("Fichier CSV", "csv", key="requests_bulk_file")
    pasted = st.text_area("ou contenu du fichier", key="requests_bulk_text")
    sent = st.form_submit_button("Créer les comptes")
if sent:
    text = ui.text_of(uploaded, pasted)
    if text is not None:
        try:
            with ui.write() as session:
                created = recruitment.bulk_create_recruiters(session, user, text, settings)
        except ImportRejected as rejected:
            st.error(
                french_message(rejected) + "\n\n" + "\n".join(f"- {row_message(error)}" for error in rejected.errors)
            )
        except DomainError as error:
            ui.show_error(error)
        else:
            ui.flash(f"{len(created)} compte(s) recruteur créé(s).", place="requests_bulk")
            st.rerun()
ui.show_flash("requests_bulk")
