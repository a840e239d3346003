package appservice_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	mxappservice "maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/appservice"
	"causeway/homeserver/storage/storagetest"
)

// The benchmarks compare the two hops between the homeserver and an appservice: loopback
// HTTP and the in-process transport. Ordinary users reach the homeserver over a loopback
// socket in both, as real clients would, so the difference is the appservice hop alone.

// eachHop runs fn for each hop, on each database engine, each run on a fresh database.
func eachHop(b *testing.B, fn func(b *testing.B, env *hopEnv)) {
	for _, hop := range []asHop{hopLoopback, hopInProcess} {
		b.Run(string(hop), func(b *testing.B) {
			storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
				fn(b, startHopEnv(b, driver, dsn, hop, true))
			})
		})
	}
}

// portal is a room that a ghost of the appservice has joined, so that the appservice gets its
// events, with an ordinary user who sends to it.
type portal struct {
	room   id.RoomID
	sender *mautrix.Client
}

func (env *hopEnv) portals(b *testing.B, n int) []portal {
	b.Helper()
	ctx := context.Background()
	ghost := env.as.Intent("@_bridge_watcher:localhost")
	out := make([]portal, n)
	for i := range out {
		sender := env.user(b, fmt.Sprintf("sender%d", i))
		room, err := sender.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			b.Fatal(err)
		}
		if err := ghost.EnsureJoined(ctx, room.RoomID); err != nil {
			b.Fatal(err)
		}
		out[i] = portal{room: room.RoomID, sender: sender}
	}
	return out
}

// messages passes on the IDs of the messages the appservice receives, in order of receipt.
func (env *hopEnv) messages() <-chan id.EventID {
	out := make(chan id.EventID, 1024)
	go func() {
		for {
			select {
			case ev := <-env.events:
				if ev.Type != event.EventMessage {
					continue
				}
				select {
				case out <- ev.ID:
				case <-env.done:
					return
				}
			case <-env.done:
				return
			}
		}
	}()
	return out
}

// BenchmarkAppserviceDeliveryThroughput measures events per second from the start of
// sending until the appservice has received them all in transactions. Eight users send at
// once, each to their own portal, so that delivery, not one room's send rate, sets the pace;
// the sender batches what accumulates while a transaction is in flight.
func BenchmarkAppserviceDeliveryThroughput(b *testing.B) {
	const senders = 8
	eachHop(b, func(b *testing.B, env *hopEnv) {
		ctx := context.Background()
		portals := env.portals(b, senders)
		received := env.messages()
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for i, p := range portals {
			n := b.N / senders
			if i < b.N%senders {
				n++
			}
			wg.Go(func() {
				for j := range n {
					if _, err := p.sender.SendText(ctx, p.room, fmt.Sprintf("message %d", j)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		timeout := time.After(5 * time.Minute)
		for range b.N {
			select {
			case <-received:
			case <-timeout:
				b.Fatal("the appservice did not receive every event")
			}
		}
		elapsed := time.Since(start)
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	})
}

// BenchmarkAppserviceDeliveryLatency measures one event's trip from the start of a user's
// send until the appservice has it, with the appservice's sender parked, idle and waiting
// for a wake-up, at the start of each.
func BenchmarkAppserviceDeliveryLatency(b *testing.B) {
	eachHop(b, func(b *testing.B, env *hopEnv) {
		ctx := context.Background()
		p := env.portals(b, 1)[0]
		received := env.messages()
		b.ResetTimer()
		for i := range b.N {
			b.StopTimer()
			time.Sleep(2 * time.Millisecond) // let the sender finish the last transaction and park
			b.StartTimer()
			resp, err := p.sender.SendText(ctx, p.room, fmt.Sprintf("ping %d", i))
			if err != nil {
				b.Fatal(err)
			}
			timeout := time.After(30 * time.Second)
		wait:
			for {
				select {
				case got := <-received:
					if got == resp.EventID {
						break wait
					}
				case <-timeout:
					b.Fatalf("the appservice did not receive %s", resp.EventID)
				}
			}
		}
	})
}

// BenchmarkAppserviceTransactionHop isolates the hop itself: one PUT of a one-event
// transaction, as the sender makes it, to a mautrix-go appservice that hands the event on,
// with no homeserver and no database behind it.
func BenchmarkAppserviceTransactionHop(b *testing.B) {
	const hsToken = "hs-token-testbridge-0123456789"
	for _, hop := range []asHop{hopLoopback, hopInProcess} {
		b.Run(string(hop), func(b *testing.B) {
			as, err := mxappservice.CreateFull(mxappservice.CreateOpts{
				Registration:     &mxappservice.Registration{ID: "testbridge", ServerToken: hsToken, AppToken: "as-token", SenderLocalpart: "bridgebot"},
				HomeserverDomain: "localhost", HomeserverURL: "http://" + inProcHSHost,
			})
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			defer close(done)
			go func() {
				for {
					select {
					case <-as.Events:
					case <-done:
						return
					}
				}
			}()
			var client *http.Client
			var base string
			switch hop {
			case hopInProcess:
				transport := appservice.NewInProcessTransport(nil, nil)
				transport.Handle(inProcASHost, as.Router)
				client, base = transport.Client(), "http://"+inProcASHost
			case hopLoopback:
				srv := httptest.NewServer(as.Router)
				defer srv.Close()
				client, base = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}, srv.URL
				defer client.CloseIdleConnections()
			}
			const body = `{"events":[{"type":"m.room.message","room_id":"!portal:localhost","sender":"@alice:localhost",` +
				`"event_id":"$%d","origin_server_ts":1700000000000,"content":{"msgtype":"m.text","body":"to the bridge"}}]}`
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/_matrix/app/v1/transactions/%d", base, i),
					strings.NewReader(fmt.Sprintf(body, i)))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+hsToken)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("transaction answered %s", resp.Status)
				}
			}
		})
	}
}
