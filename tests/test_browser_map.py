"""The map of France on the dashboard, in a real browser (Debian's Chromium against `streamlit run`): clicking a
department's tile filters the dashboard and writes the filters into the address. Screenshots of the map and of
the report's map page are kept in test-artifacts/ as a record of what the direction sees and prints.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from playwright.sync_api import Locator, expect
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import dashboard, db, overview, territory
from pvd_survey.config import Settings
from tests.browser_support import (
    ARTIFACTS,
    PEOPLE,
    Pages,
    Seeded,
    choose_in_selectbox,
    expect_page,
    open_dashboard_section,
    screenshot_on_failure,
    selectbox,
    submit_login,
    wait_for_run,
)
from tests.conftest import STRONG_PASSWORD
from tests.factories import load_survey

pytestmark = pytest.mark.browser

# Vega's default padding around the plot (px): the tiles start this far from the chart's left and bottom edges.
PADDING = 5
TILE = dashboard.MAP_TILE  # the summary's tile size


def grid_top(chart: Locator) -> int:
    """How far below the chart's top edge its tile grid starts: the first pixel row of the chart's image holding a
    tile's width of one colour other than white (the title and subtitle above are text, never such runs)."""
    chart.page.mouse.move(0, 0)  # the chart's toolbar, shown while the pointer is over it, would count as a run
    chart.page.wait_for_timeout(500)  # (it fades out)
    image = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
    white = (255, 255, 255)
    for y in range(image.height):
        run, previous = 0, white
        for x in range(min(image.width, PADDING + TILE * territory.TILE_COLUMNS)):
            pixel = image.getpixel((x, y))
            run = run + 1 if pixel != white and pixel == previous else 0
            previous = pixel
            if run >= TILE - 8:
                return y
    raise AssertionError("no tile grid in the chart's image")


def tile_position(chart: Locator, department: str) -> tuple[float, float]:
    """Page coordinates of the centre of a department's tile (the grid drawn from the chart's left edge)."""
    top = grid_top(chart)  # (its screenshot may scroll the page: the box is read after it)
    box = chart.bounding_box()
    assert box is not None
    column, row = territory.TILES[department]
    return box["x"] + PADDING + TILE * (column + 0.5), box["y"] + top + TILE * (row + 0.5)


# Run once, on SQLite: what the browser adds here (a click on a tile writes the filters into the address and the
# selectboxes, the report is prepared and downloaded) does not depend on the database; the dashboard and its map
# filtered from the address (test_survey_pages), the filters' figures (test_stats) and the report (test_territory)
# run on both.
@pytest.mark.database_independent
@screenshot_on_failure
def test_clicking_a_department_filters_the_dashboard_and_the_address(
    request: pytest.FixtureRequest,
    pages: Pages,
    app_url: str,
    seeded: Seeded,
    factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    with factory.begin() as session:
        load_survey(session, settings, {"21": 12, "71": 9, "29": 8, "35": 7, "13": 3, "974": 6})
    page = pages.new()
    page.set_viewport_size({"width": 1366, "height": 768})  # the screen the dashboard's summary is laid out for
    # A link shared by a colleague, opened signed out: the sign-in form in place, then the same address, filtered.
    page.goto(f"{app_url}/dashboard?region=27&employeur=commune")
    expect(page.get_by_test_id("stAlertContentError")).to_have_text("Connectez-vous pour accéder à cette page.")
    submit_login(page, PEOPLE["direction"][1], STRONG_PASSWORD)
    expect_page(page, "Tableau de bord")
    expect(page).to_have_url(re.compile(r"/dashboard\?region=27&employeur=commune$"))
    expect(selectbox(page, "Région")).to_have_value("Bourgogne-Franche-Comté")
    expect(selectbox(page, "Employeur")).to_have_value("Une commune")
    page.get_by_text("Vue d'ensemble", exact=True).wait_for()
    page.get_by_text("Chiffres de référence du programme").wait_for()
    page.get_by_text("1 646", exact=True).wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"))

    # The map: survey respondents by department, drawn and clickable.
    choose_in_selectbox(page, "Mesure", "Répondants au questionnaire")
    expect(page).to_have_url(re.compile(r"mesure=respondents"))
    the_map = page.get_by_test_id("stVegaLiteChart").first
    the_map.scroll_into_view_if_needed()
    the_map.wait_for()
    # Vega names the chart once it has drawn it: then its tiles are where tile_position expects them.
    expect(the_map).to_have_attribute("aria-label", re.compile(r"^Carte de France par département : Répondants"))
    the_map.screenshot(path=str(ARTIFACTS / "map-dashboard.png"))
    x, y = tile_position(the_map, "21")
    page.mouse.click(x, y)

    # The filters follow the click: region and department, on screen and in the address.
    expect(page).to_have_url(re.compile(r"departement=21"))
    expect(page).to_have_url(re.compile(r"region=27"))
    wait_for_run(page)
    expect(selectbox(page, "Département")).to_have_value("21 – Côte-d'Or")
    expect(selectbox(page, "Région")).to_have_value("Bourgogne-Franche-Comté")
    open_dashboard_section(page, "questionnaire")  # one click away, the filters kept
    expect(page).to_have_url(re.compile(r"departement=21"))
    page.get_by_text(re.compile(r"Population : région Bourgogne-Franche-Comté, département 21")).wait_for()
    open_dashboard_section(page, dashboard.SUMMARY)

    # Another measure, by region; a click on a tile of Bretagne selects the region.
    choose_in_selectbox(page, "Mesure", "Postes vacants")
    page.get_by_test_id("stRadio").filter(has_text="Niveau").get_by_text("Région", exact=True).click()
    wait_for_run(page)
    expect(page).to_have_url(re.compile(r"mesure=vacant"))
    expect(page).to_have_url(re.compile(r"niveau=region"))
    the_map = page.get_by_test_id("stVegaLiteChart").first
    expect(the_map).to_have_attribute("aria-label", re.compile(r"^Carte de France par région : Postes vacants"))
    x, y = tile_position(the_map, "29")
    page.mouse.click(x, y)
    expect(page).to_have_url(re.compile(r"region=53"))
    expect(page).not_to_have_url(re.compile(r"departement="))
    wait_for_run(page)
    expect(selectbox(page, "Région")).to_have_value("Bretagne")
    expect(selectbox(page, "Département")).to_have_value("Tous")
    the_map.screenshot(path=str(ARTIFACTS / "map-dashboard-regions.png"))

    # The report, built from the dashboard with its progress shown, then offered for download.
    page.get_by_role("button", name="Préparer le rapport (PDF)").click()
    download_button = page.get_by_role("button", name="Télécharger le rapport (PDF)")
    expect(download_button).to_be_visible(timeout=120_000)
    page.get_by_text("Rapport prêt.").wait_for()
    with page.expect_download() as download:
        download_button.click()
    data = Path(download.value.path()).read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert "Territoire : Bretagne" in reader.pages[0].extract_text()

    # The map as printed in the downloaded report (the image embedded in its map page), kept for a human to look at.
    map_page = next(page for page in reader.pages if page.extract_text().startswith("Cartes"))
    first_map = map_page.images[0]
    (ARTIFACTS / "report-map-image.png").write_bytes(first_map.data)
    (ARTIFACTS / "report.pdf").write_bytes(data)
    assert first_map.data[:8] == b"\x89PNG\r\n\x1a\n"
    # The whole printed page, rendered by PDFium as a reader would show it.
    rendered = pdfium.PdfDocument(data)[reader.pages.index(map_page)].render(scale=1.5).to_pil()
    rendered.save(ARTIFACTS / "report-map-page.png")
    width, height = rendered.size
    assert height > width > 500  # an A4 portrait page
    assert len(set(rendered.convert("L").getdata())) > 16  # something printed on it, not a blank page
    with db.read_only(factory) as session:
        respondents = overview.map_data(session, "respondents", "department", settings.disclosure_k, settings=settings)
    assert respondents.cells["13"].hidden  # 3 people: grey on the printed map too
