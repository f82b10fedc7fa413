"""Public accessibility statement (RGAA), with the level measured by the automated tests."""

import streamlit as st

from pvd_survey import ui

ui.guard("accessibility")

# What tests/test_browser_accessibility.py measured (docs/features.md, "Accessibility"); update both together.
MEASURED_ON = "1er décembre 2026"
AXE_VERSION = "4.12.1"
AXE_RULES = 62
SCREENS = 66

st.title("Accessibilité")
st.markdown(
    "L'Agence nationale de la cohésion des territoires (ANCT) s'engage à rendre ses services numériques "
    "accessibles, conformément à l'article 47 de la loi n° 2005-102 du 11 février 2005. Cette déclaration "
    "d'accessibilité s'applique à l'application Petites villes de demain."
)

st.header("État de conformité")
st.markdown(
    "L'application est **non conforme** avec le référentiel général d'amélioration de l'accessibilité "
    "(RGAA), version 4.1.2 : aucun audit complet de ses critères n'a encore été réalisé, et c'est la seule "
    "mention possible sans audit. Les résultats ci-dessous sont ceux des tests automatiques."
)

st.header("Résultats des tests")
st.markdown(
    f"""
Mesure du {MEASURED_ON} avec axe-core {AXE_VERSION} dans le navigateur Chromium : les {AXE_RULES} règles
qui vérifient les critères WCAG 2.1 de niveaux A et AA (repris par le RGAA), sur {SCREENS} écrans, soit chaque
page de l'application pour chaque profil (visiteur, recruteur, direction du programme, administrateur), avec
des données de démonstration.

- **Contenu de l'application : aucune erreur détectée.** Chaque graphique du tableau de bord a une
  description textuelle qui en donne les chiffres, repris aussi dans un tableau sous la plupart d'entre eux.
- **Menu de navigation, produit par Streamlit : 2 règles en échec sur chaque page** (structure des
  listes du menu).

Les tests automatiques ne détectent qu'une partie des défauts : un audit manuel reste à faire.
"""
)

st.header("Contenus non accessibles")
st.markdown(
    """
Non-conformités connues, qui viennent du cadre logiciel Streamlit sur lequel l'application est construite :

- le menu de navigation n'est pas une liste correctement structurée (critère 9.3) ;
- les textes propres à Streamlit (zone de dépôt des fichiers, champs de date, boutons des listes, noms lus par
  les lecteurs d'écran) sont traduits en français par un script au moment où ils s'affichent : ils peuvent
  apparaître en anglais un court instant au chargement d'une page (critère 8.7) ;
- les graphiques ne se parcourent pas au clavier ni avec un lecteur d'écran : leur description et le tableau
  qui les accompagne en donnent le contenu.
"""
)

st.header("Établissement de cette déclaration")
st.markdown(
    "Technologies utilisées : HTML, CSS, JavaScript et SVG, produits par Streamlit (Python). Tests : "
    "axe-core piloté par Playwright dans Chromium (Debian), à chaque intégration du code."
)

st.header("Retour d'information et contact")
st.markdown(
    "Si vous n'arrivez pas à accéder à un contenu ou à un service, écrivez à la direction du programme "
    "Petites villes de demain (ANCT, 20 avenue de Ségur, 75007 Paris) : elle vous orientera vers une "
    "alternative accessible ou vous transmettra le contenu sous une autre forme."
)

st.header("Voies de recours")
st.markdown(
    """
Si vous avez signalé un défaut d'accessibilité qui vous empêche d'accéder à un contenu ou à un service et
n'avez pas obtenu de réponse satisfaisante, vous pouvez :

- écrire un message au Défenseur des droits (formulaire en ligne sur www.defenseurdesdroits.fr) ;
- contacter le délégué du Défenseur des droits dans votre région ;
- envoyer un courrier, gratuit et sans timbre, à : Défenseur des droits, Libre réponse 71120,
  75342 Paris CEDEX 07.
"""
)
