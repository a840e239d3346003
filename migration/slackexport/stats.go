package slackexport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Stats summarizes an export for a dry run.
type Stats struct {
	Users, Bots, DeletedUsers int
	// Conversations has one entry per conversation, in Conversations order.
	Conversations []ConversationStats
	// Totals over all conversations.
	Messages, Replies, Threads, Files int64
	First, Last                       time.Time
	// UnknownUsers are the users messages refer to that users.json lacks.
	UnknownUsers []UnknownUser
	// UnlistedFolders hold day files but belong to no listed conversation;
	// their messages cannot be imported.
	UnlistedFolders []string
	// Size is the archive's total uncompressed size.
	Size int64
}

// ConversationStats counts one conversation's messages.
type ConversationStats struct {
	Conversation Conversation
	DayFiles     int
	Messages     int64
	Replies      int64 // messages in a thread, other than its root
	Threads      int64 // thread roots
	Files        int64
	Reactions    int64 // one per user per emoji
	First, Last  time.Time
	// Err is why the conversation could not be read to the end; the counts
	// cover the messages before it.
	Err error
}

// Err joins the errors of all conversations, or returns nil.
func (s *Stats) Err() error {
	var errs []error
	for _, c := range s.Conversations {
		if c.Err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", c.Conversation.Kind, c.Conversation.ID, c.Err))
		}
	}
	return errors.Join(errs...)
}

// Stats streams every conversation and counts what an import would bring.
// A conversation that fails is recorded in its ConversationStats.Err and the
// others are still read, so a dry run reports every problem at once. Stats
// returns an error only when ctx ends. It does not change UnknownUsers.
func (e *Export) Stats(ctx context.Context) (*Stats, error) {
	s := &Stats{Size: e.size}
	for _, u := range e.users {
		switch {
		case u.IsBot:
			s.Bots++
		case u.Deleted:
			s.DeletedUsers++
		}
	}
	s.Users = len(e.users)
	var unknown unknownUsers
	claimed := make(map[string]bool, len(e.convs))
	for _, conv := range e.convs {
		claimed[conv.Folder] = true
		cs := ConversationStats{Conversation: conv, DayFiles: len(e.days[conv.Folder])}
		err := e.messages(ctx, conv, &unknown, func(m Message) error {
			cs.Messages++
			switch {
			case m.IsThreadRoot():
				cs.Threads++
			case m.IsReply():
				cs.Replies++
			}
			cs.Files += int64(len(m.Files))
			for _, r := range m.Reactions {
				cs.Reactions += int64(len(r.Users))
			}
			t := m.TS.Time()
			if cs.First.IsZero() {
				cs.First = t
			}
			cs.Last = t
			return nil
		})
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		cs.Err = err
		s.Conversations = append(s.Conversations, cs)
		s.Messages += cs.Messages
		s.Replies += cs.Replies
		s.Threads += cs.Threads
		s.Files += cs.Files
		if !cs.First.IsZero() && (s.First.IsZero() || cs.First.Before(s.First)) {
			s.First = cs.First
		}
		if cs.Last.After(s.Last) {
			s.Last = cs.Last
		}
	}
	for folder := range e.days {
		if !claimed[folder] {
			s.UnlistedFolders = append(s.UnlistedFolders, folder)
		}
	}
	slices.Sort(s.UnlistedFolders)
	s.UnknownUsers = unknown.list()
	return s, nil
}
