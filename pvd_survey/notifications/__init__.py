"""Notifications by e-mail, through the outbox: who is told what, how often, and how they stop it.

- Recruiters: each new application to a posting of their organisation, at once (the default), in one daily
  summary, or never (their choice on « Mon compte »). The e-mail names the posting, gives the application's
  reference and links to the pipeline: no CV, no candidate's name or address (read there, signed in).
- The direction: each recruiter request confirmed and waiting for a decision (on by default, or off).
- Anyone: job alerts by region (optionally one department), double opt-in, at most one e-mail a day listing the
  postings published since the previous one; unsubscribing deletes the subscription (alerts.py).

Every notification ends with a one-click unsubscribe link, also sent as the List-Unsubscribe header with
List-Unsubscribe-Post (RFC 8058): a random token per e-mail, only its SHA-256 stored (`unsubscribe_link`). The
daily summary and the alerts run from the scheduled work (schedule.py) once the day reaches DAILY_HOUR in Paris,
each claimed for the day by one conditional UPDATE (`notification_run`), so two servers never both send them.
Every function takes a Session; callers commit.
"""

from pvd_survey.notifications.alerts import (
    ALERT_CONFIRM_DAYS,
    MAX_UNCONFIRMED_ALERTS,
    confirm,
    delete_alerts,
    send_alerts,
    subscribe,
)
from pvd_survey.notifications.alerts import erase as erase_alerts
from pvd_survey.notifications.alerts import expired_unconfirmed as expired_unconfirmed_alerts
from pvd_survey.notifications.alerts import personal_data as alert_personal_data
from pvd_survey.notifications.common import (
    DAILY_HOUR,
    KIND_ALERT,
    KIND_ALERT_CONFIRM,
    KIND_APPLICATION_DIGEST,
    KIND_NEW_APPLICATION,
    KIND_RECRUITER_REQUEST,
    LINK_PAGE,
    POSTING_PARAMETER,
    TOKEN_PARAMETER,
    UNSUBSCRIBE_LINK_DAYS,
    UNSUBSCRIBE_ROUTE,
)
from pvd_survey.notifications.staff import (
    FREQUENCIES_BY_TOPIC,
    FREQUENCY_LABELS,
    TOPICS_BY_ROLE,
    application_received,
    preferences,
    recruiter_request_waiting,
    send_application_digests,
    set_preference,
)
from pvd_survey.notifications.unsubscribe import LinkView, delete_links, link_view, unsubscribe
from pvd_survey.notifications.unsubscribe import expired_links as expired_unsubscribe_links
from pvd_survey.vocabulary import NOTIFICATION_TOPIC_LABELS as TOPIC_LABELS

__all__ = [
    "ALERT_CONFIRM_DAYS",
    "DAILY_HOUR",
    "FREQUENCIES_BY_TOPIC",
    "FREQUENCY_LABELS",
    "KIND_ALERT",
    "KIND_ALERT_CONFIRM",
    "KIND_APPLICATION_DIGEST",
    "KIND_NEW_APPLICATION",
    "KIND_RECRUITER_REQUEST",
    "LINK_PAGE",
    "MAX_UNCONFIRMED_ALERTS",
    "POSTING_PARAMETER",
    "TOKEN_PARAMETER",
    "TOPICS_BY_ROLE",
    "TOPIC_LABELS",
    "UNSUBSCRIBE_LINK_DAYS",
    "UNSUBSCRIBE_ROUTE",
    "LinkView",
    "alert_personal_data",
    "application_received",
    "confirm",
    "delete_alerts",
    "delete_links",
    "erase_alerts",
    "expired_unconfirmed_alerts",
    "expired_unsubscribe_links",
    "link_view",
    "preferences",
    "recruiter_request_waiting",
    "send_alerts",
    "send_application_digests",
    "set_preference",
    "subscribe",
    "unsubscribe",
]
