// Starts Swagger UI on the API docs page. A file of its own, not an inline script: the page's
// Content-Security-Policy allows scripts from this server only.
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    // The default sends the whole description to validator.swagger.io: nothing leaves here.
    validatorUrl: null,
  });
})();
