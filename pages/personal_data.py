"""Public notice on personal data: who processes what, who sees it, for how long, and how to exercise one's rights."""

import streamlit as st

from pvd_survey import survey, ui

ui.guard("personal_data")
settings = ui.settings()

st.title("Données personnelles")
st.markdown(
    "Cette application est mise en œuvre par l'**Agence nationale de la cohésion des territoires (ANCT)**, "
    "responsable des traitements décrits ci-dessous, pour le programme Petites villes de demain. Elle ne "
    "dépose aucun cookie de mesure d'audience et ne transmet aucune donnée à des tiers à des fins commerciales."
)

st.header("Ce qui est conservé, qui le voit, combien de temps")
st.markdown(
    f"""
- **Candidatures à une offre d'emploi** (nom, adresse e-mail, téléphone, CV, lettre de motivation, notes du
  recruteur) : vues seulement par l'employeur qui a publié l'offre. Supprimées **trois mois** après que l'offre
  a été pourvue ou close ; si vous avez accepté d'être contacté·e pour d'autres postes, **deux ans** après le
  dernier contact. Retirer sa candidature avec le lien personnel reçu par e-mail efface tout, tout de suite.
- **Demandes de compte recruteur** (nom, e-mail, organisation) : vues par la direction du programme.
  Supprimées après 7 jours si l'adresse n'a pas été confirmée, trois mois après la décision sinon.
- **Inscriptions aux rencontres** (nom, e-mail, profil, organisation, département, besoins particuliers) :
  vues par la direction du programme. **Anonymisées un an après la rencontre** : nom, e-mail, organisation,
  besoins et lien personnel effacés ; le profil, le département et la présence restent pour les statistiques.
- **Messages envoyés par l'application** (confirmations, invitations, liens) : le contenu et le lien d'un
  message sont effacés dès qu'il est remis ; le message lui-même (destinataire, objet, dates) est supprimé
  **{settings.outbox_retention_days} jours** après son écriture.
- **Comptes** de la direction, des recruteurs et des administrateurs (nom, e-mail, rôle, organisation, mot de
  passe chiffré de manière irréversible) : conservés tant que le compte sert ; un compte désactivé est
  conservé pour savoir qui a fait quoi. Les liens de choix de mot de passe sont supprimés une fois utilisés
  ou expirés.
"""
)

st.header("Le questionnaire des chefs de projet")
st.markdown(
    f"""
Le questionnaire décrit le profil des chefs de projet en poste (date de prise de poste, employeur, genre,
expérience, diplôme, formation, département), pour suivre le programme et le comparer à l'enquête de mai 2022.

- **L'invitation** (adresse e-mail, département) est vue par la direction du programme, qui ne voit ni si
  vous avez répondu, ni quand, ni ce que vous avez répondu, ni si vous avez été relancé. Aucune suppression
  automatique n'est programmée : vous pouvez en demander l'effacement, qui retire aussi vos réponses.
- **Vos réponses** : {survey.anonymity_notice(settings.disclosure_k)}
"""
)

st.header("Vos droits")
st.markdown(
    """
Vous pouvez demander l'accès à vos données, leur rectification ou leur effacement, et vous opposer à leur
traitement ou en demander la limitation (articles 15 à 21 du règlement général sur la protection des
données). Adressez votre demande à la direction du programme Petites villes de demain, à l'ANCT
(20 avenue de Ségur, 75007 Paris), ou à son délégué à la protection des données. Un administrateur retrouve
alors tout ce que l'application conserve sur votre adresse e-mail, vous le transmet et l'efface.

Sans réponse dans un délai d'un mois, ou si vous estimez que vos droits ne sont pas respectés, vous pouvez
adresser une réclamation à la Commission nationale de l'informatique et des libertés (CNIL, www.cnil.fr).
"""
)
