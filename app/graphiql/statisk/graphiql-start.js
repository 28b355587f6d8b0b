/* GraphiQL for krr's GraphQL API (dev/test): mounts GraphiQL with the explorer plugin, both loaded
 * from the service itself (vendor/, see vendor/README.md). No inline script: the page's
 * Content-Security-Policy allows scripts from the service only.
 *
 * Queries are POSTed to /graphql with the headers of GraphiQL's headers pane. Headers are not
 * kept in the browser's storage (a token would outlive the tab), and nothing is put in the URL
 * (personal ids in a URL end up in access logs).
 */
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# GraphiQL for krr, the contact and reservation register.",
    "#",
    "# The public key figures below need no token: press the run button (or Ctrl-Enter).",
    "#",
    "# Everything else, the schema's documentation and the explorer included, needs a",
    "# bearer token. Mint a development one (dev/test only) with",
    "#",
    "#   krr token --consumer 974760673 \\",
    "#     --scope \"krr:global/kontaktinformasjon.read krr:global/digitalpost.read\"",
    "#",
    "# put {\"Authorization\": \"Bearer <token>\"} in the Headers pane below, then",
    "# re-fetch the schema (the circular arrows, bottom left) and try e.g.",
    "#",
    "#   { personer(personidentifikatorer: [\"17912099997\"]) {",
    "#       personidentifikator status reservasjon kontaktinformasjon { epostadresse } } }",
    "",
    "{",
    "  statistikk {",
    "    tidspunkt",
    "    registrerte",
    "    aktive",
    "    reserverte",
    "  }",
    "}",
    ""
  ].join("\n");

  function fetcher(params, options) {
    var headers = Object.assign(
      { Accept: "application/json" },
      (options && options.headers) || {},
      { "Content-Type": "application/json" }
    );
    return fetch("/graphql", {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "omit"
    }).then(function (response) {
      return response.text().then(function (text) {
        try {
          return JSON.parse(text);  // refusals (401, 429, ...) come in the same JSON shape
        } catch (e) {
          return { errors: [{ message: "HTTP " + response.status + ": " + text }] };
        }
      });
    });
  }

  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: "{}",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
      inputValueDeprecation: true
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
