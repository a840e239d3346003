// Package appservice is the homeserver's side of the application-service API
// (content/application-service-api.md in shared/matrix-spec).
//
// It owns:
//   - the registrations: reading and validating registration files ([ParseRegistration]), the
//     live set of them ([Registry]: lookup by as_token, reload on SIGHUP, registrations that
//     Causeway's built-in bridges add in code), and the namespace rules derived from them: which
//     users, aliases and rooms an application service is interested in, may act as, or holds
//     exclusively (M_EXCLUSIVE);
//   - authenticating appservice requests and their masquerading, double-puppet grants, and the
//     queries and pings the homeserver sends to appservices ([Service]);
//   - the persisted, ordered delivery of events in transactions ([Sender]), with typing and
//     receipts for appservices that receive ephemeral data (MSC2409);
//   - plugging all of it into a server ([Layer]), and the in-process HTTP transport that lets
//     Causeway's built-in bridges take exactly that path without a socket ([InProcessTransport]).
//
// The dependency runs one way: this package builds on homeserver packages (storage, rooms,
// accounts, server), and no homeserver package imports it; the client API reaches it through
// the clientapi.Appservices interface that [Layer] fills in.
//
// What does not belong here:
//   - The client side of the API (an appservice's HTTP server, its intents). Causeway's bridges
//     use mautrix's appservice package for that and never import this one.
//   - HTTP handlers, which live in homeserver/clientapi, and SQL, which lives in
//     homeserver/storage.
//   - Logging of secrets: a [Registration] logs and prints as its ID, never its tokens.
package appservice
