"""The survey page (personal link) and the direction's dashboard and invitations pages, through AppTest."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from pvd_survey import accounts, db, links, mail, survey, ui
from pvd_survey.models import OutboxMessage
from pvd_survey.survey_questions import NO_ANSWER, NO_ANSWER_LABEL, QUESTIONS, TRAINING_FIELD
from tests.conftest import app_test
from tests.factories import focus_moves_to, installed_direction, shown_form_errors, texts

# Promises the survey must never make (issue 16): the key holder can find answers, and some data sets pin one.
FALSE_PROMISES = ("seul ce lien personnel permet de les retrouver", "aucune soustraction")

ANSWERS = {
    "employer": "epci",
    "gender": "femme",
    "experience": "5to20",
    "diploma": "bac4_5",
}


def survey_app(token: str | None) -> AppTest:
    at = app_test()
    if token is not None:
        at.query_params[links.TOKEN_PARAMETER] = token
    at.run()
    return at.switch_page("pages/survey.py").run()


def fill(at: AppTest, month="2021-09", department="21", fields=("urbanisme_amenagement",), **answers) -> AppTest:
    at.selectbox(key="survey_start_month").set_value(month)
    for code, value in {**ANSWERS, **answers}.items():
        at.radio(key=f"survey_{code}").set_value(value)
    tick_fields(at, fields)
    at.selectbox(key="survey_department").set_value(department)
    return at.run()


def tick_fields(at: AppTest, fields) -> AppTest:
    """Tick exactly these training fields' checkboxes (the next run applies them)."""
    for option in [*TRAINING_FIELD.options, NO_ANSWER]:
        box = at.checkbox(key=f"survey_training_field__{option}")
        if box.value != (option in fields):
            box.set_value(option in fields)
    return at


def ticked_fields(at: AppTest) -> list[str]:
    """The training fields whose checkbox is ticked, as the page shows them."""
    return [
        option
        for option in [*TRAINING_FIELD.options, NO_ANSWER]
        if at.checkbox(key=f"survey_training_field__{option}").value
    ]


@pytest.fixture
def installed(app_env, factory, settings):
    """An admin (so the app is set up), a direction member and one invitation; returns (direction, token)."""
    with factory.begin() as session:
        direction = installed_direction(session, settings)
        survey.invite(session, survey.parse_invitation_list("cp@example.fr;21"), settings)
        token = mail.list_messages(session)[0].link.split("jeton=")[1]
    return direction, token


def responses(factory, settings) -> list[survey.CountedRecord]:
    """The counted answers, opened with the server key."""
    with db.read_only(factory) as session:
        return survey.counted_records(session, settings)


def release(factory, settings, force: bool = False) -> int:
    """What the background work does at a moment of the schedule (`force`: at once, a second time in a slot)."""
    with factory.begin() as session:
        return survey.release_due(session, settings, force=force).applied


def test_link_opens_survey_with_privacy_notice(installed):
    _, token = installed
    at = survey_app(token)
    assert not at.exception
    assert texts(at.title) == ["Questionnaire : le profil des chefs de projet"]
    notice = " ".join(texts(at.markdown))
    assert "Finalité" in notice and "Anonymat" in notice and "Quand les chiffres bougent" in notice
    # What holds, said the same way as in the e-mail, and no promise of impossibility.
    assert survey.anonymity_notice(5) in notice
    assert "Ni la direction du programme ni une copie de la base de données" in notice
    assert "effacé de nos serveurs dès son envoi" in notice
    everything = " ".join(texts(at.markdown) + texts(at.caption) + texts(at.info) + texts(at.success)).lower()
    assert not [promise for promise in FALSE_PROMISES if promise in everything]
    # Every question offers "Je ne souhaite pas répondre".
    for code in ("employer", "gender", "experience", "diploma"):
        assert "nsp" in at.radio(key=f"survey_{code}").options or "Je ne souhaite pas répondre" in str(
            at.radio(key=f"survey_{code}").options
        )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "Ce questionnaire s'ouvre depuis le lien personnel"),
        ("pas-un-jeton", "Ce lien de questionnaire n'est pas valide"),
    ],
)
def test_missing_or_wrong_link_is_explained(installed, token, message):
    at = survey_app(token)
    assert not at.exception
    assert any(message in text for text in texts(at.info) + texts(at.error))
    assert not at.radio


def test_missing_answers_are_reported_at_each_question_and_nothing_is_stored(installed, factory):
    _, token = installed
    at = survey_app(token)
    at.radio(key="survey_gender").set_value("femme").run()
    at.button(key="survey_submit").click().run()
    # Every unanswered question at once (RGAA 11.10): under each, listed at the top with its label, the focus on the
    # first of them.
    required = "Répondez à cette question, ou choisissez « Je ne souhaite pas répondre »."
    summary, under = shown_form_errors(at, "survey")
    unanswered = [question for question in QUESTIONS if question.code != "gender"]
    assert summary == [f"**{question.label}** : {required}" for question in unanswered]
    assert under == {
        question.code: (
            question.label + (" (plusieurs choix possibles)" if question.kind == "multiple" else ""),
            required,
        )
        for question in unanswered
    }
    assert "Le formulaire n'a pas été envoyé : 6 champ(s) à corriger." in texts(at.error)[0]
    assert focus_moves_to(at) == "survey"
    assert responses(factory, ui.settings()) == []
    at.radio(key="survey_employer").set_value("epci").run()
    assert focus_moves_to(at) is None  # once, right after the submission: an answer given later keeps its focus
    assert len(shown_form_errors(at, "survey")[1]) == 6  # the errors stay until the next submission

    at = fill(at)
    at.button(key="survey_submit").click().run()
    assert shown_form_errors(at, "survey") == ([], {}) and focus_moves_to(at) == "pvd_flash_focused"
    assert texts(at.success)[0].startswith("Merci ! Vos réponses sont enregistrées.")


def test_submission_waits_for_a_group_and_a_release_then_resubmission_and_withdrawal(
    installed, factory, settings, monkeypatch
):
    import dataclasses

    monkeypatch.setenv("PVD_DISCLOSURE_K", "2")
    small_groups = dataclasses.replace(settings, disclosure_k=2)
    _, token = installed
    at = fill(survey_app(token))
    at.button(key="survey_submit").click().run()
    assert texts(at.success)[0].startswith("Merci ! Vos réponses sont enregistrées. Pour les modifier")
    # Sent: the page forgets the link in this tab (and clears its cookie), for the next person at this computer.
    assert any("s'ouvre depuis le lien personnel" in text for text in texts(at.info))
    assert "survey_submit" not in [button.key for button in at.button]
    at = survey_app(token)  # the link opened again
    assert any("comptée avec les prochaines réponses" in text for text in texts(at.caption))
    at.button(key="survey_submit").click().run()  # a second sending
    assert release(factory, small_groups) == 0  # waiting for a group of 2
    assert responses(factory, small_groups) == []
    with factory.begin() as session:
        survey.invite(session, survey.parse_invitation_list("autre@example.fr"), settings)
        other = next(m for m in mail.list_messages(session) if m.recipient == "autre@example.fr").link.split("=")[1]
        full = {**ANSWERS, "start_month": "2022-01", "training_field": ["autre"], "department": "nsp"}
        survey.submit(session, other, full, small_groups)
    # A group of 2 waits, but a submission never releases it: only the background work does, on its schedule.
    assert responses(factory, small_groups) == []
    # Nor the next background pass in this slot (looked at with one waiting): the next moment does (here, at once).
    assert release(factory, small_groups) == 0
    assert release(factory, small_groups, force=True) == 2
    stored = [r.answers for r in responses(factory, small_groups) if r.answers.department == "21"]
    assert [(a.gender, a.start_period) for a in stored] == [("femme", "2021-S2")]

    again = survey_app(token)  # the link opened later: previous answers are shown
    assert again.radio(key="survey_gender").value == "femme"
    assert any("Vous avez déjà répondu" in text for text in texts(again.success))
    again.radio(key="survey_gender").set_value("nsp").run()
    again.button(key="survey_submit").click().run()
    assert any("mises à jour" in text for text in texts(again.success))
    again = survey_app(token)
    again.button(key="survey_withdraw").click().run()
    assert any("Vos réponses sont retirées" in text for text in texts(again.success))
    with factory.begin() as session:
        survey.submit(session, other, full, small_groups)  # with the withdrawal, the next group
    assert release(factory, small_groups) == 0  # already released at this moment of the schedule
    assert release(factory, small_groups, force=True) == 2
    assert [r.answers.department for r in responses(factory, small_groups)] == [None]  # only the other's remain


def test_draft_survives_a_new_browser_session(installed, factory):
    _, token = installed
    at = survey_app(token)
    at.radio(key="survey_employer").set_value("commune").run()
    tick_fields(at, ["architecture"]).run()
    assert any(text.startswith("Brouillon enregistré à") for text in texts(at.caption))
    restored = survey_app(token)  # a refresh or another browser: a brand-new Streamlit session
    assert restored.radio(key="survey_employer").value == "commune"
    assert ticked_fields(restored) == ["architecture"]
    assert responses(factory, ui.settings()) == []


def test_training_fields_are_checkboxes_where_no_answer_excludes_the_others_at_once(installed):
    _, token = installed
    at = survey_app(token)
    assert not at.multiselect  # no list with « Select all », which would tick « Je ne souhaite pas répondre » too
    tick_fields(at, ["architecture", "urbanisme_amenagement"]).run()
    assert ticked_fields(at) == ["urbanisme_amenagement", "architecture"]
    at.checkbox(key=f"survey_training_field__{NO_ANSWER}").check().run()
    assert ticked_fields(at) == [NO_ANSWER]  # the others unticked in the same click
    at.checkbox(key="survey_training_field__architecture").check().run()
    assert ticked_fields(at) == ["architecture"]  # and the other way round
    labels = [box.label for box in at.checkbox if box.key.startswith("survey_training_field__")]
    assert labels[-1] == NO_ANSWER_LABEL and len(labels) == len(TRAINING_FIELD.options) + 1


def test_revoked_link_and_closed_survey(installed, factory):
    from datetime import timedelta

    from pvd_survey.models import utcnow

    _, token = installed
    with factory.begin() as session:
        survey.set_closing_time(session, utcnow() - timedelta(minutes=1))
    at = survey_app(token)
    assert any("Le questionnaire est clos depuis le" in text for text in texts(at.error))
    assert not at.radio


# ---------------------------------------------------------------------------- dashboard


def dashboard(user, **params) -> AppTest:
    at = app_test(user)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    return at.switch_page("pages/dashboard.py").run()


def import_rows(factory, rows: list[str]) -> None:
    from datetime import date

    header = "start_month,employer,gender,experience,diploma,training_field,department\n"
    answers = survey.read_responses_csv(header + "\n".join(rows) + "\n", date.today())
    with factory.begin() as session:
        survey.import_responses(session, answers, ui.settings())


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")]


def respondents_metric(at: AppTest) -> str:
    """The survey's respondents figure (the overview above it has metrics of its own)."""
    (value,) = [metric.value for metric in at.metric if metric.label == "Répondants"]
    return value


def is_map(spec: dict) -> bool:
    """The tile map of France (its title says what it maps and at which level)."""
    title = spec.get("title")
    return isinstance(title, dict) and title.get("text", "").endswith(("par département", "par région"))


def test_dashboard_shows_figures_baseline_and_hidden_cells(installed, factory):
    direction, _ = installed
    import_rows(
        factory,
        ["2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement,21"] * 9
        + ["2022-02,commune,homme,lt1,bac4_5,architecture,29"] * 2,
    )
    at = dashboard(direction, section="questionnaire")
    assert not at.exception
    respondents = respondents_metric(at)
    assert abs(int(respondents) - 11) <= 2  # perturbed by 2 at most
    captions = " ".join(texts(at.caption))
    # Imported answers are counted at once; no group of answers given through links has been released yet.
    assert "Aucun groupe de réponses publié pour l'instant" in captions and "Chiffres publiés le" not in captions
    assert "à heures fixes" in captions and "par groupes d'au moins 5" in captions
    assert "en attente" not in captions  # how many changes wait is never shown
    assert "perturbé de 2 au plus" in captions
    specs = chart_specs(at)
    titles = [spec["title"]["text"] if isinstance(spec["title"], dict) else spec["title"] for spec in specs]
    assert "Genre" in titles and "Domaine(s) principal(aux) de formation" in titles
    gender = specs[titles.index("Genre")]
    assert any("mai 2022" in line for line in gender["title"]["subtitle"])
    training = specs[titles.index("Domaine(s) principal(aux) de formation")]
    assert any("le total dépasse 100 %" in line for line in training["title"]["subtitle"])
    gender_table = next(
        frame.value
        for frame in at.dataframe
        if "Réponse" in frame.value.columns and "Femme" in list(frame.value["Réponse"])
    )
    # 2 men: hidden; 9 women would then give them away (11 - 9): hidden too.
    assert list(gender_table["Effectif"])[:2] == ["masqué", "masqué"]
    assert list(gender_table["Mai 2022 (%)"])[:2] == ["70", "30"]  # shown the French way (tests/test_french.py)
    csv_button = next(button for button in at.get("download_button") if "CSV" in button.proto.label)
    assert csv_button is not None


def test_dashboard_filters_from_url_and_isolation_warning(installed, factory):
    direction, _ = installed
    import_rows(
        factory,
        ["2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement,21"] * 9
        + ["2022-02,commune,homme,lt1,bac4_5,architecture,29"] * 2,
    )
    narrowed = dashboard(direction, region="27", section="questionnaire")
    assert abs(int(respondents_metric(narrowed)) - 9) <= 2
    assert narrowed.selectbox(key="dashboard_region").value == "27"
    assert narrowed.segmented_control(key="dashboard_section").value == "questionnaire"
    assert any("région Bourgogne-Franche-Comté" in text for text in texts(narrowed.caption))
    # Another section one click away: the filters stay, on screen and in the address.
    narrowed.segmented_control(key="dashboard_section").set_value("rencontres").run()
    assert narrowed.selectbox(key="dashboard_region").value == "27"
    assert narrowed.query_params["section"] == "rencontres" and narrowed.query_params["region"] == "27"
    assert "Rencontres" in texts(narrowed.header) and not [m for m in narrowed.metric if m.label == "Répondants"]
    isolated = dashboard(direction, departement="29", section="questionnaire")
    assert respondents_metric(isolated) == "masqué"
    assert any("portent sur moins de 5 personnes (peut-être aucune)" in text for text in texts(isolated.warning))
    assert chart_specs(isolated) == []  # no survey figure at all, and no other section drawn
    bad = dashboard(direction, region="99", section="questionnaire")
    assert any("Filtre inconnu" in text for text in texts(bad.error))
    # the same figure, the same value
    assert respondents_metric(bad) == respondents_metric(dashboard(direction, section="questionnaire"))
    unknown = dashboard(direction, section="autre")  # an unknown section: the summary
    assert unknown.segmented_control(key="dashboard_section").value == "synthese"
    assert "section" not in unknown.query_params


def test_funnel_counts_invited_and_published_answers_by_region(installed, factory, settings):
    direction, token = installed
    # One invitation so far (cp@): every region's cell hidden, so a sentence instead of a chart of bare axes.
    fresh = dashboard(direction, section="invitations")
    assert any(
        text.startswith("**Invitations et réponses par région** : tous les chiffres") for text in texts(fresh.info)
    )
    assert "Invitations et réponses par région" not in [spec.get("title") for spec in chart_specs(fresh)]
    assert "masqué" in set(next(f.value for f in fresh.dataframe if "Invitations" in f.value.columns)["Invitations"])
    with factory.begin() as session:
        survey.invite(
            session, survey.parse_invitation_list("\n".join(f"cp{n}@example.fr;21" for n in range(6))), settings
        )
        survey.open_survey(session, token, settings)
        tokens = [m.link.split("jeton=")[1] for m in mail.list_messages(session) if m.kind == "survey_invitation"]
    at = dashboard(direction, section="invitations")
    funnel = next(frame.value for frame in at.dataframe if "Invitations" in frame.value.columns)
    assert list(funnel.columns) == ["Région", "Invitations", "Réponses publiées"]  # nothing about opening links
    row = funnel[funnel["Région"] == "Bourgogne-Franche-Comté"].iloc[0]
    assert abs(int(row["Invitations"]) - 7) <= 2
    assert row["Réponses publiées"] == "masqué"  # nobody yet: hidden like a small group
    with factory.begin() as session:
        for number, person in enumerate(tokens[:5]):
            survey.submit(
                session,
                person,
                {
                    **ANSWERS,
                    "start_month": "2021-09",
                    "training_field": ["autre"],
                    "department": "21" if number else "25",
                },
                settings,
            )
    waiting = dashboard(direction, section="invitations")
    funnel = next(frame.value for frame in waiting.dataframe if "Invitations" in frame.value.columns)
    row = funnel[funnel["Région"] == "Bourgogne-Franche-Comté"].iloc[0]
    assert row["Réponses publiées"] == "masqué"  # five submissions, no release: nothing moved
    assert respondents_metric(dashboard(direction, section="questionnaire")) == "masqué"
    assert release(factory, settings) == 5
    released = dashboard(direction, section="invitations")
    funnel = next(frame.value for frame in released.dataframe if "Invitations" in frame.value.columns)
    row = funnel[funnel["Région"] == "Bourgogne-Franche-Comté"].iloc[0]
    assert abs(int(row["Réponses publiées"]) - 5) <= 2  # by the answer's region: 21 and 25 are both in it
    released = dashboard(direction, section="questionnaire")
    assert abs(int(respondents_metric(released)) - 5) <= 2
    assert any(text.startswith("Chiffres publiés le") for text in texts(released.caption))


# ---------------------------------------------------------------------------- invitations page


def invitations_page(user) -> AppTest:
    at = app_test(user)
    at.run()
    return at.switch_page("pages/invitations.py").run()


def test_invite_in_bulk_and_refuse_a_bad_list(installed, factory):
    direction, _ = installed
    at = invitations_page(direction)
    at.text_area(key="invitations_text").input("anne@example.fr;21\npas-une-adresse\n")
    next(b for b in at.button if b.form_id == "invitations_form").click().run()
    assert any("Ligne 2 : adresse e-mail invalide" in text for text in texts(at.error))
    with db.read_only(factory) as session:
        assert [i.email for i in survey.list_invitations(session)] == ["cp@example.fr"]
    at.text_area(key="invitations_text").input("anne@example.fr;21\ncp@example.fr\n")
    next(b for b in at.button if b.form_id == "invitations_form").click().run()
    assert any("1 invitation en file d'envoi" in text and "cp@example.fr" in text for text in texts(at.success))
    with db.read_only(factory) as session:
        assert sorted(i.email for i in survey.list_invitations(session)) == ["anne@example.fr", "cp@example.fr"]
        assert len([m for m in mail.list_messages(session) if m.kind == "survey_invitation"]) == 2


def test_resend_and_revoke_from_the_page(installed, factory):
    direction, token = installed

    def choose(at: AppTest) -> AppTest:
        with db.read_only(factory) as session:
            [invitation] = survey.list_invitations(session)
        return at.selectbox(key="invitations_chosen").set_value(invitation.id).run()

    at = choose(invitations_page(direction))
    at.button(key="invitations_resend").click().run()
    assert any("l'ancien lien ne fonctionne plus" in text for text in texts(at.success))
    assert any("n'est pas valide" in text for text in texts(survey_app(token).error))
    at = choose(invitations_page(direction))
    at.button(key="invitations_revoke").click().run()
    with db.read_only(factory) as session:
        [invitation] = survey.list_invitations(session)
        new_token = next(m for m in mail.list_messages(session) if m.subject.startswith("Rappel")).link.split("=")[1]
    assert invitation.status == "revoked"
    assert any("désactivé par la direction" in text for text in texts(survey_app(new_token).error))


def test_dashboard_overview_and_map_from_the_url(installed, factory):
    direction, _ = installed
    import_rows(
        factory,
        ["2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement,21"] * 9
        + ["2022-02,commune,homme,lt1,bac4_5,architecture,29"] * 2,
    )
    at = dashboard(direction, mesure="respondents", niveau="department", region="27")
    assert not at.exception
    labels = [metric.label for metric in at.metric]
    assert {"Offres publiées", "Postes vacants", "Rencontres à venir", "Communes du programme"} <= set(labels)
    assert next(metric.value for metric in at.metric if metric.label == "Communes du programme") == "1 646"
    assert any("871 postes de chef de projet" in text for text in texts(at.caption))
    assert at.selectbox(key="dashboard_measure").value == "respondents"
    assert at.radio(key="dashboard_level").value == "department"
    assert at.query_params["mesure"] == "respondents" and at.query_params["region"] == "27"
    (the_map,) = [spec for spec in chart_specs(at) if is_map(spec)]
    assert the_map["title"]["text"] == "Répondants au questionnaire par département"
    table = next(frame.value for frame in at.dataframe if "Répondants au questionnaire" in frame.value.columns)
    assert len(table) == 101
    shown = dict(zip(table["Département"], table["Répondants au questionnaire"], strict=True))
    assert shown["29 – Finistère"] == "masqué"  # 2 people
    assert shown["21 – Côte-d'Or"] == "masqué"  # and 21's 9 too: 11 respondents minus 9 would give them away
    by_region = dashboard(direction, mesure="vacant", niveau="region")
    assert by_region.radio(key="dashboard_level").value == "region"
    regions = next(frame.value for frame in by_region.dataframe if "Postes vacants" in frame.value.columns)
    assert len(regions) == 18 and set(regions["Postes vacants"]) == {"0"}
    assert any(button.label == "Préparer le rapport (PDF)" for button in by_region.button)


# ---------------------------------------------------------------------------- what the direction can see (issue 16)

PEOPLE = {  # invited person -> department given at invitation
    "anne@example.fr": "21",
    "bruno@example.fr": "21",
    "chloe@example.fr": "25",
    "david@example.fr": "29",
    "emma@example.fr": "35",
    "farid@example.fr": "71",
    "gael@example.fr": "75",
}
TEXT_ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "text", "info", "success", "warning", "error")


def every_text(at: AppTest) -> list[str]:
    return [text for kind in TEXT_ELEMENTS for text in texts(getattr(at, kind))]


def naming_someone(values) -> list[str]:
    return sorted(str(value) for value in values if any(email in str(value) for email in PEOPLE))


@pytest.fixture
def watched(installed, factory, settings, smtp_server, monkeypatch):
    """Seven more invitees (their invitations delivered through a real SMTP server, set for the app too), an admin
    and a direction member; returns (admin, direction, tokens by e-mail, settings with SMTP)."""
    import dataclasses

    monkeypatch.setenv("PVD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PVD_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("PVD_SMTP_SECURITY", "none")
    monkeypatch.setenv("PVD_MAIL_FROM", "pvd@anct.gouv.fr")
    with_smtp = dataclasses.replace(settings, smtp=smtp_server.settings())
    direction, _ = installed
    with factory.begin() as session:
        survey.invite(
            session,
            survey.parse_invitation_list("\n".join(f"{email};{dep}" for email, dep in PEOPLE.items())),
            with_smtp,
        )
        tokens = {m.recipient: m.link.split("jeton=")[1] for m in mail.list_messages(session) if m.recipient in PEOPLE}
        (admin,) = [user for user in accounts.list_users(session) if user.role == "admin"]
    mail.deliver_due(factory, smtp_server.settings())
    smtp_server.messages.clear()
    return admin, direction, tokens, with_smtp


def direction_view(admin, direction) -> dict[str, object]:
    """Everything per person the direction and the administrators are shown, on the invitations and Messages pages.

    Every text, table cell and widget option naming an invited person; the whole invitations table; the Messages
    page's counts and its full list (every status). The reminder rounds' own lines ("Relance du …") and the
    aggregated "Réponses par région" table may change: they name nobody.
    """
    invitations = invitations_page(direction)
    assert not invitations.exception
    people_tables = [frame.value for frame in invitations.dataframe if "E-mail" in frame.value.columns]
    assert len(people_tables) == 1 and set(PEOPLE) <= set(people_tables[0]["E-mail"])
    outbox = app_test(admin)
    outbox.run()
    outbox = outbox.switch_page("pages/admin_outbox.py").run()
    outbox.multiselect(key="outbox_statuses").set_value(list(mail.STATUS_LABELS)).run()
    assert not outbox.exception
    message_tables = [frame.value for frame in outbox.dataframe if "Destinataire" in frame.value.columns]
    assert set(PEOPLE) <= set(message_tables[0]["Destinataire"])
    view = {
        "invitations: texts": [t for t in every_text(invitations) if not t.startswith("Relance du")],
        "invitations: people": people_tables[0].to_dict("list"),
        "invitations: options": naming_someone(invitations.selectbox(key="invitations_chosen").options),
        "invitations: cells naming someone": naming_someone(
            cell for frame in invitations.dataframe for cell in frame.value.to_numpy().ravel()
        ),
        "messages: counts": [(metric.label, metric.value) for metric in outbox.metric],
        "messages: texts": every_text(outbox),
        "messages: list": message_tables[0].to_dict("list"),
        "messages: options": outbox.selectbox(key="outbox_message").options,
    }
    # What a person says of their own answers never reaches these pages, whatever its wording.
    about_people = [
        view["invitations: people"],
        view["messages: list"],
        view["invitations: options"],
        view["messages: options"],
        naming_someone(view["invitations: texts"] + view["messages: texts"]),
    ]
    everything = " ".join(map(str, about_people)).lower()
    for word in ("répondu", "ouvert le", "relancé", "relance", "brouillon", "retiré"):
        assert word not in everything, word
    return view


def test_no_answer_event_nor_release_nor_reminder_changes_what_the_direction_sees_of_anyone(
    watched, factory, smtp_server
):
    from datetime import timedelta

    from pvd_survey import schedule
    from pvd_survey.models import utcnow

    admin, direction, tokens, with_smtp = watched
    with factory.begin() as session:
        survey.schedule_reminder(session, utcnow() + timedelta(hours=1))
    before = direction_view(admin, direction)
    seen = []

    def unchanged(event: str) -> None:
        after = direction_view(admin, direction)
        changed = [part for part in before if after[part] != before[part]]
        assert not changed, f"after « {event} »: {changed}"
        seen.append(event)

    anne = survey_app(tokens["anne@example.fr"])
    unchanged("Anne opens her link")
    anne.radio(key="survey_employer").set_value("commune").run()
    assert any(text.startswith("Brouillon enregistré") for text in texts(anne.caption))
    unchanged("Anne saves a draft")
    anne = fill(anne, department="21")
    anne.button(key="survey_submit").click().run()
    assert texts(anne.success)[0].startswith("Merci ! Vos réponses sont enregistrées.")
    unchanged("Anne submits")
    anne = survey_app(tokens["anne@example.fr"])  # sent: the page forgot the link; she opens it again
    anne.radio(key="survey_gender").set_value("nsp").run()
    anne.button(key="survey_submit").click().run()
    assert any("mises à jour" in text for text in texts(anne.success))
    unchanged("Anne changes her answers")
    others = ["bruno@example.fr", "chloe@example.fr", "david@example.fr", "emma@example.fr"]
    full = {**ANSWERS, "start_month": "2022-01", "training_field": ["autre"], "department": "21"}
    with factory.begin() as session:
        for email in others:
            survey.submit(session, tokens[email], full, with_smtp)
    unchanged("four more people submit")
    assert schedule.run_due_work(factory, with_smtp).survey_released == 5
    unchanged("the background work releases a group")
    anne = survey_app(tokens["anne@example.fr"])
    anne.button(key="survey_withdraw").click().run()
    assert any("Vos réponses sont retirées" in text for text in texts(anne.success))
    unchanged("Anne withdraws")
    with factory.begin() as session:
        for email in others:
            survey.submit(session, tokens[email], {**full, "gender": "homme"}, with_smtp)
        assert survey.release_due(session, with_smtp, force=True).applied == 5
    unchanged("a second release, with the withdrawal")
    with factory.begin() as session:
        reminded = survey.send_due_reminders(session, with_smtp, now=utcnow() + timedelta(hours=2))
    assert reminded == 4  # Anne (withdrawn), Farid, Gaël and cp@ (never answered): nobody else is told who
    unchanged("a reminder round is written to the outbox")
    mail.deliver_due(factory, smtp_server.settings())
    assert sorted(message["To"] for message in smtp_server.messages) == [
        "anne@example.fr",
        "cp@example.fr",
        "farid@example.fr",
        "gael@example.fr",
    ]
    unchanged("the reminders are delivered")
    with db.read_only(factory) as session:
        kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert survey.REMINDER_KIND not in kinds  # erased once sent
    assert len(seen) == 10


def test_the_dashboard_redraws_on_a_release_never_on_an_answer(watched, factory):
    """The dashboard's watcher redraws the page when the fingerprint of what it shows moves: answers waiting for
    their group (one, then five) move nothing, not even the moment of a redraw; their release does."""
    from pvd_survey import dashboard, stats

    _, _, tokens, with_smtp = watched

    def fingerprint() -> str:
        with db.read_only(factory) as session:
            return dashboard.live_figures(
                session, stats.Filters(), with_smtp.disclosure_k, settings=with_smtp
            ).fingerprint()

    before = fingerprint()
    assert fingerprint() == before  # nothing moved, nothing to redraw
    full = {**ANSWERS, "start_month": "2022-01", "training_field": ["autre"], "department": "21"}
    people = ["anne@example.fr", "bruno@example.fr", "chloe@example.fr", "david@example.fr", "emma@example.fr"]
    with factory.begin() as session:
        survey.submit(session, tokens[people[0]], full, with_smtp)
    assert fingerprint() == before
    with factory.begin() as session:
        for email in people[1:]:
            survey.submit(session, tokens[email], full, with_smtp)
    assert fingerprint() == before  # a full group waits: still nothing
    with factory.begin() as session:
        assert survey.release_due(session, with_smtp, force=True).applied == 5
    released = fingerprint()
    assert released != before
    assert fingerprint() == released


def test_invitations_page_shows_answers_by_region_protected_like_the_dashboard(watched, factory):
    _, direction, tokens, with_smtp = watched

    def by_region(at: AppTest) -> dict[str, tuple]:
        frame = next(frame.value for frame in at.dataframe if "Réponses publiées" in frame.value.columns)
        return {row["Région"]: (row["Invitations"], row["Réponses publiées"]) for _, row in frame.iterrows()}

    at = invitations_page(direction)
    assert "Réponses par région" in texts(at.subheader)
    regions = by_region(at)
    # Bourgogne-Franche-Comté: cp@, anne, bruno (21) and chloe (25), 4 < k; nobody answered yet.
    assert regions["Bourgogne-Franche-Comté"] == ("masqué", "masqué")
    assert regions["Bretagne"] == ("masqué", "masqué")  # david (29) and emma (35)
    full = {**ANSWERS, "start_month": "2022-01", "training_field": ["autre"], "department": "71"}
    with factory.begin() as session:
        for email in ("anne@example.fr", "bruno@example.fr", "chloe@example.fr", "david@example.fr", "emma@example.fr"):
            survey.submit(session, tokens[email], full, with_smtp)
    assert by_region(invitations_page(direction))["Bourgogne-Franche-Comté"] == ("masqué", "masqué")  # waiting
    assert release(factory, with_smtp) == 5
    published = by_region(invitations_page(direction))["Bourgogne-Franche-Comté"]
    assert published[0] == "masqué" and abs(int(published[1]) - 5) <= 2  # all five said 71: Saône-et-Loire
    caption = " ".join(texts(invitations_page(direction).caption))
    assert "moins de 5 personnes est masqué" in caption and "de 2 au plus" in caption


def test_direction_plans_and_cancels_a_reminder_round(installed, factory):
    from datetime import date, time, timedelta

    direction, _ = installed
    at = invitations_page(direction)
    assert any("L'envoi d'e-mails n'est pas configuré" in text for text in texts(at.warning))  # no SMTP here
    assert any("ne voit pas qui a été relancé" in text for text in texts(at.markdown))

    def plan(at: AppTest, day) -> AppTest:
        if day is not None:
            at.date_input(key="invitations_reminder_day").set_value(day)
        at.time_input(key="invitations_reminder_time").set_value(time(9, 30))
        return next(b for b in at.button if b.form_id == "invitations_reminder").click().run()

    at = plan(at, None)
    assert "Choisissez la date de la relance." in texts(at.error)
    at = plan(at, date.today() - timedelta(days=1))
    assert "La date de relance doit être dans le futur." in texts(at.error)
    with db.read_only(factory) as session:
        assert survey.list_reminders(session) == []
    day = date.today() + timedelta(days=3)
    at = plan(at, day)
    assert any(text.startswith(f"Relance prévue le {day:%d/%m/%Y} à 09:30") for text in texts(at.success))
    at = plan(at, day)
    assert f"Une relance est déjà prévue le {day:%d/%m/%Y} à 09:30." in texts(at.error)
    with db.read_only(factory) as session:
        (reminder,) = survey.list_reminders(session)
    at = invitations_page(direction)
    assert f"Relance du {day:%d/%m/%Y} à 09:30 : prévue." in texts(at.markdown)
    at.button(key=f"invitations_reminder_cancel_{reminder.id}").click().run()
    assert "Relance annulée." in texts(at.success)
    assert not [text for text in texts(at.markdown) if text.startswith("Relance du")]
    with db.read_only(factory) as session:
        assert survey.list_reminders(session) == []


def test_messages_page_says_reminders_are_not_listed(installed, factory, settings):
    with db.read_only(factory) as session:
        (admin,) = [user for user in accounts.list_users(session) if user.role == "admin"]
    outbox = app_test(admin)
    outbox.run()
    outbox = outbox.switch_page("pages/admin_outbox.py").run()
    assert not outbox.exception
    captions = " ".join(texts(outbox.caption))
    assert "relances automatiques du questionnaire ne sont pas listées ici" in captions
    assert "effacées dès leur envoi" in captions


def test_invitation_email_says_what_holds_and_promises_nothing_impossible(installed, factory):
    with db.read_only(factory) as session:
        (message,) = [m for m in mail.list_messages(session) if m.kind == "survey_invitation"]
    body = " ".join(message.body.split())
    assert survey.anonymity_notice(5) in body
    assert "Ce message est effacé de nos serveurs dès son envoi." in body
    assert not [promise for promise in FALSE_PROMISES if promise in body.lower()]
