"""The profile survey's rules: invitations, personal links, drafts, one response per invitee,
release of the figures in groups on a schedule, reminders, the survey closing date, CSV import and
export. Every function takes a Session; callers commit.

Answers are anonymous by construction: nothing stored ties an invitation (or any e-mail) to a
draft, a waiting change or counted answers, and every answer is sealed with the server key.

Modules by concern: `links` (tokens, keyed references, sealing), `invitations` (the e-mail side,
reminders and the closing date), `respondent` (a person's own page), `release` (groups reaching the
figures), `totals` (the sealed counts the figures read), `files` (CSV import and export).
"""

from pvd_survey.errors import ImportRejected, RowError  # (their home is errors.py)
from pvd_survey.survey.files import (
    CheckedFile,
    check_responses,
    counted_records,
    export_responses_csv,
    file_lines,
    import_checked,
    import_responses,
    read_responses_csv,
    recount,
)
from pvd_survey.survey.invitations import (
    CLOSES_AT_KEY,
    REMINDER_KIND,
    InvitationBatch,
    InvitationEntry,
    InvitationInfo,
    ReminderInfo,
    anonymity_notice,
    cancel_reminder,
    close_on,
    closing_time,
    invite,
    is_closed,
    list_invitations,
    list_reminders,
    parse_invitation_list,
    reactivate,
    resend,
    revoke,
    schedule_reminder,
    schedule_reminder_on,
    send_due_reminders,
    set_closing_time,
)
from pvd_survey.survey.links import SURVEY_PAGE_PATH, survey_link
from pvd_survey.survey.release import (
    CountedRecord,
    ReleaseReport,
    ReleaseState,
    release_due,
    release_moment,
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
from pvd_survey.survey.totals import (
    ANSWERED_PREFIX,
    LINK_RESPONDENTS,
    RESPONDENTS,
    Totals,
    check_key,
    current_totals,
    remember_key,
)
from pvd_survey.survey_questions import CSV_COLUMNS

__all__ = [
    "ANSWERED_PREFIX",
    "CLOSES_AT_KEY",
    "CSV_COLUMNS",
    "LINK_RESPONDENTS",
    "REMINDER_KIND",
    "RESPONDENTS",
    "SURVEY_PAGE_PATH",
    "CheckedFile",
    "CountedRecord",
    "ImportRejected",
    "InvitationBatch",
    "InvitationEntry",
    "InvitationInfo",
    "ReleaseReport",
    "ReleaseState",
    "ReminderInfo",
    "RowError",
    "SurveySession",
    "Totals",
    "anonymity_notice",
    "cancel_reminder",
    "check_key",
    "check_responses",
    "close_on",
    "closing_time",
    "counted_records",
    "current_totals",
    "erase_invitation",
    "export_responses_csv",
    "file_lines",
    "import_checked",
    "import_responses",
    "invite",
    "is_closed",
    "list_invitations",
    "list_reminders",
    "open_survey",
    "parse_invitation_list",
    "reactivate",
    "read_responses_csv",
    "recount",
    "release_due",
    "release_moment",
    "release_state",
    "remember_key",
    "resend",
    "revoke",
    "save_draft",
    "schedule_reminder",
    "schedule_reminder_on",
    "send_due_reminders",
    "set_closing_time",
    "submit",
    "survey_link",
    "withdraw",
]
