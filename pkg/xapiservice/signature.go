package xapiservice

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "crypto/sha256" // RS256
	_ "crypto/sha512" // RS384, RS512

	"github.com/streamlrs/streamlrs/pkg/xapi"
)

var jwsHashes = map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512}

// verifySignature checks a signed statement (xAPI Data 2.6): the signature
// attachment is a JWS in compact serialization using RS256/384/512, whose
// payload is the statement as it was before the signature was attached.
// When the JWS header carries an X.509 chain (x5c), the signature is checked
// against its first certificate; without one there is no key to check
// against, and only the form and the payload are verified.
func verifySignature(st xapi.Prepared, ref attachmentRef, p Part, v xapi.Version, a xapi.Assign) error {
	if ref.ContentType != mimeOctetStream {
		return fmt.Errorf("the signature attachment's contentType must be %s, not %q", mimeOctetStream, ref.ContentType)
	}
	segs := strings.Split(string(bytes.TrimSpace(p.Content)), ".")
	if len(segs) != 3 {
		return errors.New("not a JWS in compact serialization (header.payload.signature)")
	}
	raw := make([][]byte, 3)
	for i, s := range segs {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return fmt.Errorf("JWS segment %d is not base64url: %w", i+1, err)
		}
		raw[i] = b
	}
	var hdr struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw[0], &hdr); err != nil {
		return fmt.Errorf("JWS header is not JSON: %w", err)
	}
	h, ok := jwsHashes[hdr.Alg]
	if !ok {
		return fmt.Errorf("JWS algorithm %q: must be RS256, RS384 or RS512", hdr.Alg)
	}
	if len(raw[2]) == 0 {
		return errors.New("JWS has an empty signature")
	}
	if len(hdr.X5C) > 0 {
		der, err := base64.StdEncoding.DecodeString(hdr.X5C[0])
		if err != nil {
			return fmt.Errorf("x5c certificate is not base64: %w", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("x5c certificate: %w", err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return errors.New("x5c certificate does not hold an RSA key")
		}
		hasher := h.New()
		hasher.Write([]byte(segs[0] + "." + segs[1]))
		if err := rsa.VerifyPKCS1v15(pub, h, hasher.Sum(nil), raw[2]); err != nil {
			return errors.New("the JWS signature does not verify with the x5c certificate")
		}
	}
	payload, err := xapi.PrepareStatements(raw[1], v, xapi.Assign{
		Stored: time.Unix(0, 0).UTC(), Authority: a.Authority, StatementID: st.ID,
		NewID: func() string { return st.ID },
	})
	if err != nil {
		return fmt.Errorf("the JWS payload is not a valid statement: %w", err)
	}
	unsigned, err := withoutSignature(st.JSON, bytes.Contains(raw[1], []byte(`"timestamp"`)))
	if err != nil {
		return err
	}
	orig, err := xapi.PrepareStatements(unsigned, v, xapi.Assign{
		Stored: time.Unix(0, 0).UTC(), Authority: a.Authority, StatementID: st.ID,
		NewID: func() string { return st.ID },
	})
	if err != nil {
		return fmt.Errorf("statement without its signature: %w", err)
	}
	if len(payload) != 1 || payload[0].Fingerprint != orig[0].Fingerprint {
		return errors.New("the JWS payload differs from the statement")
	}
	return nil
}

// withoutSignature removes the signature attachment from a statement, which
// is what the signer signed.
func withoutSignature(stmt []byte, keepTimestamp bool) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(stmt, &m); err != nil {
		return nil, err
	}
	var atts []json.RawMessage
	if err := json.Unmarshal(m["attachments"], &atts); err != nil {
		return nil, err
	}
	kept := atts[:0]
	for _, a := range atts {
		var ref attachmentRef
		if json.Unmarshal(a, &ref) == nil && ref.UsageType == usageTypeSignature {
			continue
		}
		kept = append(kept, a)
	}
	if len(kept) == 0 {
		delete(m, "attachments")
	} else {
		b, _ := json.Marshal(kept)
		m["attachments"] = b
	}
	// stored is the LRS's, not the signer's.
	delete(m, "stored")
	if !keepTimestamp {
		// The LRS filled in timestamp; the signed payload had none.
		delete(m, "timestamp")
	}
	return json.Marshal(m)
}
