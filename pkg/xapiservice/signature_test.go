package xapiservice

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"
)

// jws signs payload in compact serialization; x5c, when set, is the
// header's certificate chain.
func jws(t *testing.T, key *rsa.PrivateKey, alg string, payload []byte, x5c ...[]byte) []byte {
	t.Helper()
	hashes := map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512}
	enc := base64.RawURLEncoding
	hdr := `{"alg":"` + alg + `"`
	if len(x5c) > 0 {
		hdr += `,"x5c":["` + base64.StdEncoding.EncodeToString(x5c[0]) + `"]`
	}
	signing := enc.EncodeToString([]byte(hdr+"}")) + "." + enc.EncodeToString(payload)
	h := hashes[alg]
	if h == 0 {
		h = crypto.SHA256
	}
	d := h.New()
	d.Write([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(signing + "." + enc.EncodeToString(sig))
}

func certificate(t *testing.T, pub, priv any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSignedStatements(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := certificate(t, &key.PublicKey, key)
	stmt := withID(id1, statement("completed", "signed"))
	differs := withID(id1, statement("failed", "signed"))
	enc := base64.RawURLEncoding
	cases := []struct {
		name        string
		sig         []byte
		contentType string
		want        string // "" accepted
	}{
		{"RS512 without a certificate", jws(t, key, "RS512", []byte(stmt)), mimeOctetStream, ""},
		{"RS256 with its certificate", jws(t, key, "RS256", []byte(stmt), cert), mimeOctetStream, ""},
		{"RS384 signed by another key", jws(t, other, "RS384", []byte(stmt), cert), mimeOctetStream, "does not verify with the x5c certificate"},
		{"certificate without an RSA key", jws(t, key, "RS256", []byte(stmt), certificate(t, &ec.PublicKey, ec)), mimeOctetStream, "does not hold an RSA key"},
		{"certificate not DER", jws(t, key, "RS256", []byte(stmt), []byte("junk")), mimeOctetStream, "x5c certificate"},
		{"payload differs", jws(t, key, "RS256", []byte(differs)), mimeOctetStream, "payload differs"},
		{"HS256 refused", jws(t, key, "HS256", []byte(stmt)), mimeOctetStream, `algorithm "HS256"`},
		{"payload not JSON", jws(t, key, "RS256", []byte("{not json")), mimeOctetStream, "payload is not a valid statement"},
		{"wrong content type", jws(t, key, "RS256", []byte(stmt)), "text/plain", "contentType must be application/octet-stream"},
		{"not compact", []byte("a.b"), mimeOctetStream, "compact serialization"},
		{"not base64url", []byte("a.b.!!"), mimeOctetStream, "not base64url"},
		{"header not JSON", []byte(enc.EncodeToString([]byte("x")) + ".e30.c2ln"), mimeOctetStream, "header is not JSON"},
		{"empty signature", []byte(enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(stmt)) + "."), mimeOctetStream, "empty signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newStatements(t, StatementConfig{}, nil)
			signed := withAttachment(stmt, usageTypeSignature, tc.contentType, sha(tc.sig), "")
			_, err := f.post(writer, signed, Part{Hash: sha(tc.sig), ContentType: mimeOctetStream, Content: tc.sig})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := wantStatus(t, err, 400, tc.want)
			if !strings.Contains(e.Message, "statement "+id1+": signature:") {
				t.Fatalf("message %q does not name the statement", e.Message)
			}
		})
	}
}

// A signature keeps the other attachments and the timestamp the signer
// chose; stored is the LRS's.
func TestSignedStatementWithOtherAttachmentsAndTimestamp(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert := []byte("certificate")
	stmt := withAttachment(withID(id1, `{"timestamp":"2026-01-02T03:04:05.000Z",`+statement("completed", "signed")[1:]), "http://example.com/certificate", "text/plain", sha(cert), "")
	sig := jws(t, key, "RS256", []byte(stmt))
	signed := strings.Replace(stmt, `"attachments":[`, `"attachments":[{"usageType":"`+usageTypeSignature+`","display":{"en-US":"s"},"contentType":"application/octet-stream","length":1,"sha2":"`+sha(sig)+`"},`, 1)
	f := newStatements(t, StatementConfig{}, nil)
	if _, err := f.post(writer, signed, Part{Hash: sha(sig), ContentType: mimeOctetStream, Content: sig}, Part{Hash: sha(cert), ContentType: "text/plain", Content: cert}); err != nil {
		t.Fatal(err)
	}
}
