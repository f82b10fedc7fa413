"""Employer organisations (EPCI, communes, other structures) that recruiter accounts belong to."""

import pandas as pd
import streamlit as st

from pvd_survey import accounts, territory, ui

ui.guard("organisations")

st.title("Organisations employeuses")
with ui.read() as session:
    organisations = accounts.list_organisations(session)

st.caption(f"{len(organisations)} organisation(s)")
if organisations:
    st.dataframe(
        pd.DataFrame(
            {
                "Nom": [o.name for o in organisations],
                "Type": [accounts.ORGANISATION_KIND_LABELS[o.kind] for o in organisations],
                "Département": [territory.department_label(o.department) for o in organisations],
                "Comptes recruteur": [o.recruiter_count for o in organisations],
            }
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("Aucune organisation pour l'instant : ajoutez la première ci-dessous.")

st.subheader("Ajouter une organisation")
with st.form("organisation_form", clear_on_submit=True):
    name = st.text_input("Nom", key="organisation_name", placeholder="Communauté de communes du Montbardois")
    kind = st.selectbox(
        "Type",
        list(accounts.ORGANISATION_KIND_LABELS),
        format_func=accounts.ORGANISATION_KIND_LABELS.get,
        key="organisation_kind",
    )
    department = ui.department_select("Département", "organisation_department")
    submitted = st.form_submit_button("Ajouter", type="primary")
if submitted:
    ui.act(
        accounts.create_organisation,
        name,
        kind,
        department or "",
        success=lambda created: f"Organisation « {created.name} » ajoutée.",
        flash_at="organisation_form",
    )
ui.show_flash("organisation_form")
