package admin

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Config is the "admin" section of the configuration.
type Config struct {
	// Token is the bearer token of the admin API and the viewer login.
	// Empty means the caller generates one (NewToken) and prints it once.
	Token string `yaml:"token"` // secret
}

// DefaultConfig returns no token: one is generated at start.
func DefaultConfig() Config { return Config{} }

// minTokenLen is the shortest accepted token.
const minTokenLen = 16

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if c.Token != "" && len(c.Token) < minTokenLen {
		return fmt.Errorf("token: must be at least %d characters (or empty to generate one at start)", minTokenLen)
	}
	for i := 0; i < len(c.Token); i++ {
		if c.Token[i] <= ' ' || c.Token[i] >= 0x7f {
			return fmt.Errorf("token: must be printable ASCII without spaces (it is sent in an Authorization header)")
		}
	}
	return nil
}

// NewToken returns a random token (32 bytes, hex) for a Config without one.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("admin: generate token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
