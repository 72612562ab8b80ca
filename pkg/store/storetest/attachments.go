package storetest

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/streamlrs/streamlrs/pkg/store"
)

// Bodies are content-addressed per tenant: read back by hash in any case,
// stored once whatever is sent again, and invisible to other tenants.
func testAttachments(t *testing.T, open Factory) {
	s := open(t)
	const sumA, sumB, sumC = "aa11", "bb22", "cc33"
	if err := s.PutAttachments(ctx(t), "t1", []store.Attachment{
		{SHA2: strings.ToUpper(sumA), ContentType: "text/plain", Content: []byte("a")},
		{SHA2: sumB, ContentType: "application/octet-stream", Content: []byte{0, 1, 2}},
	}); err != nil {
		t.Fatalf("PutAttachments: %v", err)
	}
	// The same hash again is the same body: the first one stays.
	if err := s.PutAttachments(ctx(t), "t1", []store.Attachment{{SHA2: sumA, ContentType: "text/other", Content: []byte("a")}}); err != nil {
		t.Fatalf("PutAttachments again: %v", err)
	}
	if err := s.PutAttachments(ctx(t), "t2", []store.Attachment{{SHA2: sumC, ContentType: "text/plain", Content: []byte("c")}}); err != nil {
		t.Fatalf("PutAttachments in t2: %v", err)
	}
	if err := s.PutAttachments(ctx(t), "t1", nil); err != nil {
		t.Fatalf("PutAttachments of nothing: %v", err)
	}
	tests := []struct {
		name   string
		tenant string
		ask    []string
		want   []store.Attachment
	}{
		{"by hash", "t1", []string{sumA, sumB}, []store.Attachment{
			{SHA2: sumA, ContentType: "text/plain", Content: []byte("a")},
			{SHA2: sumB, ContentType: "application/octet-stream", Content: []byte{0, 1, 2}},
		}},
		{"any case", "t1", []string{strings.ToUpper(sumB)}, []store.Attachment{
			{SHA2: sumB, ContentType: "application/octet-stream", Content: []byte{0, 1, 2}},
		}},
		{"missing left out", "t1", []string{sumA, "dd44"}, []store.Attachment{
			{SHA2: sumA, ContentType: "text/plain", Content: []byte("a")},
		}},
		{"another tenant's body", "t1", []string{sumC}, nil},
		{"own body only", "t2", []string{sumA, sumB, sumC}, []store.Attachment{
			{SHA2: sumC, ContentType: "text/plain", Content: []byte("c")},
		}},
		{"nothing asked", "t1", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.GetAttachments(ctx(t), tt.tenant, tt.ask)
			if err != nil {
				t.Fatalf("GetAttachments: %v", err)
			}
			slices.SortFunc(got, func(a, b store.Attachment) int { return strings.Compare(a.SHA2, b.SHA2) })
			if len(got) != len(tt.want) {
				t.Fatalf("GetAttachments(%s, %v) = %+v, want %+v", tt.tenant, tt.ask, got, tt.want)
			}
			for i, w := range tt.want {
				if g := got[i]; g.SHA2 != w.SHA2 || g.ContentType != w.ContentType || string(g.Content) != string(w.Content) {
					t.Fatalf("GetAttachments(%s, %v)[%d] = %+v, want %+v", tt.tenant, tt.ask, i, g, w)
				}
			}
		})
	}
}

// A body sent with statements grants it to those statements only, in their
// tenant, whatever the case of the id and hash asked for.
func testAttachmentGrants(t *testing.T, open Factory) {
	s := open(t)
	sentWith, other := newID(), newID()
	const sum, sum2 = "aa11", "bb22"
	err := s.PutAttachments(ctx(t), "t1", []store.Attachment{
		{SHA2: sum, ContentType: "text/plain", Content: []byte("a"), SentWith: []string{sentWith}},
		{SHA2: sum2, ContentType: "text/plain", Content: []byte("b")},
	})
	if err != nil {
		t.Fatalf("PutAttachments: %v", err)
	}
	ask := []store.AttachmentGrant{
		{StatementID: strings.ToUpper(sentWith), SHA2: strings.ToUpper(sum)},
		{StatementID: other, SHA2: sum},
		{StatementID: sentWith, SHA2: sum2},
	}
	got, err := s.Granted(ctx(t), "t1", ask)
	if err != nil {
		t.Fatalf("Granted: %v", err)
	}
	want := map[store.AttachmentGrant]bool{{StatementID: sentWith, SHA2: sum}: true}
	if !maps.Equal(got, want) {
		t.Fatalf("Granted = %v, want %v", got, want)
	}
	if got, err := s.Granted(ctx(t), "t2", ask); err != nil || len(got) != 0 {
		t.Fatalf("Granted in another tenant = %v, %v; want none", got, err)
	}
	if got, err := s.Granted(ctx(t), "t1", nil); err != nil || len(got) != 0 {
		t.Fatalf("Granted of nothing = %v, %v", got, err)
	}
}
