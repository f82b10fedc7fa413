"""Notifications: who gets which e-mail (and who does not), preferences, the daily summary and the job alerts at most
once a day (two servers at once included), double opt-in, one-click unsubscribe (page, POST route, header), nothing
kept after unsubscribing, and the purge of subscriptions never confirmed. E-mails go through a real SMTP server."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, time, timedelta
from email.header import decode_header, make_header
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import accounts, links, mail, notifications, privacy, recruitment, schedule
from pvd_survey.clock import from_paris_parts, paris_today
from pvd_survey.config import Settings
from pvd_survey.errors import MESSAGES, DomainError
from pvd_survey.models import JobAlert, NotificationPreference, OutboxMessage, UnsubscribeLink
from tests.conftest import STRONG_PASSWORD, SmtpServer, open_page, web_client
from tests.factories import World, application_input, make_world, posting_input, submit, texts

RECRUITER = "remi@montbardois.fr"  # make_world's recruiter of the Côte-d'Or EPCI (region 27)
OTHER_RECRUITER = "rose@revel.fr"  # of the Haute-Garonne commune (region 76)
DIRECTION = "dora@anct.gouv.fr"
ADMIN = "ada@anct.gouv.fr"
CANDIDATE = "cand.idate@example.fr"
TODAY = paris_today()


def at(days: int, hour: int) -> datetime:
    """Naive UTC of `hour` o'clock in Paris, `days` after today."""
    return from_paris_parts(TODAY + timedelta(days=days), time(hour))


@pytest.fixture
def world(factory: sessionmaker[Session], settings: Settings) -> World:
    with factory.begin() as session:
        return make_world(session, settings)


@pytest.fixture
def smtp_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return dataclasses.replace(settings, smtp=smtp_server.settings())


def publish(session: Session, actor, when: datetime | None = None, **changes) -> int:
    posting = recruitment.create_posting(session, actor, posting_input(**changes), when)
    recruitment.publish_posting(session, actor, posting.id, when)
    return posting.id


def add_recruiter(session: Session, settings: Settings, world: World, email: str) -> accounts.UserInfo:
    return accounts.create_user(
        session,
        email=email,
        display_name=email.split("@")[0],
        role="recruteur",
        settings=settings,
        organisation_id=world.own.id,
        password=STRONG_PASSWORD,
        notify=False,
    )


def rows(factory: sessionmaker[Session], kind: str) -> list[OutboxMessage]:
    """Every outbox row of a kind, the unlisted ones included."""
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def count(factory: sessionmaker[Session], model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def text(message: Message) -> str:
    return message.get_payload(decode=True).decode()


def token_in(url: str) -> str:
    return parse_qs(urlsplit(url).query)[links.TOKEN_PARAMETER][0]


def header_token(message: Message) -> str:
    """The token of the List-Unsubscribe header, checked to be the one-click route of the base URL."""
    header = message["List-Unsubscribe"]
    assert header.startswith("<http://pvd.test/_pvd/desabonnement?jeton=") and header.endswith(">"), header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return token_in(header[1:-1])


def body_token(message: Message) -> str:
    """The token of the unsubscribe link written in the text (the page, opened in a browser)."""
    [line] = [line for line in text(message).splitlines() if "/abonnement?jeton=" in line]
    return token_in(line[line.index("http://pvd.test/abonnement") :].strip())


# ---------------------------------------------------------------------------- recruiters: new applications


def test_a_new_application_emails_its_organisations_recruiters_only_without_the_candidates_data(
    world: World, factory, settings, smtp_server: SmtpServer
) -> None:
    with factory.begin() as session:
        quiet = add_recruiter(session, settings, world, "quiet@montbardois.fr")
        notifications.set_preference(session, quiet, "new_application", "none")
        daily = add_recruiter(session, settings, world, "daily@montbardois.fr")
        notifications.set_preference(session, daily, "new_application", "daily")
        gone = add_recruiter(session, settings, world, "gone@montbardois.fr")
        accounts.set_active(session, gone.id, False, world.users["admin"].id)
        posting_id = publish(session, world.users["recruteur"])
        publish(session, world.users["recruteur_autre"])
        receipt = recruitment.apply(session, posting_id, application_input(CANDIDATE), settings)

    assert mail.deliver_due(factory, smtp_server.settings()).failed == []
    for nobody in (
        OTHER_RECRUITER,
        DIRECTION,
        ADMIN,
        "quiet@montbardois.fr",
        "daily@montbardois.fr",
        "gone@montbardois.fr",
    ):
        assert smtp_server.to(nobody) == [], nobody
    [message] = smtp_server.to(RECRUITER)
    assert subject(message) == f"Nouvelle candidature : {posting_input().title}"
    body = text(message)
    assert receipt.reference in body and f"« {posting_input().title} »" in body
    assert f"http://pvd.test/candidatures?offre={posting_id}" in body
    # Nothing of the candidate but the reference: no name, address, phone, nor any document.
    for personal in ("Léa", "Martin", CANDIDATE, "06 12", "+336"):
        assert personal not in body and personal not in subject(message)
    assert not message.is_multipart()
    # The one-click header and the link of the text carry the same token, of which only the hash is stored.
    token = header_token(message)
    assert body_token(message) == token
    with factory() as session:
        [link] = session.scalars(select(UnsubscribeLink)).all()
        assert link.token_hash == links.token_hash(token) and token not in link.token_hash
        assert (link.user_id, link.topic) == (world.users["recruteur"].id, "new_application")
    # Sent: the stored message lost its body, link and unsubscribe address.
    [stored] = rows(factory, notifications.KIND_NEW_APPLICATION)
    assert (stored.status, stored.body, stored.link, stored.unsubscribe_url) == ("sent", "", None, None)


def test_preferences_belong_to_a_role_and_offer_only_its_choices(world: World, factory, settings) -> None:
    with factory.begin() as session:
        recruiter, direction = world.users["recruteur"], world.users["direction"]
        assert notifications.preferences(session, recruiter) == {"new_application": "immediate"}
        assert notifications.preferences(session, direction) == {"recruiter_request": "immediate"}
        assert notifications.preferences(session, world.users["admin"]) == {}
        for actor, topic, frequency, code in [
            (recruiter, "recruiter_request", "none", "forbidden"),
            (direction, "new_application", "none", "forbidden"),
            (world.users["admin"], "recruiter_request", "none", "forbidden"),
            (None, "new_application", "none", "forbidden"),
            (direction, "recruiter_request", "daily", "unknown_notification_frequency"),
            (recruiter, "new_application", "weekly", "unknown_notification_frequency"),
        ]:
            with pytest.raises(DomainError) as error:
                notifications.set_preference(session, actor, topic, frequency)
            assert error.value.code == code
        notifications.set_preference(session, recruiter, "new_application", "daily")
        notifications.set_preference(session, recruiter, "new_application", "none")
        assert notifications.preferences(session, recruiter) == {"new_application": "none"}
        assert session.scalar(select(func.count()).select_from(NotificationPreference)) == 1


def test_the_daily_summary_lists_the_days_applications_once_after_eight_in_paris(
    world: World, factory, settings, smtp_server: SmtpServer
) -> None:
    with factory.begin() as session:
        recruiter = world.users["recruteur"]
        notifications.set_preference(session, recruiter, "new_application", "daily")
        first = publish(session, recruiter, at(-1, 9))
        second = publish(session, recruiter, at(-1, 9), title="Chargé de mission habitat")
        other = publish(session, world.users["recruteur_autre"], at(-1, 9))
        recruitment.apply(session, first, application_input("a@example.fr"), settings, at(0, 6))
        recruitment.apply(session, first, application_input("b@example.fr"), settings, at(0, 7))
        recruitment.apply(session, second, application_input("c@example.fr"), settings, at(0, 7))
        recruitment.apply(session, other, application_input("d@example.fr"), settings, at(0, 7))
    # The recruiter chose the summary; the other organisation's recruiter keeps one e-mail each time.
    assert [m.recipient for m in rows(factory, notifications.KIND_NEW_APPLICATION)] == [OTHER_RECRUITER]
    with factory.begin() as session:
        assert notifications.send_application_digests(session, settings, at(0, 7)) == 0  # before 8 in Paris
    with factory.begin() as session:
        assert notifications.send_application_digests(session, settings, at(0, 9)) == 1
    with factory.begin() as session:
        assert notifications.send_application_digests(session, settings, at(0, 18)) == 0  # once a day
    mail.deliver_due(factory, smtp_server.settings())
    [summary] = smtp_server.to(RECRUITER)
    assert subject(summary) == "Candidatures du jour : 3 nouvelle(s)"
    body = text(summary)
    assert f"« {posting_input().title} » : 2 nouvelle(s) candidature(s)" in body
    assert "« Chargé de mission habitat » : 1 nouvelle(s) candidature(s)" in body
    assert f"http://pvd.test/candidatures?offre={first}" in body and "a@example.fr" not in body
    assert [subject(m) for m in smtp_server.to(OTHER_RECRUITER)] == [f"Nouvelle candidature : {posting_input().title}"]
    header_token(summary)

    # The next day: nothing new, nothing sent; the day after, only what arrived since.
    with factory.begin() as session:
        assert notifications.send_application_digests(session, settings, at(1, 9)) == 0
        recruitment.apply(session, second, application_input("e@example.fr"), settings, at(1, 20))
    with factory.begin() as session:
        assert notifications.send_application_digests(session, settings, at(2, 8)) == 1
    mail.deliver_due(factory, smtp_server.settings())
    latest = smtp_server.to(RECRUITER)[-1]
    assert subject(latest) == "Candidatures du jour : 1 nouvelle(s)"
    assert "« Chargé de mission habitat » : 1 nouvelle(s)" in text(latest) and posting_input().title not in text(latest)


# ---------------------------------------------------------------------------- the direction: recruiter requests


def request_account(session: Session, settings: Settings, email: str = "nina@mairie-mamers.fr") -> str:
    return recruitment.request_recruiter_account(
        session,
        settings,
        email=email,
        display_name="Nina Mamers",
        organisation_name="Commune de Mamers",
        organisation_kind="commune",
        department="72",
    )


def test_the_direction_is_told_once_when_a_request_is_confirmed(
    world: World, factory, settings, smtp_server: SmtpServer
) -> None:
    with factory.begin() as session:
        quiet = accounts.create_user(
            session, email="quiet@anct.gouv.fr", display_name="Q", role="direction", settings=settings, notify=False
        )
        notifications.set_preference(session, quiet, "recruiter_request", "none")
        token = request_account(session, settings)
    assert rows(factory, notifications.KIND_RECRUITER_REQUEST) == []  # not confirmed yet
    with factory.begin() as session:
        recruitment.confirm_recruiter_request(session, token, settings)
        recruitment.confirm_recruiter_request(session, token, settings)  # the link opened twice
    mail.deliver_due(factory, smtp_server.settings())
    assert [m["To"] for m in smtp_server.messages if m["To"] != "nina@mairie-mamers.fr"] == [DIRECTION]
    [message] = smtp_server.to(DIRECTION)
    assert subject(message) == "Une demande de compte recruteur attend votre décision"
    body = text(message)
    assert "Commune de Mamers (Commune, 72 – Sarthe)" in body and "http://pvd.test/comptes-recruteur" in body
    assert "Nina" not in body and "nina@" not in body
    header_token(message)


# ---------------------------------------------------------------------------- job alerts


def subscribe(factory: sessionmaker[Session], settings: Settings, email: str = CANDIDATE, **area: str | None) -> str:
    """Subscribe; the token of the confirmation e-mail's link."""
    with factory.begin() as session:
        notifications.subscribe(session, settings, email, area.get("region", "27"), area.get("department"))
    confirmation = rows(factory, notifications.KIND_ALERT_CONFIRM)[-1]
    assert confirmation.recipient == email and confirmation.unsubscribe_url is None
    return token_in(confirmation.link or "")


def test_job_alerts_double_opt_in_then_at_most_one_email_a_day_with_new_postings_only(
    world: World, factory, smtp_settings: Settings, smtp_server: SmtpServer
) -> None:
    token = subscribe(factory, smtp_settings, department="21")
    with factory.begin() as session:
        publish(session, world.users["recruteur"], at(-1, 10), title="Avant la confirmation")
        assert notifications.send_alerts(session, smtp_settings, at(0, 9)) == 0  # not confirmed: nothing
        view = notifications.link_view(session, token)
        assert (view.action, view.done) == ("confirm", False)
        assert notifications.confirm(session, token, at(0, 10)) == "Bourgogne-Franche-Comté (21 – Côte-d'Or)"
        assert notifications.confirm(session, token, at(0, 11)) == "Bourgogne-Franche-Comté (21 – Côte-d'Or)"
        assert notifications.link_view(session, token).done
    mail.deliver_due(factory, smtp_server.settings())
    [confirmation] = smtp_server.to(CANDIDATE)  # the only e-mail before confirmation
    assert subject(confirmation) == "Confirmez votre alerte offres d'emploi Petites villes de demain"
    assert "List-Unsubscribe" not in confirmation
    assert rows(factory, notifications.KIND_ALERT_CONFIRM) == []  # sent, then deleted (unlisted kind)

    with factory.begin() as session:
        assert notifications.send_alerts(session, smtp_settings, at(0, 12)) == 0  # today's run was done at 9
        wanted = publish(session, world.users["recruteur"], at(0, 14), title="Cheffe de projet à Montbard")
        publish(session, world.users["recruteur_autre"], at(0, 14), title="En Occitanie")
    with factory.begin() as session:
        assert notifications.send_alerts(session, smtp_settings, at(1, 7)) == 0  # before 8 in Paris
    with factory.begin() as session:
        assert notifications.send_alerts(session, smtp_settings, at(1, 8)) == 1
    with factory.begin() as session:
        assert notifications.send_alerts(session, smtp_settings, at(1, 23)) == 0
    mail.deliver_due(factory, smtp_server.settings())
    [_, alert] = smtp_server.to(CANDIDATE)
    assert subject(alert).startswith("1 nouvelle(s) offre(s) de chef de projet PVD : Bourgogne-Franche-Comté")
    body = text(alert)
    assert "Cheffe de projet à Montbard" in body and f"http://pvd.test/offres?offre={wanted}" in body
    assert "En Occitanie" not in body and "Avant la confirmation" not in body
    assert body_token(alert) == header_token(alert)
    with factory.begin() as session:  # the day after: nothing new, nothing sent
        assert notifications.send_alerts(session, smtp_settings, at(2, 9)) == 0
    assert rows(factory, notifications.KIND_ALERT) == []  # sent, then deleted: no list of who gets alerts


def test_alerts_need_smtp_and_bad_areas_are_refused(world: World, factory, settings: Settings) -> None:
    with factory.begin() as session:
        for region, department, code in [
            (None, None, "alert_region_required"),
            ("99", None, "alert_region_required"),
            ("27", "31", "filter_mismatch"),
            ("27", "XX", "filter_mismatch"),
        ]:
            with pytest.raises(DomainError) as error:
                notifications.subscribe(session, settings, CANDIDATE, region, department)
            assert error.value.code == code
        with pytest.raises(DomainError) as error:
            notifications.subscribe(session, settings, "pas-une-adresse", "27")
        assert error.value.code == "invalid_email"
    token = subscribe(factory, settings)
    with factory.begin() as session:
        notifications.confirm(session, token, at(-1, 10))
        publish(session, world.users["recruteur"], at(0, 7))
        assert notifications.send_alerts(session, settings, at(0, 9)) == 0  # without SMTP, alerts wait


def test_subscribing_again_within_a_day_sends_nothing_a_day_later_a_new_link_and_confirmed_gets_nothing_more(
    factory, settings
) -> None:
    with factory.begin() as session:
        notifications.subscribe(session, settings, CANDIDATE, "27", None, now=at(-2, 10))
    first = token_in(rows(factory, notifications.KIND_ALERT_CONFIRM)[-1].link or "")
    with factory.begin() as session:  # asked again the same day: the first e-mail's link still holds, no new e-mail
        notifications.subscribe(session, settings, CANDIDATE, "27", None, now=at(-2, 18))
    assert len(rows(factory, notifications.KIND_ALERT_CONFIRM)) == 1
    with factory.begin() as session:  # the next day: a new e-mail, whose link replaces the first one
        notifications.subscribe(session, settings, CANDIDATE, "27", None, now=at(-1, 11))
    second = token_in(rows(factory, notifications.KIND_ALERT_CONFIRM)[-1].link or "")
    assert second != first
    with factory.begin() as session:
        with pytest.raises(DomainError) as error:
            notifications.confirm(session, first)
        assert error.value.code == "invalid_subscription_link"
        notifications.confirm(session, second)
        notifications.subscribe(session, settings, CANDIDATE, "27")  # already receiving them: nothing sent
        # A stranger cannot flood an address with confirmations.
        for department in ("21", "25", "39", "58", "70", "71", "89", "90"):
            notifications.subscribe(session, settings, "victim@example.fr", "27", department)
    assert len(rows(factory, notifications.KIND_ALERT_CONFIRM)) == 2 + notifications.MAX_UNCONFIRMED_ALERTS
    assert count(factory, JobAlert) == 1 + notifications.MAX_UNCONFIRMED_ALERTS


def test_the_digest_and_the_alerts_go_once_when_two_servers_run_the_due_work_together(
    world: World, factory, smtp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = subscribe(factory, smtp_settings)
    with factory.begin() as session:
        notifications.confirm(session, token, at(-1, 12))
        recruiter = world.users["recruteur"]
        notifications.set_preference(session, recruiter, "new_application", "daily")
        posting_id = publish(session, recruiter, at(0, 7))
        recruitment.apply(session, posting_id, application_input(), smtp_settings, at(0, 8))
    ten = at(0, 10)
    monkeypatch.setattr("pvd_survey.notifications.staff.utcnow", lambda: ten)
    monkeypatch.setattr("pvd_survey.notifications.alerts.utcnow", lambda: ten)
    start = threading.Barrier(2)
    done: list[schedule.DueWork] = []
    failures: list[BaseException] = []

    def server() -> None:
        try:
            start.wait()
            done.append(schedule.run_due_work(factory, smtp_settings))
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=server) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(done) == 2
    assert sum(work.application_digests for work in done) == sum(work.job_alerts for work in done) == 1
    assert len(rows(factory, notifications.KIND_APPLICATION_DIGEST)) == 1
    assert len(rows(factory, notifications.KIND_ALERT)) == 1
    again = schedule.run_due_work(factory, smtp_settings)  # and not again that day
    assert (again.application_digests, again.job_alerts) == (0, 0)


# ---------------------------------------------------------------------------- unsubscribing


def confirmed_alert_delivered(world: World, factory, smtp_settings: Settings, smtp_server: SmtpServer) -> Message:
    """A confirmed subscription whose first alert was delivered; that e-mail."""
    token = subscribe(factory, smtp_settings)
    with factory.begin() as session:
        notifications.confirm(session, token, at(-1, 10))
        publish(session, world.users["recruteur"], at(-1, 11))
        notifications.send_alerts(session, smtp_settings, at(0, 9))
    mail.deliver_due(factory, smtp_server.settings())
    return smtp_server.to(CANDIDATE)[-1]


@pytest.fixture
def http(app_env: str, world: World):
    return web_client()


def test_one_click_post_deletes_the_subscription_and_keeps_nothing(
    world: World, factory, smtp_settings: Settings, smtp_server: SmtpServer, http
) -> None:
    alert = confirmed_alert_delivered(world, factory, smtp_settings, smtp_server)
    url = alert["List-Unsubscribe"][1:-1]
    # A browser (or a link checker) opening the address changes nothing: it is sent to the page that asks.
    opened = http.get(url)
    assert opened.status_code == 303 and opened.headers["location"] == f"/abonnement?jeton={header_token(alert)}"
    assert count(factory, JobAlert) == 1
    # The mail program's one click (RFC 8058).
    done = http.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "vous ne recevrez plus les alertes offres d&#x27;emploi en Bourgogne-Franche-Comté" in done.text
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(JobAlert)) == 0
        assert session.scalar(select(func.count()).select_from(UnsubscribeLink)) == 0
        assert (
            session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.recipient == CANDIDATE))
            == 0
        )
    # Used twice, or forged: said politely, nothing changes (another subscription stays).
    other = subscribe(factory, smtp_settings, "autre@example.fr")
    with factory.begin() as session:
        notifications.confirm(session, other)
    for again in (url, "http://pvd.test/_pvd/desabonnement?jeton=forge", "http://pvd.test/_pvd/desabonnement"):
        refused = http.post(again)
        assert refused.status_code == 400
        assert "Rien n&#x27;a été modifié." in refused.text
    assert count(factory, JobAlert) == 1


def test_unsubscribing_deletes_the_alerts_messages_not_yet_sent(world: World, factory, smtp_settings) -> None:
    token = subscribe(factory, smtp_settings)
    with factory.begin() as session:
        notifications.confirm(session, token, at(-1, 10))
        publish(session, world.users["recruteur"], at(-1, 11))
        notifications.send_alerts(session, smtp_settings, at(0, 9))
    [pending] = rows(factory, notifications.KIND_ALERT)
    assert len(rows(factory, notifications.KIND_ALERT_CONFIRM)) == 1  # (no delivery in this test)
    with factory.begin() as session:
        notifications.unsubscribe(session, token_in(pending.unsubscribe_url or ""))
    assert rows(factory, notifications.KIND_ALERT) == rows(factory, notifications.KIND_ALERT_CONFIRM) == []
    assert count(factory, JobAlert) == count(factory, UnsubscribeLink) == 0


def test_a_recruiter_unsubscribes_in_one_click_and_gets_no_more_application_emails(
    world: World, factory, settings, smtp_server: SmtpServer
) -> None:
    with factory.begin() as session:
        posting_id = publish(session, world.users["recruteur"])
        recruitment.apply(session, posting_id, application_input("a@example.fr"), settings)
        recruitment.apply(session, posting_id, application_input("b@example.fr"), settings)
    mail.deliver_due(factory, smtp_server.settings())
    first, second = smtp_server.to(RECRUITER)
    with factory.begin() as session:
        view = notifications.link_view(session, body_token(first))
        assert (view.action, view.subject) == ("unsubscribe", "les e-mails « Nouvelles candidatures à vos offres »")
        assert notifications.unsubscribe(session, header_token(first)) == view.subject
    with factory.begin() as session:
        assert notifications.preferences(session, world.users["recruteur"]) == {"new_application": "none"}
        for used_or_forged in (header_token(first), header_token(second), "forge", "", None):  # (links all retired)
            with pytest.raises(DomainError) as error:
                notifications.unsubscribe(session, used_or_forged)
            assert error.value.code == "invalid_subscription_link"
        recruitment.apply(session, posting_id, application_input("c@example.fr"), settings)
    assert len(rows(factory, notifications.KIND_NEW_APPLICATION)) == 2  # none for the third
    assert count(factory, UnsubscribeLink) == 0


def test_unsubscribe_links_expire_and_purge_deletes_them_and_unconfirmed_alerts(
    world: World, factory, settings: Settings
) -> None:
    now = at(0, 12)
    with factory.begin() as session:
        notifications.subscribe(session, settings, "old@example.fr", "27", None, now - timedelta(days=8))
        notifications.subscribe(session, settings, "recent@example.fr", "27", None, now - timedelta(days=6))
        notifications.subscribe(session, settings, "kept@example.fr", "27", None, now - timedelta(days=30))
    old, recent, kept = (token_in(m.link or "") for m in rows(factory, notifications.KIND_ALERT_CONFIRM))
    with factory.begin() as session:
        notifications.confirm(session, kept, now - timedelta(days=29))
        with pytest.raises(DomainError):  # past a week, the confirmation link is dead
            notifications.confirm(session, old, now)
        posting_id = publish(session, world.users["recruteur"])
        recruitment.apply(session, posting_id, application_input(), settings, now - timedelta(days=91))
        recruitment.apply(session, posting_id, application_input("b@example.fr"), settings, now - timedelta(days=1))
    stale, fresh = (token_in(m.unsubscribe_url or "") for m in rows(factory, notifications.KIND_NEW_APPLICATION))
    with factory.begin() as session:
        with pytest.raises(DomainError):
            notifications.link_view(session, stale, now)
        assert notifications.link_view(session, fresh, now).action == "unsubscribe"
        done = privacy.purge(session, settings, now)
    assert [item.step for item in done if "alertes" in item.step or "désabonnement" in item.step] == [
        "alertes offres d'emploi jamais confirmées",
        "liens de désabonnement expirés",
    ]
    with factory() as session:
        assert set(session.scalars(select(JobAlert.email))) == {"recent@example.fr", "kept@example.fr"}
        assert session.scalars(select(UnsubscribeLink.token_hash)).all() == [links.token_hash(fresh)]
    with factory.begin() as session:
        assert notifications.confirm(session, recent, now) == "Bourgogne-Franche-Comté"


def test_an_access_request_exports_and_erases_the_alerts(world: World, factory, settings: Settings) -> None:
    subscribe(factory, settings, region="53")
    with factory.begin() as session:
        exported = privacy.export_person(session, world.users["admin"], CANDIDATE)
        assert [(a["region"], a["confirmee_le"]) for a in exported["alertes offres d'emploi"]] == [("53", None)]
        assert privacy.erase_person(session, world.users["admin"], CANDIDATE, settings)["alertes offres d'emploi"] == 1
    assert count(factory, JobAlert) == 0 and rows(factory, notifications.KIND_ALERT_CONFIRM) == []


# ---------------------------------------------------------------------------- the pages


def test_the_pages_confirm_and_unsubscribe_in_one_click(
    app_env: str, world: World, factory, smtp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PVD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PVD_SMTP_SECURITY", "none")
    monkeypatch.setenv("PVD_MAIL_FROM", "pvd@anct.gouv.fr")
    at_ = open_page("pages/jobs.py")
    at_.selectbox(key="jobs_alert_region").select("27").run()
    at_.selectbox(key="jobs_alert_department").select("21").run()
    at_.text_input(key="jobs_alert_email").input(CANDIDATE).run()
    at_ = at_.button(key="jobs_alert_subscribe").click().run()
    assert not at_.exception and not at_.error
    assert any("un e-mail de confirmation vient de lui être envoyé" in s for s in texts(at_.success))
    [confirmation] = rows(factory, notifications.KIND_ALERT_CONFIRM)
    assert confirmation.recipient == CANDIDATE and rows(factory, notifications.KIND_ALERT) == []

    page = open_page("pages/subscription.py", jeton=token_in(confirmation.link or ""))
    assert texts(page.title) == ["Abonnement aux e-mails"] and not page.error
    page = page.button(key="subscription_confirm").click().run()
    assert texts(page.success) == [
        "Alerte confirmée : vous recevrez les nouvelles offres en Bourgogne-Franche-Comté (21 – Côte-d'Or), au plus "
        "un e-mail par jour."
    ]
    with factory.begin() as session:
        publish(session, world.users["recruteur"], title="Publiée après la confirmation")
        assert notifications.send_alerts(session, smtp_settings, at(1, 9)) == 1
    [alert] = rows(factory, notifications.KIND_ALERT)
    token = token_in(alert.unsubscribe_url or "")
    assert f"http://pvd.test/abonnement?jeton={token}" in alert.body
    page = open_page("pages/subscription.py", jeton=token)
    assert "Ce lien arrête les alertes offres d'emploi en Bourgogne-Franche-Comté (21 – Côte-d'Or)." in [
        m.value for m in page.markdown
    ]
    page = page.button(key="subscription_unsubscribe").click().run()
    assert texts(page.success) == [
        "C'est fait : vous ne recevrez plus les alertes offres d'emploi en Bourgogne-Franche-Comté (21 – Côte-d'Or)."
    ]
    assert count(factory, JobAlert) == 0
    again = open_page("pages/subscription.py", jeton=token)
    assert texts(again.info) == [MESSAGES["invalid_subscription_link"]] and not again.button


def test_the_jobs_page_offers_no_alerts_without_smtp(app_env: str, world: World) -> None:
    page = open_page("pages/jobs.py")
    assert not page.exception
    assert "jobs_alert_subscribe" not in [button.key for button in page.button]


def test_my_account_sets_the_notification_choices(app_env: str, world: World, factory) -> None:
    page = open_page("pages/account.py", world.users["recruteur"])
    radio = page.radio(key="account_notify_new_application")
    assert radio.options == ["Un e-mail à chaque fois", "Un récapitulatif par jour", "Aucun e-mail"]
    assert radio.value == "immediate"
    radio.set_value("daily")
    page = submit(page, "account_notifications_form")
    assert texts(page.success) == ["Vos choix d'e-mails sont enregistrés."]
    with factory.begin() as session:
        assert notifications.preferences(session, world.users["recruteur"]) == {"new_application": "daily"}
    page = open_page("pages/account.py", world.users["direction"])
    assert page.radio(key="account_notify_recruiter_request").options == ["Un e-mail à chaque fois", "Aucun e-mail"]
    page = open_page("pages/account.py", world.users["admin"])
    assert not page.radio


@pytest.mark.database_independent
def test_the_links_use_the_shared_parameters_and_the_alerts_are_unlisted() -> None:
    assert notifications.TOKEN_PARAMETER == links.TOKEN_PARAMETER
    assert notifications.POSTING_PARAMETER == recruitment.POSTING_PARAMETER
    assert {notifications.KIND_ALERT, notifications.KIND_ALERT_CONFIRM} <= set(mail.UNLISTED_KINDS)
