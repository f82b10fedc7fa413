"""Public legal notices: publisher, publication, hosting, reuse of the content."""

import streamlit as st

from pvd_survey import ui

ui.guard("legal_notice")

st.title("Mentions légales")
st.header("Éditeur")
st.markdown(
    "Agence nationale de la cohésion des territoires (ANCT), établissement public de l'État, "
    "20 avenue de Ségur, 75007 Paris, pour le programme Petites villes de demain.\n\n"
    "Directeur ou directrice de la publication : le directeur général ou la directrice générale de l'ANCT."
)
st.header("Hébergement")
hosting_provider = ui.settings().hosting_provider
if hosting_provider:
    st.text(f"L'application et sa base de données sont hébergées pour le compte de l'ANCT par : {hosting_provider}")
else:
    st.markdown(
        "L'application et sa base de données sont hébergées pour le compte de l'ANCT ; le nom et l'adresse de "
        "l'hébergeur sont communiqués par la direction du programme sur simple demande."
    )
st.header("Ce que fait l'application")
st.markdown(
    "Recrutement des chefs de projet (offres d'emploi et candidatures), questionnaire sur leur profil, "
    "rencontres régionales et tableau de bord de la direction du programme. Le traitement des données "
    "personnelles est décrit sur la page **Données personnelles** ; l'accessibilité, sur la page "
    "**Accessibilité**."
)
st.header("Réutilisation des contenus")
st.markdown(
    "Les textes publiés par l'ANCT sur ce site peuvent être réutilisés selon les termes de la Licence Ouverte "
    "d'Etalab (version 2.0), en citant la source. Les offres d'emploi restent sous la responsabilité des "
    "employeurs qui les publient."
)
