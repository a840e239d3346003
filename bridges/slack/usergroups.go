package slack

import (
	"context"
	"sync"
	"time"
)

// usergroupTTL is how long the workspace's user groups are trusted before usergroups.list is
// asked again.
const usergroupTTL = time.Hour

// usergroupCache holds a workspace's user group handles by ID, from usergroups.list.
type usergroupCache struct {
	mu       sync.Mutex
	handles  map[string]string
	loadedAt time.Time
}

// usergroupHandle returns the handle (without @) of a user group, listing the workspace's groups
// on first use and then hourly.
func (w *workspace) usergroupHandle(ctx context.Context, groupID string) (string, bool) {
	c := &w.usergroups
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handles == nil || time.Since(c.loadedAt) > usergroupTTL {
		ctx, cancel := context.WithTimeout(ctx, emojiTimeout)
		defer cancel()
		groups, err := w.src.UserGroups(ctx)
		if err != nil {
			w.log.WarnContext(ctx, "cannot list user groups", "error", err)
			return "", false
		}
		c.handles = make(map[string]string, len(groups))
		for _, g := range groups {
			c.handles[g.ID] = g.Handle
		}
		c.loadedAt = time.Now()
	}
	handle, ok := c.handles[groupID]
	return handle, ok && handle != ""
}
