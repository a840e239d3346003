package slack

import (
	"context"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"
)

const (
	// emojiTimeout bounds resolving one custom emoji (emoji.list, download, upload) while a
	// message is converted.
	emojiTimeout = 10 * time.Second
	// maxEmojiBytes bounds a custom emoji image.
	maxEmojiBytes = 1 << 20
	// maxAliasHops bounds following alias:name chains.
	maxAliasHops = 5
)

// emojiCache holds a workspace's custom emoji: their Slack URLs from emoji.list, and the mxc
// URIs of those copied to the media repository. Copies are made on first use; the content-
// addressed media store keeps one copy however often they are copied again after a restart.
type emojiCache struct {
	mu     sync.Mutex
	urls   map[string]string // name -> image URL or "alias:other"; nil until loaded
	copies map[string]id.ContentURI
}

// forget drops what is known, after Slack said the workspace's emoji changed.
func (c *emojiCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.urls, c.copies = nil, nil
}

// customEmoji returns the mxc URI of a workspace's custom emoji, copying it on first use.
func (w *workspace) customEmoji(ctx context.Context, name string) (id.ContentURI, bool) {
	ctx, cancel := context.WithTimeout(ctx, emojiTimeout)
	defer cancel()
	url, ok := w.emojiURL(ctx, name)
	if !ok {
		return id.ContentURI{}, false
	}
	w.emoji.mu.Lock()
	uri, ok := w.emoji.copies[url]
	w.emoji.mu.Unlock()
	if ok {
		return uri, true
	}
	uri, err := w.copyImage(ctx, w.b.as.BotIntent(), url, name, maxEmojiBytes)
	if err != nil {
		w.log.WarnContext(ctx, "cannot copy a custom emoji", "emoji", name, "error", err)
		return id.ContentURI{}, false
	}
	w.emoji.mu.Lock()
	if w.emoji.copies == nil {
		w.emoji.copies = map[string]id.ContentURI{}
	}
	w.emoji.copies[url] = uri
	w.emoji.mu.Unlock()
	return uri, true
}

// emojiURL returns the image URL of a custom emoji, following aliases, loading emoji.list
// the first time.
func (w *workspace) emojiURL(ctx context.Context, name string) (string, bool) {
	w.emoji.mu.Lock()
	loaded := w.emoji.urls != nil
	w.emoji.mu.Unlock()
	if !loaded {
		urls, err := w.src.CustomEmoji(ctx)
		if err != nil {
			w.log.WarnContext(ctx, "cannot list custom emoji", "error", err)
			return "", false
		}
		w.emoji.mu.Lock()
		w.emoji.urls = urls
		w.emoji.mu.Unlock()
	}
	w.emoji.mu.Lock()
	defer w.emoji.mu.Unlock()
	for range maxAliasHops {
		url, ok := w.emoji.urls[name]
		if !ok {
			return "", false
		}
		target, isAlias := strings.CutPrefix(url, "alias:")
		if !isAlias {
			return url, true
		}
		name = target
	}
	return "", false
}
