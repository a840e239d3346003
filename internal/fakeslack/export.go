package fakeslack

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"
)

// ExportOptions shape the ZIP that Export writes.
type ExportOptions struct {
	// EnterpriseGrid lists the members in org_users.json instead of users.json, as an
	// Enterprise Grid organization's export does.
	EnterpriseGrid bool
	// Tamper, when set, may change each message before it is written (as a test writes
	// subtypes the fake does not produce, or marks a file as deleted).
	Tamper func(channelID string, m *Message)
}

// Export writes the workspace as a workspace admin's full export: users.json (or
// org_users.json), channels.json, groups.json, dms.json, mpims.json, integration_logs.json,
// canvases.json, and a folder per conversation (by name; by ID for DMs) with one
// YYYY-MM-DD.json array per UTC day, in ts order, thread replies in the day of their own ts.
// Files carry their download links signed with a fresh export token (?t=xoxe-…), which the
// fake accepts for the files until RevokeToken revokes it; Export returns that token.
func (s *Server) Export(w io.Writer, opts ExportOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.ws
	exportToken := ws.issueToken(exportTokenKind, "")
	z := zip.NewWriter(w)
	var users []obj
	for _, id := range ws.userIDs {
		users = append(users, ws.userObject(ws.users[id]))
	}
	usersFile := "users.json"
	if opts.EnterpriseGrid {
		usersFile = "org_users.json"
	}
	lists := map[convKind][]obj{}
	for _, id := range ws.chanIDs {
		ch := ws.channels[id]
		lists[ch.kind] = append(lists[ch.kind], ws.exportedChannel(ch))
	}
	files := []struct {
		name string
		v    any
	}{
		{usersFile, users}, {"channels.json", lists[publicChannel]}, {"groups.json", lists[privateChannel]},
		{"dms.json", lists[directMessage]}, {"mpims.json", lists[groupMessage]},
		{"integration_logs.json", obj{"logs": []obj{}}}, {"canvases.json", []obj{}},
	}
	for _, f := range files {
		if err := writeEntry(z, f.name, orEmpty(f.v)); err != nil {
			return "", err
		}
	}
	for _, id := range ws.chanIDs {
		if err := ws.exportMessages(z, ws.channels[id], exportToken, opts.Tamper); err != nil {
			return "", err
		}
	}
	return exportToken, z.Close()
}

// exportedChannel is a conversation as an export's metadata files list it: with its members;
// DMs with only their ID, creation time and members.
func (w *workspace) exportedChannel(ch *channel) obj {
	if ch.kind == directMessage {
		return obj{"id": ch.id, "created": ch.created, "members": append([]string{}, ch.members...)}
	}
	o := w.channelObject(ch, "")
	delete(o, "is_member")
	o["members"] = append([]string{}, ch.members...)
	return o
}

// exportMessages writes a conversation's day files.
func (w *workspace) exportMessages(z *zip.Writer, ch *channel, exportToken string, tamper func(string, *Message)) error {
	folder := ch.name
	if ch.kind == directMessage {
		folder = ch.id
	}
	days := map[string][]Message{}
	var order []string
	for _, ts := range ch.order {
		m := ch.messages[ts].clone()
		m.PinnedTo = nil
		for i := range m.Files {
			m.Files[i].URLPrivate = withToken(m.Files[i].URLPrivate, exportToken)
			m.Files[i].URLPrivateDownload = withToken(m.Files[i].URLPrivateDownload, exportToken)
		}
		if tamper != nil {
			tamper(ch.id, &m)
		}
		micros, _ := parseTS(m.TS)
		day := time.UnixMicro(micros).UTC().Format(time.DateOnly)
		if _, ok := days[day]; !ok {
			order = append(order, day)
		}
		days[day] = append(days[day], m)
	}
	for _, day := range order {
		if err := writeEntry(z, folder+"/"+day+".json", days[day]); err != nil {
			return err
		}
	}
	return nil
}

// withToken signs a file URL for an export: ?t=<token>, as Slack's exports do.
func withToken(raw, tok string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("t", tok)
	u.RawQuery = q.Encode()
	return u.String()
}

func writeEntry(z *zip.Writer, name string, v any) error {
	f, err := z.Create(name)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}

// orEmpty makes a nil list an empty JSON array, as Slack writes one.
func orEmpty(v any) any {
	if l, ok := v.([]obj); ok && l == nil {
		return []obj{}
	}
	return v
}
