(() => {
  /* Streamlit 1.67's own words, in French, as they appear: visible text and the names assistive technologies read
     (aria-label, title, placeholder). Constant text, allowed by its hash in the CSP (web.FRENCH_SCRIPT); the app's
     own content (markdown, icons) is never touched. Kept in step with Streamlit's minor version. */
  if (window.pvdFrench) return;
  window.pvdFrench = true;
  const WORDS = {
    "Skip to main content": "Aller au contenu principal",
    "Main menu": "Menu principal",
    "Running...": "Chargement…",
    "Stop": "Arrêter",
    "Upload": "Parcourir",
    "file upload": "Choisir un fichier",
    "Add files": "Ajouter un fichier",
    "add icon": "Ajouter",
    "Drag and drop file here": "Glissez-déposez un fichier ici",
    "Drag and drop a file here": "Glissez-déposez un fichier ici",
    "Drag and drop files here": "Glissez-déposez des fichiers ici",
    "Selected values": "Valeurs choisies",
    "Clear all": "Tout effacer",
    "Clear value": "Effacer",
    "Clear entry": "Effacer",
    "Clear date": "Effacer la date",
    "Clear time": "Effacer l'heure",
    "Open": "Ouvrir la liste",
    "Select all": "Tout choisir",
    "No results": "Aucun résultat",
    "No options to select": "Aucun choix possible",
    "Choose an option": "Choisissez",
    "Choose options": "Choisissez",
    "Multiselect options": "Choix possibles",
    "Selectbox options": "Choix possibles",
    "Show password": "Afficher le mot de passe",
    "Hide password": "Masquer le mot de passe",
    "Invalid input.": "Saisie invalide.",
    "Increment": "Augmenter",
    "Decrement": "Diminuer",
    "Choose date": "Choisir une date",
    "Previous month": "Mois précédent",
    "Next month": "Mois suivant",
    "Previous": "Précédent",
    "Next": "Suivant",
    "month": "mois",
    "year": "année",
    "dd": "jj",
    "yyyy": "aaaa",
    "Use arrow keys to navigate dates. Enter to select. Escape to close.":
      "Flèches pour changer de date, Entrée pour choisir, Échap pour fermer.",
    "Fullscreen": "Plein écran",
    "Close fullscreen": "Quitter le plein écran",
    "Exit fullscreen": "Quitter le plein écran",
    "Download as CSV": "Télécharger en CSV",
    "Search": "Rechercher",
    "Show/hide columns": "Afficher ou masquer des colonnes",
    "Close": "Fermer",
    "Press Enter to submit form": "Entrée pour envoyer le formulaire",
    "Press Enter to apply": "Entrée pour valider",
    "Page not found": "Page introuvable",
    "App pages": "Pages de l'application",
    "Sidebar": "Menu latéral",
    "Collapse sidebar": "Replier le menu",
    "Expand sidebar": "Déplier le menu",
    "Navigate to home page": "Aller à l'accueil",
    "Theme": "Thème",
    "Stop script": "Arrêter",
    "Scroll tabs left": "Onglets précédents",
    "Scroll tabs right": "Onglets suivants",
    "Link to heading": "Lien vers cette section",
    "Markdown content": "Contenu",
    "Previous page": "Page précédente",
    "Next page": "Page suivante",
    "Dataframe column menu": "Menu de la colonne",
    "Copy column name": "Copier le nom de la colonne",
    "Close Search": "Fermer la recherche",
    "Clear dates": "Effacer les dates",
    "Choose date range": "Choisir les dates",
    "Button action menu": "Menu du bouton",
  };
  const MONTHS = {
    January: "janvier", February: "février", March: "mars", April: "avril", May: "mai", June: "juin",
    July: "juillet", August: "août", September: "septembre", October: "octobre", November: "novembre",
    December: "décembre",
  };
  const DAYS = {
    Monday: "lundi", Tuesday: "mardi", Wednesday: "mercredi", Thursday: "jeudi", Friday: "vendredi",
    Saturday: "samedi", Sunday: "dimanche",
  };
  const SEGMENTS = { day: "jour", month: "mois", year: "année", hour: "heure", minute: "minute", second: "seconde" };
  const WEEK = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
  const EN_WEEK = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const UNITS = { B: "o", KB: "Ko", MB: "Mo", GB: "Go" };
  const size = (number, unit) => number.replace(".", ",") + "\u202f" + UNITS[unit];
  const month = (name) => MONTHS[name] || name;
  const PATTERNS = [
    [/^Remove (.+)$/, (_, what) => "Retirer " + what],
    [/^Fullscreen: (.+)$/, (_, what) => "Plein écran : " + what],
    [/^Add: (.*)$/, (_, what) => "Ajouter : " + what],
    [/^Select (\d+) matches$/, (_, count) => "Choisir les " + count + " résultats"],
    [/^(\d+) options? available\.?$/, (_, count) => count + " choix possibles."],
    [/^(day|month|year|hour|minute|second), (.*)$/, (_, segment, label) => SEGMENTS[segment] + ", " + label],
    [/^([\d.]+)(B|KB|MB|GB) per file$/, (_, number, unit) => size(number, unit) + " au plus par fichier"],
    [/^([\d.]+)(B|KB|MB|GB)$/, (_, number, unit) => size(number, unit)],
    [/^(.+), ([\d.]+)(B|KB|MB|GB)$/, (_, name, number, unit) => name + ", " + size(number, unit)],
    [/^Selected Date: (\S+) (\d+), (\d+)$/, (_, m, d, y) => "Date choisie : " + d + " " + month(m) + " " + y],
    [/^Selected Time: (.*)$/, (_, time) => "Heure choisie : " + time],
    [/^Choose date, (\S+) (\d+)$/, (_, m, y) => "Choisir une date, " + month(m) + " " + y],
    [
      /(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\S+) (\d+), (\d+)/,
      (_, day, m, d, y) => DAYS[day] + " " + d + " " + month(m) + " " + y,
    ],
    [/^(\w+) (\d{4})$/, (all, m, y) => (MONTHS[m] ? month(m) + " " + y : all)],
  ];
  const translate = (text) => {
    if (Object.prototype.hasOwnProperty.call(WORDS, text)) return WORDS[text];
    if (Object.prototype.hasOwnProperty.call(MONTHS, text)) return MONTHS[text];
    for (const [pattern, replace] of PATTERNS) {
      if (pattern.test(text)) return text.replace(pattern, replace);
    }
    return null;
  };
  const APP_CONTENT = '[data-testid="stMarkdownContainer"], [data-testid="stIconMaterial"], ' +
    '[data-testid="stCode"], script, style, noscript';
  const CALENDAR = '[data-testid="stDateInputCalendar"], [data-baseweb="calendar"]';
  const DROPZONE = '[data-testid="stFileUploaderDropzone"]';
  const STREAMLIT_WORDS = DROPZONE;  /* Streamlit's own markdown: the upload button's « Upload » */
  const ATTRIBUTES = ["aria-label", "title", "placeholder"];
  const fixText = (node) => {
    const parent = node.parentElement;
    const text = node.nodeValue.trim();
    if (!parent || !text || (parent.closest(APP_CONTENT) && !parent.closest(STREAMLIT_WORDS))) return;
    if (text.length === 1 && parent.closest(CALENDAR)) {
      fixWeekdays(parent.closest(CALENDAR));
      return;
    }
    const french = translate(text);
    if (french !== null && french !== text) node.nodeValue = node.nodeValue.replace(text, french);
  };
  const fixWeekdays = (calendar) => {
    /* The days' initials (one letter: T and S are ambiguous), from the weekday of the first day's column. */
    const first = calendar.querySelector('[role="gridcell"][aria-label]');
    if (!first) return;
    const label = first.getAttribute("aria-label");
    let start = WEEK.findIndex((day) => label.startsWith(day));
    if (start === -1) start = EN_WEEK.findIndex((day) => label.includes(day));
    if (start === -1) return;
    const headers = [...calendar.querySelectorAll("th")].filter((th) => th.textContent.trim().length === 1);
    headers.forEach((th, index) => {
      const initial = WEEK[(start + index) % 7][0].toUpperCase();
      if (th.textContent !== initial) th.textContent = initial;
    });
  };
  const fixElement = (element) => {
    for (const name of ATTRIBUTES) {
      const value = element.getAttribute(name);
      if (!value) continue;
      const french = translate(value);
      if (french !== null && french !== value) element.setAttribute(name, french);
    }
    if (element.matches(DROPZONE + " button") && !element.getAttribute("aria-label")) {
      /* Each upload button says which file it is for (two on the application form): « Parcourir : CV… ». */
      const zone = element.closest(DROPZONE);
      element.setAttribute("aria-label", "Parcourir : " + (zone.getAttribute("aria-label") || "fichier"));
    }
    if (element.matches('[class*="st-key-pvd_group_"]') && !element.getAttribute("role")) {
      /* A group of checkboxes (ui.checkbox_group): named by its first paragraph, as a fieldset by its legend. */
      const legend = element.querySelector("p");
      element.setAttribute("role", "group");
      if (legend) element.setAttribute("aria-label", legend.textContent);
    }
  };
  const fixTree = (root) => {
    if (root.nodeType === Node.TEXT_NODE) {
      fixText(root);
      return;
    }
    if (root.nodeType !== Node.ELEMENT_NODE) return;
    fixElement(root);
    for (const element of root.querySelectorAll("*")) fixElement(element);
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) fixText(walker.currentNode);
  };
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "childList") record.addedNodes.forEach(fixTree);
      else if (record.type === "characterData") fixText(record.target);
      else fixElement(record.target);
    }
  }).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ATTRIBUTES,
  });
  fixTree(document.body);
})();
