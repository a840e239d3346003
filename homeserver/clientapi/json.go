package clientapi

import (
	"encoding/json/jsontext"
	"encoding/json/v2"
)

// marshalObject encodes a decoded JSON object back to bytes with sorted keys.
func marshalObject(m map[string]jsontext.Value) (jsontext.Value, error) {
	if m == nil {
		return jsontext.Value("{}"), nil
	}
	return json.Marshal(m, json.Deterministic(true))
}
