"""Regional meetings: limited places, waiting list, cancellation, reminders, check-in and figures.

One package, one module per concern; every public name is re-exported here, so callers write
`from pvd_survey import meetings; meetings.register(...)`. The capacity guarantee is explained in
`registration.py`.

- `common`: labels, the plain data pages receive, links, reading one meeting, the row lock
- `catalogue`: listing meetings; the direction creates and edits them
- `registration`: registering, the waiting list, cancelling, promotion when the capacity grows
- `offers`: a freed place offered to the first person waiting, held until a deadline; accept, decline, expiry
- `messages`: the e-mails (confirmation, waiting list, promotion, change, cancellation, reminders)
- `documents`: the .ics file, the direction's lists, exports and the sign-in sheet PDF
- `tickets`: the ticket's code, its QR code and its PDF
- `checkin`: finding a person on the day and marking them present
- `door`: the door page's scans (ticket or photo), arrivals counted once, the « accueil » team's links
- `certificates`: attendance certificates, e-mailed once to each person marked present
- `figures`: the dashboard's figures
- `retention`: anonymisation, access requests, erasure
"""

from pvd_survey.meetings.catalogue import (
    CHANGES_TO_ANNOUNCE,
    MeetingUpdate,
    create_meeting,
    list_all,
    list_upcoming,
    meeting_in,
    order_for_check_in,
    parse_meeting_id,
    update_meeting,
    validate_meeting,
)
from pvd_survey.meetings.certificates import (
    CertificateCounts,
    certificate_by_link,
    certificate_counts,
    certificate_pdf,
    certificates_to_send,
    send_certificate,
)
from pvd_survey.meetings.checkin import (
    search_attendees,
    set_present,
)
from pvd_survey.meetings.common import (
    KIND_LABELS,
    MAX_TEXT,
    MEETING_PAGE_PATH,
    MEETING_PARAMETER,
    OFFER_ANSWERS,
    OFFER_PARAMETER,
    REGISTRATION_PAGE_PATH,
    RETENTION,
    ROLE_LABELS,
    STATUS_LABELS,
    AttendeeInfo,
    MeetingForm,
    MeetingInfo,
    PrivateView,
    RegistrationForm,
    RegistrationOutcome,
    Roster,
    deadline_text,
    get_meeting,
    meeting_link,
    offer_link,
    private_link,
)
from pvd_survey.meetings.documents import (
    EXPORT_COLUMNS,
    calendar_file,
    export_rows,
    roster,
    sign_in_sheet_pdf,
)
from pvd_survey.meetings.door import (
    DOOR_PAGE_PATH,
    SCAN_HEADLINES,
    DoorAccess,
    DoorCounts,
    DoorKeeper,
    ScanResult,
    check_in_by_hand,
    codes_in_photo,
    delete_door_passes,
    door_counts,
    door_keepers,
    door_pass_personal_data,
    erase_door_passes,
    expired_door_passes,
    name_door_keeper,
    open_door_pass,
    revoke_door_pass,
    scan,
    scan_photo,
    undo_check_in,
)
from pvd_survey.meetings.figures import (
    AttendanceRow,
    DashboardFigures,
    MeetingFigures,
    dashboard_figures,
)
from pvd_survey.meetings.messages import (
    offer_rule,
    send_due_reminders,
)
from pvd_survey.meetings.offers import (
    accept_offer,
    decline_offer,
    expire_offers,
    offer_deadline,
)
from pvd_survey.meetings.registration import (
    cancel_by_direction,
    cancel_by_token,
    open_private_link,
    register,
    validate_registration,
)
from pvd_survey.meetings.retention import (
    anonymise,
    erase,
    expired_registrations,
    personal_data,
)
from pvd_survey.meetings.tickets import (
    Ticket,
    qr_png,
    read_code,
    ticket_by_link,
    ticket_code,
    ticket_pdf,
)

__all__ = [
    "CHANGES_TO_ANNOUNCE",
    "DOOR_PAGE_PATH",
    "EXPORT_COLUMNS",
    "KIND_LABELS",
    "MAX_TEXT",
    "MEETING_PAGE_PATH",
    "MEETING_PARAMETER",
    "OFFER_ANSWERS",
    "OFFER_PARAMETER",
    "REGISTRATION_PAGE_PATH",
    "RETENTION",
    "ROLE_LABELS",
    "SCAN_HEADLINES",
    "STATUS_LABELS",
    "AttendanceRow",
    "AttendeeInfo",
    "CertificateCounts",
    "DashboardFigures",
    "DoorAccess",
    "DoorCounts",
    "DoorKeeper",
    "MeetingFigures",
    "MeetingForm",
    "MeetingInfo",
    "MeetingUpdate",
    "PrivateView",
    "RegistrationForm",
    "RegistrationOutcome",
    "Roster",
    "ScanResult",
    "Ticket",
    "accept_offer",
    "anonymise",
    "calendar_file",
    "cancel_by_direction",
    "cancel_by_token",
    "certificate_by_link",
    "certificate_counts",
    "certificate_pdf",
    "certificates_to_send",
    "check_in_by_hand",
    "codes_in_photo",
    "create_meeting",
    "dashboard_figures",
    "deadline_text",
    "decline_offer",
    "delete_door_passes",
    "door_counts",
    "door_keepers",
    "door_pass_personal_data",
    "erase",
    "erase_door_passes",
    "expire_offers",
    "expired_door_passes",
    "expired_registrations",
    "export_rows",
    "get_meeting",
    "list_all",
    "list_upcoming",
    "meeting_in",
    "meeting_link",
    "name_door_keeper",
    "offer_deadline",
    "offer_link",
    "offer_rule",
    "open_door_pass",
    "open_private_link",
    "order_for_check_in",
    "parse_meeting_id",
    "personal_data",
    "private_link",
    "qr_png",
    "read_code",
    "register",
    "revoke_door_pass",
    "roster",
    "scan",
    "scan_photo",
    "search_attendees",
    "send_certificate",
    "send_due_reminders",
    "set_present",
    "sign_in_sheet_pdf",
    "ticket_by_link",
    "ticket_code",
    "ticket_pdf",
    "undo_check_in",
    "update_meeting",
    "validate_meeting",
    "validate_registration",
]
