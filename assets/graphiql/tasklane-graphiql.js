// Starts GraphiQL on Tasklane: queries and mutations over HTTP on /graphql,
// subscriptions over /graphql/ws (graphql-transport-ws). The Authorization
// header set in the header editor goes with every HTTP request and, for
// subscriptions, in the connection_init payload, where the server reads it.
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# Welcome to Tasklane's GraphiQL.",
    "# Sign up or log in, then put the accessToken in the",
    "# Headers tab below:",
    '#   {"Authorization": "Bearer <accessToken>"}',
    "# It goes with every request and, for subscriptions,",
    "# in connection_init.",
    "",
    "mutation Signup {",
    '  signup(input: {email: "ada@example.com",',
    '    password: "correct horse battery",',
    '    displayName: "Ada"}) {',
    "    accessToken",
    "  }",
    "}",
    "",
    "mutation Login {",
    '  login(input: {email: "ada@example.com",',
    '    password: "correct horse battery"}) {',
    "    accessToken",
    "  }",
    "}",
    "",
    "query Me {",
    "  me { id email displayName }",
    "}",
    "",
    "subscription TaskEvents {",
    "  taskEvents { type task { id title status } }",
    "}",
    "",
  ].join("\n");

  var wsUrl =
    (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/graphql/ws";

  // GraphiQL's bundle adds a <style> element when a dialog opens
  // (react-remove-scroll); it takes its nonce from this global, so the
  // page's Content-Security-Policy needs no 'unsafe-inline' for styles.
  var nonce = document.querySelector('meta[name="tasklane-style-nonce"]');
  if (nonce) {
    window.__webpack_nonce__ = nonce.getAttribute("content");
  }

  // The Authorization value of the header editor's headers, if any.
  function authorizationOf(headers) {
    var names = Object.keys(headers || {});
    for (var i = 0; i < names.length; i++) {
      var value = headers[names[i]];
      if (names[i].toLowerCase() === "authorization" && typeof value === "string") {
        return value;
      }
    }
    return null;
  }

  // One WebSocket client per credential: connection_init is sent once per
  // connection, so a new token needs a new connection.
  var current = null;
  function fetcherFor(authorization) {
    if (current && current.authorization === authorization) {
      return current.fetcher;
    }
    if (current) {
      current.client.dispose();
    }
    var client = graphqlWs.createClient({
      url: wsUrl,
      connectionParams: authorization ? { Authorization: authorization } : {},
    });
    current = {
      authorization: authorization,
      client: client,
      fetcher: GraphiQL.createFetcher({ url: "/graphql", wsClient: client }),
    };
    return current.fetcher;
  }

  function fetcher(params, options) {
    return fetcherFor(authorizationOf(options && options.headers))(params, options);
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
