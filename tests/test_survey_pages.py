"""The survey page (personal link) and the direction's dashboard and invitations pages, through AppTest."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from pvd_survey import accounts, db, mail, survey, ui
from pvd_survey.models import SurveyResponse
from tests.conftest import STRONG_PASSWORD, app_test

ANSWERS = {
    "employer": "epci",
    "gender": "femme",
    "experience": "5to20",
    "diploma": "bac4_5",
}


def survey_app(token: str | None) -> AppTest:
    at = app_test()
    if token is not None:
        at.query_params[survey.TOKEN_PARAMETER] = token
    at.run()
    return at.switch_page("pages/survey.py").run()


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def fill(at: AppTest, month="2021-09", department="21", fields=("urbanisme_amenagement",), **answers) -> AppTest:
    at.selectbox(key="survey_start_month").set_value(month)
    for code, value in {**ANSWERS, **answers}.items():
        at.radio(key=f"survey_{code}").set_value(value)
    at.multiselect(key="survey_training_field").set_value(list(fields))
    at.selectbox(key="survey_department").set_value(department)
    return at.run()


@pytest.fixture
def installed(app_env, factory, settings):
    """An admin (so the app is set up), a direction member and one invitation; returns (direction, token)."""
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
        )
        direction = accounts.create_user(
            session,
            email="dora@anct.gouv.fr",
            display_name="Dora",
            role="direction",
            settings=settings,
            password=STRONG_PASSWORD,
            notify=False,
        )
        survey.invite(session, survey.parse_invitation_list("cp@example.fr;21"), settings)
        token = mail.list_messages(session)[0].link.split("jeton=")[1]
    return direction, token


def responses(factory) -> list[SurveyResponse]:
    with db.read_only(factory) as session:
        rows = session.query(SurveyResponse).all()
        session.expunge_all()
        return rows


def test_link_opens_survey_with_privacy_notice(installed):
    _, token = installed
    at = survey_app(token)
    assert not at.exception
    assert texts(at.title) == ["Questionnaire : le profil des chefs de projet"]
    notice = " ".join(texts(at.markdown))
    assert "Finalité" in notice and "Anonymat" in notice and "Ce que voit la direction" in notice
    assert "rien de ce qui est enregistré dans la base de données ne permet de les rapprocher" in notice
    assert "effacé de nos serveurs dès son envoi" in notice
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
    errors = texts(at.error)
    assert errors[0] == "6 réponse(s) à corriger : voir les messages sous les questions."
    assert errors.count("Répondez à cette question, ou choisissez « Je ne souhaite pas répondre ».") == 6
    assert responses(factory) == []


def test_submission_waits_for_a_group_then_resubmission_and_withdrawal(installed, factory, settings, monkeypatch):
    import dataclasses

    monkeypatch.setenv("PVD_DISCLOSURE_K", "2")
    small_groups = dataclasses.replace(settings, disclosure_k=2)
    _, token = installed
    at = fill(survey_app(token))
    at.button(key="survey_submit").click().run()
    assert "Merci ! Vos réponses sont enregistrées." in texts(at.success)
    assert any("comptée avec les prochaines réponses" in text for text in texts(at.caption))
    at.button(key="survey_submit").click().run()  # a second click
    assert responses(factory) == []  # waiting for a group of 2
    with factory.begin() as session:
        survey.invite(session, survey.parse_invitation_list("autre@example.fr"), settings)
        other = next(m for m in mail.list_messages(session) if m.recipient == "autre@example.fr").link.split("=")[1]
        full = {**ANSWERS, "start_month": "2022-01", "training_field": ["autre"], "department": "nsp"}
        survey.submit(session, other, full, small_groups)
    stored = [r for r in responses(factory) if r.department == "21"]
    assert [(r.gender, r.start_period) for r in stored] == [("femme", "2021-S2")]

    again = survey_app(token)  # the link opened later: previous answers are shown
    assert again.radio(key="survey_gender").value == "femme"
    assert any("Vous avez déjà répondu" in text for text in texts(again.success))
    again.radio(key="survey_gender").set_value("nsp").run()
    again.button(key="survey_submit").click().run()
    assert any("mises à jour" in text for text in texts(again.success))
    again.button(key="survey_withdraw").click().run()
    assert any("Vos réponses sont retirées" in text for text in texts(again.success))
    with factory.begin() as session:
        survey.submit(session, other, full, small_groups)  # completes the next group
    assert [r.department for r in responses(factory)] == [None]  # only the other person's answers remain


def test_draft_survives_a_new_browser_session(installed, factory):
    _, token = installed
    at = survey_app(token)
    at.radio(key="survey_employer").set_value("commune").run()
    at.multiselect(key="survey_training_field").set_value(["architecture"]).run()
    assert any(text.startswith("Brouillon enregistré à") for text in texts(at.caption))
    restored = survey_app(token)  # a refresh or another browser: a brand-new Streamlit session
    assert restored.radio(key="survey_employer").value == "commune"
    assert restored.multiselect(key="survey_training_field").value == ["architecture"]
    assert responses(factory) == []


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
    at = dashboard(direction)
    assert not at.exception
    respondents = respondents_metric(at)
    assert abs(int(respondents) - 11) <= 2  # perturbed by 2 at most
    captions = " ".join(texts(at.caption))
    assert "Chiffres publiés le" in captions and "par groupes d'au moins 5" in captions
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
    assert list(gender_table["Mai 2022 (%)"])[:2] == [70, 30]
    csv_button = next(button for button in at.get("download_button") if "CSV" in button.proto.label)
    assert csv_button is not None


def test_dashboard_filters_from_url_and_isolation_warning(installed, factory):
    direction, _ = installed
    import_rows(
        factory,
        ["2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement,21"] * 9
        + ["2022-02,commune,homme,lt1,bac4_5,architecture,29"] * 2,
    )
    narrowed = dashboard(direction, region="27")
    assert abs(int(respondents_metric(narrowed)) - 9) <= 2
    assert narrowed.selectbox(key="dashboard_region").value == "27"
    assert any("région Bourgogne-Franche-Comté" in text for text in texts(narrowed.caption))
    isolated = dashboard(direction, departement="29")
    assert respondents_metric(isolated) == "masqué"
    assert any("portent sur moins de 5 personnes (peut-être aucune)" in text for text in texts(isolated.warning))
    # No survey figure at all: only the map, the invitation funnel and the national activity, which filters do
    # not touch.
    assert [spec["title"] for spec in chart_specs(isolated) if not is_map(spec)] == [
        "Invitations par région",
        "Activité des douze dernières semaines",
    ]
    bad = dashboard(direction, region="99")
    assert any("Filtre inconnu" in text for text in texts(bad.error))
    assert respondents_metric(bad) == respondents_metric(dashboard(direction))  # the same figure, the same value


def test_funnel_counts_invited_opened_submitted(installed, factory, settings):
    direction, token = installed
    with factory.begin() as session:
        survey.invite(
            session, survey.parse_invitation_list("\n".join(f"cp{n}@example.fr;21" for n in range(6))), settings
        )
        survey.open_survey(session, token, settings)
    at = dashboard(direction)
    funnel = next(frame.value for frame in at.dataframe if "Invités" in frame.value.columns)
    row = funnel[funnel["Région"] == "Bourgogne-Franche-Comté"].iloc[0]
    assert abs(int(row["Invités"]) - 7) <= 2
    assert row["Ouverts"] == "masqué"  # 1 person: hidden
    assert row["Répondus"] == "masqué"  # nobody yet: hidden like a small group


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
    assert any("1 invitation(s) en file d'envoi" in text and "cp@example.fr" in text for text in texts(at.success))
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
