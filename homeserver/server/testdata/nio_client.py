"""Drive a Causeway server with matrix-nio (Debian's python3-matrix-nio), a widely deployed
client that still speaks the r0 API and sends access tokens as a query parameter.

usage: nio_client.py HOMESERVER_URL
Prints one JSON object with what it saw; exits non-zero on any failure.
"""
import asyncio
import json
import sys

from nio import AsyncClient, LoginResponse, RegisterResponse, RoomCreateResponse, RoomSendResponse, SyncResponse, RoomMessagesResponse


async def main(url):
    client = AsyncClient(url, "niouser")
    resp = await client.register("niouser", "nio password 123")
    if not isinstance(resp, RegisterResponse):
        raise SystemExit(f"register: {resp}")
    await client.close()

    client = AsyncClient(url, "@niouser:localhost")
    resp = await client.login("nio password 123", device_name="nio test")
    if not isinstance(resp, LoginResponse):
        raise SystemExit(f"login: {resp}")
    created = await client.room_create(name="nio room", topic="from nio")
    if not isinstance(created, RoomCreateResponse):
        raise SystemExit(f"room_create: {created}")
    first = await client.sync(timeout=0, full_state=True)
    if not isinstance(first, SyncResponse):
        raise SystemExit(f"sync: {first}")
    sent = await client.room_send(created.room_id, "m.room.message", {"msgtype": "m.text", "body": "hello from nio"})
    if not isinstance(sent, RoomSendResponse):
        raise SystemExit(f"room_send: {sent}")
    second = await client.sync(timeout=5000, since=first.next_batch)
    if not isinstance(second, SyncResponse):
        raise SystemExit(f"sync: {second}")
    timeline = second.rooms.join[created.room_id].timeline.events
    history = await client.room_messages(created.room_id, second.next_batch, limit=20)
    if not isinstance(history, RoomMessagesResponse):
        raise SystemExit(f"room_messages: {history}")
    room = client.rooms[created.room_id]
    print(json.dumps({
        "user_id": client.user_id,
        "room_id": created.room_id,
        "sent_event_id": sent.event_id,
        "timeline_event_ids": [e.event_id for e in timeline],
        "history_bodies": [getattr(e, "body", None) for e in history.chunk],
        "room_name": room.name,
        "room_topic": room.topic,
    }))
    await client.logout()
    await client.close()


asyncio.run(main(sys.argv[1]))
