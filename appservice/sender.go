package appservice

import (
	"bytes"
	"context"
	"encoding/json/v2"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"maunium.net/go/mautrix/id"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"causeway/homeserver/rooms"
	"causeway/homeserver/storage"
	"causeway/homeserver/syncapi"
)

// SenderOptions configures a Sender. Zero fields take the defaults given.
type SenderOptions struct {
	// HTTPClient carries the transactions; it may use an in-process transport. Default: a
	// plain client. Each request gets its own deadline, so the client needs no timeout.
	HTTPClient *http.Client
	// MinBackoff is the wait before the first retry of a failed transaction; each further
	// failure doubles it, up to MaxBackoff. Defaults: 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// BatchSize is how many events are read from the stream at a time, and so the most
	// events one transaction carries. Default: 100.
	BatchSize int
	Log       *slog.Logger     // default: discard
	Now       func() time.Time // default: time.Now
}

const (
	// requestTimeout bounds one transaction request. An appservice that takes longer is
	// treated as failed and gets the same transaction again after the backoff.
	requestTimeout = 60 * time.Second
	// rescanInterval is how often Run looks for registrations added or removed while no
	// event woke it.
	rescanInterval = 10 * time.Second
	// completeTimeout bounds recording a delivered transaction during shutdown.
	completeTimeout = 10 * time.Second
)

// Sender pushes events to application services (content/application-service-api.md, "Pushing
// events"). Each registration with a URL gets its own worker, which delivers strictly in
// stream order with at most one transaction in flight. Delivery state is persisted
// (storage/appservices.go): a cursor into the event stream and the transaction in flight,
// stored with its body before it is sent, so that a retry, also after a restart, sends the same
// body under the same transaction ID, and a stopped or unreachable appservice loses nothing.
// Typing and receipts, for the registrations that receive ephemeral data, wait in memory and
// ride with the next transaction (ephemeral.go): they are best effort.
type Sender struct {
	db       *storage.DB
	rooms    *rooms.Service
	registry *Registry
	interest *interest
	client   *http.Client
	opts     SenderOptions
	log      *slog.Logger
	rescan   time.Duration // rescanInterval; tests shorten it

	wake chan struct{} // buffered 1: wake-ups coalesce

	mu      sync.Mutex         // guards workers; only Run changes the map
	workers map[string]*worker // by appservice ID
}

// NewSender returns a sender for the registrations in registry. It delivers nothing until Run.
func NewSender(db *storage.DB, roomsSvc *rooms.Service, registry *Registry, opts SenderOptions) *Sender {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sender{
		db:       db,
		rooms:    roomsSvc,
		registry: registry,
		interest: newInterest(db, registry.ServerName()),
		client:   opts.HTTPClient,
		opts:     opts,
		log:      opts.Log,
		rescan:   rescanInterval,
		wake:     make(chan struct{}, 1),
		workers:  make(map[string]*worker),
	}
}

// OnEvent implements rooms.Notifier: it wakes the workers for a committed event. It never
// blocks; wake-ups that arrive while the workers are busy coalesce into one.
func (s *Sender) OnEvent(ev *storage.Event) {
	s.interest.invalidate(ev)
	s.nudge()
}

func (s *Sender) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, running one worker per registration that has a URL. On every
// wake-up, and every few seconds, it starts workers for registrations that Register or a
// reload added and stops those of registrations that went away or changed. When ctx ends it
// abandons the requests in flight, which are persisted and resent on the next Run, waits for
// the workers and returns nil. Run must not be called twice at once.
func (s *Sender) Run(ctx context.Context) error {
	tick := time.NewTicker(s.rescan)
	defer tick.Stop()
	for {
		s.reconcile(ctx)
		select {
		case <-ctx.Done():
			s.mu.Lock()
			workers := s.workers
			s.workers = make(map[string]*worker)
			s.mu.Unlock()
			for _, w := range workers {
				w.stop()
			}
			return nil
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// reconcile makes the running workers match the registry, and wakes them all.
func (s *Sender) reconcile(ctx context.Context) {
	want := make(map[string]*Registration)
	for _, reg := range s.registry.All() {
		if reg.URL != "" {
			want[reg.ID] = reg
		}
	}
	s.mu.Lock()
	var stale []*worker
	for appserviceID, w := range s.workers {
		// A changed registration (new URL, token or namespaces after a reload) gets a new
		// worker, which applies it at once instead of after the current backoff.
		if want[appserviceID] != w.reg {
			stale = append(stale, w)
			delete(s.workers, appserviceID)
		}
	}
	s.mu.Unlock()
	// The old worker must be gone before a new one for the same appservice starts, or the
	// two would both own its transaction.
	for _, w := range stale {
		w.stop()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for appserviceID, reg := range want {
		if _, ok := s.workers[appserviceID]; !ok {
			s.workers[appserviceID] = s.startWorker(ctx, reg)
		}
	}
	for _, w := range s.workers {
		w.nudge()
	}
}

// deliver sends one transaction (PUT /_matrix/app/v1/transactions/{txnId},
// data/api/application-service/transactions.yaml). Any answer but a 2xx is an error.
func (s *Sender) deliver(ctx context.Context, reg *Registration, txn storage.AppserviceTxn) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u := reg.URL + "/_matrix/app/v1/transactions/" + url.PathEscape(txnIDString(txn.TxnID))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(txn.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+reg.HSToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // lets the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("appservice answered %s", resp.Status)
	}
	return nil
}

func txnIDString(txnID int64) string { return strconv.FormatInt(txnID, 10) }

// transaction is the body of a transaction request.
type transaction struct {
	Events []*rooms.ClientEvent `json:"events"`
	// Ephemeral holds typing, receipts and presence for appservices that receive ephemeral
	// data (content/application-service-api.md, "Pushing ephemeral data"). The same list goes
	// under MSC2409's unstable name, which mautrix-go reads when the stable one is absent and
	// older bridges read alone; an appservice reading both reads only one. To-device messages
	// (MSC4203) go the same way.
	Ephemeral        []syncapi.EphemeralEvent `json:"ephemeral,omitempty"`
	MSC2409Ephemeral []syncapi.EphemeralEvent `json:"de.sorunome.msc2409.ephemeral,omitempty"`
	ToDevice         []toDeviceEvent          `json:"to_device,omitempty"`
	MSC2409ToDevice  []toDeviceEvent          `json:"de.sorunome.msc2409.to_device,omitempty"`
	// MSC3202's device lists and key counts, under its unstable names and the ones it
	// proposes (mautrix-go reads either).
	DeviceLists         *deviceLists                                 `json:"device_lists,omitempty"`
	MSC3202DeviceLists  *deviceLists                                 `json:"org.matrix.msc3202.device_lists,omitempty"`
	OTKCounts           map[id.UserID]map[id.DeviceID]map[string]int `json:"device_one_time_keys_count,omitempty"`
	MSC3202OTKCounts    map[id.UserID]map[id.DeviceID]map[string]int `json:"org.matrix.msc3202.device_one_time_keys_count,omitempty"`
	FallbackKeys        map[id.UserID]map[id.DeviceID][]string       `json:"device_unused_fallback_key_types,omitempty"`
	MSC3202FallbackKeys map[id.UserID]map[id.DeviceID][]string       `json:"org.matrix.msc3202.device_unused_fallback_key_types,omitempty"`
}

// txnContent is what one transaction carries besides its events.
type txnContent struct {
	ephemeral   []syncapi.EphemeralEvent
	toDevice    []toDeviceEvent
	deviceLists *deviceLists
	keyCounts   *storage.KeyCounts
}

// empty reports whether c has nothing that calls for a transaction of its own. Key counts
// alone do not: they ride with the next transaction.
func (c txnContent) empty() bool {
	return len(c.ephemeral) == 0 && len(c.toDevice) == 0 && c.deviceLists == nil
}

// newTransaction renders events and the rest of a transaction's content as its body.
func (s *Sender) newTransaction(ctx context.Context, evs []*storage.Event, c txnContent) ([]byte, error) {
	// No viewer: unsigned.transaction_id is only for the device that sent an event. The
	// unsigned.age computed here is resent unchanged on retries, as the body must not change.
	formatted, err := s.rooms.FormatEvents(ctx, evs, rooms.FormatOptions{Now: s.opts.Now(), NoAggregations: true})
	if err != nil {
		return nil, err
	}
	txn := transaction{Events: formatted, Ephemeral: c.ephemeral, MSC2409Ephemeral: c.ephemeral, ToDevice: c.toDevice, MSC2409ToDevice: c.toDevice,
		DeviceLists: c.deviceLists, MSC3202DeviceLists: c.deviceLists}
	if c.keyCounts != nil {
		txn.OTKCounts, txn.MSC3202OTKCounts = c.keyCounts.OneTimeKeys, c.keyCounts.OneTimeKeys
		txn.FallbackKeys, txn.MSC3202FallbackKeys = c.keyCounts.FallbackKeys, c.keyCounts.FallbackKeys
	}
	return json.Marshal(txn)
}

// takeContent gathers what the next transaction carries besides events and key counts: queued
// ephemeral data, to-device messages and MSC3202's device lists, with how far the to-device and
// device-list streams reach.
func (w *worker) takeContent(ctx context.Context) (c txnContent, toDeviceUpto, deviceListsUpto int64, err error) {
	// Ephemeral data that a failure below loses is not resent: it is best effort.
	if c.ephemeral, err = w.takeEphemeral(ctx); err != nil {
		return c, 0, 0, fmt.Errorf("ephemeral interest: %w", err)
	}
	if c.toDevice, toDeviceUpto, err = w.takeToDevice(ctx); err != nil {
		return c, 0, 0, fmt.Errorf("to-device messages: %w", err)
	}
	if c.deviceLists, deviceListsUpto, err = w.takeDeviceLists(ctx); err != nil {
		return c, 0, 0, fmt.Errorf("device lists: %w", err)
	}
	return c, toDeviceUpto, deviceListsUpto, nil
}

// backoff is the wait after the failures-th failure in a row: MinBackoff doubled per earlier
// failure, capped at MaxBackoff, then shortened by a random up to a quarter (but never below
// MinBackoff), so that appservices that failed together do not all retry together. Until the
// cap the waits never shrink: the next one is at least ¾ of twice this one's upper bound.
func (s *Sender) backoff(failures int) time.Duration {
	d := s.opts.MinBackoff
	for i := 1; i < failures && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	if jitter := int64(d / 4); jitter > 0 {
		d -= time.Duration(rand.Int64N(jitter + 1))
	}
	return max(d, s.opts.MinBackoff)
}

// worker delivers to one appservice, for one registration: a changed registration gets a new
// worker. Only the worker's goroutine changes st, always under mu, so that Status can read it.
type worker struct {
	s      *Sender
	reg    *Registration
	log    *slog.Logger
	wake   chan struct{} // buffered 1: wake-ups coalesce
	cancel context.CancelFunc
	done   chan struct{}

	ephemeral ephemeralQueue // for the next transaction, if reg.ReceiveEphemeral

	mu sync.Mutex
	st workerState
}

// workerState mirrors the persisted delivery state, plus the retry schedule.
type workerState struct {
	started  bool // stream and inflight have been loaded
	stream   storage.AppserviceStream
	inflight *storage.AppserviceTxn
	retryAt  time.Time // zero unless waiting out a backoff
}

func (s *Sender) startWorker(ctx context.Context, reg *Registration) *worker {
	ctx, cancel := context.WithCancel(ctx)
	w := &worker{
		s:      s,
		reg:    reg,
		log:    s.log.With("appservice_id", reg.ID),
		wake:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go w.run(ctx)
	return w
}

// stop ends the worker, abandoning its request in flight, and waits for it.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) update(f func(st *workerState)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.st)
}

func (w *worker) nowMS() int64 { return w.s.opts.Now().UnixMilli() }

// run steps until ctx ends: after a failure it waits out a backoff (new events do not cut it
// short, the appservice being no more reachable for them), and when there is nothing to do it
// waits to be woken.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	failures := 0
	for {
		progressed, err := w.step(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			delay := w.s.backoff(failures)
			w.failed(ctx, err, delay)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if failures > 0 {
			w.log.InfoContext(ctx, "appservice delivery recovered", "failures", failures)
			failures = 0
			w.update(func(st *workerState) { st.retryAt = time.Time{} })
		}
		if !progressed {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			}
		}
	}
}

// failed records and logs a failed step.
func (w *worker) failed(ctx context.Context, err error, delay time.Duration) {
	now := w.s.opts.Now()
	w.mu.Lock()
	w.st.stream.LastError, w.st.stream.LastErrorTS = err.Error(), now.UnixMilli()
	w.st.retryAt = now.Add(delay)
	inflight := w.st.inflight
	w.mu.Unlock()
	if dbErr := w.s.db.RecordAppserviceError(ctx, w.reg.ID, err.Error(), now.UnixMilli()); dbErr != nil {
		err = errors.Join(err, dbErr)
	}
	if inflight != nil {
		w.log.WarnContext(ctx, "appservice transaction failed", "txn_id", txnIDString(inflight.TxnID), "err", err, "retry_in", delay)
	} else {
		w.log.WarnContext(ctx, "appservice delivery stalled", "err", err, "retry_in", delay)
	}
}

// step does the next piece of work: load the state, (re)send the transaction in flight, or
// read the next batch of events. It reports whether there may be more work right away.
func (w *worker) step(ctx context.Context) (bool, error) {
	switch {
	case !w.st.started:
		return true, w.load(ctx)
	case w.st.inflight != nil:
		return true, w.send(ctx)
	default:
		return w.scan(ctx)
	}
}

// load reads the persisted state, creating the cursor at the head of the stream for an
// appservice seen for the first time: registering one does not replay the server's history.
func (w *worker) load(ctx context.Context) error {
	head, err := w.s.db.Counter(ctx, "events")
	if err != nil {
		return err
	}
	stream, err := w.s.db.EnsureAppserviceStream(ctx, w.reg.ID, head, w.nowMS())
	if err != nil {
		return err
	}
	var inflight *storage.AppserviceTxn
	if txn, err := w.s.db.AppserviceTxnInFlight(ctx, w.reg.ID); err == nil {
		inflight = &txn
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	w.update(func(st *workerState) { st.started, st.stream, st.inflight = true, stream, inflight })
	return nil
}

// send (re)sends the transaction in flight exactly as stored, and on success moves the cursor
// to its end.
func (w *worker) send(ctx context.Context) error {
	txn := *w.st.inflight
	if err := w.s.deliver(ctx, w.reg, txn); err != nil {
		return err
	}
	// The appservice has the events. Record that even if we are stopping, so that the next
	// start does not send them again (which would be harmless, only wasteful).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), completeTimeout)
	defer cancel()
	now := w.nowMS()
	err := w.s.db.InTx(ctx, func(tx *storage.Tx) error { return tx.CompleteAppserviceTxn(ctx, txn, now) })
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("complete transaction %d: %w", txn.TxnID, err)
	}
	w.update(func(st *workerState) {
		st.inflight = nil
		st.stream.DeliveredPos, st.stream.LastSuccessTS = txn.UptoPos, now
		st.stream.ToDevicePos = max(st.stream.ToDevicePos, txn.ToDeviceUpto)
		st.stream.DeviceListsPos = max(st.stream.DeviceListsPos, txn.DeviceListsUpto)
	})
	return nil
}

// scan reads the next batch of events after the cursor and keeps those of interest, with the
// queued ephemeral data of interest. If there is none it moves the cursor past the batch;
// otherwise it stores them as the next transaction, whose delivery will move the cursor past
// the whole batch.
func (w *worker) scan(ctx context.Context) (bool, error) {
	cursor := w.st.stream.DeliveredPos
	head, err := w.s.db.Counter(ctx, "events")
	if err != nil {
		return false, err
	}
	var evs []*storage.Event
	upto := cursor
	if head > cursor {
		if evs, err = w.s.db.EventsInRange(ctx, cursor, head, w.s.opts.BatchSize); err != nil {
			return false, err
		}
		upto = head
		if len(evs) == w.s.opts.BatchSize {
			upto = evs[len(evs)-1].StreamPos
		}
	}
	var keep []*storage.Event
	for _, ev := range evs {
		w.s.interest.invalidate(ev)
		ok, err := w.s.interest.interested(ctx, w.reg, ev)
		if err != nil {
			return false, fmt.Errorf("interest in %s: %w", ev.ID, err)
		}
		if ok {
			keep = append(keep, ev)
		}
	}
	content, toDeviceUpto, deviceListsUpto, err := w.takeContent(ctx)
	if err != nil {
		return false, err
	}
	now := w.nowMS()
	if len(keep) == 0 && content.empty() {
		if upto == cursor {
			return false, nil
		}
		if err := w.s.db.AdvanceAppserviceStream(ctx, w.reg.ID, upto, now); err != nil {
			return false, err
		}
		w.update(func(st *workerState) { st.stream.DeliveredPos, st.stream.LastSuccessTS = upto, now })
		return true, nil
	}
	if content.keyCounts, err = w.keyCountsOf(ctx); err != nil {
		return false, fmt.Errorf("key counts: %w", err)
	}
	body, err := w.s.newTransaction(ctx, keep, content)
	if err != nil {
		return false, fmt.Errorf("render transaction: %w", err)
	}
	var txn storage.AppserviceTxn
	err = w.s.db.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		txn, err = tx.InsertAppserviceTxn(ctx, storage.AppserviceTxn{
			AppserviceID: w.reg.ID, UptoPos: upto, Body: body, EventCount: int64(len(keep)), CreatedTS: now,
			ToDeviceUpto: toDeviceUpto, DeviceListsUpto: deviceListsUpto,
		})
		return err
	})
	if err != nil {
		return false, err
	}
	w.log.DebugContext(ctx, "appservice transaction created", "txn_id", txnIDString(txn.TxnID), "events", len(keep), "ephemeral", len(content.ephemeral), "to_device", len(content.toDevice))
	w.update(func(st *workerState) { st.inflight = &txn })
	return true, nil
}
