package slackexport

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Kind says which sort of conversation a [Conversation] is.
type Kind string

const (
	KindChannel Kind = "channel"  // public channel, from channels.json
	KindPrivate Kind = "private"  // private channel, from groups.json (or channels.json with is_private)
	KindDM      Kind = "dm"       // direct message between two users, from dms.json
	KindGroupDM Kind = "group_dm" // multi-party direct message, from mpims.json (or groups.json with is_mpim)
)

// Conversation is one channel, private channel, DM or group DM, whichever
// metadata file it comes from.
type Conversation struct {
	ID       string
	Name     string // empty for DMs
	Kind     Kind
	Members  []string // user IDs
	Topic    string
	Purpose  string
	Created  time.Time // zero when the export does not say
	Creator  string    // user ID, empty for DMs
	Archived bool
	General  bool // the workspace's #general
	// Folder is the folder of the conversation's day files in the archive
	// (relative to the export's root). It may not exist: Slack writes no
	// folder for a conversation without messages.
	Folder string
	// Source is the metadata entry listing the conversation, e.g. "groups.json".
	Source string
}

// rawConversation is the shape shared by the entries of channels.json,
// groups.json, mpims.json and dms.json (which has only id, created, members).
type rawConversation struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Created    UnixTime `json:"created"`
	Creator    string   `json:"creator"`
	IsArchived bool     `json:"is_archived"`
	IsGeneral  bool     `json:"is_general"`
	IsPrivate  bool     `json:"is_private"`
	IsMpIM     bool     `json:"is_mpim"`
	Members    []string `json:"members"`
	Topic      struct {
		Value string `json:"value"`
	} `json:"topic"`
	Purpose struct {
		Value string `json:"value"`
	} `json:"purpose"`
}

// UnixTime is a Unix time in seconds, as Slack writes "created" fields. It
// decodes from a number or a numeric string; 0 means unknown.
type UnixTime int64

// Time returns u in UTC, or the zero time for 0.
func (u UnixTime) Time() time.Time {
	if u <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(u), 0).UTC()
}

func (u *UnixTime) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("time %s is not a number", b)
	}
	*u = UnixTime(f)
	return nil
}

// Conversations returns every conversation of the export: public channels,
// private channels, group DMs, then DMs, each in its file's order.
func (e *Export) Conversations() []Conversation { return slices.Clone(e.convs) }

// Channels returns the public channels.
func (e *Export) Channels() []Conversation { return e.ofKind(KindChannel) }

// Groups returns the private channels.
func (e *Export) Groups() []Conversation { return e.ofKind(KindPrivate) }

// DMs returns the direct messages.
func (e *Export) DMs() []Conversation { return e.ofKind(KindDM) }

// MPIMs returns the group direct messages.
func (e *Export) MPIMs() []Conversation { return e.ofKind(KindGroupDM) }

// Conversation returns the conversation with the given ID.
func (e *Export) Conversation(id string) (Conversation, bool) {
	i, ok := e.convByID[id]
	if !ok {
		return Conversation{}, false
	}
	return e.convs[i], true
}

func (e *Export) ofKind(k Kind) []Conversation {
	var out []Conversation
	for _, c := range e.convs {
		if c.Kind == k {
			out = append(out, c)
		}
	}
	return out
}

// loadConversations decodes the four conversation files; channels.json is
// required (index checked that it exists). A conversation listed twice keeps
// its first entry: old exports list group DMs in both groups.json and mpims.json.
func (e *Export) loadConversations() error {
	e.convByID = make(map[string]int)
	e.folderOwners = make(map[string]int)
	for _, src := range []struct {
		name string
		kind Kind
	}{
		{channelsFile, KindChannel},
		{groupsFile, KindPrivate},
		{mpimsFile, KindGroupDM},
		{dmsFile, KindDM},
	} {
		f, ok := e.entries[src.name]
		if !ok {
			continue
		}
		err := e.forEachElement(f, func(raw json.RawMessage, off int64) error {
			var rc rawConversation
			if err := json.Unmarshal(raw, &rc); err != nil {
				return elementError(off, err)
			}
			if rc.ID == "" {
				return &FormatError{Offset: off, Err: fmt.Errorf("%w: conversation without \"id\"", ErrMalformed)}
			}
			if _, dup := e.convByID[rc.ID]; dup {
				return nil
			}
			c := e.conversation(rc, src.kind, src.name)
			e.convByID[c.ID] = len(e.convs)
			e.convs = append(e.convs, c)
			e.folderOwners[c.Folder]++
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Export) conversation(rc rawConversation, kind Kind, source string) Conversation {
	switch {
	case kind == KindChannel && rc.IsPrivate:
		kind = KindPrivate
	case kind == KindPrivate && rc.IsMpIM:
		kind = KindGroupDM
	}
	c := Conversation{
		ID:       rc.ID,
		Name:     rc.Name,
		Kind:     kind,
		Members:  rc.Members,
		Topic:    rc.Topic.Value,
		Purpose:  rc.Purpose.Value,
		Creator:  rc.Creator,
		Archived: rc.IsArchived,
		General:  rc.IsGeneral,
		Source:   source,
	}
	c.Created = rc.Created.Time()
	// Channel and group-DM folders carry the name, DM folders the ID. Some
	// third-party exporters name every folder by ID, so fall back to it.
	c.Folder = c.Name
	if kind == KindDM || c.Folder == "" {
		c.Folder = c.ID
	}
	if _, ok := e.days[c.Folder]; !ok {
		if _, ok := e.days[c.ID]; ok {
			c.Folder = c.ID
		}
	}
	return c
}
