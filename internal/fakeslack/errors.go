package fakeslack

// Error is a Slack error code. The Web API answers it as HTTP 200 {"ok":false,"error":code},
// and the Go API returns it as an error, so a test can compare either with errors.Is.
type Error string

func (e Error) Error() string { return string(e) }

// The error codes the fake answers, named as Slack names them.
const (
	errNotAuthed          = Error("not_authed")
	errInvalidAuth        = Error("invalid_auth")
	errTokenRevoked       = Error("token_revoked")
	errNotAllowedToken    = Error("not_allowed_token_type")
	errUnknownMethod      = Error("unknown_method")
	errInvalidArguments   = Error("invalid_arguments")
	errInvalidCursor      = Error("invalid_cursor")
	errUserNotFound       = Error("user_not_found")
	errBotNotFound        = Error("bot_not_found")
	errChannelNotFound    = Error("channel_not_found")
	errNotInChannel       = Error("not_in_channel")
	errIsArchived         = Error("is_archived")
	errAlreadyArchived    = Error("already_archived")
	errNameTaken          = Error("name_taken")
	errInvalidChannelName = Error("invalid_name_specials")
	errMethodNotSupport   = Error("method_not_supported_for_channel_type")
	errMessageNotFound    = Error("message_not_found")
	errThreadNotFound     = Error("thread_not_found")
	errNoText             = Error("no_text")
	errInvalidBlocks      = Error("invalid_blocks")
	errCantUpdateMessage  = Error("cant_update_message")
	errCantDeleteMessage  = Error("cant_delete_message")
	errAlreadyReacted     = Error("already_reacted")
	errNoReaction         = Error("no_reaction")
	errInvalidName        = Error("invalid_name")
	errAlreadyPinned      = Error("already_pinned")
	errNoPin              = Error("no_pin")
	errFileNotFound       = Error("file_not_found")
	errInvalidFiles       = Error("invalid_file_ids")
)
