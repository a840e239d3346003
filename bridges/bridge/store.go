package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/internal/sqldb"
)

// ErrNotFound is returned by lookups that match nothing.
var ErrNotFound = sqldb.ErrNotFound

// Store keeps what the bridges remember (migrations/bridge): portals, spaces, ghosts, the
// remote-ID <-> event-ID map of messages and reactions, and logins. Every row is keyed by
// network and workspace.
type Store struct {
	db *sqldb.DB
}

// NewStore returns a store on the process's database handle.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// Key names one workspace of one network: "slack" and a team ID, say.
type Key struct {
	Network   string
	Workspace string
}

// Portal is the Matrix room of one remote conversation.
type Portal struct {
	Key
	ChannelID string
	RoomID    id.RoomID
	Kind      string // channel, private, dm, group_dm
	Name      string
	Topic     string
	CreatedTS int64
	Relay     string // RelayBoth, RelayToMatrix or RelayNone: which way messages still cross
}

// Which way a portal relays, once its conversation moved to Matrix (migration/cutover).
const (
	RelayBoth     = ""          // both ways: a bridged conversation
	RelayToMatrix = "to-matrix" // only what is still written in the remote network
	RelayNone     = "none"      // nothing: the conversation lives in Matrix alone
)

// The kinds of portal.
const (
	KindChannel = "channel"
	KindPrivate = "private"
	KindDM      = "dm"
	KindGroupDM = "group_dm"
)

const portalColumns = `network, workspace, channel_id, room_id, kind, name, topic, created_ts, relay`

func scanPortal(row interface{ Scan(...any) error }) (Portal, error) {
	var p Portal
	err := row.Scan(&p.Network, &p.Workspace, &p.ChannelID, &p.RoomID, &p.Kind, &p.Name, &p.Topic, &p.CreatedTS, &p.Relay)
	return p, err
}

// Portal returns the portal of a remote conversation, or ErrNotFound.
func (s *Store) Portal(ctx context.Context, k Key, channelID string) (Portal, error) {
	p, err := scanPortal(s.db.QueryRow(ctx, `SELECT `+portalColumns+` FROM bridge_portals
		WHERE network = $1 AND workspace = $2 AND channel_id = $3`, k.Network, k.Workspace, channelID))
	if err != nil {
		return Portal{}, fmt.Errorf("portal %s/%s: %w", k.Workspace, channelID, err)
	}
	return p, nil
}

// PortalByRoom returns the portal whose room is roomID, or ErrNotFound.
func (s *Store) PortalByRoom(ctx context.Context, roomID id.RoomID) (Portal, error) {
	p, err := scanPortal(s.db.QueryRow(ctx, `SELECT `+portalColumns+` FROM bridge_portals WHERE room_id = $1`, roomID))
	if err != nil {
		return Portal{}, fmt.Errorf("portal of %s: %w", roomID, err)
	}
	return p, nil
}

// Portals lists a workspace's portals.
func (s *Store) Portals(ctx context.Context, k Key) ([]Portal, error) {
	rows, err := s.db.Query(ctx, `SELECT `+portalColumns+` FROM bridge_portals
		WHERE network = $1 AND workspace = $2 ORDER BY channel_id`, k.Network, k.Workspace)
	if err != nil {
		return nil, fmt.Errorf("list portals: %w", err)
	}
	defer rows.Close()
	var out []Portal
	for rows.Next() {
		p, err := scanPortal(rows)
		if err != nil {
			return nil, fmt.Errorf("list portals: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PutPortal records a new portal; sqldb.ErrConflict if the conversation or the room has one.
func (s *Store) PutPortal(ctx context.Context, p Portal) error {
	_, err := s.db.Exec(ctx, `INSERT INTO bridge_portals (`+portalColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.Network, p.Workspace, p.ChannelID, p.RoomID, p.Kind, p.Name, p.Topic, p.CreatedTS, p.Relay)
	if err != nil {
		return fmt.Errorf("record portal %s: %w", p.ChannelID, err)
	}
	return nil
}

// UpdatePortalInfo records a portal's current name and topic.
func (s *Store) UpdatePortalInfo(ctx context.Context, p Portal) error {
	_, err := s.db.Exec(ctx, `UPDATE bridge_portals SET name = $4, topic = $5
		WHERE network = $1 AND workspace = $2 AND channel_id = $3`, p.Network, p.Workspace, p.ChannelID, p.Name, p.Topic)
	if err != nil {
		return fmt.Errorf("update portal %s: %w", p.ChannelID, err)
	}
	return nil
}

// SetPortalRelay records which way a portal relays.
func (s *Store) SetPortalRelay(ctx context.Context, k Key, channelID, relay string) error {
	n, err := s.db.Exec(ctx, `UPDATE bridge_portals SET relay = $4 WHERE network = $1 AND workspace = $2 AND channel_id = $3`,
		k.Network, k.Workspace, channelID, relay)
	if err != nil {
		return fmt.Errorf("set the relay of portal %s: %w", channelID, err)
	}
	if n == 0 {
		return fmt.Errorf("set the relay of portal %s: %w", channelID, ErrNotFound)
	}
	return nil
}

// DeletePortal forgets a portal (the conversation is unbridged); its room stays.
func (s *Store) DeletePortal(ctx context.Context, k Key, channelID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM bridge_portals WHERE network = $1 AND workspace = $2 AND channel_id = $3`,
		k.Network, k.Workspace, channelID)
	if err != nil {
		return fmt.Errorf("delete portal %s: %w", channelID, err)
	}
	return nil
}

// Space returns the room of a workspace's space, or ErrNotFound.
func (s *Store) Space(ctx context.Context, k Key) (id.RoomID, error) {
	var roomID id.RoomID
	err := s.db.QueryRow(ctx, `SELECT room_id FROM bridge_spaces WHERE network = $1 AND workspace = $2`, k.Network, k.Workspace).Scan(&roomID)
	if err != nil {
		return "", fmt.Errorf("space of %s: %w", k.Workspace, err)
	}
	return roomID, nil
}

// PutSpace records a workspace's space.
func (s *Store) PutSpace(ctx context.Context, k Key, roomID id.RoomID) error {
	_, err := s.db.Exec(ctx, `INSERT INTO bridge_spaces (network, workspace, room_id) VALUES ($1, $2, $3)`, k.Network, k.Workspace, roomID)
	if err != nil {
		return fmt.Errorf("record space of %s: %w", k.Workspace, err)
	}
	return nil
}

// Ghost is the Matrix user standing for a remote user or bot.
type Ghost struct {
	Key
	RemoteID     string
	UserID       id.UserID
	Name         string
	AvatarSource string // the remote avatar's URL
	AvatarMXC    id.ContentURIString
	IsBot        bool
	UpdatedTS    int64
}

// Ghost returns what is known of a remote user's ghost, or ErrNotFound.
func (s *Store) Ghost(ctx context.Context, k Key, remoteID string) (Ghost, error) {
	g := Ghost{Key: k, RemoteID: remoteID}
	err := s.db.QueryRow(ctx, `SELECT user_id, name, avatar_source, avatar_mxc, is_bot, updated_ts FROM bridge_ghosts
		WHERE network = $1 AND workspace = $2 AND remote_id = $3`, k.Network, k.Workspace, remoteID).
		Scan(&g.UserID, &g.Name, &g.AvatarSource, &g.AvatarMXC, &g.IsBot, &g.UpdatedTS)
	if err != nil {
		return Ghost{}, fmt.Errorf("ghost %s: %w", remoteID, err)
	}
	return g, nil
}

// PutGhost records a ghost's current profile.
func (s *Store) PutGhost(ctx context.Context, g Ghost) error {
	_, err := s.db.Exec(ctx, `INSERT INTO bridge_ghosts (network, workspace, remote_id, user_id, name, avatar_source,
		avatar_mxc, is_bot, updated_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (network, workspace, remote_id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name,
		avatar_source = excluded.avatar_source, avatar_mxc = excluded.avatar_mxc, is_bot = excluded.is_bot,
		updated_ts = excluded.updated_ts`,
		g.Network, g.Workspace, g.RemoteID, g.UserID, g.Name, g.AvatarSource, g.AvatarMXC, g.IsBot, g.UpdatedTS)
	if err != nil {
		return fmt.Errorf("record ghost %s: %w", g.RemoteID, err)
	}
	return nil
}

// Message records that one part of a remote message became a Matrix event.
type Message struct {
	Key
	ChannelID string
	RemoteID  string
	Part      int
	SortKey   int64  // orders a channel's messages
	ThreadID  string // the remote ID of the thread's root; "" outside threads
	RoomID    id.RoomID
	EventID   id.EventID
	Sender    id.UserID
	CreatedTS int64
}

const messageColumns = `network, workspace, channel_id, remote_id, part, sort_key, thread_id, room_id, event_id, sender, created_ts`

func scanMessage(row interface{ Scan(...any) error }) (Message, error) {
	var m Message
	err := row.Scan(&m.Network, &m.Workspace, &m.ChannelID, &m.RemoteID, &m.Part, &m.SortKey, &m.ThreadID,
		&m.RoomID, &m.EventID, &m.Sender, &m.CreatedTS)
	return m, err
}

// PutMessage records a message part. It reports false, writing nothing, when that part was
// recorded already: the caller has bridged it twice and should redact its duplicate event.
func (s *Store) PutMessage(ctx context.Context, m Message) (bool, error) {
	n, err := s.db.Exec(ctx, `INSERT INTO bridge_messages (`+messageColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		m.Network, m.Workspace, m.ChannelID, m.RemoteID, m.Part, m.SortKey, m.ThreadID, m.RoomID, m.EventID, m.Sender, m.CreatedTS)
	if err != nil {
		return false, fmt.Errorf("record message %s: %w", m.RemoteID, err)
	}
	return n > 0, nil
}

// Message returns the parts of a remote message, in order; none if it was never bridged.
func (s *Store) Message(ctx context.Context, k Key, channelID, remoteID string) ([]Message, error) {
	rows, err := s.db.Query(ctx, `SELECT `+messageColumns+` FROM bridge_messages
		WHERE network = $1 AND workspace = $2 AND channel_id = $3 AND remote_id = $4 ORDER BY part`,
		k.Network, k.Workspace, channelID, remoteID)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", remoteID, err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", remoteID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MessageByEvent returns the message part an event is, or ErrNotFound.
func (s *Store) MessageByEvent(ctx context.Context, eventID id.EventID) (Message, error) {
	m, err := scanMessage(s.db.QueryRow(ctx, `SELECT `+messageColumns+` FROM bridge_messages WHERE event_id = $1`, eventID))
	if err != nil {
		return Message{}, fmt.Errorf("message of %s: %w", eventID, err)
	}
	return m, nil
}

// LatestMessage returns the newest bridged message of a channel by sort key, or ErrNotFound:
// where catching up after downtime starts.
func (s *Store) LatestMessage(ctx context.Context, k Key, channelID string) (Message, error) {
	m, err := scanMessage(s.db.QueryRow(ctx, `SELECT `+messageColumns+` FROM bridge_messages
		WHERE network = $1 AND workspace = $2 AND channel_id = $3 AND thread_id = ''
		ORDER BY sort_key DESC, part DESC LIMIT 1`, k.Network, k.Workspace, channelID))
	if err != nil {
		return Message{}, fmt.Errorf("latest message of %s: %w", channelID, err)
	}
	return m, nil
}

// OldestMessage returns the oldest bridged message of a channel by sort key, threads included,
// or ErrNotFound: where an imported past must end to come before it.
func (s *Store) OldestMessage(ctx context.Context, k Key, channelID string) (Message, error) {
	m, err := scanMessage(s.db.QueryRow(ctx, `SELECT `+messageColumns+` FROM bridge_messages
		WHERE network = $1 AND workspace = $2 AND channel_id = $3
		ORDER BY sort_key, part LIMIT 1`, k.Network, k.Workspace, channelID))
	if err != nil {
		return Message{}, fmt.Errorf("oldest message of %s: %w", channelID, err)
	}
	return m, nil
}

// CountMessages counts the remote messages of a channel that were bridged or imported.
func (s *Store) CountMessages(ctx context.Context, k Key, channelID string) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM bridge_messages
		WHERE network = $1 AND workspace = $2 AND channel_id = $3 AND part = 0`, k.Network, k.Workspace, channelID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count messages of %s: %w", channelID, err)
	}
	return n, nil
}

// ActiveThreads returns the roots of a channel's threads that have a reply bridged whose sort
// key is at or after since: where replies may have been missed while the bridge was away.
func (s *Store) ActiveThreads(ctx context.Context, k Key, channelID string, since int64) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT thread_id FROM bridge_messages
		WHERE network = $1 AND workspace = $2 AND channel_id = $3 AND sort_key >= $4 AND thread_id <> ''
		ORDER BY thread_id`, k.Network, k.Workspace, channelID, since)
	if err != nil {
		return nil, fmt.Errorf("active threads of %s: %w", channelID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("active threads of %s: %w", channelID, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DeleteMessage forgets a remote message's parts (it was deleted on both sides).
func (s *Store) DeleteMessage(ctx context.Context, k Key, channelID, remoteID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM bridge_messages WHERE network = $1 AND workspace = $2 AND channel_id = $3 AND remote_id = $4`,
		k.Network, k.Workspace, channelID, remoteID)
	if err != nil {
		return fmt.Errorf("delete message %s: %w", remoteID, err)
	}
	return nil
}

// Reaction records that a remote user's reaction to a message is a Matrix annotation.
type Reaction struct {
	Key
	ChannelID    string
	MessageID    string // the remote message's ID
	RemoteUserID string
	Emoji        string // the remote name
	RoomID       id.RoomID
	EventID      id.EventID
	CreatedTS    int64
}

const reactionColumns = `network, workspace, channel_id, message_id, remote_user_id, emoji, room_id, event_id, created_ts`

func scanReaction(row interface{ Scan(...any) error }) (Reaction, error) {
	var r Reaction
	err := row.Scan(&r.Network, &r.Workspace, &r.ChannelID, &r.MessageID, &r.RemoteUserID, &r.Emoji, &r.RoomID, &r.EventID, &r.CreatedTS)
	return r, err
}

// PutReaction records a reaction; false, writing nothing, when it was recorded already.
func (s *Store) PutReaction(ctx context.Context, r Reaction) (bool, error) {
	n, err := s.db.Exec(ctx, `INSERT INTO bridge_reactions (`+reactionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		r.Network, r.Workspace, r.ChannelID, r.MessageID, r.RemoteUserID, r.Emoji, r.RoomID, r.EventID, r.CreatedTS)
	if err != nil {
		return false, fmt.Errorf("record reaction: %w", err)
	}
	return n > 0, nil
}

// Reaction returns a remote user's reaction to a message, or ErrNotFound.
func (s *Store) Reaction(ctx context.Context, k Key, channelID, messageID, remoteUserID, emoji string) (Reaction, error) {
	r, err := scanReaction(s.db.QueryRow(ctx, `SELECT `+reactionColumns+` FROM bridge_reactions
		WHERE network = $1 AND workspace = $2 AND channel_id = $3 AND message_id = $4 AND remote_user_id = $5 AND emoji = $6`,
		k.Network, k.Workspace, channelID, messageID, remoteUserID, emoji))
	if err != nil {
		return Reaction{}, fmt.Errorf("reaction: %w", err)
	}
	return r, nil
}

// ReactionByEvent returns the reaction an annotation event is, or ErrNotFound.
func (s *Store) ReactionByEvent(ctx context.Context, eventID id.EventID) (Reaction, error) {
	r, err := scanReaction(s.db.QueryRow(ctx, `SELECT `+reactionColumns+` FROM bridge_reactions WHERE event_id = $1`, eventID))
	if err != nil {
		return Reaction{}, fmt.Errorf("reaction of %s: %w", eventID, err)
	}
	return r, nil
}

// DeleteReaction forgets a reaction by its event.
func (s *Store) DeleteReaction(ctx context.Context, eventID id.EventID) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM bridge_reactions WHERE event_id = $1`, eventID); err != nil {
		return fmt.Errorf("delete reaction %s: %w", eventID, err)
	}
	return nil
}

// Login is a Matrix user's own token for the remote network.
type Login struct {
	Key
	UserID    id.UserID
	RemoteID  string
	Token     string
	CreatedTS int64
}

// PutLogin records (or replaces) a user's login.
func (s *Store) PutLogin(ctx context.Context, l Login) error {
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		// A remote account belongs to one Matrix user: a new login of it replaces the old.
		if _, err := tx.Exec(ctx, `DELETE FROM bridge_logins WHERE network = $1 AND workspace = $2 AND (user_id = $3 OR remote_id = $4)`,
			l.Network, l.Workspace, l.UserID, l.RemoteID); err != nil {
			return fmt.Errorf("replace login: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO bridge_logins (network, workspace, user_id, remote_id, token, created_ts)
			VALUES ($1, $2, $3, $4, $5, $6)`, l.Network, l.Workspace, l.UserID, l.RemoteID, l.Token, l.CreatedTS)
		if err != nil {
			return fmt.Errorf("record login: %w", err)
		}
		return nil
	})
}

// LoginOf returns a Matrix user's login to a workspace, or ErrNotFound.
func (s *Store) LoginOf(ctx context.Context, k Key, userID id.UserID) (Login, error) {
	return s.login(ctx, `user_id = $3`, k, userID)
}

// LoginByRemote returns the login of a remote account, or ErrNotFound.
func (s *Store) LoginByRemote(ctx context.Context, k Key, remoteID string) (Login, error) {
	return s.login(ctx, `remote_id = $3`, k, remoteID)
}

func (s *Store) login(ctx context.Context, where string, k Key, arg any) (Login, error) {
	l := Login{Key: k}
	err := s.db.QueryRow(ctx, `SELECT user_id, remote_id, token, created_ts FROM bridge_logins
		WHERE network = $1 AND workspace = $2 AND `+where, k.Network, k.Workspace, arg).Scan(&l.UserID, &l.RemoteID, &l.Token, &l.CreatedTS)
	if err != nil {
		return Login{}, fmt.Errorf("login: %w", err)
	}
	return l, nil
}

// Logins lists a workspace's logins.
func (s *Store) Logins(ctx context.Context, k Key) ([]Login, error) {
	rows, err := s.db.Query(ctx, `SELECT user_id, remote_id, token, created_ts FROM bridge_logins
		WHERE network = $1 AND workspace = $2 ORDER BY user_id`, k.Network, k.Workspace)
	if err != nil {
		return nil, fmt.Errorf("list logins: %w", err)
	}
	defer rows.Close()
	var out []Login
	for rows.Next() {
		l := Login{Key: k}
		if err := rows.Scan(&l.UserID, &l.RemoteID, &l.Token, &l.CreatedTS); err != nil {
			return nil, fmt.Errorf("list logins: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeleteLogin forgets a user's login.
func (s *Store) DeleteLogin(ctx context.Context, k Key, userID id.UserID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM bridge_logins WHERE network = $1 AND workspace = $2 AND user_id = $3`, k.Network, k.Workspace, userID)
	if err != nil {
		return fmt.Errorf("delete login: %w", err)
	}
	return nil
}

// IsNotFound reports whether err means a lookup matched nothing.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// weekStart is the start of the week (Monday 00:00 UTC) of t.
func weekStart(t time.Time) time.Time {
	t = t.UTC().Truncate(24 * time.Hour)
	return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
}

// RecordMatrixActivity counts one message that userID wrote from Matrix in a workspace's
// portal at t.
func (s *Store) RecordMatrixActivity(ctx context.Context, k Key, userID id.UserID, t time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO bridge_matrix_activity (network, workspace, week_ts, user_id, messages)
		VALUES ($1, $2, $3, $4, 1) ON CONFLICT (network, workspace, week_ts, user_id)
		DO UPDATE SET messages = bridge_matrix_activity.messages + 1`, k.Network, k.Workspace, weekStart(t).UnixMilli(), userID)
	if err != nil {
		return fmt.Errorf("record activity of %s: %w", userID, err)
	}
	return nil
}

// WeekActivity is how many people wrote from Matrix in one week.
type WeekActivity struct {
	Week   time.Time `json:"week"` // its Monday, 00:00 UTC
	People int       `json:"people"`
}

// MatrixActivity returns, for each of the last weeks up to the one of now (oldest first),
// how many people wrote in the workspace's portals from Matrix.
func (s *Store) MatrixActivity(ctx context.Context, k Key, weeks int, now time.Time) ([]WeekActivity, error) {
	first := weekStart(now).AddDate(0, 0, -7*(weeks-1))
	rows, err := s.db.Query(ctx, `SELECT week_ts, COUNT(*) FROM bridge_matrix_activity
		WHERE network = $1 AND workspace = $2 AND week_ts >= $3 GROUP BY week_ts`, k.Network, k.Workspace, first.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("matrix activity: %w", err)
	}
	defer rows.Close()
	people := map[int64]int{}
	for rows.Next() {
		var week int64
		var n int
		if err := rows.Scan(&week, &n); err != nil {
			return nil, fmt.Errorf("matrix activity: %w", err)
		}
		people[week] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]WeekActivity, weeks)
	for i := range out {
		week := first.AddDate(0, 0, 7*i)
		out[i] = WeekActivity{Week: week, People: people[week.UnixMilli()]}
	}
	return out, nil
}

// Secret returns the secret stored under name, creating it from fresh (the value newValue
// returns) the first time. Concurrent first calls agree on one value.
func (s *Store) Secret(ctx context.Context, name string, newValue func() string) (string, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO bridge_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		name, newValue()); err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	var value string
	if err := s.db.QueryRow(ctx, `SELECT value FROM bridge_secrets WHERE name = $1`, name).Scan(&value); err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	return value, nil
}
