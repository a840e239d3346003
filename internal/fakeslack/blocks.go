package fakeslack

import "encoding/json"

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
