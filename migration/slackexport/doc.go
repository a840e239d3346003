// Package slackexport reads Slack export ZIP archives as a stream.
//
// It owns the export format: which entries an archive holds, how they are
// validated, and how conversations, users and messages are decoded from them.
// It does not own what is done with them: turning messages into Matrix events,
// downloading files and writing rooms belong to migration/importer, which is
// built on this reader.
//
// # The format
//
// An export is a ZIP with these metadata files at its root (or inside one
// top-level folder, when someone unpacked and re-zipped it):
//
//	channels.json          public channels (required)
//	groups.json            private channels
//	dms.json               direct messages: {"id", "created", "members"}
//	mpims.json             group DMs: shaped like channels, with "members"
//	users.json             members (org_users.json on Enterprise Grid; one is required)
//	integration_logs.json  app activity, not parsed here
//	canvases.json          canvas URLs, not parsed here
//
// and one folder per conversation holding one YYYY-MM-DD.json file per day
// with activity, each a JSON array of Web API message objects. Channel,
// private-channel and group-DM folders are named by the conversation's name;
// DM folders by the DM's ID. When no folder carries the name but one carries
// the ID (some third-party exporters do this), the ID folder is used.
//
// A thread reply sits in the day file of its own timestamp, not of its root,
// so a thread can span several day files.
//
// # Bounded memory
//
// Nothing is unpacked to disk and no entry is held whole in memory: the
// central directory is read once, metadata arrays and day files are decoded
// element by element with [encoding/json.Decoder], and every entry is read
// through a counting reader that enforces [Limits]. Export.Messages holds at
// most the bytes of one day file of up to 1 MiB, or one message of a larger
// day file, at a time; the one exception is a large day file that is not
// sorted by ts, held (up to Limits.MaxSortBuffer) to be sorted.
//
// # Bad input
//
// Every problem with the archive's content is a [*FormatError] naming the
// entry and, where it applies, the byte offset and line, and wrapping one of
// the Err sentinels of this package. The archive as a whole is validated by
// [New] before anything is decoded: entry names, duplicates, sizes and
// compression ratios.
//
// Messages that reference users missing from users.json are not an error:
// Slack itself writes such messages (users of other organizations in shared
// channels, deleted integrations). They are collected while streaming and
// reported by Export.UnknownUsers so that the importer can create placeholder
// ghosts and the dry run can list them.
package slackexport
