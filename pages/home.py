"""Home: the programme in three lines, the next meetings with places left and the latest postings."""

import streamlit as st

from pvd_survey import french, home, meetings, recruitment, ui
from pvd_survey.meetings import KIND_LABELS
from pvd_survey.models import paris_time, utcnow

user = ui.guard("home")

st.title("Petites villes de demain")
st.markdown(
    "- Le programme Petites villes de demain, piloté par l'Agence nationale de la cohésion des territoires "
    "(ANCT), accompagne 1 646 communes de moins de 20 000 habitants et leurs intercommunalités dans leur "
    "revitalisation.\n"
    "- Chaque territoire recrute un ou une chef de projet, dont le poste est cofinancé à 75 % par le programme.\n"
    "- Les chefs de projet se retrouvent lors de rencontres régionales, d'ateliers et de webinaires, et "
    "décrivent leur profil dans un questionnaire anonyme."
)
st.page_link(
    "pages/personal_data.py",
    label="Le questionnaire : à quoi il sert, comment l'anonymat est protégé",
    icon=":material/assignment:",
)
setup_needed = ui.setup_needed()
if setup_needed:
    st.warning("L'application n'est pas encore prête : créez d'abord le premier compte administrateur.")
    st.page_link("pages/setup.py", label="Créer le premier compte administrateur", icon=":material/shield_person:")
elif user is None and st.session_state.get(ui.SSO_ERROR_KEY):
    st.error(st.session_state[ui.SSO_ERROR_KEY])
elif user is None:
    st.info(
        "Vous êtes recruteur, membre de la direction du programme ou administrateur ? "
        "Connectez-vous depuis le menu **Connexion**."
    )
else:
    st.success(f"Bonjour {user.display_name}. Vos pages sont dans le menu de gauche.")


def show_news() -> None:
    """The next meetings with places left and the latest postings, each linking to its own page."""
    with ui.read() as session:
        news = home.whats_on(session)
    now = utcnow()
    left, right = st.columns(2, gap="large")
    with left:
        st.header("Prochaines rencontres")
        if not news.meetings:
            st.write("Aucune rencontre n'a de place libre pour l'instant.")
        for meeting in news.meetings:
            with st.container(border=True):
                st.page_link(
                    "pages/meetings.py",
                    label=meeting.title,
                    query_params={meetings.MEETING_PARAMETER: str(meeting.id)},
                    icon=":material/event:",
                )
                opens = meeting.registration_state(now) == "not_open"
                st.markdown(
                    f"{KIND_LABELS[meeting.kind]} · {meeting.region_label} · le "
                    f"{paris_time(meeting.starts_at, '%d/%m/%Y à %H:%M')}  \n"
                    f"**{french.count(meeting.places_left, 'place restante', 'places restantes')}** sur "
                    f"{french.number(meeting.capacity)}"
                    + (f" · inscriptions à partir du {paris_time(meeting.registration_opens_at)}" if opens else "")
                )
        st.page_link("pages/meetings.py", label="Toutes les rencontres", icon=":material/arrow_forward:")
    with right:
        st.header("Dernières offres d'emploi")
        if not news.postings:
            st.write("Aucune offre publiée pour l'instant.")
        for posting in news.postings:
            with st.container(border=True):
                st.page_link(
                    "pages/jobs.py",
                    label=posting.title,
                    query_params={recruitment.POSTING_PARAMETER: str(posting.id)},
                    icon=":material/work:",
                )
                st.markdown(
                    f"{posting.organisation_name} · {posting.place_label}  \n"
                    f"{posting.contract_label} · candidatures jusqu'au {posting.deadline:%d/%m/%Y}"
                )
        st.page_link("pages/jobs.py", label="Toutes les offres d'emploi", icon=":material/arrow_forward:")


if not setup_needed:
    show_news()
