// Package keys is the server side of end-to-end encryption (content/client-server-api/modules/
// end_to_end_encryption.md): device keys, one-time and fallback keys, cross-signing keys and
// signatures, device-list changes, to-device messages and server-side key backups. The server
// never sees message plaintext; it keeps the keys clients publish and delivers what they send
// each other exactly once. SQL lives in homeserver/storage; HTTP in homeserver/clientapi; what
// /sync carries of it is read by homeserver/syncapi.
package keys
