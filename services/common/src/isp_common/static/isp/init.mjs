// Optional enhancement: every page works without it. A file, not an inline script, so the
// Content-Security-Policy can refuse inline scripts.
import { initAll } from "../govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
