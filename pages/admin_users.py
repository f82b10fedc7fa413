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
create_tab, manage_tab = st.tabs(
    ["Créer un compte", "Gérer un compte"],
    default="Gérer un compte" if ACCOUNT_PARAMETER in st.query_params else None,
)
with create_tab:
    with st.form("admin_create_user", clear_on_submit=False):
        display_name = st.text_input("Nom et prénom", key="admin_new_name")
        email = st.text_input("Adresse e-mail", key="admin_new_email")
        role = st.selectbox("Rôle", ROLES, format_func=accounts.ROLE_LABELS.get, key="admin_new_role")
        organisation_labels = {o.id: o.label for o in organisations}
        organisation_id = st.selectbox(
            "Organisation (comptes recruteur uniquement)",
            list(organisation_labels),
            format_func=organisation_labels.get,
            index=None,
            placeholder="Aucune",
            key="admin_new_organisation",
        )
        password = st.text_input(
            "Mot de passe initial (facultatif si la connexion ProConnect est configurée)",
            type="password",
            key="admin_new_password",
        )
        submitted = st.form_submit_button("Créer le compte", type="primary")
    if submitted:
        ui.act(
            accounts.create_user,
            email=email,
            display_name=display_name,
            role=role,
            settings=settings,
            organisation_id=organisation_id,
            password=password or None,
            success=lambda created: f"Compte créé pour {created.email}. Un e-mail de bienvenue est en file d'envoi.",
            flash_at="admin_create",
        )
    ui.show_flash("admin_create")

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
        with st.form("admin_set_password", clear_on_submit=True):
            new_password = st.text_input("Nouveau mot de passe", type="password", key="admin_set_password_value")
            set_submitted = st.form_submit_button("Définir ce mot de passe")
        if set_submitted:
            ui.act(
                set_password,
                chosen.id,
                new_password,
                success=f"Nouveau mot de passe défini pour {chosen.email}. Communiquez-le par un canal sûr.",
                flash_at="admin_password",
            )
        ui.show_flash("admin_password")
