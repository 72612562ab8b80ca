// Package auth authenticates xAPI clients: credentials (key and secret) of a
// tenant with xAPI scopes and an authority. Secrets are kept only as salted
// PBKDF2 hashes; a verified key/secret pair is cached under a digest so that
// the slow hash is paid once per credential, not once per request.
package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// hashIterations makes a stolen hash table expensive to brute-force; the
// verification cache keeps it off the request path.
const hashIterations = 120_000

// HashSecret returns the stored form of secret:
// pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>.
func HashSecret(secret string) (string, error) {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	sum, err := pbkdf2.Key(sha256.New, secret, salt[:], hashIterations, 32)
	if err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%x$%x", hashIterations, salt, sum), nil
}

// VerifySecret reports whether secret matches a HashSecret result, in
// constant time with respect to the secret.
func VerifySecret(stored, secret string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false, errors.New("unknown secret hash format")
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 {
		return false, errors.New("bad iteration count in secret hash")
	}
	salt, err1 := hex.DecodeString(parts[2])
	want, err2 := hex.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errors.New("bad hex in secret hash")
	}
	got, err := pbkdf2.Key(sha256.New, secret, salt, iter, len(want))
	if err != nil {
		return false, fmt.Errorf("hash secret: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewKey returns a random credential key (public, appears in logs): 16
// characters of a-z and 2-7, so that it never looks like a command-line flag
// and survives being typed or copied from a terminal.
func NewKey() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing safe to do
	}
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// NewSecret returns a random credential secret.
func NewSecret() string { return randomToken(24) }

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing safe to do
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// dummyHash is what an unknown key's secret is checked against.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashSecret(NewSecret())
	if err != nil {
		panic(fmt.Sprintf("hash a random secret: %v", err)) // only crypto/rand can fail here
	}
	return h
})

// verifyDummy costs what VerifySecret of a real credential costs.
func verifyDummy(secret string) {
	_, _ = VerifySecret(dummyHash(), secret)
}
