"""A recruiter's own organisation and the colleagues who recruit with them."""

import streamlit as st

from pvd_survey import accounts, territory, ui

user = ui.guard("my_organisation")

with ui.read() as session:
    organisation = accounts.find_organisation(session, str(user.organisation_id))
    colleagues = [u for u in accounts.list_users(session) if u.organisation_id == user.organisation_id]

st.title(organisation.name)
region = territory.REGIONS[territory.region_of_department(organisation.department)]
st.write(
    f"{accounts.ORGANISATION_KIND_LABELS[organisation.kind]} · {territory.department_label(organisation.department)}"
    f" · {region}"
)
st.subheader("Comptes recruteur de l'organisation")
for colleague in colleagues:
    status = "" if colleague.is_active else " (désactivé)"
    st.write(f"- {colleague.display_name} · {colleague.email}{status}")
