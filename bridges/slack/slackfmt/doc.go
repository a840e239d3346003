// Package slackfmt converts message text between Slack and Matrix.
//
// Slack → Matrix: ToMatrix takes a Slack message's text (mrkdwn) and blocks
// (rich_text) and returns a Matrix body, an org.matrix.custom.html
// formatted_body and the mentions for m.mentions. Slack IDs are looked up
// through a SlackResolver that the bridge implements.
//
// Matrix → Slack: ToSlack takes m.room.message content and returns Slack
// mrkdwn, looking Matrix users and rooms up through a MatrixResolver.
//
// Emoji: ShortcodeToUnicode and UnicodeToShortcode map between Slack's
// shortcodes and Unicode, from a table generated from emoji-datasource (see
// emoji_table.go for how to regenerate it).
//
// The package is pure: no network, no database, no logging, and no state
// beyond the generated table, so every function is safe for concurrent use.
// Sending, editing, threading and reactions belong to bridges/slack;
// portals and ghosts to bridges/bridge.
package slackfmt
