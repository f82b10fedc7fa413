"""The profile survey's rules: invitations, personal links, drafts, one response per invitee,
release of the figures in groups, the survey closing date, CSV import and export. Every function
takes a Session; callers commit.

Answers are anonymous by construction: nothing stored ties an invitation (or any e-mail) to a
draft, a waiting change or counted answers (see `respondent` and `release`).

Modules by concern: `links` (tokens, keyed references, sealing), `invitations` (the e-mail side and
the closing date), `respondent` (a person's own page), `release` (groups reaching the figures),
`files` (CSV import and export).
"""

from pvd_survey.survey.files import (
    ImportRejected,
    RowError,
    export_responses_csv,
    import_responses,
    read_responses_csv,
    recount,
)
from pvd_survey.survey.invitations import (
    CLOSES_AT_KEY,
    InvitationBatch,
    InvitationEntry,
    InvitationInfo,
    closing_time,
    invite,
    is_closed,
    list_invitations,
    parse_invitation_list,
    reactivate,
    resend,
    revoke,
    set_closing_time,
)
from pvd_survey.survey.links import SURVEY_PAGE_PATH, TOKEN_PARAMETER, new_token, survey_link
from pvd_survey.survey.release import (
    ALL,
    ANSWERED_PREFIX,
    RESPONDENTS,
    ReleaseState,
    _answers_of,
    _rollup_keys,
    release_if_ready,
    release_state,
)
from pvd_survey.survey.respondent import (
    SurveySession,
    erase_invitation,
    open_survey,
    save_draft,
    submit,
    withdraw,
)
from pvd_survey.survey_questions import CSV_COLUMNS

__all__ = [
    "ALL",
    "ANSWERED_PREFIX",
    "CLOSES_AT_KEY",
    "CSV_COLUMNS",
    "RESPONDENTS",
    "SURVEY_PAGE_PATH",
    "TOKEN_PARAMETER",
    "ImportRejected",
    "InvitationBatch",
    "InvitationEntry",
    "InvitationInfo",
    "ReleaseState",
    "RowError",
    "SurveySession",
    "_answers_of",
    "_rollup_keys",
    "closing_time",
    "erase_invitation",
    "export_responses_csv",
    "import_responses",
    "invite",
    "is_closed",
    "list_invitations",
    "new_token",
    "open_survey",
    "parse_invitation_list",
    "reactivate",
    "read_responses_csv",
    "recount",
    "release_if_ready",
    "release_state",
    "resend",
    "revoke",
    "save_draft",
    "set_closing_time",
    "submit",
    "survey_link",
    "withdraw",
]
