"""Employer organisations (EPCI, communes, other structures) that recruiter accounts belong to."""

import pandas as pd
import streamlit as st

from pvd_survey import accounts, french, territory, ui

ui.guard("organisations")

st.title("Organisations employeuses")
with ui.read() as session:
    organisations = accounts.list_organisations(session)

st.caption(french.count(len(organisations), "organisation"))
if organisations:
    st.dataframe(
        pd.DataFrame(
            {
                "Nom": [o.name for o in organisations],
                "Type": [accounts.ORGANISATION_KIND_LABELS[o.kind] for o in organisations],
                "Département": [territory.department_label(o.department) for o in organisations],
                "Comptes recruteur": [french.number(o.recruiter_count) for o in organisations],
            }
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("Aucune organisation pour l'instant : ajoutez la première ci-dessous.")

st.subheader("Ajouter une organisation")
FORM = "organisation_form"
# The form's fields, in its order, by the names the service gives their errors.
LABELS = {"name": "Nom", "kind": "Type", "department": "Département"}
FIELD_KEYS = ("organisation_name", "organisation_kind", "organisation_department")
ui.show_flash(FORM)  # the confirmation, above the emptied form (with the focus)
with st.form(FORM):  # (emptied after a success only: a refused form keeps what was typed)
    ui.form_errors(FORM, LABELS)
    name = st.text_input(LABELS["name"], key="organisation_name", placeholder="Communauté de communes du Montbardois")
    ui.field_error(FORM, "name")
    kind = st.selectbox(
        LABELS["kind"],
        list(accounts.ORGANISATION_KIND_LABELS),
        format_func=accounts.ORGANISATION_KIND_LABELS.get,
        key="organisation_kind",
    )
    ui.field_error(FORM, "kind")
    department = ui.department_select(LABELS["department"], "organisation_department")
    ui.field_error(FORM, "department")
    submitted = st.form_submit_button("Ajouter", type="primary")
if submitted:
    # Every problem at once, under its field and listed at the top, the focus on the first.
    ui.submit_form(
        FORM,
        accounts.create_organisation,
        name,
        kind,
        department or "",
        success=lambda created: f"Organisation « {created.name} » ajoutée.",
        then=lambda _: [st.session_state.pop(key, None) for key in FIELD_KEYS],
        flash_at=FORM,
    )
