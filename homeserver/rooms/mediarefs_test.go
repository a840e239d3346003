package rooms

import (
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

func TestContentURIs(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    []string
	}{
		{`{"body":"hi"}`, nil},
		{`{"url":"mxc://a.example/one","info":{"thumbnail_url":"mxc://a.example/two"}}`, []string{"mxc://a.example/one", "mxc://a.example/two"}},
		{`{"file":{"url":"mxc://b.example/enc"},"x":["mxc://b.example/enc",{"deep":["mxc://c.example/three"]}]}`, []string{"mxc://b.example/enc", "mxc://c.example/three"}},
		{`{"url":"mxc://nohost","avatar_url":"mxc://a.example/","body":"see mxc://a.example/inbody"}`, nil},
		{`{"avatar_url":"mxc://a.example/avatar","membership":"join"}`, []string{"mxc://a.example/avatar"}},
	} {
		var got []string
		for _, u := range contentURIs([]byte(tc.content)) {
			got = append(got, u.String())
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: got %v, want %v", tc.content, got, tc.want)
		}
	}
}

func TestContentURIsBounded(t *testing.T) {
	var items []string
	for i := range 200 {
		items = append(items, fmt.Sprintf(`"mxc://a.example/m%d"`, i))
	}
	uris := contentURIs([]byte(`{"list":[` + strings.Join(items, ",") + `]}`))
	if len(uris) != maxMediaRefs {
		t.Errorf("got %d references, want the cap of %d", len(uris), maxMediaRefs)
	}
	if uris[0] != (id.ContentURI{Homeserver: "a.example", FileID: "m0"}) {
		t.Errorf("first reference %s", uris[0])
	}
}
