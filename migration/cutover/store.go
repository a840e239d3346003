package cutover

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"causeway/bridges/bridge"
	"causeway/internal/sqldb"
)

// Store keeps the migration record of each conversation (migrations/migration,
// migration_channels), which the importer and the cutover share.
type Store struct {
	db *sqldb.DB
}

// NewStore returns the store on the process's database handle.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// The migration states of a conversation, in order. A rollback goes back one.
const (
	StatePlanned       = "planned"
	StateImported      = "imported"
	StateBridged       = "bridged"
	StateMatrixPrimary = "matrix-primary"
	StateArchived      = "archived"
)

// States lists the migration states in order.
var States = []string{StatePlanned, StateImported, StateBridged, StateMatrixPrimary, StateArchived}

// Channel is the migration record of one conversation.
type Channel struct {
	bridge.Key
	ChannelID     string
	Name          string
	State         string
	PreviousState string    // "" when nothing can be rolled back
	HistoryRoomID id.RoomID // "" when the past went into the portal
	HistoryBefore int64     // sort key: older messages go to the history room
	Imported      int64
	Failed        int64
	FilesMissing  int64
	NoticeTS      string // the notice the cutover pinned in the remote channel
	UpdatedTS     int64
}

const channelColumns = `network, workspace, channel_id, name, state, previous_state, history_room_id, history_before,
	messages_imported, messages_failed, files_missing, notice_ts, updated_ts`

func scanChannel(row interface{ Scan(...any) error }) (Channel, error) {
	var c Channel
	err := row.Scan(&c.Network, &c.Workspace, &c.ChannelID, &c.Name, &c.State, &c.PreviousState, &c.HistoryRoomID,
		&c.HistoryBefore, &c.Imported, &c.Failed, &c.FilesMissing, &c.NoticeTS, &c.UpdatedTS)
	return c, err
}

// Channel returns a conversation's record, or sqldb.ErrNotFound.
func (s *Store) Channel(ctx context.Context, k bridge.Key, channelID string) (Channel, error) {
	c, err := scanChannel(s.db.QueryRow(ctx, `SELECT `+channelColumns+` FROM migration_channels
		WHERE network = $1 AND workspace = $2 AND channel_id = $3`, k.Network, k.Workspace, channelID))
	if err != nil {
		return Channel{}, fmt.Errorf("migration record of %s: %w", channelID, err)
	}
	return c, nil
}

// Channels lists a workspace's records by name.
func (s *Store) Channels(ctx context.Context, k bridge.Key) ([]Channel, error) {
	rows, err := s.db.Query(ctx, `SELECT `+channelColumns+` FROM migration_channels
		WHERE network = $1 AND workspace = $2 ORDER BY name, channel_id`, k.Network, k.Workspace)
	if err != nil {
		return nil, fmt.Errorf("list migration records: %w", err)
	}
	defer rows.Close()
	var out []Channel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, fmt.Errorf("list migration records: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PutChannel writes a record whole.
func (s *Store) PutChannel(ctx context.Context, c Channel) error {
	c.UpdatedTS = time.Now().UnixMilli()
	_, err := s.db.Exec(ctx, `INSERT INTO migration_channels (`+channelColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (network, workspace, channel_id) DO UPDATE SET name = excluded.name, state = excluded.state,
			previous_state = excluded.previous_state, history_room_id = excluded.history_room_id,
			history_before = excluded.history_before, messages_imported = excluded.messages_imported,
			messages_failed = excluded.messages_failed, files_missing = excluded.files_missing,
			notice_ts = excluded.notice_ts, updated_ts = excluded.updated_ts`,
		c.Network, c.Workspace, c.ChannelID, c.Name, c.State, c.PreviousState, c.HistoryRoomID, c.HistoryBefore,
		c.Imported, c.Failed, c.FilesMissing, c.NoticeTS, c.UpdatedTS)
	if err != nil {
		return fmt.Errorf("record migration of %s: %w", c.ChannelID, err)
	}
	return nil
}
