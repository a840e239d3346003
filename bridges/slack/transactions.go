package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
)

// maxTransactionBytes bounds a transaction's body (the homeserver sends batches of 100 events).
const maxTransactionBytes = 64 << 20

// recentTransactions is how many transaction IDs are remembered to answer a redelivery.
const recentTransactions = 1000

// Router returns the bridge's side of the appservice API: the homeserver's transactions are
// handled here, and everything else (pings, user and alias queries) by the appservice's own
// router, next. A transaction is answered only once every event in it has been bridged, so
// that the homeserver, which keeps a transaction until it is answered, sends it again after a
// crash: Matrix -> Slack loses nothing that the homeserver accepted. (mautrix's own handler
// answers as soon as the events are queued in memory.) Events are handled in order, one
// transaction at a time.
func (b *Bridge) Router(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /_matrix/app/v1/transactions/{txnID}", b.putTransaction)
	mux.Handle("/", next)
	return mux
}

// transactions remembers the IDs of the latest transactions handled.
type transactions struct {
	mu   sync.Mutex
	seen map[string]bool
	ids  []string
}

func (t *transactions) done(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen[id]
}

func (t *transactions) add(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	t.seen[id] = true
	t.ids = append(t.ids, id)
	if len(t.ids) > recentTransactions {
		delete(t.seen, t.ids[0])
		t.ids = t.ids[1:]
	}
}

// putTransaction serves PUT /_matrix/app/v1/transactions/{txnID} (application_service.yaml).
func (b *Bridge) putTransaction(w http.ResponseWriter, r *http.Request) {
	if !b.as.CheckServerToken(w, r) {
		return
	}
	txnID := r.PathValue("txnID")
	var txn appservice.Transaction
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTransactionBytes)).Decode(&txn); err != nil {
		mautrix.MNotJSON.WithMessage("Cannot read the transaction").Write(w)
		return
	}
	b.handling.Lock()
	defer b.handling.Unlock()
	if !b.txns.done(txnID) {
		// Not the request's context: a transaction is finished even if the homeserver stops
		// waiting, so that its redelivery finds it done.
		ctx := b.runCtx()
		for _, evt := range txn.Events {
			b.receive(ctx, evt)
		}
		b.txns.add(txnID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}"))
}

// receive prepares an event from a transaction as mautrix would (type class, parsed content,
// state store) and bridges it.
func (b *Bridge) receive(ctx context.Context, evt *event.Event) {
	evt.Type.Class = event.MessageEventType
	if evt.StateKey != nil {
		evt.Type.Class = event.StateEventType
	}
	_ = evt.Content.ParseRaw(evt.Type) // unknown types stay raw
	if evt.Type.IsState() {
		mautrix.UpdateStateStore(ctx, b.as.StateStore, evt)
	}
	b.handleEvent(ctx, evt)
}
