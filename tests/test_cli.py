"""The operator command line on the test database.

Most tests call the command line's `main(argv)` in this process, with the environment, working directory, standard
input and output a real run would have (`run_cli`); a few run `python -m pvd_survey` as operators do (`run_process`):
`--help`, one command end to end with its password on standard input, and the mail loop stopped by a signal.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import delete, func, select

from pvd_survey import accounts, db, demo, mail, survey
from pvd_survey.cli import EXIT_CODES, build_parser
from pvd_survey.models import Base, SurveyInvitation
from tests.conftest import PG_ADMIN_URL, PROJECT_ROOT, STRONG_PASSWORD, TEST_BACKEND
from tests.factories import cli_environment, meeting_form, person, run_cli

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)
# What `--help` must not load: the charts, the PDF and spreadsheet writers, the migrations, the web app.
HEAVY_MODULES = (
    "pandas",
    "altair",
    "vl_convert",
    "fpdf",
    "openpyxl",
    "pypdf",
    "alembic",
    "sqlalchemy",
    "streamlit",
    "numpy",
)


def run_process(database_url: str, *args: str, stdin: str = "", python_options: tuple[str, ...] = (), **env: str):
    """`python -m pvd_survey ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, *python_options, "-m", "pvd_survey", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=cli_environment(database_url, env),
        timeout=60,
    )


def users(factory):
    with db.read_only(factory) as session:
        return accounts.list_users(session)


@pytest.mark.database_independent
def test_every_command_has_help(capsys):
    assert {"migrate", "create-user", "send-mail", "seed-demo", "import-survey", "export-survey", "stats"} <= set(
        COMMANDS
    )
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args([command, "--help"])
        assert exited.value.code == 0
        assert "utilisation : python -m pvd_survey " + command in capsys.readouterr().out


# argparse's English, as Python 3.11 and later write it: none of it may reach an operator.
ARGPARSE_ENGLISH = re.compile(
    r"usage:|positional arguments|show this help|error:|required:|invalid choice|choose from|unrecognized|"
    r"expected (one|at most|at least|\d)|not allowed with|is required|ambiguous option|invalid \w+ value|"
    r"\b(REGION|MONTH|OUT|DEPARTMENT|EMPLOYER|START_PERIOD|EMAIL|NAME|FILE|INTERVAL|SIZES|WORKDIR|IMPORT_MB|JOBS)\b"
)


@pytest.mark.database_independent
@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        *([command, "--help"] for command in COMMANDS),
        [],
        ["nimporte-quoi"],
        ["create-user", "--role", "chef"],
        ["create-user", "--email", "a@example.fr", "--role", "admin", "--password-stdin", "--no-password"],
        ["stats", "--format", "xml", "--inconnu"],
        ["report", "--month"],
        ["send-mail", "--interval", "-3"],
        ["create-user", "--n", "x"],
        ["migrate", "en-trop"],
    ],
)
def test_help_and_argument_errors_are_in_french(capsys, args):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(args)
    out, err = capsys.readouterr()
    assert exited.value.code == (0 if "--help" in args else 2)
    shown = out + err
    assert shown.startswith("utilisation : python -m pvd_survey"), shown
    assert not ARGPARSE_ENGLISH.search(shown), shown
    if exited.value.code == 2:
        assert "Erreur dans les arguments : " in err and "--help" in err


@pytest.mark.database_independent
def test_one_exit_code_table_in_the_help_and_the_readme(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    shown = capsys.readouterr().out
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    documented = re.search(r"Exit codes: (.*?)\.\n", readme, re.S).group(1)
    for code, meaning in EXIT_CODES:
        assert f"  {code}  {meaning}" in shown
        assert re.search(rf"\b{code} \w", documented), f"exit code {code} missing from the README"
    assert len(re.findall(r"\b\d \w", documented)) == len(EXIT_CODES)


def test_help_works_as_a_real_command_without_loading_the_heavy_libraries(database_url):
    result = run_process(database_url, "--help", python_options=("-X", "importtime"))
    assert result.returncode == 0 and "import-survey" in result.stdout
    # `-X importtime` lists every module the process imported, one per line, on standard error.
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")
    }
    assert {name.split(".")[0] for name in imported} & set(HEAVY_MODULES) == set()
    assert "pvd_survey.cli" in imported


def test_migrate_is_idempotent(factory, database_url):
    result = run_cli(database_url, "migrate")
    assert result.returncode == 0 and db.head_revision() in result.stdout


def test_create_user_with_password_from_stdin_can_log_in(factory, settings, database_url):
    result = run_process(
        database_url,
        "create-user",
        "--email",
        "Claire.Durand@anct.gouv.fr",
        "--role",
        "direction",
        "--name",
        "Claire Durand",
        "--password-stdin",
        stdin=STRONG_PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "claire.durand@anct.gouv.fr" in result.stdout
    outcome = accounts.authenticate(factory, "claire.durand@anct.gouv.fr", STRONG_PASSWORD, settings)
    assert outcome.user.role == "direction"


def test_create_recruiter_with_organisation_by_name(factory, database_url):
    result = run_cli(
        database_url, "create-organisation", "--name", "Commune de Revel", "--kind", "commune", "--department", "31"
    )
    assert result.returncode == 0, result.stderr
    result = run_cli(
        database_url,
        "create-user",
        "--email",
        "rh@revel.fr",
        "--role",
        "recruteur",
        "--organisation",
        "Commune de Revel",
        "--no-password",
    )
    assert result.returncode == 0, result.stderr
    [user] = users(factory)
    assert (user.role, user.organisation_name, user.has_password) == ("recruteur", "Commune de Revel", False)


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (
            ["create-user", "--email", "pas-une-adresse", "--role", "admin", "--no-password"],
            "",
            1,
            "L'adresse e-mail n'est pas valide",
        ),
        (["create-user", "--email", "a@example.fr", "--role", "chef"], "", 2, "choix invalide"),
        (["create-user", "--role", "admin"], "", 2, "--email"),
        (
            ["create-user", "--email", "a@example.fr", "--role", "admin", "--password-stdin"],
            "password1234\n",
            1,
            "parmi les plus courants",
        ),
        (  # every problem at once, each on its line
            ["create-user", "--email", "pas-une-adresse", "--role", "admin", "--password-stdin"],
            "password1234\n",
            1,
            "Refusé :\n- L'adresse e-mail n'est pas valide : vérifiez qu'elle est de la forme prenom.nom@exemple.fr.\n"
            "- Ce mot de passe figure parmi les plus courants",
        ),
        (["create-user", "--email", "a@example.fr", "--role", "admin"], "", 1, "--password-stdin"),
        (
            ["create-user", "--email", "a@example.fr", "--role", "recruteur", "--no-password"],
            "",
            1,
            "rattaché à une organisation",
        ),
        (
            [
                "create-user",
                "--email",
                "a@example.fr",
                "--role",
                "recruteur",
                "--organisation",
                "Nulle part",
                "--no-password",
            ],
            "",
            1,
            "Organisation introuvable",
        ),
        (
            ["create-organisation", "--name", "X", "--kind", "commune", "--department", "99"],
            "",
            1,
            "Département inconnu",
        ),
        (["send-mail"], "", 1, "Aucun serveur SMTP"),
        (["send-mail", "--loop", "--interval", "-3"], "", 2, "strictement positif"),
        (["nimporte-quoi"], "", 2, "choix invalide"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(factory, database_url, args, stdin, code, message):
    result = run_cli(database_url, *args, stdin=stdin)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert users(factory) == []


def test_bad_configuration_is_reported_without_traceback(factory, database_url):
    result = run_cli(database_url, "migrate", PVD_SMTP_HOST="smtp.example.fr", PVD_SMTP_PORT="vingt-cinq")
    assert result.returncode == 2
    assert "PVD_SMTP_PORT doit être un nombre entier" in result.stderr
    assert "PVD_MAIL_FROM" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.database_independent
def test_unreachable_database_is_reported(tmp_path):
    result = run_cli("postgresql+psycopg://postgres@127.0.0.1:1/nothing", "migrate")
    assert result.returncode == 3
    assert "Base de données injoignable" in result.stderr and "Traceback" not in result.stderr


def test_send_mail_delivers_outbox_to_real_smtp(factory, database_url, smtp_server):
    with factory.begin() as session:
        mail.enqueue(session, recipient="cp@example.fr", subject="Bonjour", body="Texte", kind="test")
    result = run_cli(
        database_url,
        "send-mail",
        PVD_SMTP_HOST="127.0.0.1",
        PVD_SMTP_PORT=str(smtp_server.port),
        PVD_SMTP_SECURITY="none",
        PVD_MAIL_FROM="pvd@anct.gouv.fr",
    )
    assert result.returncode == 0, result.stderr
    assert "1 envoyé(s)" in result.stdout
    assert [m["To"] for m in smtp_server.messages] == ["cp@example.fr"]


def test_send_mail_loop_stops_on_sigterm(factory, database_url, smtp_server):
    import signal
    import time

    environment = {
        **os.environ,
        "PVD_DATABASE_URL": database_url,
        "PVD_SMTP_HOST": "127.0.0.1",
        "PVD_SMTP_PORT": str(smtp_server.port),
        "PVD_SMTP_SECURITY": "none",
        "PVD_MAIL_FROM": "pvd@anct.gouv.fr",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pvd_survey", "send-mail", "--loop", "--interval", "0.2"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with factory.begin() as session:
            mail.enqueue(session, recipient="cp@example.fr", subject="Bonjour", body="Texte", kind="test")
        deadline = time.monotonic() + 20
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m["To"] for m in smtp_server.messages] == ["cp@example.fr"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0


def count_rows(session) -> int:
    """Every row of every table: what a refused command must leave as it was."""
    return sum(session.scalar(select(func.count()).select_from(table)) for table in Base.metadata.sorted_tables)


def test_seed_demo_is_idempotent(factory, database_url, settings):
    first = run_cli(database_url, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert "mot de passe" in first.stdout
    before = users(factory)
    assert {u.role for u in before} == {"direction", "recruteur"}
    assert all(u.organisation_name for u in before if u.role == "recruteur")
    assert "Rencontre : Webinaire : monter une OPAH-RU (212/300 confirmés)" in first.stdout
    with factory.begin() as session:
        from pvd_survey import meetings

        listed = {m.title: m for m in meetings.list_all(session)}
        full = listed["Rencontre régionale : commerce de centre-bourg"]
        assert (full.confirmed, full.waiting) == (60, 9)
        past = meetings.dashboard_figures(session).by_region
        assert any(row.present for row in past)  # the past meeting has check-ins
        assert not [m for m in mail.list_messages(session) if m.recipient.endswith("@exemple-pvd.fr")]
    second = run_cli(database_url, "seed-demo")
    assert second.returncode == 0 and "déjà présentes" in second.stdout
    assert len(users(factory)) == len(before)
    # The printed passwords really work.
    line = next(line for line in first.stdout.splitlines() if "claire.durand" in line)
    password = line.split("mot de passe : ")[1]
    assert accounts.authenticate(factory, "claire.durand@demo.anct.gouv.fr", password, settings).error is None

    # Demo data and administrators are not real data; other accounts or invitations are: refused unless --force.
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="admin@anct.gouv.fr", display_name="Admin", password=STRONG_PASSWORD, settings=settings
        )
        assert demo.real_data(session) == []
        accounts.create_user(
            session,
            email="vraie.personne@anct.gouv.fr",
            display_name="Vraie Personne",
            role="direction",
            settings=settings,
            password=STRONG_PASSWORD,
        )
        survey.invite(session, [survey.InvitationEntry(1, "cp@mairie-vraie.fr", "21")], settings)
        stored = count_rows(session)
    refused = run_cli(database_url, "seed-demo")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "données réelles (1 compte(s)" in refused.stderr and "1 invitation(s)" in refused.stderr
    assert "--force" in refused.stderr
    with factory.begin() as session:
        assert count_rows(session) == stored  # nothing added
        # (one demo invitation gone, so that --force has something to add back)
        session.execute(delete(SurveyInvitation).where(SurveyInvitation.email == "lea.martin@demo.montbard.fr"))
    forced = run_cli(database_url, "seed-demo", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "Questionnaire : 1 invitations" in forced.stdout and "Données de démonstration en place." in forced.stdout


# ---------------------------------------------------------------------------- survey commands

SURVEY_HEADER = "start_month,employer,gender,experience,diploma,training_field,department\n"


def test_import_export_and_stats_commands(factory, database_url, tmp_path):
    source = tmp_path / "reponses.csv"
    rows = ["2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21"] * 6 + [
        "2022-02,commune,homme,lt1,doctorat,autre,29"
    ] * 5
    source.write_text(SURVEY_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli(database_url, "import-survey", str(source))
    assert result.returncode == 0, result.stderr
    assert "11 réponse(s) importée(s)" in result.stdout

    exported = tmp_path / "export.csv"
    assert run_cli(database_url, "export-survey", str(exported)).returncode == 0
    assert sorted(exported.read_text(encoding="utf-8").splitlines()) == sorted([SURVEY_HEADER.strip(), *rows])
    # For French Excel: `;` and a BOM; it imports back to the same answers.
    for_excel = tmp_path / "export-excel.csv"
    assert run_cli(database_url, "export-survey", "--excel", str(for_excel)).returncode == 0
    assert for_excel.read_bytes().startswith(b"\xef\xbb\xbf" + SURVEY_HEADER.strip().replace(",", ";").encode())
    today = date.today()
    assert survey.read_responses_csv(for_excel.read_text(encoding="utf-8"), today) == survey.read_responses_csv(
        exported.read_text(encoding="utf-8"), today
    )

    result = run_cli(database_url, "stats", "--format", "json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    # Published counts are perturbed (by 2 at most); the same cell reads the same everywhere.
    assert abs(figures["respondents"] - 11) <= 2
    gender = figures["questions"]["gender"]
    assert gender["answered"] == figures["respondents"]
    assert abs(gender["options"]["homme"]["count"] - 5) <= 2 and abs(gender["options"]["femme"]["count"] - 6) <= 2
    architecture = figures["questions"]["training_field"]["options"]["architecture"]
    answered = figures["questions"]["training_field"]["answered"]
    assert abs(architecture["count"] - 6) <= 2
    assert architecture["share"] == round(100 * architecture["count"] / answered, 1)
    # Nobody chose bac2_3: hidden like a small group, so that a hidden figure never means "someone".
    assert figures["questions"]["diploma"]["options"]["bac2_3"] == {"count": None, "share": None, "suppressed": True}

    isolated = json.loads(run_cli(database_url, "stats", "--department", "35").stdout)
    assert isolated["respondents"] is None and isolated["suppressed"] is True  # nobody there: like too few

    csv_result = run_cli(database_url, "stats", "--region", "27", "--format", "csv")
    assert csv_result.returncode == 0
    # The 6 people of the region are all women: that cell leaves nobody outside it, so it is hidden.
    assert re.search(r"^gender,Genre,femme,Femme,\d+,,,oui,70,$", csv_result.stdout, re.MULTILINE)


def test_import_of_fewer_than_k_answers_waits_for_the_next_ones(factory, database_url, tmp_path):
    source = tmp_path / "reponses.csv"
    source.write_text(SURVEY_HEADER + "2021-09,epci,femme,5to20,bac4_5,,21\n" * 3, encoding="utf-8")
    result = run_cli(database_url, "import-survey", str(source))
    assert result.returncode == 0, result.stderr
    assert "3 réponse(s) en attente" in result.stdout
    assert json.loads(run_cli(database_url, "stats", "--format", "json").stdout)["suppressed"] is True


def test_import_with_bad_rows_imports_nothing_and_lists_them(factory, database_url, tmp_path):
    source = tmp_path / "reponses.csv"
    source.write_text(
        SURVEY_HEADER + "2021-09,epci,femme,5to20,bac4_5,,21\n2035-01,epci,x,5to20,bac4_5,,21\n", encoding="utf-8"
    )
    result = run_cli(database_url, "import-survey", str(source))
    assert result.returncode == 1
    assert "ligne 3" in result.stderr and "futur" in result.stderr and "Réponse inconnue : x" in result.stderr
    assert json.loads(run_cli(database_url, "stats").stdout)["suppressed"] is True


GOOD_ROW = "2021-09,epci,femme,5to20,bac4_5,,21\n"


def responses_in(factory) -> int:
    from sqlalchemy import func, select

    from pvd_survey.models import SurveyPool, SurveyResponse

    with db.read_only(factory) as session:
        return sum(session.scalar(select(func.count()).select_from(table)) for table in (SurveyResponse, SurveyPool))


HEADER_BYTES = SURVEY_HEADER.encode()
GOOD_BYTES = GOOD_ROW.encode()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # Saved by an old Excel (cp1252): the line of the first foreign byte, and what to do.
        (
            HEADER_BYTES + GOOD_BYTES + "2021-09,epci,femme,5to20,bac4_5,aménagement,21\n".encode("cp1252"),
            ["ligne 3 : caractère illisible en utf-8 (octet E9)", "enregistrez le fichier en CSV UTF-8", "--encoding"],
        ),
        # A 200,000-character cell (past the CSV reader's limit): refused with its line, the rest not read.
        (
            HEADER_BYTES + GOOD_BYTES + b"2021-09," + b"x" * 200_000 + b",femme,5to20,bac4_5,,21\n",
            ["ligne 3 : champ de plus de 131072 caractères"],
        ),
        # An unclosed quote swallowing the rest of the file: the line where the quote opened.
        (
            HEADER_BYTES + GOOD_BYTES + b'2021-09,"epci,femme,5to20,bac4_5,,21\n' + GOOD_BYTES * 5000,
            ["ligne 3 : champ de plus de"],
        ),
        (HEADER_BYTES + GOOD_BYTES + b"2021-09,epci,fem\rme,5to20,bac4_5,,21\n", ["ligne 3 : ligne illisible en CSV"]),
        (
            HEADER_BYTES + GOOD_BYTES + b"2021-09,epci,fem\0me,5to20,bac4_5,,21\n",
            ["ligne 3 : gender : Réponse inconnue : fem�me."],
        ),
        (HEADER_BYTES + b"x" * 1_100_000 + b"\n", ["ligne 2 : ligne de plus de 1048576 octets"]),
        (b"", ["ligne 1 : fichier vide"]),
        (b"\n\n", ["ligne 1 : fichier vide"]),
        (HEADER_BYTES, ["ligne 2 : aucune ligne sous l'en-tête"]),
        (HEADER_BYTES + b"\n,,,,,,\n", ["ligne 2 : aucune ligne sous l'en-tête"]),
        # Every bad line has its number; past the first 50, they are counted.
        (
            HEADER_BYTES + b"2035-01,epci,femme,5to20,bac4_5,,21\n" * 80 + GOOD_BYTES,
            ["ligne 2 : start_month", "ligne 51 : start_month", "80 ligne(s) en erreur en tout"],
        ),
    ],
    ids=[
        "cp1252",
        "long-field",
        "open-quote",
        "carriage-return",
        "nul",
        "long-line",
        "empty",
        "blank",
        "header-only",
        "blank-rows",
        "many",
    ],
)
def test_import_refuses_a_bad_file_with_its_line_a_hint_and_imports_nothing(
    factory, database_url, tmp_path, content, expected
):
    source = tmp_path / "reponses.csv"
    source.write_bytes(content)
    result = run_cli(database_url, "import-survey", str(source))
    assert result.returncode == 1, result.stderr  # refused by a rule (README: exit codes)
    for part in expected:
        assert part in result.stderr
    assert "Traceback" not in result.stderr
    assert "ligne 52 :" not in result.stderr  # (only the first 50 problems are listed)
    assert responses_in(factory) == 0


def test_import_reads_a_cp1252_file_when_told_its_encoding(factory, database_url, tmp_path):
    source = tmp_path / "reponses.csv"
    source.write_bytes(
        (SURVEY_HEADER + GOOD_ROW * 5 + "2021-09,epci,femme,5to20,bac4_5,aménagement,21\n").encode("cp1252")
    )
    result = run_cli(database_url, "import-survey", "--encoding", "cp1252", str(source))
    assert result.returncode == 1
    assert "ligne 7 : training_field : Réponse inconnue : aménagement." in result.stderr  # read, then checked
    source.write_bytes((SURVEY_HEADER + GOOD_ROW * 5).encode("cp1252"))
    result = run_cli(database_url, "import-survey", "--encoding", "cp1252", str(source))
    assert result.returncode == 0, result.stderr
    assert responses_in(factory) == 5


def test_import_refuses_a_path_that_is_no_readable_file(factory, database_url, tmp_path):
    (tmp_path / "fichier.csv").write_text(SURVEY_HEADER + GOOD_ROW * 5, encoding="utf-8")
    for path, message in [
        (tmp_path, "n'est pas un fichier"),
        (tmp_path / "fichier.csv" / "dessous.csv", "Impossible de lire"),
        (tmp_path / "absent.csv", "Fichier introuvable"),
    ]:
        result = run_cli(database_url, "import-survey", str(path))
        assert result.returncode == 2, result.stderr  # a bad argument (README: exit codes)
        assert message in result.stderr and "Traceback" not in result.stderr
    result = run_cli(database_url, "import-survey", "--encoding", "ebcdic", str(tmp_path / "fichier.csv"))
    assert result.returncode == 2 and "choix invalide" in result.stderr
    assert responses_in(factory) == 0


def test_a_large_import_is_all_there_in_a_shuffled_order_and_a_late_bad_line_imports_nothing(
    factory, database_url, tmp_path, settings
):
    rows = [f"2021-{1 + n % 12:02d},epci,femme,5to20,bac4_5,,{21 + n % 9}\n" for n in range(12_000)]
    source = tmp_path / "reponses.csv"
    source.write_text(SURVEY_HEADER + "".join(rows) + "2021-09,epci,femme,5to20,bac4_5,,999\n", encoding="utf-8")
    result = run_cli(database_url, "import-survey", str(source))
    assert result.returncode == 1 and "ligne 12002 : department" in result.stderr
    assert responses_in(factory) == 0
    source.write_text(SURVEY_HEADER + "".join(rows), encoding="utf-8")
    result = run_cli(database_url, "import-survey", str(source))
    assert result.returncode == 0, result.stderr
    assert "12000 réponse(s) importée(s)" in result.stdout
    with db.read_only(factory) as session:
        exported = survey.export_responses_csv(session, settings).splitlines()[1:]
        stored = [record.answers.department for record in survey.counted_records(session, settings)]
    assert sorted(exported) == sorted(row.strip() for row in rows)
    # Stored in no order of the file (whose departments cycle 21, 22... 29): the rows' neighbours differ.
    assert sum(int(b) == int(a) + 1 for a, b in itertools.pairwise(stored)) < 6000  # ~1,300 at random, 10,667 in order


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import-survey", "{tmp}/absent.csv"], "Fichier introuvable"),
        (["stats", "--region", "99"], "Filtre inconnu"),
        (["stats", "--format", "xml"], "choix invalide"),
        (["bench", "--sizes", "dix"], "nombres entiers"),
    ],
)
def test_survey_commands_refuse_bad_arguments(database_url, tmp_path, args, message):
    result = run_cli(database_url, *(arg.format(tmp=tmp_path) for arg in args))
    assert result.returncode in (1, 2)
    assert message in result.stderr and "Traceback" not in result.stderr


def _bench_databases() -> tuple[list[str], list[str]]:
    """Extra bench arguments and the databases it then measures: PostgreSQL too when the suite runs on it."""
    if TEST_BACKEND == "postgresql":
        return ["--postgresql", PG_ADMIN_URL], ["sqlite", "postgresql"]
    return [], ["sqlite"]


def test_bench_prints_one_json_line_per_size_and_database(tmp_path, database_url):
    extra, databases = _bench_databases()
    result = run_cli(database_url, "bench", "--section", "survey", "--sizes", "300", "--workdir", str(tmp_path), *extra)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [figures["database"] for figures in lines] == databases
    for figures in lines:
        assert figures["responses"] == 300 and figures["submissions"] == 300
        assert figures["figures_warm_ms_median"] > 0 and figures["open_every_row_ms"] > 0
        assert 0 < figures["submission_p50_ms"] <= figures["submission_p95_ms"] <= figures["submission_p99_ms"]
        assert figures["releases"] > 0 and 0 < figures["release_of_k_p50_ms"] <= figures["release_of_k_p95_ms"]


def test_meetings_benchmark_measures_concurrent_registrations_and_the_list(tmp_path, monkeypatch):
    from pvd_survey import bench

    monkeypatch.setattr(bench.meetings, "MEETINGS", 30)
    monkeypatch.setattr(bench.meetings, "REGISTRATIONS", 600)
    monkeypatch.setattr(bench.meetings, "ATTEMPTS_PER_WRITER", 3)
    figures = bench.meetings_benchmark(TEST_BACKEND, str(tmp_path), PG_ADMIN_URL)
    # 16 writers: 5 warm-up registrations each, then 3 timed ones, half of which find a place.
    assert figures["registrations_timed"] == 48 and figures["confirmed"] == 16 * 5 + 24
    assert figures["database"] == TEST_BACKEND
    # PostgreSQL: one meeting for the one-call registration, one for the portable statements.
    bench_meetings = 2 if TEST_BACKEND == "postgresql" else 1
    assert figures["list_registrations"] == 600 and figures["list_meetings_shown"] == 30 + bench_meetings
    assert 0 < figures["registration_p50_ms"] <= figures["registration_p95_ms"] <= figures["registration_p99_ms"]
    if TEST_BACKEND == "postgresql":
        assert figures["portable_confirmed"] == 16 * 5 + 24 and figures["portable_registration_p95_ms"] > 0


def _past_meeting_with_registration(factory, settings, days_ago: int) -> None:
    from datetime import timedelta

    from pvd_survey import meetings
    from pvd_survey.models import Meeting, utcnow

    with factory.begin() as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
        meetings.register(session, meeting_id, person(1), settings)
        # Move the meeting into the past, as time would.
        meeting = session.get(Meeting, meeting_id)
        shift = meeting.ends_at - (utcnow() - timedelta(days=days_ago))
        for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
            setattr(meeting, name, getattr(meeting, name) - shift)


def test_purge_dry_run_changes_nothing_then_purge_anonymises(factory, database_url, settings):
    from pvd_survey import meetings

    _past_meeting_with_registration(factory, settings, days_ago=400)
    dry = run_cli(database_url, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "inscriptions aux rencontres (anonymisées) : inscription RV-" in dry.stdout
    assert "serait supprimé (simulation" in dry.stdout
    with db.read_only(factory) as session:
        assert meetings.personal_data(session, "personne.1@mairie.fr") != []
    real = run_cli(database_url, "purge")
    assert real.returncode == 0 and "1 élément(s) supprimé(s)." in real.stdout
    with db.read_only(factory) as session:
        assert meetings.personal_data(session, "personne.1@mairie.fr") == []
    again = run_cli(database_url, "purge")
    assert "Rien à supprimer" in again.stdout


def test_purge_deletes_outbox_messages_past_their_retention(factory, database_url):
    from datetime import timedelta

    from sqlalchemy import select

    from pvd_survey.models import OutboxMessage, utcnow

    with factory.begin() as session:
        old, recent = [
            mail.enqueue(session, recipient=f"{name}@example.fr", subject="s", body="lien", kind="test")
            for name in ("ancien", "recent")
        ]
        session.get(OutboxMessage, old).created_at = utcnow() - timedelta(days=31)
        session.get(OutboxMessage, recent).created_at = utcnow() - timedelta(days=10)

    def outbox_ids() -> set[int]:
        with db.read_only(factory) as session:
            return set(session.scalars(select(OutboxMessage.id)))

    dry = run_cli(database_url, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"messages de la file d'envoi : message n° {old} (en attente, écrit le " in dry.stdout
    assert "serait supprimé (simulation" in dry.stdout and f"n° {recent} " not in dry.stdout
    assert outbox_ids() == {old, recent}
    real = run_cli(database_url, "purge")
    assert real.returncode == 0 and "1 élément(s) supprimé(s)." in real.stdout
    assert outbox_ids() == {recent}
    shorter = run_cli(database_url, "purge", PVD_OUTBOX_RETENTION_DAYS="7")
    assert shorter.returncode == 0 and f"message n° {recent} " in shorter.stdout
    assert outbox_ids() == set()


@pytest.mark.parametrize(
    ("value", "problem"),
    [("abc", "doit être un nombre entier (reçu : 'abc')"), ("0", "doit être supérieur ou égal à 1 (reçu : 0)")],
)
def test_purge_reports_a_bad_outbox_retention_in_french(database_url, value, problem):
    result = run_cli(database_url, "purge", "--dry-run", PVD_OUTBOX_RETENTION_DAYS=value)
    assert result.returncode == 2
    assert f"PVD_OUTBOX_RETENTION_DAYS {problem}" in result.stderr


def test_send_mail_writes_due_meeting_reminders_first(factory, database_url, settings, smtp_server):
    from datetime import timedelta

    from pvd_survey import meetings
    from pvd_survey.models import utcnow

    with factory.begin() as session:
        soon = utcnow() + timedelta(days=1)
        meeting_id = meetings.create_meeting(
            session,
            meeting_form(starts_at=soon, ends_at=soon + timedelta(hours=3), registration_closes_at=soon),
        )
        meetings.register(session, meeting_id, person(1), settings)
    smtp = {
        "PVD_SMTP_HOST": "127.0.0.1",
        "PVD_SMTP_PORT": str(smtp_server.port),
        "PVD_SMTP_SECURITY": "none",
        "PVD_MAIL_FROM": "pvd@anct.gouv.fr",
    }
    result = run_cli(database_url, "send-mail", **smtp)
    assert result.returncode == 0, result.stderr
    assert "2 envoyé(s)" in result.stdout and "1 rappel(s)" in result.stdout
    from email.header import decode_header, make_header

    subjects = sorted(str(make_header(decode_header(m["Subject"]))) for m in smtp_server.to("personne.1@mairie.fr"))
    assert subjects[0].startswith("Inscription confirmée") and subjects[1].startswith("Rappel :")
    assert "0 envoyé(s)" in run_cli(database_url, "send-mail", **smtp).stdout


def test_bench_job_board_section(tmp_path, database_url):
    extra, databases = _bench_databases()
    result = run_cli(database_url, "bench", "--section", "jobs", "--jobs", "60,600", "--workdir", str(tmp_path), *extra)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [figures["database"] for figures in lines] == databases
    for figures in lines:
        assert figures["postings"] == 60 and figures["applications"] == 600
        assert figures["pipeline_page_rows"] == min(200, figures["pipeline_posting_applications"])
        assert figures["board_ms_median"] > 0 and figures["pipeline_ms_median"] > 0
