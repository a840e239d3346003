package bridge

import (
	"context"
	"fmt"
	"sync"

	"maunium.net/go/mautrix/id"
)

// Operator is what a running bridge offers its operators: the admin API and the CLI.
// workspace is one of its configured workspaces by name, channel a remote channel by name or ID.
type Operator interface {
	// Status returns where the bridge stands, JSON-encodable.
	Status(ctx context.Context) any
	// BridgeChannel bridges a channel into a new portal, or into the room into when given,
	// and returns the portal's room.
	BridgeChannel(ctx context.Context, workspace, channel string, into id.RoomID) (id.RoomID, error)
	// UnbridgeChannel stops bridging a channel.
	UnbridgeChannel(ctx context.Context, workspace, channel string) error
	// ResyncChannel refreshes a portal from its channel and catches it up.
	ResyncChannel(ctx context.Context, workspace, channel string) error
}

// NotFoundError says that a bridge, a workspace or a channel does not exist. Its NotFound
// method is how the admin API, which may not import the bridges, tells it from other failures.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// NotFound marks the error for the admin API.
func (e *NotFoundError) NotFound() bool { return true }

// Directory is the set of running bridges, by name ("slack"). The homeserver's admin API
// operates them through it (it implements admin.Bridges); bridges are added once they run.
type Directory struct {
	mu  sync.RWMutex
	ops map[string]Operator
}

// Add makes a running bridge known under name.
func (d *Directory) Add(name string, op Operator) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ops == nil {
		d.ops = map[string]Operator{}
	}
	d.ops[name] = op
}

func (d *Directory) find(name string) (Operator, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	op, ok := d.ops[name]
	if !ok {
		return nil, &NotFoundError{What: fmt.Sprintf("bridge %q", name)}
	}
	return op, nil
}

// BridgeStatus returns the named bridge's status, or false when it does not run.
func (d *Directory) BridgeStatus(ctx context.Context, name string) (any, bool) {
	op, err := d.find(name)
	if err != nil {
		return nil, false
	}
	return op.Status(ctx), true
}

// BridgeChannel asks the named bridge to bridge a channel.
func (d *Directory) BridgeChannel(ctx context.Context, name, workspace, channel string, into id.RoomID) (id.RoomID, error) {
	op, err := d.find(name)
	if err != nil {
		return "", err
	}
	return op.BridgeChannel(ctx, workspace, channel, into)
}

// UnbridgeChannel asks the named bridge to stop bridging a channel.
func (d *Directory) UnbridgeChannel(ctx context.Context, name, workspace, channel string) error {
	op, err := d.find(name)
	if err != nil {
		return err
	}
	return op.UnbridgeChannel(ctx, workspace, channel)
}

// ResyncChannel asks the named bridge to resync a channel.
func (d *Directory) ResyncChannel(ctx context.Context, name, workspace, channel string) error {
	op, err := d.find(name)
	if err != nil {
		return err
	}
	return op.ResyncChannel(ctx, workspace, channel)
}

// Puppets is how a built-in bridge gets the right to act as a Matrix user who proved to it who
// they are (by logging in to the remote network in a DM with its bot), and gives it back when
// they log out. cmd makes it from the homeserver's appservice grants, so that no token leaves
// the server.
type Puppets interface {
	Grant(ctx context.Context, userID id.UserID) error
	Revoke(ctx context.Context, userID id.UserID) error
}
