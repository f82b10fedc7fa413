"""Code officiel géographique (INSEE): current regions and departments.

This reference data is copied into the app so it never reads external
files at run time.
"""

from __future__ import annotations

REGIONS: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

DEPARTMENTS: dict[str, tuple[str, str]] = {
    "01": ("Ain", "84"),
    "02": ("Aisne", "32"),
    "03": ("Allier", "84"),
    "04": ("Alpes-de-Haute-Provence", "93"),
    "05": ("Hautes-Alpes", "93"),
    "06": ("Alpes-Maritimes", "93"),
    "07": ("Ardèche", "84"),
    "08": ("Ardennes", "44"),
    "09": ("Ariège", "76"),
    "10": ("Aube", "44"),
    "11": ("Aude", "76"),
    "12": ("Aveyron", "76"),
    "13": ("Bouches-du-Rhône", "93"),
    "14": ("Calvados", "28"),
    "15": ("Cantal", "84"),
    "16": ("Charente", "75"),
    "17": ("Charente-Maritime", "75"),
    "18": ("Cher", "24"),
    "19": ("Corrèze", "75"),
    "2A": ("Corse-du-Sud", "94"),
    "2B": ("Haute-Corse", "94"),
    "21": ("Côte-d'Or", "27"),
    "22": ("Côtes-d'Armor", "53"),
    "23": ("Creuse", "75"),
    "24": ("Dordogne", "75"),
    "25": ("Doubs", "27"),
    "26": ("Drôme", "84"),
    "27": ("Eure", "28"),
    "28": ("Eure-et-Loir", "24"),
    "29": ("Finistère", "53"),
    "30": ("Gard", "76"),
    "31": ("Haute-Garonne", "76"),
    "32": ("Gers", "76"),
    "33": ("Gironde", "75"),
    "34": ("Hérault", "76"),
    "35": ("Ille-et-Vilaine", "53"),
    "36": ("Indre", "24"),
    "37": ("Indre-et-Loire", "24"),
    "38": ("Isère", "84"),
    "39": ("Jura", "27"),
    "40": ("Landes", "75"),
    "41": ("Loir-et-Cher", "24"),
    "42": ("Loire", "84"),
    "43": ("Haute-Loire", "84"),
    "44": ("Loire-Atlantique", "52"),
    "45": ("Loiret", "24"),
    "46": ("Lot", "76"),
    "47": ("Lot-et-Garonne", "75"),
    "48": ("Lozère", "76"),
    "49": ("Maine-et-Loire", "52"),
    "50": ("Manche", "28"),
    "51": ("Marne", "44"),
    "52": ("Haute-Marne", "44"),
    "53": ("Mayenne", "52"),
    "54": ("Meurthe-et-Moselle", "44"),
    "55": ("Meuse", "44"),
    "56": ("Morbihan", "53"),
    "57": ("Moselle", "44"),
    "58": ("Nièvre", "27"),
    "59": ("Nord", "32"),
    "60": ("Oise", "32"),
    "61": ("Orne", "28"),
    "62": ("Pas-de-Calais", "32"),
    "63": ("Puy-de-Dôme", "84"),
    "64": ("Pyrénées-Atlantiques", "75"),
    "65": ("Hautes-Pyrénées", "76"),
    "66": ("Pyrénées-Orientales", "76"),
    "67": ("Bas-Rhin", "44"),
    "68": ("Haut-Rhin", "44"),
    "69": ("Rhône", "84"),
    "70": ("Haute-Saône", "27"),
    "71": ("Saône-et-Loire", "27"),
    "72": ("Sarthe", "52"),
    "73": ("Savoie", "84"),
    "74": ("Haute-Savoie", "84"),
    "75": ("Paris", "11"),
    "76": ("Seine-Maritime", "28"),
    "77": ("Seine-et-Marne", "11"),
    "78": ("Yvelines", "11"),
    "79": ("Deux-Sèvres", "75"),
    "80": ("Somme", "32"),
    "81": ("Tarn", "76"),
    "82": ("Tarn-et-Garonne", "76"),
    "83": ("Var", "93"),
    "84": ("Vaucluse", "93"),
    "85": ("Vendée", "52"),
    "86": ("Vienne", "75"),
    "87": ("Haute-Vienne", "75"),
    "88": ("Vosges", "44"),
    "89": ("Yonne", "27"),
    "90": ("Territoire de Belfort", "27"),
    "91": ("Essonne", "11"),
    "92": ("Hauts-de-Seine", "11"),
    "93": ("Seine-Saint-Denis", "11"),
    "94": ("Val-de-Marne", "11"),
    "95": ("Val-d'Oise", "11"),
    "971": ("Guadeloupe", "01"),
    "972": ("Martinique", "02"),
    "973": ("Guyane", "03"),
    "974": ("La Réunion", "04"),
    "976": ("Mayotte", "06"),
}


def department_label(code: str) -> str:
    """Return a display label such as "21 – Côte-d'Or" for a department code."""
    return f"{code} – {DEPARTMENTS[code][0]}"


def region_of_department(code: str) -> str:
    """Return the INSEE region code of the given department code."""
    return DEPARTMENTS[code][1]


def departments_of_region(region_code: str) -> list[str]:
    """Return the department codes of a region, in canonical order."""
    return [code for code, (_, region) in DEPARTMENTS.items() if region == region_code]


def is_department(code: str) -> bool:
    """Return True if code is a canonical department code."""
    return code in DEPARTMENTS


def normalise_department(raw: str) -> str | None:
    """Return the canonical department code for user input, or None if unknown."""
    code = raw.strip().upper()
    if len(code) == 1 and code.isdigit():
        code = code.zfill(2)
    return code if code in DEPARTMENTS else None


# Tile-grid map: one square per department at its approximate place, as (column, row) from the top
# left. Metropolitan France fills 13 columns × 12 rows (Île-de-France as a block of eight, Corsica at
# the bottom right); row 12 is left empty and the five overseas departments sit as insets on row 13.
# Drawn with Altair marks only, so nothing is downloaded at run time (tests check every department has
# its own tile).
_TILE_ROWS = (
    "62:6 59:7",
    "76:5 80:6 02:7 08:8",
    "50:3 14:4 27:5 60:6 95:7 51:8 55:9 57:10 67:11",
    "29:0 22:1 35:2 53:3 61:4 78:5 92:6 75:7 93:8 88:9 54:10 68:11",
    "56:1 44:2 72:3 28:4 91:5 94:6 77:7 10:8 52:9 70:10 90:11",
    "85:2 49:3 37:4 41:5 45:6 89:7 21:8 39:9 25:10",
    "79:3 86:4 36:5 18:6 58:7 71:8 01:9 74:10",
    "17:3 16:4 87:5 23:6 03:7 42:8 69:9 73:10",
    "33:3 24:4 19:5 15:6 63:7 43:8 26:9 38:10 05:11",
    "40:3 47:4 46:5 12:6 48:7 07:8 84:9 04:10 06:11",
    "64:3 32:4 82:5 81:6 34:7 30:8 13:9 83:10 2B:12",
    "65:4 31:5 09:6 11:7 66:8 2A:12",
    "",
    "971:0 972:1 973:2 974:3 976:4",
)
TILES: dict[str, tuple[int, int]] = {
    code: (int(column), row)
    for row, line in enumerate(_TILE_ROWS)
    for code, column in (item.split(":") for item in line.split())
}
TILE_COLUMNS = 1 + max(column for column, _ in TILES.values())
TILE_ROWS = len(_TILE_ROWS)
