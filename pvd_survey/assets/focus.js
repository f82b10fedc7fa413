(() => {
  /* ui.form_errors / ui.focus_on: move the keyboard focus after a form's submission (RGAA 11.10, 7.1).
     Constant text, allowed by its hash in the CSP (web.FOCUS_SCRIPT); what to focus travels in the marker's
     attributes. The page may still be drawing: look again for up to 5 s. */
  const marker = document.getElementById("pvd-focus");
  if (!marker) return;
  const form = marker.dataset.form;
  const FIELD = 'input:not([type="hidden"]):not([tabindex="-1"]), textarea, [role="spinbutton"], button';
  const focusable = (element, block = "center") => {
    if (!element.matches(FIELD)) element.setAttribute("tabindex", "-1");
    element.focus({ preventScroll: true });
    element.style.scrollMarginTop = "4.5rem";  /* below Streamlit's header */
    element.scrollIntoView({ block });
    return true;
  };
  const firstError = () => {
    const error = document.querySelector('[class*="st-key-pvd_error_' + form + '__"]');
    if (!error) return false;
    /* The field is drawn just before its error (ui.field_error follows its widget), around their wrappers. */
    let start = error;
    while (start.parentElement && !start.previousElementSibling) start = start.parentElement;
    for (let field = start.previousElementSibling; field; field = field.previousElementSibling) {
      const input = field.matches(FIELD) ? field : field.querySelector(FIELD);
      if (input) return focusable(input);
      if (field.querySelector('[class*="st-key-pvd_error_"]')) break;
    }
    const summary = document.querySelector(".st-key-pvd_summary_" + form + ' [role="alert"]');
    return summary ? focusable(summary) : false;
  };
  const confirmation = () => {
    /* A keyed container of this run (a confirmation): its message, or the container itself. */
    const target = document.querySelector(".st-key-" + marker.dataset.target);
    if (!target || !target.textContent.trim()) return false;
    return focusable(target.querySelector('[data-testid="stAlert"]') || target, "start");
  };
  let tries = 0;
  const attempt = () => {
    if (!marker.isConnected) return;
    if (!(form ? firstError() : confirmation()) && tries++ < 50) setTimeout(attempt, 100);
  };
  attempt();
})();
