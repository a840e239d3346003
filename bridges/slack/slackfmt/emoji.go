package slackfmt

import (
	"slices"
	"strconv"
	"strings"
)

//go:generate sh -c "test -n \"$EMOJI_DATASOURCE_DIR\" || { echo 'set EMOJI_DATASOURCE_DIR to an unpacked emoji-datasource npm package (see emoji_table.go)' >&2; exit 1; }"
//go:generate go run ./internal/genemoji -src $EMOJI_DATASOURCE_DIR -out emoji_table.go

// emojiPair is one row of the generated tables in emoji_table.go.
type emojiPair struct{ key, value string }

// skinToneModifiers are the Fitzpatrick modifiers U+1F3FB…U+1F3FF, which
// Slack calls skin-tone-2 … skin-tone-6.
const (
	firstSkinTone = '\U0001F3FB'
	lastSkinTone  = '\U0001F3FF'
)

func lookup(table []emojiPair, key string) (string, bool) {
	i, ok := slices.BinarySearchFunc(table, key, func(p emojiPair, k string) int { return strings.Compare(p.key, k) })
	if !ok {
		return "", false
	}
	return table[i].value, true
}

// ShortcodeToUnicode returns the Unicode emoji for a Slack shortcode given
// without colons: "smile", "thumbsup", or with a skin tone "+1::skin-tone-2"
// (how Slack writes ":+1::skin-tone-2:" in text and reaction names). An emoji
// with no such skin-tone variant is returned followed by the bare modifier,
// as Slack shows it. ok is false for unknown (for example custom) emoji.
func ShortcodeToUnicode(shortcode string) (string, bool) {
	if u, ok := lookup(emojiByShortcode[:], shortcode); ok {
		return u, true
	}
	name, tone, ok := cutSkinTone(shortcode)
	if !ok {
		return "", false
	}
	base, ok := lookup(emojiByShortcode[:], name)
	if !ok {
		return "", false
	}
	return base + string(rune(firstSkinTone+tone-2)), true
}

// cutSkinTone splits "name::skin-tone-N" into name and N (2…6).
func cutSkinTone(shortcode string) (name string, tone int, ok bool) {
	name, suffix, found := strings.Cut(shortcode, "::skin-tone-")
	if !found {
		return shortcode, 0, false
	}
	n, err := strconv.Atoi(suffix)
	if err != nil || n < 2 || n > 6 {
		return shortcode, 0, false
	}
	return name, n, true
}

// UnicodeToShortcode returns Slack's shortcode for a Unicode emoji, without
// colons, as reactions.add takes it ("+1", "+1::skin-tone-2"). U+FE0F
// variation selectors are ignored, so "❤" and "❤️" both give "heart". A
// sequence with several different skin tones, which Slack cannot express,
// gives the shortcode of the emoji without skin tone. ok is false when the
// string is not one emoji Slack knows (Matrix reactions may be any text).
func UnicodeToShortcode(emoji string) (string, bool) {
	key := strings.ReplaceAll(emoji, "\ufe0f", "")
	if name, ok := lookup(shortcodeByEmoji[:], key); ok {
		return name, true
	}
	// Drop the skin tones and try again: mixed tones, or a tone on an emoji
	// that has no such variant.
	var base strings.Builder
	tone := rune(0)
	mixed := false
	for _, r := range key {
		if r >= firstSkinTone && r <= lastSkinTone {
			if tone != 0 && tone != r {
				mixed = true
			}
			tone = r
			continue
		}
		base.WriteRune(r)
	}
	if tone == 0 || base.Len() == 0 {
		return "", false
	}
	name, ok := lookup(shortcodeByEmoji[:], base.String())
	if !ok {
		return "", false
	}
	if !mixed {
		if toned := name + "::skin-tone-" + strconv.Itoa(int(tone-firstSkinTone)+2); hasShortcode(toned) {
			return toned, true
		}
	}
	return name, true
}

func hasShortcode(shortcode string) bool {
	_, ok := lookup(emojiByShortcode[:], shortcode)
	return ok
}
