"""Meeting pages through AppTest: public list and registration, private link, organisation, check-in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from pvd_survey import db, meetings
from pvd_survey.clock import paris_time
from pvd_survey.errors import MESSAGES
from pvd_survey.models import Meeting, OutboxMessage, Registration, utcnow
from tests.conftest import open_page as page
from tests.factories import (
    focus_moves_to,
    installed_direction,
    meeting_form,
    person,
    shown_form_errors,
    texts,
    token_from_outbox,
    token_of,
)


def everything(at: AppTest) -> str:
    """All the text a person reads on the page."""
    parts = [at.markdown, at.caption, at.success, at.warning, at.error, at.info, at.title, at.subheader]
    return " ".join(str(value) for elements in parts for value in texts(elements))


@pytest.fixture
def installed(app_env, factory, settings):
    """An admin, a direction member and a meeting with 2 places; returns (direction, meeting id)."""
    with factory.begin() as session:
        direction = installed_direction(session, settings)
        meeting_id = meetings.create_meeting(session, meeting_form())
    return direction, meeting_id


def fill_registration(at: AppTest, number: int, consent: bool = True, email: str | None = None) -> AppTest:
    at.text_input(key="meetings_full_name").input(f"Personne {number}")
    at.text_input(key="meetings_email").input(email or f"personne.{number}@mairie.fr")
    at.selectbox(key="meetings_role").set_value("chef_de_projet")
    at.text_input(key="meetings_organisation").input("Commune de Semur-en-Auxois")
    at.selectbox(key="meetings_department").set_value("21")
    if consent:
        at.checkbox(key="meetings_consent").check()
    return at.button(key="FormSubmitter:meetings_form-M'inscrire").click().run()


def count(factory, model) -> int:
    with db.read_only(factory) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_public_list_shows_places_and_filters_by_region(installed, factory):
    assert installed
    at = page("pages/meetings.py")
    assert not at.exception
    text = everything(at)
    assert "Rencontre régionale des chefs de projet de Bourgogne-Franche-Comté" in text
    assert "2 places restantes sur 2" in text
    at.selectbox(key="meetings_region").set_value("53").run()  # Bretagne: nothing there
    assert "Aucune rencontre à venir" in everything(at)
    assert at.query_params["region"] == ["53"] or at.query_params["region"] == "53"


def test_public_list_shows_20_at_a_time(installed, factory):
    with factory.begin() as session:
        for number in range(21):
            meetings.create_meeting(session, meeting_form(title=f"Atelier n° {number + 2:02d}"))
    at = page("pages/meetings.py")
    assert "20 premières rencontres à venir." in texts(at.caption)
    assert len([b for b in at.button if b.key and b.key.startswith("meetings_open_")]) == 20
    at.button(key="meetings_more").click().run()
    assert "22 rencontres à venir." in texts(at.caption)
    assert len([b for b in at.button if b.key and b.key.startswith("meetings_open_")]) == 22
    assert not [b for b in at.button if b.key == "meetings_more"]


def test_large_numbers_read_the_french_way_on_every_meeting_page(installed, factory):
    """« 100 000 places », never « 100000 place(s) » nor « 100,000 »: a narrow no-break space between thousands,
    singular and plural right."""
    direction, _ = installed
    with factory.begin() as session:
        big = meetings.create_meeting(session, meeting_form(title="Assises nationales", capacity=100_000))
    thousand = "100\u202f000"
    english = ("100000", "100,000", "place(s)", "rencontre(s)")
    public = everything(page("pages/meetings.py"))
    assert f"{thousand} places restantes sur {thousand}" in public and "2 rencontres à venir" in public
    assert not [word for word in english if word in public]
    home = everything(page("pages/home.py"))
    assert f"{thousand} places restantes** sur {thousand}" in home
    assert not [word for word in english if word in home]
    at = page("pages/meetings_admin.py", direction, rencontre=str(big))
    assert [metric.value for metric in at.metric] == [f"0 / {thousand}", "0", "0", "0"]
    assert any(f"(0/{thousand})" in option for option in at.selectbox(key="meetings_admin_selected").options)
    door = page("pages/checkin.py", direction, rencontre=str(big))
    assert [metric.value for metric in door.metric] == ["0 / 0"]


def test_register_from_the_shareable_link_then_waiting_list(installed, factory):
    _, meeting_id = installed
    for number in (1, 2):
        at = fill_registration(page("pages/meetings.py", rencontre=str(meeting_id)), number)
        assert not at.exception
        assert "Inscription confirmée" in everything(at)
        # In place of the form, with the places counted after this registration.
        assert not [b for b in at.button if b.key and b.key.startswith("FormSubmitter:meetings_form")]
        places = "1 place restante sur 2" if number == 1 else "Complet : liste d'attente (0 personne)"
        assert places in everything(at)
    at.button(key="meetings_another").click().run()
    assert "Complet : liste d'attente (0 personne)" in everything(at) and "Inscription confirmée" not in everything(at)
    assert [b for b in at.button if b.key == "FormSubmitter:meetings_form-M'inscrire"]
    at = fill_registration(page("pages/meetings.py", rencontre=str(meeting_id)), 3)
    assert "liste d'attente, en position **1**" in everything(at)
    assert count(factory, Registration) == 3


def test_duplicate_registration_says_so_and_resends(installed, factory):
    _, meeting_id = installed
    fill_registration(page("pages/meetings.py", rencontre=str(meeting_id)), 1)
    at = fill_registration(page("pages/meetings.py", rencontre=str(meeting_id)), 1, email="PERSONNE.1@mairie.fr")
    assert "Vous étiez déjà inscrit(e)" in everything(at)
    assert count(factory, Registration) == 1
    assert count(factory, OutboxMessage) == 2


def test_bad_registration_shows_field_errors_and_stores_nothing(installed, factory):
    _, meeting_id = installed
    at = fill_registration(
        page("pages/meetings.py", rencontre=str(meeting_id)), 1, consent=False, email="pas-une-adresse"
    )
    # Both problems at once (RGAA 11.10): under each field, listed at the top with its label, the focus on the first.
    summary, under = shown_form_errors(at, "meetings_form")
    assert list(under) == ["email", "consent"]
    assert under["email"][0] == "Adresse e-mail" and under["email"][1].startswith("L'adresse e-mail n'est pas valide")
    assert under["consent"] == ("J'ai lu et j'accepte la notice ci-dessus", MESSAGES["consent_required"])
    assert [line.split(" : ")[0] for line in summary] == [
        "**Adresse e-mail**",
        "**J'ai lu et j'accepte la notice ci-dessus**",
    ]
    assert "Le formulaire n'a pas été envoyé : 2 champ(s) à corriger." in texts(at.error)[0]
    assert focus_moves_to(at) == "meetings_form"
    assert count(factory, Registration) == 0 and count(factory, OutboxMessage) == 0

    at.text_input(key="meetings_email").input("lea.martin@montbard.fr")
    at.checkbox(key="meetings_consent").check()
    at = at.button(key="FormSubmitter:meetings_form-M'inscrire").click().run()
    assert shown_form_errors(at, "meetings_form") == ([], {}) and focus_moves_to(at) == "meetings_outcome"
    assert texts(at.success)[0].startswith("Inscription confirmée.")


@pytest.mark.parametrize("raw", ["abc", "999999", "-1", ""])
def test_unknown_meeting_in_the_url_says_so(installed, raw):
    at = page("pages/meetings.py", rencontre=raw)
    assert not at.exception
    assert any("Rencontre introuvable" in message for message in texts(at.error))


def test_closed_meeting_offers_no_form(installed, factory, settings):
    now = utcnow()
    with factory.begin() as session:
        closed = meetings.create_meeting(
            session,
            meeting_form(registration_opens_at=now - timedelta(days=5), registration_closes_at=now - timedelta(days=1)),
        )
    at = page("pages/meetings.py", rencontre=str(closed))
    assert "Les inscriptions à cette rencontre sont closes." in texts(at.error)
    assert not [b for b in at.button if b.form_id == "meetings_form"]


def test_private_link_shows_status_and_cancels_offering_the_place_to_the_next(installed, factory, settings):
    _, meeting_id = installed
    with factory.begin() as session:
        for number in (1, 2, 3):
            meetings.register(session, meeting_id, person(number), settings)
        token = token_of(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first())
    at = page("pages/registration.py", jeton=token)
    assert not at.exception
    assert "Votre place est réservée" in everything(at)
    at.checkbox(key="registration_sure").check().run()
    at.button(key="registration_cancel").click().run()
    assert "Votre inscription est annulée" in everything(at)
    # The page forgets the link in this tab (and clears its cookie): the next person at this computer sees nothing.
    assert "Cette page s'ouvre depuis le lien personnel" in everything(at) and "Personne 1" not in everything(at)
    assert "inscription annulée" in everything(page("pages/registration.py", jeton=token))  # the link opened again
    with db.read_only(factory) as session:
        lists = meetings.roster(session, meeting_id)
    assert [p.email for p in lists.confirmed] == ["personne.2@mairie.fr"]
    assert [(p.email, p.status) for p in lists.waiting] == [("personne.3@mairie.fr", "offered")]  # held for them


def test_private_link_refuses_a_bad_token(installed):
    at = page("pages/registration.py", jeton="pas-un-jeton")
    assert any("Ce lien d'inscription n'est pas valide" in message for message in texts(at.error))


def test_direction_creates_a_meeting_and_cannot_shrink_below_confirmed(installed, factory, settings):
    direction, meeting_id = installed
    at = page("pages/meetings_admin.py", direction)
    assert not at.exception
    # French widgets: dates as jj/mm/aaaa, no « Select all » in the audiences' list, a French prompt.
    assert [field.proto.format for field in at.get("date_input")] == ["DD/MM/YYYY"] * 4
    [audiences] = at.multiselect
    assert not audiences.proto.select_all and audiences.proto.placeholder == "Choisissez"
    form = "meetings_admin_form_new"
    title_input = next(widget for widget in at.text_input if widget.label == "Titre")
    title_input.input("Atelier friches commerciales")
    next(widget for widget in at.text_input if widget.label == "Ville").input("Auxerre")
    next(widget for widget in at.number_input if widget.label == "Nombre de places").set_value(25)
    next(b for b in at.button if b.form_id == form).click().run()
    assert not at.exception
    assert "Rencontre créée." in texts(at.success)
    with db.read_only(factory) as session:
        created = session.scalar(select(Meeting).where(Meeting.title == "Atelier friches commerciales"))
        assert created.capacity == 25 and created.city == "Auxerre"

    with factory.begin() as session:
        for number in (1, 2):
            meetings.register(session, meeting_id, person(number), settings)
    at = page("pages/meetings_admin.py", direction, rencontre=str(meeting_id))
    assert "2 / 2" in [metric.value for metric in at.metric]
    form = f"meetings_admin_form_{meeting_id}"
    next(widget for widget in at.number_input if widget.label == "Nombre de places").set_value(1)
    next(b for b in at.button if b.form_id == form).click().run()
    assert any(
        "La capacité ne peut pas descendre sous 2 places (personnes confirmées : 2 ; places libérées proposées à la "
        "liste d'attente, en attente de réponse : 0)" in e
        for e in texts(at.error)
    )
    summary, under = shown_form_errors(at, form)  # under the field, listed at the top, the focus on it
    assert list(under) == ["capacity"]
    assert summary[0].startswith("**Nombre de places** : La capacité ne peut pas descendre")
    assert focus_moves_to(at) == form
    with db.read_only(factory) as session:
        assert session.get(Meeting, meeting_id).capacity == 2


def test_direction_cancels_someone_and_downloads_lists(installed, factory, settings):
    direction, meeting_id = installed
    with factory.begin() as session:
        for number in (1, 2, 3):
            meetings.register(session, meeting_id, person(number), settings)
    at = page("pages/meetings_admin.py", direction, rencontre=str(meeting_id))
    labels = [button.label for button in at.get("download_button")]
    assert labels == [
        "Liste (CSV)",
        "Liste (Excel)",
        "Feuille d'émargement (PDF)",
        "CSV pour les outils (séparateur virgule)",
    ]
    with db.read_only(factory) as session:
        first = next(p for p in meetings.roster(session, meeting_id).confirmed if p.email == "personne.1@mairie.fr")
    at.selectbox(key="meetings_admin_cancel_person").set_value(first.id).run()
    at.button(key="meetings_admin_cancel").click().run()
    assert not at.exception
    assert any("Inscription annulée" in s for s in texts(at.success))
    with db.read_only(factory) as session:
        lists = meetings.roster(session, meeting_id)
    assert [(p.email, p.status) for p in lists.waiting] == [("personne.3@mairie.fr", "offered")]
    # The direction sees the offer's state and deadline in the waiting list and in the downloaded list.
    at = page("pages/meetings_admin.py", direction, rencontre=str(meeting_id))
    waiting = next(frame.value for frame in at.dataframe if "Offre" in frame.value.columns and len(frame.value))
    assert waiting["Nom"].tolist() == ["Personne 3"]
    assert re.fullmatch(r"Place proposée jusqu'au \d\d/\d\d/\d{4} à \d\d:\d\d", waiting["Offre"].iloc[0])
    rows = meetings.export_rows(lists)
    assert [row[-1] for row in rows if row[3] == "Personne 3"] == [waiting["Offre"].iloc[0]]


def test_check_in_finds_and_marks_present(installed, factory, settings):
    direction, meeting_id = installed
    with factory.begin() as session:
        meetings.register(session, meeting_id, person(1, full_name="Hélène Dupré"), settings)
        meetings.register(session, meeting_id, person(2, full_name="Marc Durand"), settings)
    at = page("pages/checkin.py", direction, rencontre=str(meeting_id))
    assert not at.exception
    assert [metric.value for metric in at.metric] == ["0 / 2"]
    at.text_input(key="checkin_query").input("helene").run()
    buttons = [b for b in at.button if b.key and b.key.startswith("checkin_")]
    assert len(buttons) == 1
    buttons[0].click().run()
    assert [metric.value for metric in at.metric] == ["1 / 2"]
    assert any("Bienvenue" in s and "Hélène Dupré" in s for s in texts(at.success))


def _scan(at: AppTest, typed: str) -> AppTest:
    """What a barcode scanner does: type the code into the focused field, then Enter."""
    return at.text_input(key="checkin_scan").input(typed).run()


def test_the_door_answers_a_scan_in_large_type_clears_the_field_and_can_undo(installed, factory, settings):
    direction, meeting_id = installed
    with factory.begin() as session:
        meetings.register(session, meeting_id, person(1, full_name="Hélène Dupré"), settings)
        meetings.register(session, meeting_id, person(2), settings)
        meetings.register(session, meeting_id, person(3, full_name="Zoé Attente"), settings)
        references = dict(session.execute(select(Registration.email, Registration.reference)).all())
    code = meetings.ticket_code(settings.secret_key, meeting_id, references["personne.1@mairie.fr"])
    at = _scan(page("pages/checkin.py", direction, rencontre=str(meeting_id)), code)
    assert not at.exception
    (answer,) = texts(at.success)
    assert answer.startswith("## Bienvenue\n### Hélène Dupré")
    assert at.text_input(key="checkin_scan").value == ""  # ready for the next ticket
    assert [metric.value for metric in at.metric] == ["1 / 2"]
    at = _scan(at, code)
    assert any(text.startswith("## Déjà enregistré à ") for text in texts(at.warning))
    assert [metric.value for metric in at.metric] == ["1 / 2"]
    at.button(key="checkin_undo").click().run()
    assert any("Arrivée de Hélène Dupré annulée." in text for text in texts(at.success))
    assert [metric.value for metric in at.metric] == ["0 / 2"]
    waiting = meetings.ticket_code(settings.secret_key, meeting_id, references["personne.3@mairie.fr"])
    at = _scan(at, waiting)
    assert any("Liste d'attente" in text and "Zoé Attente" in text for text in texts(at.error))
    assert not [b for b in at.button if b.key == "checkin_undo"]
    at = _scan(at, "3017620422003")
    assert any("Ce n'est pas un billet" in text for text in texts(at.error))
    assert [metric.value for metric in at.metric] == ["0 / 2"]
    # « Mode dégradé »: what to print before the doors open, and what to do when the network is back.
    assert "Avant l'ouverture des portes" in everything(at) and "Au retour du réseau" in everything(at)
    downloads = [button.proto.label for button in at.get("download_button")]
    assert downloads == ["Feuille d'émargement (PDF)", "Liste des inscrits (CSV)"]


def test_naming_a_door_keeper_says_both_missing_fields_at_once(installed, factory):
    direction, meeting_id = installed
    at = page("pages/checkin.py", direction, rencontre=str(meeting_id))
    at.text_input(key="checkin_door_email").input("lina@")
    at = at.button(key="FormSubmitter:checkin_door_form-Envoyer le lien d'accueil").click().run()
    summary, under = shown_form_errors(at, "checkin_door_form")
    assert under["full_name"] == ("Nom", MESSAGES["field_required"])
    assert under["email"][0] == "E-mail" and under["email"][1].startswith("L'adresse e-mail n'est pas valide")
    assert len(summary) == 2 and focus_moves_to(at) == "checkin_door_form"
    assert at.text_input(key="checkin_door_email").value == "lina@"  # a refused form keeps what was typed
    with factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_door_link_opens_its_meeting_only_and_nobody_else_gets_in(installed, factory, settings):
    direction, meeting_id = installed
    at = page("pages/checkin.py", direction, rencontre=str(meeting_id))
    at.text_input(key="checkin_door_name").input("Lina Accueil")
    at.text_input(key="checkin_door_email").input("lina@prefecture.gouv.fr")
    at.button(key="FormSubmitter:checkin_door_form-Envoyer le lien d'accueil").click().run()
    assert any("Lien d'accueil envoyé à lina@prefecture.gouv.fr." in text for text in texts(at.success))
    with factory.begin() as session:
        meetings.register(session, meeting_id, person(1, full_name="Hélène Dupré"), settings)
        reference = session.scalar(select(Registration.reference))
        link = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "door_pass"))
    door = page("pages/checkin.py", jeton=token_of(link))  # not signed in: the link alone
    assert not door.exception
    assert "Accueil : Lina Accueil" in everything(door) and not door.selectbox  # this meeting, no other
    assert not [b for b in door.button if b.key and b.key.startswith("checkin_revoke")]  # no team to manage
    door = _scan(door, meetings.ticket_code(settings.secret_key, meeting_id, reference))
    assert any("Bienvenue" in text for text in texts(door.success))
    # The sign-in sheet to print, but not the list with e-mails and needs (the direction's).
    assert [button.proto.label for button in door.get("download_button")] == ["Feuille d'émargement (PDF)"]
    # Without a link, or with a withdrawn one, the door stays shut.
    assert any("Connectez-vous" in text for text in texts(page("pages/checkin.py").error))
    with factory.begin() as session:
        hélène = session.scalar(select(Registration.id).where(Registration.reference == reference))
        meetings.undo_check_in(session, meeting_id, hélène)  # (scanned above: back to not arrived)
        (keeper,) = meetings.door_keepers(session, meeting_id)
        meetings.revoke_door_pass(session, meeting_id, keeper.id)
    # The phone still shows the page: its next scan is refused, nothing recorded.
    door = _scan(door, meetings.ticket_code(settings.secret_key, meeting_id, reference))
    with factory.begin() as session:
        assert meetings.door_counts(session, meeting_id).arrived == 0
    assert any("Ce lien d'accueil n'est pas valide" in text for text in texts(door.error))
    shut = page("pages/checkin.py", jeton=token_of(link))
    assert any("Ce lien d'accueil n'est pas valide" in text for text in texts(shut.error))
    assert not shut.text_input


def meeting_row(at: AppTest, title: str):
    """The line of this meeting in the dashboard's table of meetings."""
    table = next(frame.value for frame in at.dataframe if "Remplissage (%)" in frame.value.columns)
    return table[table["Rencontre"] == title].iloc[0]


def test_dashboard_before_any_meeting_took_place_says_so_and_counts_cancellations(installed, factory, settings):
    direction, _ = installed
    with factory.begin() as session:
        coming = meetings.create_meeting(session, meeting_form(title="Rencontre de Beaune", capacity=20))
        for number in (1, 2):
            meetings.register(session, coming, person(number), settings)
        meetings.cancel_by_token(session, token_from_outbox(session, "personne.1@mairie.fr"), settings)
    at = page("pages/dashboard.py", direction, section="rencontres")
    assert not at.exception
    assert "Aucune rencontre passée pour l'instant." in texts(at.info)
    row = meeting_row(at, "Rencontre de Beaune")
    assert (row["Confirmés"], row["Annulations"]) == ("1", "1")


def test_dashboard_shows_fill_rate_and_attendance_without_small_groups(installed, factory, settings):
    direction, _ = installed
    with factory.begin() as session:
        big = meetings.create_meeting(session, meeting_form(title="Rencontre de Dijon", capacity=20))
        roles = ["chef_de_projet"] * 8 + ["elu"] * 5 + ["partenaire"]
        for number, role in enumerate(roles, start=1):
            meetings.register(session, big, person(number, attendee_role=role), settings)
        for attendee in meetings.roster(session, big).confirmed[:7]:
            meetings.set_present(session, big, attendee.id, True)
        meeting = session.get(Meeting, big)
        # The meeting took place yesterday.
        shift = meeting.starts_at - (utcnow() - timedelta(days=1))
        for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
            setattr(meeting, name, getattr(meeting, name) - shift)
    at = page("pages/dashboard.py", direction, section="rencontres")
    assert not at.exception
    assert "Rencontres" in texts(at.header)
    row = meeting_row(at, "Rencontre de Dijon")
    assert (row["Confirmés"], row["Remplissage (%)"], row["Présents"]) == ("14", "70", "7")
    assert row["Date"] == paris_time(utcnow() - timedelta(days=1), "%d/%m/%Y")  # jj/mm/aaaa, the French day
    by_role = next(frame.value for frame in at.dataframe if "Profil" in frame.value.columns).set_index("Profil")
    assert by_role.loc["Partenaire", "Confirmés"] == "masqué"
    assert abs(int(by_role.loc["Chef de projet", "Confirmés"]) - 8) <= 2  # perturbed, by 2 at most
