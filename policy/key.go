package policy

import (
	"github.com/replaygate/replaygate/internal/durable"

	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the name of the generated signing key in the data dir.
const KeyFile = "consent.key"

// signingKeys returns the keys that verify cookies, the signing key first.
// A configured secret wins; otherwise the key is read from, or generated
// once into, {dataDir}/consent.key (0600, 32 random bytes as hex).
func signingKeys(cfg Config, dataDir string) ([][]byte, error) {
	var keys [][]byte
	if cfg.Secret != "" {
		keys = append(keys, []byte(cfg.Secret))
	} else {
		k, err := loadOrCreateKey(filepath.Join(dataDir, KeyFile))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	for _, s := range cfg.PreviousSecrets {
		keys = append(keys, []byte(s))
	}
	return keys, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	if k, err := readKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("policy: generate consent key: %w", err)
	}
	tmp, err := writeTemp(filepath.Dir(path), ".consent.key-", []byte(hex.EncodeToString(raw[:])+"\n"))
	if err != nil {
		return nil, fmt.Errorf("policy: write consent key: %w", err)
	}
	defer os.Remove(tmp)
	// Link, not rename: if another process created the key meanwhile, keep
	// theirs so both sign with the same key.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("policy: install consent key: %w", err)
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("policy: install consent key: %w", err)
	}
	return readKey(path)
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < minSecretLen {
		return nil, fmt.Errorf("policy: %s must hold at least %d bytes as hex; delete it to generate a new key (all consent cookies become invalid)", path, minSecretLen)
	}
	return k, nil
}

// writeTemp writes data to a new 0600 file in dir, fsyncs it and returns its
// path.
func writeTemp(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	name := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
