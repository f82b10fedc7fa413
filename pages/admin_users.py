"""Administration of accounts: create, disable, re-enable, set a new password."""

import pandas as pd
import streamlit as st

from pvd_survey import accounts, sessions, ui
from pvd_survey.models import ROLES, paris_time

admin = ui.guard("admin_users")
settings = ui.settings()

st.title("Comptes")
with ui.read() as session:
    users = accounts.list_users(session)
    organisations = accounts.list_organisations(session)

st.dataframe(
    pd.DataFrame(
        {
            "Nom": [u.display_name for u in users],
            "E-mail": [u.email for u in users],
            "Rôle": [u.role_label for u in users],
            "Organisation": [u.organisation_name or "" for u in users],
            "Actif": ["oui" if u.is_active else "non" for u in users],
            "Dernière connexion": [paris_time(u.last_login_at) for u in users],
        }
    ),
    hide_index=True,
    width="stretch",
)


def set_password(session, user_id: int, password: str) -> None:
    """A password the administrator sets; their own: their other sessions end, this one carries on."""
    updated = accounts.set_password(session, user_id, password, settings)
    if updated.id == admin.id:
        sessions.carry_on(session, ui.session_id(), updated)


ACCOUNT_PARAMETER = "compte"  # the account managed: ?compte=<id>
CREATE_FORM, PASSWORD_FORM = "admin_create_user", "admin_set_password"
# The forms' fields, in their order, by the names the service gives their errors.
CREATE_LABELS = {
    "display_name": "Nom et prénom",
    "email": "Adresse e-mail",
    "role": "Rôle",
    "organisation": "Organisation (comptes recruteur uniquement)",
    "password": "Mot de passe initial (facultatif si la connexion ProConnect est configurée)",
}
PASSWORD_LABELS = {"password": "Nouveau mot de passe"}
create_tab, manage_tab = st.tabs(
    ["Créer un compte", "Gérer un compte"],
    default="Gérer un compte" if ACCOUNT_PARAMETER in st.query_params else None,
)
with create_tab:
    ui.show_flash(CREATE_FORM)  # the confirmation, above the form (with the focus)
    with st.form(CREATE_FORM, clear_on_submit=False):
        ui.form_errors(CREATE_FORM, CREATE_LABELS)
        display_name = st.text_input(CREATE_LABELS["display_name"], key="admin_new_name")
        ui.field_error(CREATE_FORM, "display_name")
        email = st.text_input(CREATE_LABELS["email"], key="admin_new_email")
        ui.field_error(CREATE_FORM, "email")
        role = st.selectbox(CREATE_LABELS["role"], ROLES, format_func=accounts.ROLE_LABELS.get, key="admin_new_role")
        ui.field_error(CREATE_FORM, "role")
        organisation_labels = {o.id: o.label for o in organisations}
        organisation_id = st.selectbox(
            CREATE_LABELS["organisation"],
            list(organisation_labels),
            format_func=organisation_labels.get,
            index=None,
            placeholder="Aucune",
            key="admin_new_organisation",
        )
        ui.field_error(CREATE_FORM, "organisation")
        password = st.text_input(CREATE_LABELS["password"], type="password", key="admin_new_password")
        ui.field_error(CREATE_FORM, "password")
        submitted = st.form_submit_button("Créer le compte", type="primary")
    if submitted:
        # Every problem at once, under its field and listed at the top, the focus on the first.
        ui.submit_form(
            CREATE_FORM,
            accounts.create_user,
            email=email,
            display_name=display_name,
            role=role,
            settings=settings,
            organisation_id=organisation_id,
            password=password or None,
            success=lambda created: f"Compte créé pour {created.email}. Un e-mail de bienvenue est en file d'envoi.",
            flash_at=CREATE_FORM,
        )

with manage_tab:
    # The account of the address stays chosen after every action (ids read afresh each run, never a stale copy).
    by_id = {u.id: u for u in users}
    chosen_id = ui.choose_record(
        "Compte",
        {user_id: f"{u.display_name} · {u.email}" for user_id, u in by_id.items()},
        ACCOUNT_PARAMETER,
        "admin_manage_user",
        unknown="unknown_user",
        placeholder="Choisissez un compte",
    )
    chosen = by_id.get(chosen_id)
    if chosen is not None:
        st.write(f"État : **{'actif' if chosen.is_active else 'désactivé'}** · {chosen.role_label}")
        if chosen.is_active and st.button("Désactiver ce compte", key="admin_disable"):
            ui.act(
                accounts.set_active,
                chosen.id,
                False,
                admin.id,
                success=f"Compte {chosen.email} désactivé : ses sessions ouvertes sont fermées.",
                flash_at="admin_state",
            )
        if not chosen.is_active and st.button("Réactiver ce compte", key="admin_enable"):
            ui.act(
                accounts.set_active,
                chosen.id,
                True,
                admin.id,
                success=f"Compte {chosen.email} réactivé.",
                flash_at="admin_state",
            )
        ui.show_flash("admin_state")
        ui.show_flash(PASSWORD_FORM)  # the confirmation, above the emptied form (with the focus)
        with st.form(PASSWORD_FORM, clear_on_submit=True):
            ui.form_errors(PASSWORD_FORM, PASSWORD_LABELS)
            new_password = st.text_input(PASSWORD_LABELS["password"], type="password", key="admin_set_password_value")
            ui.field_error(PASSWORD_FORM, "password")
            set_submitted = st.form_submit_button("Définir ce mot de passe")
        if set_submitted:
            ui.submit_form(
                PASSWORD_FORM,
                set_password,
                chosen.id,
                new_password,
                success=f"Nouveau mot de passe défini pour {chosen.email}. Communiquez-le par un canal sûr.",
                flash_at=PASSWORD_FORM,
            )
