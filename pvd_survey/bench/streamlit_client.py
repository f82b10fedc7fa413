"""A Streamlit client on the wire, without a browser: what a browser tab of the app sends and waits for.

The benchmarks' load generator (bench/web.py): a browser costs about 1 s of CPU a page on this machine and caps the
rate it can drive; this client about 12 ms a registration. A tab, as Streamlit 1.67's frontend does it (checked against
the frames Chromium sends): GET the page, then `/_stcore/health` and `/_stcore/host-config` (from the page's own path
first, then the root, as the frontend tries its base URLs), cookies kept; the WebSocket `/_stcore/stream` with the
subprotocols `streamlit` and the XSRF cookie's value, the Origin of the page and its cookies; a BackMsg `rerun_script`
with the page's query string and name; every ForwardMsg read until `script_finished`. A form is submitted as the
frontend does it: one rerun carrying the state of every widget of the page (the values typed, the others' defaults)
and the submit button's trigger. What the client does not do: fetch Streamlit's static files (nginx serves them in
production, and a returning browser has them cached), draw anything, or send the heartbeats of a tab left open.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

TIMEOUT = 120.0  # seconds for a whole visit (a loaded machine)
XSRF_COOKIE = "_streamlit_xsrf"
PROTOCOL = Subprotocol("streamlit")
NO_TOKEN = "PLACEHOLDER_AUTH_TOKEN"  # what the frontend sends without the cookie
# What Chromium's tab sends in each rerun (the bench's browser contexts are French, on a server clock in UTC).
CONTEXT = {"timezone": "UTC", "timezone_offset": 0, "locale": "fr-FR", "is_embedded": False, "color_scheme": "light"}
# The widgets a form of this app holds, and the field of their state; any other widget on the page is refused.
VALUE_FIELDS = {"text_input": "string_value", "text_area": "string_value", "selectbox": "string_value"}
VALUE_FIELDS |= {"checkbox": "bool_value"}
FINISHED = ForwardMsg.ScriptFinishedStatus


class ProtocolError(RuntimeError):
    """The server answered something a browser tab would show as a failure (or nothing it expected)."""


@dataclass
class ScriptRun:
    """What one script run drew: its elements in the order they arrived (an element drawn again in the same place
    is listed again)."""

    elements: list[Element] = field(default_factory=list)

    def widgets(self) -> dict[str, Element]:
        """The run's widgets with a label (value widgets and buttons), by label."""
        found = {}
        for element in self.elements:
            kind = str(element.WhichOneof("type"))
            if kind in VALUE_FIELDS or kind == "button":
                found[getattr(element, kind).label] = element
            elif kind != "None" and "form_id" in getattr(element, kind).DESCRIPTOR.fields_by_name:
                raise ProtocolError(f"a widget this client cannot fill: {kind}")  # (its state would be missing)
        return found

    def alerts(self) -> list[tuple[str, str]]:
        """(format name, body) of each alert (st.success, st.warning, st.error, st.info) of the run."""
        return [(Alert.Format.Name(e.alert.format), e.alert.body) for e in self.elements if e.HasField("alert")]


class Tab:
    """One tab on one page of the app: its cookies, its WebSocket, and the page's script hash once known."""

    def __init__(self, base: str, page: str) -> None:
        parts = urlsplit(page)
        self.base, self.path, self.query = base.rstrip("/"), parts.path.strip("/"), parts.query
        self.http = httpx.AsyncClient(
            base_url=self.base, timeout=TIMEOUT, headers={"Accept-Language": "fr-FR"}, verify=_tls()
        )
        self.socket: ClientConnection | None = None
        self.page_script_hash = ""
        self.sent: dict[str, ForwardMsg] = {}  # cacheable messages by hash (a later `ref_hash` points at one)

    async def open(self) -> ScriptRun:
        """Load the page, connect, and wait for its first run."""
        (await self.http.get(f"/{self.path}" + (f"?{self.query}" if self.query else ""))).raise_for_status()
        stream = await self._find_server()
        cookies = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        token = self.http.cookies.get(XSRF_COOKIE) or NO_TOKEN
        origin = urlsplit(self.base)
        self.socket = await connect(
            stream, origin=Origin(f"{origin.scheme}://{origin.netloc}"), subprotocols=[PROTOCOL, Subprotocol(token)],
            additional_headers={"Cookie": cookies} if cookies else None, max_size=None, open_timeout=TIMEOUT,
        )  # fmt: skip
        return await self.rerun(WidgetStates(), page_name=self.path)

    async def _find_server(self) -> str:
        """The frontend's search for the server: health and host config under the page's path, then the root."""
        for prefix in ([f"/{self.path}"] if self.path else []) + [""]:
            health, config = await asyncio.gather(
                self.http.get(f"{prefix}/_stcore/health"), self.http.get(f"{prefix}/_stcore/host-config")
            )
            if health.status_code == 200 and health.text == "ok" and config.status_code == 200:
                return self.base.replace("http", "ws", 1) + f"{prefix}/_stcore/stream"
        raise ProtocolError(f"no Streamlit server answers at {self.base}")

    async def rerun(self, states: WidgetStates, page_name: str = "") -> ScriptRun:
        """Ask for a run of the page with these widget states, and read it to its end."""
        assert self.socket is not None, "open() first"
        message = BackMsg()
        rerun = message.rerun_script
        rerun.query_string, rerun.page_script_hash, rerun.page_name = self.query, self.page_script_hash, page_name
        rerun.widget_states.CopyFrom(states)
        rerun.context_info.url = f"{self.base}/{self.path}"
        for key, value in CONTEXT.items():
            setattr(rerun.context_info, key, value)
        await self.socket.send(message.SerializeToString())
        return await self._read_run()

    async def _read_run(self) -> ScriptRun:
        """ForwardMsgs until the end of a full run (a run stopped for another is followed by that one)."""
        assert self.socket is not None
        run = ScriptRun()
        while True:
            message = ForwardMsg()
            message.ParseFromString(await self.socket.recv(decode=False))
            kind = message.WhichOneof("type")
            if kind == "ref_hash":
                if message.ref_hash not in self.sent:
                    raise ProtocolError(f"the server refers to a message never sent: {message.ref_hash}")
                message = self.sent[message.ref_hash]
                kind = message.WhichOneof("type")
            elif message.hash and message.metadata.cacheable:
                self.sent[message.hash] = message
            if kind == "new_session":
                self.page_script_hash, run = message.new_session.page_script_hash, ScriptRun()
            elif kind == "navigation":  # with st.navigation, the page actually shown (the frontend's next rerun)
                self.page_script_hash = message.navigation.page_script_hash
            elif kind == "delta" and message.delta.HasField("new_element"):
                element = message.delta.new_element
                if element.HasField("exception"):
                    raise ProtocolError(f"the page failed: {element.exception.message}")
                run.elements.append(element)
            elif kind == "session_event" and message.session_event.HasField("script_compilation_exception"):
                raise ProtocolError(message.session_event.script_compilation_exception.message)
            elif kind == "script_finished":
                if message.script_finished == FINISHED.FINISHED_SUCCESSFULLY:
                    return run
                if message.script_finished == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("the page's script does not compile")
                # FINISHED_EARLY_FOR_RERUN (st.rerun): its rerun follows; a fragment's run is not the page's.

    async def submit(self, run: ScriptRun, button: str, values: dict[str, object]) -> ScriptRun:
        """Fill the form of the submit button `button` (values by label; a select box's value is the option's label)
        and submit it: every value widget of the page sent with its value or its default, the button triggered."""
        widgets = run.widgets()
        unknown = set(values) - set(widgets)
        if button not in widgets or not widgets[button].button.is_form_submitter or unknown:
            raise ProtocolError(f"no such form button or fields on the page: {button!r}, {sorted(unknown)}")
        states = WidgetStates()
        for label, element in widgets.items():
            kind = str(element.WhichOneof("type"))
            if kind == "button":
                continue
            widget: Any = getattr(element, kind)
            state: WidgetState = states.widgets.add(id=widget.id)
            value = values[label] if label in values else _default(kind, widget)
            if kind == "selectbox" and value is not None and value not in widget.options:
                raise ProtocolError(f"{value!r} is not an option of {label!r}")
            if value is not None:
                setattr(state, VALUE_FIELDS[kind], value)
        states.widgets.add(id=widgets[button].button.id, trigger_value=True)
        return await self.rerun(states)

    async def close(self) -> None:
        """Close the WebSocket (the server ends the session) and the HTTP connection."""
        if self.socket is not None:
            await self.socket.close()
        await self.http.aclose()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every tab: httpx would otherwise load the certificates for each new client (about 40 ms
    of CPU, most of what the client spent on a visit)."""
    return ssl.create_default_context()


def _default(kind: str, widget: Any) -> object:
    """The value a widget nobody touched sends (as the frontend does: its default, none for a select box without
    one)."""
    if kind == "selectbox":
        return widget.options[widget.default] if widget.HasField("default") else None
    if kind == "checkbox":
        return widget.default
    return widget.default if widget.HasField("default") else None


# ---------------------------------------------------------------------------- the meeting registration


@dataclass(frozen=True)
class Registered:
    """A visit's outcome as the page showed it, and how long the whole visit took."""

    status: str  # "confirmed" or "waiting"
    reference: str
    seconds: float
    already: bool  # the page said this e-mail was already registered (no new registration)


CONFIRMED = "Inscription confirmée."
WAITING = "vous êtes sur la liste d'attente"
ALREADY = "Vous étiez déjà inscrit(e)"
REFERENCE = re.compile(r"[Rr]éférence :? \**([A-Z0-9-]+)")


async def register(base: str, page: str, name: str, email: str, role: str = "Chef de projet") -> Registered:
    """A new visitor opens the meeting's page (`page`: path and query), fills the registration form and sends it,
    until the page confirms (or puts the person on the waiting list)."""
    began = time.monotonic()
    tab = Tab(base, page)
    try:
        async with asyncio.timeout(TIMEOUT):
            form = await tab.open()
            values = {"Prénom et nom": name, "Adresse e-mail": email, "Vous êtes": role}
            done = await tab.submit(form, "M'inscrire", values | {"J'ai lu et j'accepte la notice ci-dessus": True})
    finally:
        await tab.close()
    seconds, alerts = time.monotonic() - began, done.alerts()
    already = any(ALREADY in body for _, body in alerts)
    for kind, body in alerts:
        status = "confirmed" if CONFIRMED in body else "waiting" if WAITING in body else None
        reference = REFERENCE.search(body)
        if status and reference and email in body and kind == ("SUCCESS" if status == "confirmed" else "WARNING"):
            return Registered(status, reference.group(1), seconds, already)
    raise ProtocolError(f"no registration shown for {email}: {alerts}")


async def registrations_for(
    base: str, page: str, clients: int, seconds: float, prefix: str
) -> tuple[list[tuple[str, Registered]], float]:
    """`clients` visitors registering in a loop for `seconds` (each starts another visit while time is left), every
    visit a new person (e-mail prefix.client.attempt@bench.example.fr); the visits done (e-mail, outcome) and the
    time from the start to the last confirmation."""
    done: list[tuple[str, Registered]] = []
    began = time.monotonic()

    async def client(number: int) -> None:
        attempt = 0
        while time.monotonic() - began < seconds:
            email = f"{prefix}.{number}.{attempt}@bench.example.fr"
            done.append((email, await register(base, page, f"Client {number} {attempt}", email)))
            attempt += 1

    await asyncio.gather(*(client(number) for number in range(clients)))
    return done, time.monotonic() - began
