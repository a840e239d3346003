package fakeslack

import "encoding/json"

// richText is the block a Slack client attaches to a message typed as text: one
// rich_text block holding one rich_text_section with the text as a single text element.
// A real client also turns mentions, links and formatting into their own elements; the
// fake keeps the text whole.
func richText(text string) json.RawMessage {
	blocks, _ := json.Marshal([]obj{{
		"type":     "rich_text",
		"block_id": newBlockID(),
		"elements": []obj{{
			"type":     "rich_text_section",
			"elements": []obj{{"type": "text", "text": text}},
		}},
	}})
	return blocks
}

// blocksOrRichText returns blocks with their block IDs, or richText(text) when blocks is nil.
func blocksOrRichText(blocks json.RawMessage, text string) (json.RawMessage, error) {
	if blocks == nil {
		return richText(text), nil
	}
	return withBlockIDs(blocks)
}

// withBlockIDs checks that raw is a JSON array of blocks and gives a block_id to every
// block without one, as Slack does when it stores a message.
func withBlockIDs(raw json.RawMessage) (json.RawMessage, error) {
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, errInvalidBlocks
	}
	for _, block := range blocks {
		if _, ok := block["type"]; !ok {
			return nil, errInvalidBlocks
		}
		if _, ok := block["block_id"]; !ok {
			block["block_id"], _ = json.Marshal(newBlockID())
		}
	}
	return json.Marshal(blocks)
}

// newBlockID returns a random block ID of the length Slack generates.
func newBlockID() string { return randomHex(3)[:5] }
