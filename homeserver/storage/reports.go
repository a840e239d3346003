package storage

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Report is what a user reported to the server's admins.
type Report struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"` // event, room or user
	Reporter   id.UserID  `json:"reporter"`
	RoomID     id.RoomID  `json:"room_id,omitempty"`
	EventID    id.EventID `json:"event_id,omitempty"`
	UserID     id.UserID  `json:"user_id,omitempty"` // the reported user, or the reported event's sender
	Reason     string     `json:"reason"`
	ReceivedTS int64      `json:"received_ts"`
}

const (
	insertReport = `INSERT INTO reports (report_id, kind, reporter, room_id, event_id, user_id, reason, received_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	// Newest first, from the report before $1.
	selectReports = `SELECT report_id, kind, reporter, room_id, event_id, user_id, reason, received_ts
		FROM reports WHERE report_id < $1 ORDER BY report_id DESC LIMIT $2`
)

// AddReport stores r under the next report ID and returns the ID.
func (tx *Tx) AddReport(ctx context.Context, r Report) (int64, error) {
	id, err := tx.NextCounter(ctx, "reports")
	if err != nil {
		return 0, err
	}
	if _, err := tx.q.Exec(ctx, insertReport, id, r.Kind, r.Reporter, r.RoomID, r.EventID, r.UserID, r.Reason, r.ReceivedTS); err != nil {
		return 0, fmt.Errorf("add report: %w", err)
	}
	return id, nil
}

// Reports returns up to limit reports with IDs below before, newest first.
func (c conn) Reports(ctx context.Context, before int64, limit int) ([]Report, error) {
	rows, err := c.q.Query(ctx, selectReports, before, limit)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	defer rows.Close()
	out := []Report{}
	for rows.Next() {
		var r Report
		if err := rows.Scan(&r.ID, &r.Kind, &r.Reporter, &r.RoomID, &r.EventID, &r.UserID, &r.Reason, &r.ReceivedTS); err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
