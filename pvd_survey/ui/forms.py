"""Widgets and forms: Streamlit's widgets in French, a form's errors under its fields and at the top, record
selectors kept in the address, exports."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from pvd_survey import exports, meetings, territory, web
from pvd_survey.errors import DomainError, errors_by_field, form_summary, french_message
from pvd_survey.recruitment import PDF_MAX_BYTES
from pvd_survey.ui.core import NEW_RECORD, T, flash, focus_marker, show_error, write

_EXPORT_ICONS = {"csv": ":material/download:", "xlsx": ":material/table:", "csv_outils": ":material/data_object:"}


def export_button(place: DeltaGenerator, fmt: str, label: str, build: Callable[[], bytes], stem: str, key: str) -> None:
    """One download of an export in one of exports.FORMATS, built by `build` only when clicked."""
    place.download_button(
        label,
        build,
        file_name=exports.file_name(stem, fmt),
        mime=exports.MEDIA_TYPES[fmt],
        key=key,
        on_click="ignore",
        icon=_EXPORT_ICONS[fmt],
    )


def roster_button(place: DeltaGenerator, lists: meetings.Roster, fmt: str, label: str, key: str) -> None:
    """One download of a meeting's registrants (the app's one export writer), built only when clicked."""
    rows = meetings.export_rows(lists)
    build = lambda: exports.table(fmt, meetings.EXPORT_COLUMNS, rows, sheet_title="Inscrits")  # noqa: E731
    export_button(place, fmt, label, build, f"rencontre-{lists.meeting.id}-inscrits", key)


def sign_in_sheet_button(place: DeltaGenerator, lists: meetings.Roster, key: str) -> None:
    """A meeting's sign-in sheet (PDF), drawn only when clicked."""
    place.download_button(
        "Feuille d'émargement (PDF)",
        lambda: meetings.sign_in_sheet_pdf(lists),
        file_name=f"rencontre-{lists.meeting.id}-emargement.pdf",
        mime="application/pdf",
        on_click="ignore",
        icon=":material/print:",
        key=key,
    )


def text_of(uploaded, pasted: str, file_field: str) -> str:
    """The uploaded file's text (UTF-8, with or without BOM), else what was pasted; a file in another encoding is
    refused under its field (`file_field`)."""
    if uploaded is None:
        return pasted
    try:
        return uploaded.getvalue().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError("file_not_utf8", field=file_field) from None


def department_select(label: str, key: str) -> str | None:
    """A department picker (code and name, empty at first), as every form asks for it."""
    return st.selectbox(
        label,
        list(territory.DEPARTMENTS),
        format_func=territory.department_label,
        index=None,
        placeholder="Choisissez un département",
        key=key,
    )


# ---------------------------------------------------------------------------- Streamlit's widgets, in French
# Streamlit 1.67 speaks English wherever the app does not give it the words: its parameters first (placeholder,
# select_all, max_upload_size, format), then french_widgets() for what no parameter reaches.

DATE_FORMAT = "DD/MM/YYYY"
PDF_MAX_MB = PDF_MAX_BYTES // (1024 * 1024)  # the services' limit, shown by the uploader (« 5 Mo au plus… »)


def french_widgets() -> None:
    """Streamlit's own words (upload zone, date fields, lists' buttons, names read by screen readers) in French."""
    # Constant script, allowed by its hash in the CSP (web.FRENCH_SCRIPT); it installs itself once per tab.
    st.html(f"<script>{web.FRENCH_SCRIPT}</script>", unsafe_allow_javascript=True)


def multiselect(label: str, options: Sequence[T], *, placeholder: str = "Choisissez", **kwargs: Any) -> list[T]:
    """st.multiselect without « Select all » (which would tick every choice at once) and with a French prompt."""
    return st.multiselect(label, options, placeholder=placeholder, select_all=False, **kwargs)


def file_upload(label: str, kind: str, key: str, max_mb: int | None = None) -> Any:
    """One file of a kind (`pdf`, `csv`); a PDF within the services' limit, which the zone shows."""
    types = ["csv", "txt"] if kind == "csv" else [kind]
    return st.file_uploader(
        label, type=types, key=key, max_upload_size=max_mb or (PDF_MAX_MB if kind == "pdf" else None)
    )


def date_input(label: str, *, place: DeltaGenerator | None = None, **kwargs: Any) -> Any:
    """st.date_input shown as jj/mm/aaaa."""
    return (place or st).date_input(label, format=DATE_FORMAT, **kwargs)


def checkbox_group(
    label: str,
    options: Sequence[str],
    key: str,
    *,
    format_func: Callable[[str], str] = str,
    exclusive: str | None = None,
) -> list[str]:
    """Several choices as checkboxes (no « Select all »), the ticked codes kept in `st.session_state[key]`.

    Ticking `exclusive` (« Je ne souhaite pas répondre ») unticks the others at once, and ticking another unticks
    it. Set `st.session_state[key]` before the call to change what is ticked.
    """
    selected = list(st.session_state.get(key) or [])
    with st.container(key=f"pvd_group_{key}", gap="xxsmall"):
        st.markdown(label)
        for option in options:
            box = f"{key}__{option}"
            st.session_state[box] = option in selected
            st.checkbox(format_func(option), key=box, on_change=_ticked, args=(key, option, tuple(options), exclusive))
    return selected


def _ticked(key: str, option: str, options: tuple[str, ...], exclusive: str | None) -> None:
    selected = [other for other in options if st.session_state.get(f"{key}__{other}")]
    if exclusive is not None and st.session_state.get(f"{key}__{option}"):
        selected = [option] if option == exclusive else [other for other in selected if other != exclusive]
    st.session_state[key] = selected
    for other in options:
        st.session_state[f"{key}__{other}"] = other in selected


# ---------------------------------------------------------------------------- forms (RGAA 11.10)
# A submission's errors, all at once: each under its field (field_error), all listed at the top of the form
# (form_errors), and the focus on the first field in error; after a success, on the confirmation (flash(focus=True)
# or focus_on). Services raise InvalidAnswers (several fields) or a DomainError with its `field` (errors.py says
# them in French: errors_by_field, form_summary).


def remember_field_errors(form_key: str, errors: Mapping[str, DomainError] | None) -> None:
    """Keep a form's errors by field (or clear them) for the next run, which shows them and focuses the first."""
    if errors:
        st.session_state[f"{form_key}_errors"] = {name: french_message(error) for name, error in errors.items()}
        st.session_state[f"{form_key}_focus"] = st.session_state.get(f"{form_key}_focus", 0) + 1
    else:
        st.session_state.pop(f"{form_key}_errors", None)
        st.session_state.pop(f"{form_key}_focus", None)


def field_error(form_key: str, field: str) -> None:
    """The error of one field, right under it (if the last submission had one); call it just after the widget."""
    message = st.session_state.get(f"{form_key}_errors", {}).get(field)
    if message:
        with st.container(key=f"pvd_error_{form_key}__{field}"):
            st.error(message, icon=":material/error:")


def form_errors(form_key: str, labels: Mapping[str, str]) -> None:
    """At the top of a form: every error of its last submission, each with its field's label (`labels`, in the
    form's order); right after the submission, the focus goes to the first field in error."""
    errors: dict[str, str] = st.session_state.get(f"{form_key}_errors") or {}
    if not errors:
        return
    with st.container(key=f"pvd_summary_{form_key}"):
        st.error(form_summary(errors, labels), icon=":material/error:")
    submission = st.session_state.pop(f"{form_key}_focus", None)
    if submission:
        focus_marker(form=form_key, submission=str(submission))


def submit_form(
    form_key: str,
    action: Callable[..., T],
    *args: Any,
    success: str | Callable[[T], str] | None = None,
    then: Callable[[T], object] | None = None,
    flash_at: str | None = None,
    refused: Callable[[DomainError], object] | None = None,
    rerun: bool = True,
    **kwargs: Any,
) -> T:
    """A form's action, as act() but for a form: on a domain error nothing is committed and the page reruns with
    every error under its field and listed at the top (form_errors), the focus on the first; once committed,
    `then(result)`, the `success` message flashed with the focus on it, and a rerun (without a message, the page
    shows its own confirmation: focus_on() its container). `refused(error)`: what else a refusal changes.
    `rerun=False`: once committed, the result is returned (the page draws its confirmation in this run)."""
    try:
        with write() as session:
            result = action(session, *args, **kwargs)
    except DomainError as error:
        remember_field_errors(form_key, errors_by_field(error))
        if refused is not None:
            refused(error)
        st.rerun()
    remember_field_errors(form_key, None)
    if then is not None:
        then(result)
    if not rerun:
        return result
    message = success(result) if callable(success) else success
    if message:
        flash(message, place=flash_at, focus=True)
    st.rerun()


def choose_record(
    label: str,
    labels: Mapping[int, str],
    parameter: str,
    key: str,
    *,
    unknown: str,
    new_label: str | None = None,
    first_by_default: bool = False,
    placeholder: str = "Choisissez",
    forget: Sequence[str] = (),
) -> int | None:
    """A selector of one record (a posting, an application, a meeting…) by its stable id, kept in the address.

    `labels` maps the ids the person may see (read afresh on each run, access checked by the service) to their
    labels. The address (`?parameter=id`) decides: a reload, a shared link or the back button shows the same
    record, and a label changed by an action (a posting's state, a new title) never loses the choice. A choice
    made in the selector goes to the address (and drops the `forget` parameters, those of the previous record).
    Without the parameter: the `new_label` choice (NEW_RECORD), else the first record (`first_by_default`), else
    nothing. An id that is not in `labels` (bad, or someone else's) shows the French message of the `unknown`
    code and nothing of it. Returns the chosen id, NEW_RECORD, or None (nothing chosen).
    """
    wanted = st.query_params.get(parameter)
    chosen: int | None
    if wanted is None:
        chosen = NEW_RECORD if new_label else (next(iter(labels), None) if first_by_default else None)
    elif wanted.isascii() and wanted.isdecimal() and int(wanted) in labels:
        chosen = int(wanted)
    else:
        show_error(DomainError(unknown))
        chosen = None
    options = ([NEW_RECORD] if new_label else []) + list(labels)
    # The widget shows what the address says on every run; the browser may still hold a label of an earlier run.
    st.session_state[key] = chosen
    st.selectbox(
        label,
        options,
        format_func=lambda record: (new_label or "") if record == NEW_RECORD else labels[record],
        index=None,
        placeholder=placeholder,
        required=True,  # a choice can be changed, not cleared
        key=key,
        on_change=_record_chosen,
        args=(key, parameter, tuple(forget)),
    )
    return chosen


def _record_chosen(key: str, parameter: str, forget: tuple[str, ...]) -> None:
    value = st.session_state.get(key)
    # Anything else is a label of an earlier run that no longer matches (the record's label changed): the address
    # keeps the choice.
    if value is None or isinstance(value, int):
        select_record(parameter, value, forget)


def select_record(parameter: str, record_id: int | None, forget: Sequence[str] = ()) -> None:
    """Make this record the chosen one of its selector on the next run (e.g. a record just created)."""
    if record_id is None or record_id == NEW_RECORD:
        st.query_params.pop(parameter, None)
    else:
        st.query_params[parameter] = str(record_id)
    for other in forget:
        st.query_params.pop(other, None)
