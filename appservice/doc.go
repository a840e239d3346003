// Package appservice is the homeserver's side of the application-service API
// (content/application-service-api.md in shared/matrix-spec).
//
// It owns the registrations: reading and validating registration files ([ParseRegistration]),
// the live set of them ([Registry]: lookup by as_token, reload on SIGHUP, registrations that
// Causeway's built-in bridges add in code), and the namespace rules derived from them, that is
// which users, aliases and rooms an application service is interested in, may act as, or holds
// exclusively (M_EXCLUSIVE). The persisted transaction queue and the delivery of events,
// ephemeral data and to-device messages to application services belong here as well.
//
// What does not belong here:
//   - The client side of the API (an appservice's HTTP server, its intents). Causeway's bridges use
//     mautrix's appservice package for that and never import this one.
//   - HTTP handlers. The client-server API authenticates an as_token through a small interface it
//     declares itself, which cmd/causeway satisfies with a [Registry]; this package imports nothing
//     under causeway/homeserver except the leaf package mxerr.
//   - Storage and SQL, which live in homeserver/storage behind interfaces declared here.
//   - Logging of secrets: a [Registration] logs and prints as its ID, never its tokens.
package appservice
