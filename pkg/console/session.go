package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// sessions issues and checks the console's session cookies. A session is
// stateless, "expiry.nonce.mac" signed with a key derived from the admin
// token: every API instance with the same token accepts it, and changing
// the token ends every session.
type sessions struct {
	key   []byte
	token [32]byte // SHA-256 of the admin token, compared in constant time
	ttl   time.Duration
	now   func() time.Time
}

func newSessions(token string, ttl time.Duration) *sessions {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("lrs console session key"))
	return &sessions{key: mac.Sum(nil), token: sha256.Sum256([]byte(token)), ttl: ttl, now: time.Now}
}

// login checks the admin token an operator typed.
func (s *sessions) login(token string) bool {
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

var b64 = base64.RawURLEncoding

func (s *sessions) sign(parts ...string) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(strings.Join(parts, ".")))
	return b64.EncodeToString(mac.Sum(nil))
}

// issue returns a new session cookie value and when it expires.
func (s *sessions) issue() (string, time.Time, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", time.Time{}, err
	}
	exp := s.now().Add(s.ttl).Truncate(time.Second)
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], uint64(exp.Unix()))
	head := b64.EncodeToString(e[:]) + "." + b64.EncodeToString(nonce[:])
	return head + "." + s.sign("session", head), exp, nil
}

var errSession = errors.New("no valid session")

// check returns the session's id (its nonce) if v is a session this key
// signed and it has not expired.
func (s *sessions) check(v string) (string, error) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", errSession
	}
	head := parts[0] + "." + parts[1]
	if !hmac.Equal([]byte(parts[2]), []byte(s.sign("session", head))) {
		return "", errSession
	}
	e, err := b64.DecodeString(parts[0])
	if err != nil || len(e) != 8 {
		return "", errSession
	}
	if !s.now().Before(time.Unix(int64(binary.BigEndian.Uint64(e)), 0)) {
		return "", errSession
	}
	return parts[1], nil
}

// csrf is the token every form of a session carries: bound to the session,
// so a page of another origin can neither read nor forge it.
func (s *sessions) csrf(session string) string { return s.sign("csrf", session) }

func (s *sessions) checkCSRF(session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.csrf(session)))
}
