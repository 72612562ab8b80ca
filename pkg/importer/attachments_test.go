package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestSplitMultipart reads what multipartBody writes, Learning Locker's
// answer without the CRLF before its closing delimiter, and refuses a part
// that does not hash to its header.
func TestSplitMultipart(t *testing.T) {
	content := []byte("certificate\r\n--not a boundary")
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])
	body, ct, err := multipartBody([]byte(`[{"id":"x"}]`), []Part{{Hash: h, ContentType: "text/plain", Content: content}})
	if err != nil {
		t.Fatal(err)
	}
	js, parts, err := splitMultipart(ct, body)
	if err != nil || string(js) != `[{"id":"x"}]` || string(parts[h].Content) != string(content) || parts[h].ContentType != "text/plain" {
		t.Fatalf("round trip: %s, %+v, %v", js, parts, err)
	}

	ll := "\r\n--zzzlearninglockerzzz\r\nContent-Type:application/json; charset=UTF-8\r\nContent-Length:16\r\n\r\n{\"statements\":[]}--zzzlearninglockerzzz--"
	js, parts, err = splitMultipart("multipart/mixed; charset=UTF-8; boundary=zzzlearninglockerzzz", []byte(ll))
	if err != nil || string(js) != `{"statements":[]}` || len(parts) != 0 {
		t.Fatalf("Learning Locker's answer: %s, %+v, %v", js, parts, err)
	}

	bad := strings.Replace(string(body), "certificate", "certifikate", 1)
	if _, _, err := splitMultipart(ct, []byte(bad)); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("a part that does not match its hash: %v", err)
	}
}
