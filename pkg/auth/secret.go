// Package auth authenticates xAPI clients: credentials (key and secret) of a
// tenant with xAPI scopes and an authority. Secrets are kept only as
// hashes (see HashSecret); a verified key/secret pair is cached under a
// digest, so a credential costs one verification per cache ttl.
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
)

// hashIterations makes a stolen hash of a short, chosen secret expensive
// to brute-force.
const hashIterations = 120_000

// MinFastSecret is the shortest secret stored under the fast hash. A
// generated secret (NewSecret) is 32 characters of 192 random bits: no
// amount of hashing makes it easier or harder to guess, so a slow hash
// would only hand a CPU lever to anyone who sends wrong secrets. A shorter,
// probably chosen, secret (a bootstrap secret typed into a compose file)
// keeps the slow PBKDF2 hash, which protects it if the store leaks.
const MinFastSecret = 32

// fastDomain separates these digests from any other SHA-256 use.
const fastDomain = "streamlrs-credential-secret\x00"

// HashSecret returns the stored form of secret: sha256$<hex> for a secret
// of at least MinFastSecret characters, else
// pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>.
func HashSecret(secret string) (string, error) {
	if len(secret) >= MinFastSecret {
		return fastHash(secret), nil
	}
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

func fastHash(secret string) string {
	sum := sha256.Sum256([]byte(fastDomain + secret))
	return "sha256$" + hex.EncodeToString(sum[:])
}

// slowHash reports whether verifying against stored costs a PBKDF2.
func slowHash(stored string) bool { return strings.HasPrefix(stored, "pbkdf2-sha256$") }

// VerifySecret reports whether secret matches a HashSecret result (either
// format), in constant time with respect to the secret.
func VerifySecret(stored, secret string) (bool, error) {
	if h, ok := strings.CutPrefix(stored, "sha256$"); ok {
		want, err := hex.DecodeString(h)
		if err != nil || len(want) != sha256.Size {
			return false, errors.New("bad hex in secret hash")
		}
		got := sha256.Sum256([]byte(fastDomain + secret))
		return subtle.ConstantTimeCompare(got[:], want) == 1, nil
	}
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

// dummyHash is what an unknown key's secret is checked against: a fast
// hash, so that unknown keys cost what a (current) credential costs.
var dummyHash = fastHash(NewSecret())

// verifyDummy costs what VerifySecret of a fast-hashed credential costs.
func verifyDummy(secret string) {
	_, _ = VerifySecret(dummyHash, secret)
}
