package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/storage/storagetest"
)

// BenchmarkSend measures the whole send path over HTTP: authentication, transaction-ID
// bookkeeping, building, signing and authorizing the PDU, and persisting it in one transaction.
func BenchmarkSend(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(b, driver, dsn)
		cli := ts.register(b, "bench")
		room, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			if _, err := cli.SendText(ctx, room.RoomID, fmt.Sprintf("message %d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSendParallel measures send throughput with several users writing to one room at once.
func BenchmarkSendParallel(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(b, driver, dsn)
		owner := ts.register(b, "owner")
		room, err := owner.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			b.Fatal(err)
		}
		clients := make(chan *mautrix.Client, 16)
		for i := range cap(clients) {
			cli := ts.register(b, fmt.Sprintf("sender%d", i))
			if _, err := cli.JoinRoomByID(ctx, room.RoomID); err != nil {
				b.Fatal(err)
			}
			clients <- cli
		}
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			cli := <-clients
			for i := 0; pb.Next(); i++ {
				if _, err := cli.SendText(ctx, room.RoomID, fmt.Sprintf("message %d", i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSyncWakeup measures how long a parked incremental /sync long-poll takes to return
// a new event: from the start of the send until the waiting reader has the event.
func BenchmarkSyncWakeup(b *testing.B) {
	storagetest.EachDSNBench(b, func(b *testing.B, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(b, driver, dsn)
		sender := ts.register(b, "sender")
		reader := ts.register(b, "reader")
		room, err := sender.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := reader.JoinRoomByID(ctx, room.RoomID); err != nil {
			b.Fatal(err)
		}
		first, err := reader.SyncRequest(ctx, 0, "", "", false, "")
		if err != nil {
			b.Fatal(err)
		}
		received := make(chan id.EventID)
		// Cancelling ends the reader's parked long poll, so the test server can close.
		readCtx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			since := first.NextBatch
			for {
				resp, err := reader.SyncRequest(readCtx, 30000, since, "", false, "")
				if err != nil {
					return
				}
				since = resp.NextBatch
				if joined := resp.Rooms.Join[room.RoomID]; joined != nil {
					for _, ev := range joined.Timeline.Events {
						select {
						case received <- ev.ID:
						case <-readCtx.Done():
							return
						}
					}
				}
			}
		}()
		b.ResetTimer()
		for i := range b.N {
			b.StopTimer()
			time.Sleep(2 * time.Millisecond) // let the reader park in its long poll
			b.StartTimer()
			resp, err := sender.SendText(ctx, room.RoomID, fmt.Sprintf("wake %d", i))
			if err != nil {
				b.Fatal(err)
			}
			for got := range received {
				if got == resp.EventID {
					break
				}
			}
		}
	})
}
