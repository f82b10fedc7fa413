"""Entry point: Streamlit's ASGI app, with the web layer around it (`pvd_survey/web.py`).

`streamlit run streamlit_app.py` finds `app` and serves it. The pages run from `main_page.py`
(page config, signed-in user, the navigation each role may see).
"""

from streamlit.runtime.pages_manager import PagesManager
from streamlit.starlette import App

from pvd_survey import web

# The app declares its pages with st.navigation. Left to itself, Streamlit serves the very first script run
# after a start in its older "pages/ directory" mode (every file of pages/ listed by file name, in English),
# so a deep link opened first after a restart showed the wrong menu.
PagesManager.uses_pages_directory = False
# Streamlit would compile the entry script and the page again for every new visitor (see keep_compiled_scripts).
web.keep_compiled_scripts()

app = App("main_page.py", routes=web.routes(), middleware=web.middleware(), lifespan=web.lifespan)
