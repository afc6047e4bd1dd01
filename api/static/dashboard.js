// The dashboard is ES modules under /static/js/ now, and index.html loads js/main.js itself. This classic script
// stays at its old address so that a page still naming it (one embedding the dashboard) gets the same dashboard.
import("/static/js/main.js");
