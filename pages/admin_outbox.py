"""The outbox: what the app sent, what waits, what failed (and the links, when no SMTP is set)."""

import pandas as pd
import streamlit as st

from pvd_survey import french, mail, ui
from pvd_survey.models import paris_time
from pvd_survey.vocabulary import MESSAGE_KIND_LABELS

ui.guard("admin_outbox")
settings = ui.settings()

st.title("Messages")
with ui.read() as session:
    counts = mail.count_by_status(session)
columns = st.columns(len(counts))
for column, (status, count) in zip(columns, counts.items(), strict=True):
    column.metric(mail.STATUS_LABELS[status], french.number(count))

st.caption(
    "Les relances automatiques du questionnaire ne sont pas listées ici : elles diraient qui n'a pas encore "
    "répondu. Elles sont effacées dès leur envoi."
)
if settings.smtp is None:
    st.warning(
        "Aucun serveur SMTP n'est configuré (PVD_SMTP_HOST) : les messages restent en attente, jusqu'à leur "
        f"suppression {settings.outbox_retention_days} jours après leur création. "
        "Vous pouvez transmettre vous-même les liens ci-dessous, puis marquer le message comme remis."
    )
else:
    st.caption(f"Envoi par {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security}).")

statuses = ui.multiselect(
    "Statuts affichés",
    list(mail.STATUS_LABELS),
    default=["pending", "failed"],
    format_func=mail.STATUS_LABELS.get,
    key="outbox_statuses",
)
with ui.read() as session:
    messages = mail.list_messages(session, statuses or None)

if not messages:
    st.info("Aucun message avec ces statuts.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "Destinataire": [m.recipient for m in messages],
                "Objet": [m.subject for m in messages],
                "Type": [MESSAGE_KIND_LABELS.get(m.kind, m.kind) for m in messages],
                "Lien": [m.link or "" for m in messages],
                "Statut": [mail.STATUS_LABELS[m.status] for m in messages],
                "Essais": [french.number(m.attempts) for m in messages],
                "Créé le": [paris_time(m.created_at) for m in messages],
                "Remis le": [paris_time(m.sent_at) for m in messages],
                "Dernière erreur": [m.last_error or "" for m in messages],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"Lien": st.column_config.LinkColumn("Lien")},
    )
    st.caption(
        "Dès qu'un message est envoyé ou remis à la main, son texte, son lien et ses pièces jointes sont effacés ; "
        f"chaque message est supprimé {settings.outbox_retention_days} jours après sa création (commande purge)."
    )
    by_id = {m.id: m for m in messages}  # ids as options: the widget must not keep a stale copy
    chosen_id = st.selectbox(
        "Message",
        list(by_id),
        # No message number anywhere on the page: the survey's reminders use numbers too, so the gap between two
        # listed messages would count a reminder round (and, a link revoked for a round, tell who had answered).
        format_func=lambda message_id: (
            f"{paris_time(by_id[message_id].created_at)} · {by_id[message_id].recipient} · {by_id[message_id].subject}"
        ),
        index=None,
        placeholder="Choisissez un message pour le lire",
        key="outbox_message",
    )
    chosen = by_id.get(chosen_id)
    if chosen is not None:
        if chosen.content_erased:
            st.info(
                f"{mail.STATUS_LABELS[chosen.status]} le {paris_time(chosen.sent_at)} : le contenu du message "
                "et son lien ont été effacés après la remise (données personnelles)."
            )
        else:
            st.text(chosen.body)
        if chosen.status == "failed" and st.button("Remettre en file d'envoi", key="outbox_requeue"):
            ui.act(mail.requeue_failed, chosen.id, success=f"Message à {chosen.recipient} remis en file d'envoi.")
        if chosen.status == "pending" and st.button("Marquer comme remis à la main", key="outbox_manual"):
            ui.act(
                mail.mark_delivered_by_hand,
                chosen.id,
                success=f"Message à {chosen.recipient} marqué comme remis à la main.",
                then=lambda _: ui.scrub_erased_data(),  # the erased text and link leave SQLite's WAL too
            )
